package local

import (
	"unicode"
	"unicode/utf8"
)

// CountTokens counts tokens the way the local models do: a token is a maximal run of
// letters and digits, or any single other non-space character. Whitespace is free.
// "Hello, world!" is 4 tokens. It is a stable, cheap estimate (English text averages
// about 1.3 of these per word), not any provider's tokenizer.
func CountTokens(s string) int {
	n := 0
	forEachToken(s, func(int, int) bool { n++; return true })
	return n
}

// forEachToken calls fn with the byte span of each token of s, in order, until fn
// returns false.
func forEachToken(s string, fn func(start, end int) bool) {
	i := 0
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case isASCIIAlnum(c):
				j := i + 1
				for j < len(s) {
					if s[j] < utf8.RuneSelf {
						if !isASCIIAlnum(s[j]) {
							break
						}
						j++
						continue
					}
					r, size := utf8.DecodeRuneInString(s[j:])
					if !isWordRune(r) {
						break
					}
					j += size
				}
				if !fn(i, j) {
					return
				}
				i = j
			case c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f' || c == '\v':
				i++
			default:
				if !fn(i, i+1) {
					return
				}
				i++
			}
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case isWordRune(r):
			j := i + size
			for j < len(s) {
				r2, sz := utf8.DecodeRuneInString(s[j:])
				if !isWordRune(r2) {
					break
				}
				j += sz
			}
			if !fn(i, j) {
				return
			}
			i = j
		case unicode.IsSpace(r):
			i += size
		default:
			if !fn(i, i+size) {
				return
			}
			i += size
		}
	}
}

func isASCIIAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func isWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return isASCIIAlnum(byte(r))
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r)
}

// truncateTokens returns the prefix of s holding at most max tokens (and the whitespace
// before the next one dropped), and whether it cut anything.
func truncateTokens(s string, max int) (string, bool) {
	n, cut := 0, -1
	forEachToken(s, func(start, end int) bool {
		if n == max {
			cut = start
			return false
		}
		n++
		return true
	})
	if cut < 0 {
		return s, false
	}
	out := s[:cut]
	for len(out) > 0 && (out[len(out)-1] == ' ' || out[len(out)-1] == '\n' || out[len(out)-1] == '\t') {
		out = out[:len(out)-1]
	}
	return out, true
}
