// Package textnorm normalises text for the lexical guardrail detectors: lower case,
// diacritics folded to ASCII, common character swaps ("l33t") undone, and tokens with
// their byte offsets in the original text, so findings can point back at what was written.
package textnorm

import (
	"unicode"
	"unicode/utf8"
	"unsafe"
)

// Token is one word of the original text.
type Token struct {
	// Start and End are byte offsets in the original text.
	Start, End int
	// Norm is the normalised form (lower-case ASCII where possible); it aliases the
	// Tokenizer's buffer and is valid only until the next Reset (clone it to keep it).
	Norm string
	// Leet reports whether a character swap was undone to build Norm.
	Leet bool
	// Single is true for a one-letter token (candidates for spaced-out words "f u c k").
	Single bool
}

var fold = map[rune]string{
	'à': "a", 'á': "a", 'â': "a", 'ã': "a", 'ä': "a", 'å': "a", 'ā': "a", 'ă': "a", 'ą': "a",
	'ç': "c", 'ć': "c", 'č': "c", 'ď': "d", 'đ': "d", 'è': "e", 'é': "e", 'ê': "e", 'ë': "e", 'ē': "e",
	'ė': "e", 'ę': "e", 'ě': "e", 'ğ': "g", 'ì': "i", 'í': "i", 'î': "i", 'ï': "i", 'ī': "i", 'į': "i",
	'ı': "i", 'ł': "l", 'ñ': "n", 'ń': "n", 'ň': "n", 'ò': "o", 'ó': "o", 'ô': "o", 'õ': "o", 'ö': "o",
	'ø': "o", 'ō': "o", 'ő': "o", 'ř': "r", 'ś': "s", 'š': "s", 'ş': "s", 'ș': "s", 'ß': "ss", 'ť': "t",
	'ţ': "t", 'ț': "t", 'ù': "u", 'ú': "u", 'û': "u", 'ü': "u", 'ū': "u", 'ů': "u", 'ű': "u", 'ų': "u",
	'ý': "y", 'ÿ': "y", 'ź': "z", 'ż': "z", 'ž': "z", 'æ': "ae", 'œ': "oe", 'þ': "th", 'ð': "d",
}

// FoldRune returns the ASCII folding of a lower-case rune, or "" when it has none.
func FoldRune(r rune) string { return fold[r] }

// leet maps swapped characters back to letters.
func leet(c byte) byte {
	switch c {
	case '0':
		return 'o'
	case '1', '!', '|':
		return 'i'
	case '3':
		return 'e'
	case '4', '@':
		return 'a'
	case '5', '$':
		return 's'
	case '7', '+':
		return 't'
	case '8':
		return 'b'
	case '9':
		return 'g'
	}
	return 0
}

func isLetter(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }

// Tokenizer splits text into normalised tokens, reusing its buffers between calls.
type Tokenizer struct {
	buf    []byte
	raws   []rawTok
	Tokens []Token
}

type rawTok struct {
	start, end, bs, be int
	leet               bool
}

// Reset tokenises text. Letters (any script), digits and the swap characters @ $ ! | +
// form words; a word that mixes letters and swap characters has the swaps undone
// ("sh1t" → "shit", "@ss" → "ass"), a word of digits only is kept as digits. An apostrophe
// inside a word is dropped ("don't" → "dont"), '*' inside a word is kept as a wildcard.
func (z *Tokenizer) Reset(text string) []Token {
	z.buf = z.buf[:0]
	z.Tokens = z.Tokens[:0]
	// Offsets into buf are recorded first and turned into strings at the end, because
	// buf may grow.
	rs := z.raws[:0]
	i := 0
	n := len(text)
	for i < n {
		// Skip to a word start.
		c := text[i]
		if c < utf8.RuneSelf {
			if !(isLetter(c) || isDigit(c) || c == '@' || c == '$') {
				i++
				continue
			}
		} else {
			r, sz := utf8.DecodeRuneInString(text[i:])
			if !unicode.IsLetter(r) {
				i += sz
				continue
			}
		}
		start := i
		bs := len(z.buf)
		letters, swaps := 0, 0
		for i < n {
			c := text[i]
			if c < utf8.RuneSelf {
				switch {
				case isLetter(c):
					z.buf = append(z.buf, c|0x20)
					letters++
					i++
				case isDigit(c) || c == '@' || c == '$' || c == '!' || c == '|' || c == '+':
					if (c == '!' || c == '|' || c == '+') && (i+1 >= n || !isLetter(text[i+1])) {
						goto end
					}
					z.buf = append(z.buf, c)
					swaps++
					i++
				case c == '*' && i+1 < n && i > start && isLetter(text[i+1]):
					z.buf = append(z.buf, '*')
					i++
				case c == '\'' && i+1 < n && i > start && isLetter(text[i+1]):
					i++
				default:
					goto end
				}
				continue
			}
			r, sz := utf8.DecodeRuneInString(text[i:])
			if !unicode.IsLetter(r) && !unicode.Is(unicode.Mn, r) {
				break
			}
			lr := unicode.ToLower(r)
			if f := fold[lr]; f != "" {
				z.buf = append(z.buf, f...)
			} else if unicode.Is(unicode.Mn, r) {
				// combining mark: drop
			} else {
				z.buf = utf8.AppendRune(z.buf, lr)
			}
			letters++
			i += sz
		}
	end:
		be := len(z.buf)
		isLeet := false
		if swaps > 0 && letters > 0 && leetShape(z.buf[bs:be]) {
			for k := bs; k < be; k++ {
				if l := leet(z.buf[k]); l != 0 {
					z.buf[k] = l
					isLeet = true
				}
			}
		}
		if be > bs {
			rs = append(rs, rawTok{start: start, end: i, bs: bs, be: be, leet: isLeet})
		}
		if i == start {
			i++
		}
	}
	z.raws = rs
	// Token strings alias buf (no copy); they stay valid until the next Reset.
	s := unsafe.String(unsafe.SliceData(z.buf), len(z.buf))
	for _, r := range rs {
		z.Tokens = append(z.Tokens, Token{Start: r.start, End: r.end, Norm: s[r.bs:r.be], Leet: r.leet, Single: r.be-r.bs == 1})
	}
	return z.Tokens
}

// Normalize returns the space-joined normalised tokens of text.
func Normalize(text string) string {
	var z Tokenizer
	toks := z.Reset(text)
	out := make([]byte, 0, len(text))
	for i, t := range toks {
		if i > 0 {
			out = append(out, ' ')
		}
		out = append(out, t.Norm...)
	}
	return string(out)
}

// leetShape reports whether a mixed token looks like letters with swapped characters
// ("sh1t", "b4dw0rd", "$hit", "@ss") rather than a word with a number ("3d", "mp3",
// "covid19"): a swap character between two letters, or a leading '@' or '$'.
func leetShape(b []byte) bool {
	if b[0] == '@' || b[0] == '$' {
		return true
	}
	for k := 1; k+1 < len(b); k++ {
		if leet(b[k]) != 0 && !isLetter(b[k]) && isLetter(b[k-1]) {
			for m := k + 1; m < len(b); m++ {
				if isLetter(b[m]) {
					return true
				}
			}
		}
	}
	return false
}
