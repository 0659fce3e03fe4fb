// Package tokens counts tokens the platform's own way, for the built-in models' usage,
// chunk sizes, and the usage of providers that report none (Bedrock's Titan embeddings).
// A token is a maximal run of letters and digits, or any single other non-space
// character; whitespace is free. "Hello, world!" is 4 tokens. It is a stable, cheap
// estimate (English text averages about 1.3 of these per word), not any provider's
// tokenizer: it stays hand-written because it must match what the local models charge,
// token for token, and it allocates nothing (BenchmarkCount).
package tokens

import (
	"unicode"
	"unicode/utf8"
)

// Count counts the tokens of s.
func Count(s string) int {
	n := 0
	Each(s, func(int, int) bool { n++; return true })
	return n
}

// Each calls fn with the byte span of each token of s, in order, until fn returns false.
func Each(s string, fn func(start, end int) bool) {
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
					if !IsWordRune(r) {
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
		case IsWordRune(r):
			j := i + size
			for j < len(s) {
				r2, sz := utf8.DecodeRuneInString(s[j:])
				if !IsWordRune(r2) {
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

// IsWordRune reports whether r belongs to a run of letters and digits (a word token):
// a letter, a digit or a non-spacing mark.
func IsWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return isASCIIAlnum(byte(r))
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r)
}

// Truncate returns the prefix of s holding at most max tokens (the whitespace before the
// next one dropped), and whether it cut anything.
func Truncate(s string, max int) (string, bool) {
	n, cut := 0, -1
	Each(s, func(start, end int) bool {
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
