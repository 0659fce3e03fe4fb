package metrics

import (
	"strings"
	"unicode/utf8"
)

// pyPunctuation is Python's string.punctuation.
const pyPunctuation = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"

// NormalizeAnswer is the official SQuAD script's normalize_answer: lower-case, remove
// string.punctuation, remove the whole words a, an and the, and collapse whitespace.
func NormalizeAnswer(s string) string {
	s = pyLower(s)
	s = strings.Map(func(r rune) rune {
		if r < utf8.RuneSelf && strings.ContainsRune(pyPunctuation, r) {
			return -1
		}
		return r
	}, s)
	s = removeArticles(s)
	return strings.Join(pySplit(s), " ")
}

// removeArticles is re.sub(r'\b(a|an|the)\b', ' ', s) with Python's Unicode \b.
func removeArticles(s string) string {
	rs := []rune(s)
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(rs); {
		if i == 0 || !pyIsWord(rs[i-1]) {
			if n := articleAt(rs, i); n > 0 {
				b.WriteByte(' ')
				i += n
				continue
			}
		}
		b.WriteRune(rs[i])
		i++
	}
	return b.String()
}

// articleAt returns the length of the article starting at i and followed by a word
// boundary, trying the alternatives in the regex's order, or 0.
func articleAt(rs []rune, i int) int {
	for _, a := range [...]string{"a", "an", "the"} {
		n := len(a)
		if i+n > len(rs) || string(rs[i:i+n]) != a {
			continue
		}
		if i+n == len(rs) || !pyIsWord(rs[i+n]) {
			return n
		}
	}
	return 0
}

// answerTokens is the script's get_tokens.
func answerTokens(s string) []string {
	if s == "" {
		return nil
	}
	return pySplit(NormalizeAnswer(s))
}

// ExactMatchOne is the script's compute_exact for one gold answer: 1 or 0.
func ExactMatchOne(gold, pred string) float64 {
	if NormalizeAnswer(gold) == NormalizeAnswer(pred) {
		return 1
	}
	return 0
}

// F1One is the script's compute_f1 for one gold answer, on the 0–1 scale. When either
// side has no tokens, F1 is 1 if both have none and 0 otherwise.
func F1One(gold, pred string) float64 {
	goldToks := answerTokens(gold)
	predToks := answerTokens(pred)
	if len(goldToks) == 0 || len(predToks) == 0 {
		if len(goldToks) == len(predToks) {
			return 1
		}
		return 0
	}
	counts := make(map[string]int, len(goldToks))
	for _, t := range goldToks {
		counts[t]++
	}
	same := 0
	for _, t := range predToks {
		if counts[t] > 0 {
			counts[t]--
			same++
		}
	}
	if same == 0 {
		return 0
	}
	precision := float64(same) / float64(len(predToks))
	recall := float64(same) / float64(len(goldToks))
	return 2 * precision * recall / (precision + recall)
}

// GoldAnswers applies the script's gold-answer rule: answers that normalise to the
// empty string are dropped, and an unanswerable question (no answers left) has the
// single gold answer "".
func GoldAnswers(refs []string) []string {
	gold := make([]string, 0, len(refs))
	for _, r := range refs {
		if NormalizeAnswer(r) != "" {
			gold = append(gold, r)
		}
	}
	if len(gold) == 0 {
		return []string{""}
	}
	return gold
}

// ExactMatch is the SQuAD v2.0 exact-match score of pred against every reference: the
// maximum over GoldAnswers(refs), 1 or 0. Aggregate with Mean and scale by 100 to
// obtain the figure the official script prints.
func ExactMatch(pred string, refs []string) float64 {
	best := 0.0
	for _, g := range GoldAnswers(refs) {
		if v := ExactMatchOne(g, pred); v > best {
			best = v
		}
	}
	return best
}

// F1 is the SQuAD v2.0 token F1 of pred: the maximum over GoldAnswers(refs), 0–1.
func F1(pred string, refs []string) float64 {
	best := 0.0
	for _, g := range GoldAnswers(refs) {
		if v := F1One(g, pred); v > best {
			best = v
		}
	}
	return best
}
