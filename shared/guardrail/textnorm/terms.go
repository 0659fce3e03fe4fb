package textnorm

import "strings"

var stop = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`a an the and or but if then else of to in on at by for with from about as into
	over after before between through during without within is are was were be been being am do does did done
	have has had having i me my mine we us our you your yours he him his she her it its they them their this that
	these those there here what which who whom whose when where why how all any both each few more most other some
	such no nor not only own same so than too very can will just should would could may might must shall also
	s t don doesn didn isn aren wasn weren won wouldn shouldn couldn im ive youre thats whats lets please tell
	der die das und oder ist sind war ein eine einer eines den dem des zu im in mit von fur auf ich du er sie es wir
	ihr was wie wer wo nicht auch noch nur`) {
		m[w] = true
	}
	return m
}()

// IsStop reports whether a normalised token is a stop word.
func IsStop(w string) bool { return stop[w] }

// stemSuffixes are the inflections Stem strips, tried in this order.
var stemSuffixes = []string{"ational", "ization", "ations", "ation", "ments", "ment", "ness", "ingly", "ings", "ing", "edly", "ies", "ied", "ers", "er", "ed", "ly", "es", "s"}

// suffixesByLast holds stemSuffixes grouped by their last letter, each group in the
// order of stemSuffixes, so a word is only compared with the suffixes it can end with.
var suffixesByLast = func() (m [256][]string) {
	for _, suf := range stemSuffixes {
		m[suf[len(suf)-1]] = append(m[suf[len(suf)-1]], suf)
	}
	return m
}()

// Stem strips common English inflections ("running" → "run", "topics" → "topic").
func Stem(w string) string {
	if len(w) <= 4 {
		return w
	}
	for _, suf := range suffixesByLast[w[len(w)-1]] {
		if suf == "es" && !(strings.HasSuffix(w, "ses") || strings.HasSuffix(w, "xes") || strings.HasSuffix(w, "zes") ||
			strings.HasSuffix(w, "ches") || strings.HasSuffix(w, "shes")) {
			continue // "doses" → "dose" by the "s" rule, "boxes" → "box"
		}
		if suf == "es" && strings.HasSuffix(w, "ses") && !strings.HasSuffix(w, "sses") {
			continue // "doses", "cases": only the "s" goes
		}
		if strings.HasSuffix(w, suf) && len(w)-len(suf) >= 3 {
			w = w[:len(w)-len(suf)]
			if suf == "ies" || suf == "ied" {
				w += "y"
			}
			// "running" → "runn" → "run"
			if n := len(w); n >= 2 && w[n-1] == w[n-2] && w[n-1] != 'l' && w[n-1] != 's' {
				w = w[:n-1]
			}
			return w
		}
	}
	return w
}

// Terms returns the stemmed content words of text (stop words dropped), in order.
func Terms(text string) []string {
	var z Tokenizer
	out := z.Terms(text, nil)
	for i, t := range out {
		out[i] = strings.Clone(t)
	}
	return out
}

// Terms appends the stemmed content words of text to dst, reusing z's buffers: the
// strings alias z and are valid only until its next Reset (clone one to keep it).
func (z *Tokenizer) Terms(text string, dst []string) []string {
	for _, t := range z.Reset(text) {
		if stop[t.Norm] {
			continue
		}
		dst = append(dst, Stem(t.Norm))
	}
	return dst
}

// Sentences splits text into sentences at . ! ? and newlines (keeping abbreviations and
// decimals together when the next character is not a space or upper-case letter).
func Sentences(text string) []string {
	var out []string
	start := 0
	for i := 0; i < len(text); i++ {
		c := text[i]
		end := false
		switch c {
		case '\n':
			end = true
		case '.', '!', '?':
			if i+1 >= len(text) || text[i+1] == ' ' || text[i+1] == '\n' || text[i+1] == '"' {
				end = true
			}
		}
		if end {
			if s := strings.TrimSpace(text[start : i+1]); s != "" {
				out = append(out, s)
			}
			start = i + 1
		}
	}
	if s := strings.TrimSpace(text[start:]); s != "" {
		out = append(out, s)
	}
	return out
}
