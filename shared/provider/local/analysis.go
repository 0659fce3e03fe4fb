package local

import (
	"unicode"
	"unicode/utf8"

	"github.com/plinth-ai/plinth/shared/tokens"
)

// stopwords are English function words that carry no topic; both local models ignore
// them when matching text.
var stopwords = func() map[string]struct{} {
	m := make(map[string]struct{})
	for _, w := range []string{
		"a", "about", "above", "after", "again", "against", "all", "am", "an", "and", "any", "are",
		"as", "at", "be", "because", "been", "before", "being", "below", "between", "both", "but",
		"by", "can", "could", "did", "do", "does", "doing", "down", "during", "each", "few", "for",
		"from", "further", "had", "has", "have", "having", "he", "her", "here", "hers", "herself",
		"him", "himself", "his", "how", "i", "if", "in", "into", "is", "it", "its", "itself", "just",
		"me", "more", "most", "my", "myself", "no", "nor", "not", "now", "of", "off", "on", "once",
		"only", "or", "other", "our", "ours", "ourselves", "out", "over", "own", "same", "she",
		"should", "so", "some", "such", "than", "that", "the", "their", "theirs", "them",
		"themselves", "then", "there", "these", "they", "this", "those", "through", "to", "too",
		"under", "until", "up", "very", "was", "we", "were", "what", "when", "where", "which",
		"while", "who", "whom", "why", "will", "with", "would", "you", "your", "yours", "yourself",
		"yourselves", "also", "may", "might", "must", "shall", "s", "t", "us", "whose", "within",
		"without", "upon", "via", "per", "among", "however", "thus", "yet", "tell", "please",
	} {
		m[w] = struct{}{}
	}
	return m
}()

func isStopword(b []byte) bool {
	_, ok := stopwords[string(b)] // no allocation: the compiler looks up without converting
	return ok
}

// appendLower appends the lower-cased word s to dst.
func appendLower(dst []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			dst = append(dst, c)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		dst = utf8.AppendRune(dst, unicode.ToLower(r))
		i += size
	}
	return dst
}

// stem strips common English inflections so that "proteins", "binding" and "bound"
// variants meet more often. It is deliberately light: it only removes a suffix when at
// least four letters remain.
func stem(w []byte) []byte {
	n := len(w)
	switch {
	case n > 5 && hasSuffix(w, "ies"):
		w = append(w[:n-3], 'y')
	case n > 6 && hasSuffix(w, "ing"):
		w = w[:n-3]
	case n > 5 && hasSuffix(w, "ed") && !hasSuffix(w, "eed"):
		w = w[:n-2]
	case n > 5 && (hasSuffix(w, "sses") || hasSuffix(w, "xes") || hasSuffix(w, "ches") || hasSuffix(w, "shes")):
		w = w[:n-2]
	case n > 4 && w[n-1] == 's' && w[n-2] != 's' && w[n-2] != 'u' && w[n-2] != 'i':
		w = w[:n-1]
	}
	return w
}

func hasSuffix(w []byte, suf string) bool {
	return len(w) >= len(suf) && string(w[len(w)-len(suf):]) == suf
}

// terms returns the stemmed, lower-cased content words of s.
func terms(s string) []string {
	var out []string
	var buf []byte
	tokens.Each(s, func(start, end int) bool {
		if !isWordRuneAt(s, start) {
			return true
		}
		buf = appendLower(buf[:0], s[start:end])
		if isStopword(buf) {
			return true
		}
		out = append(out, string(stem(buf)))
		return true
	})
	return out
}

func isWordRuneAt(s string, i int) bool {
	r, _ := utf8.DecodeRuneInString(s[i:])
	return tokens.IsWordRune(r)
}
