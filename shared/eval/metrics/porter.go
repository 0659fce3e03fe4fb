package metrics

import "strings"

// PorterStemmer is the Porter stemmer as NLTK's nltk.stem.porter.PorterStemmer()
// implements it in its default NLTK_EXTENSIONS mode, the stemmer rouge-score uses for
// use_stemmer=True: Porter (1980) with NLTK's irregular forms, the 'ies'/'ied' rules for
// four-letter words, the (*c and not c) Y → I rule, the alli/fulli/logi extensions, and
// no stemming of words of one or two letters. Input must be lower case.
type PorterStemmer struct{}

var porterPool = map[string]string{
	"sky": "sky", "skies": "sky", "dying": "die", "lying": "lie", "tying": "tie",
	"news": "news", "innings": "inning", "inning": "inning", "outings": "outing",
	"outing": "outing", "cannings": "canning", "canning": "canning", "howe": "howe",
	"proceed": "proceed", "exceed": "exceed", "succeed": "succeed",
}

// Stem returns the stem of a lower-case word.
func (PorterStemmer) Stem(word string) string {
	if s, ok := porterPool[word]; ok {
		return s
	}
	if len(word) <= 2 {
		return word
	}
	w := step1a(word)
	w = step1b(w)
	w = step1c(w)
	w = step2(w)
	w = step3(w)
	w = step4(w)
	w = step5a(w)
	return step5b(w)
}

func isVowelByte(c byte) bool { return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u' }

func isConsonant(w string, i int) bool {
	if isVowelByte(w[i]) {
		return false
	}
	if w[i] == 'y' {
		if i == 0 {
			return true
		}
		return !isConsonant(w, i-1)
	}
	return true
}

// measure counts the VC sequences of stem (Porter's m).
func measure(stem string) int {
	m := 0
	for i := 1; i < len(stem); i++ {
		if !isConsonant(stem, i-1) && isConsonant(stem, i) {
			m++
		}
	}
	return m
}

func containsVowel(stem string) bool {
	for i := range len(stem) {
		if !isConsonant(stem, i) {
			return true
		}
	}
	return false
}

func endsDoubleConsonant(w string) bool {
	n := len(w)
	return n >= 2 && w[n-1] == w[n-2] && isConsonant(w, n-1)
}

func endsCVC(w string) bool {
	n := len(w)
	if n >= 3 && isConsonant(w, n-3) && !isConsonant(w, n-2) && isConsonant(w, n-1) &&
		w[n-1] != 'w' && w[n-1] != 'x' && w[n-1] != 'y' {
		return true
	}
	return n == 2 && !isConsonant(w, 0) && isConsonant(w, 1)
}

// rule is one suffix rule: suffix "*d" means a double consonant; cond sees the stem.
type rule struct {
	suffix, replacement string
	cond                func(stem string) bool
}

// applyRules applies the first rule whose suffix matches; if its condition fails the
// word is returned unchanged and no later rule is tried.
func applyRules(w string, rules []rule) string {
	for _, r := range rules {
		if r.suffix == "*d" {
			if endsDoubleConsonant(w) {
				stem := w[:len(w)-2]
				if r.cond == nil || r.cond(stem) {
					return stem + r.replacement
				}
				return w
			}
			continue
		}
		if strings.HasSuffix(w, r.suffix) {
			stem := w[:len(w)-len(r.suffix)]
			if r.cond == nil || r.cond(stem) {
				return stem + r.replacement
			}
			return w
		}
	}
	return w
}

func positiveMeasure(stem string) bool { return measure(stem) > 0 }
func measureGT1(stem string) bool      { return measure(stem) > 1 }

func step1a(w string) string {
	if strings.HasSuffix(w, "ies") && len(w) == 4 {
		return w[:len(w)-3] + "ie"
	}
	return applyRules(w, []rule{{"sses", "ss", nil}, {"ies", "i", nil}, {"ss", "ss", nil}, {"s", "", nil}})
}

func step1b(w string) string {
	if strings.HasSuffix(w, "ied") {
		if len(w) == 4 {
			return w[:len(w)-3] + "ie"
		}
		return w[:len(w)-3] + "i"
	}
	if strings.HasSuffix(w, "eed") {
		stem := w[:len(w)-3]
		if measure(stem) > 0 {
			return stem + "ee"
		}
		return w
	}
	var stem string
	ok := false
	for _, suf := range []string{"ed", "ing"} {
		if strings.HasSuffix(w, suf) {
			stem = w[:len(w)-len(suf)]
			if containsVowel(stem) {
				ok = true
				break
			}
		}
	}
	if !ok {
		return w
	}
	last := stem[len(stem)-1:]
	return applyRules(stem, []rule{
		{"at", "ate", nil},
		{"bl", "ble", nil},
		{"iz", "ize", nil},
		{"*d", last, func(string) bool { return last != "l" && last != "s" && last != "z" }},
		{"", "e", func(s string) bool { return measure(s) == 1 && endsCVC(s) }},
	})
}

func step1c(w string) string {
	return applyRules(w, []rule{{"y", "i", func(s string) bool { return len(s) > 1 && isConsonant(s, len(s)-1) }}})
}

func step2(w string) string {
	if strings.HasSuffix(w, "alli") && positiveMeasure(w[:len(w)-4]) {
		return step2(w[:len(w)-4] + "al")
	}
	return applyRules(w, []rule{
		{"ational", "ate", positiveMeasure},
		{"tional", "tion", positiveMeasure},
		{"enci", "ence", positiveMeasure},
		{"anci", "ance", positiveMeasure},
		{"izer", "ize", positiveMeasure},
		{"bli", "ble", positiveMeasure},
		{"alli", "al", positiveMeasure},
		{"entli", "ent", positiveMeasure},
		{"eli", "e", positiveMeasure},
		{"ousli", "ous", positiveMeasure},
		{"ization", "ize", positiveMeasure},
		{"ation", "ate", positiveMeasure},
		{"ator", "ate", positiveMeasure},
		{"alism", "al", positiveMeasure},
		{"iveness", "ive", positiveMeasure},
		{"fulness", "ful", positiveMeasure},
		{"ousness", "ous", positiveMeasure},
		{"aliti", "al", positiveMeasure},
		{"iviti", "ive", positiveMeasure},
		{"biliti", "ble", positiveMeasure},
		{"fulli", "ful", positiveMeasure},
		// The 'l' of logi stays with the stem so short stems (geo-, theo-) qualify.
		{"logi", "log", func(string) bool { return positiveMeasure(w[:len(w)-3]) }},
	})
}

func step3(w string) string {
	return applyRules(w, []rule{
		{"icate", "ic", positiveMeasure},
		{"ative", "", positiveMeasure},
		{"alize", "al", positiveMeasure},
		{"iciti", "ic", positiveMeasure},
		{"ical", "ic", positiveMeasure},
		{"ful", "", positiveMeasure},
		{"ness", "", positiveMeasure},
	})
}

func step4(w string) string {
	return applyRules(w, []rule{
		{"al", "", measureGT1},
		{"ance", "", measureGT1},
		{"ence", "", measureGT1},
		{"er", "", measureGT1},
		{"ic", "", measureGT1},
		{"able", "", measureGT1},
		{"ible", "", measureGT1},
		{"ant", "", measureGT1},
		{"ement", "", measureGT1},
		{"ment", "", measureGT1},
		{"ent", "", measureGT1},
		{"ion", "", func(s string) bool { return measure(s) > 1 && (s[len(s)-1] == 's' || s[len(s)-1] == 't') }},
		{"ou", "", measureGT1},
		{"ism", "", measureGT1},
		{"ate", "", measureGT1},
		{"iti", "", measureGT1},
		{"ous", "", measureGT1},
		{"ive", "", measureGT1},
		{"ize", "", measureGT1},
	})
}

func step5a(w string) string {
	if strings.HasSuffix(w, "e") {
		stem := w[:len(w)-1]
		m := measure(stem)
		if m > 1 || (m == 1 && !endsCVC(stem)) {
			return stem
		}
	}
	return w
}

func step5b(w string) string {
	return applyRules(w, []rule{{"ll", "l", func(string) bool { return measure(w[:len(w)-1]) > 1 }}})
}
