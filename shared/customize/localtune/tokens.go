package localtune

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/plinth-ai/plinth/shared/tokens"
)

// token is one token of a text: a maximal run of letters and digits, or one other
// non-space character (the local models' tokenizer, so counts agree with theirs).
type token struct {
	start, end int    // byte span in the text
	norm       string // lower-case form
	hash       uint64 // hash of norm
	shape      shape
}

// shape is a coarse class of a token's spelling.
type shape uint8

const (
	shapeLower   shape = iota + 1 // "river"
	shapeCapital                  // "Paris"
	shapeUpper                    // "NASA"
	shapeDigit                    // "1990", "10th"
	shapePunct                    // ",", "(", "$"
)

// tokenize splits s into tokens with the platform's tokenizer (package tokens), so
// counts agree with what every local model charges.
func tokenize(s string) []token {
	var out []token
	tokens.Each(s, func(start, end int) bool {
		out = append(out, newToken(s, start, end))
		return true
	})
	return out
}

func isWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r)
}

func newToken(s string, start, end int) token {
	surface := s[start:end]
	norm := strings.ToLower(surface)
	return token{start: start, end: end, norm: norm, hash: hashString(norm), shape: shapeOf(surface)}
}

func shapeOf(w string) shape {
	r, _ := utf8.DecodeRuneInString(w)
	if !isWordRune(r) {
		return shapePunct
	}
	upper, letters := 0, 0
	for _, c := range w {
		if unicode.IsDigit(c) {
			return shapeDigit
		}
		if unicode.IsLetter(c) {
			letters++
			if unicode.IsUpper(c) {
				upper++
			}
		}
	}
	switch {
	case upper == letters && letters > 1:
		return shapeUpper
	case unicode.IsUpper(r):
		return shapeCapital
	default:
		return shapeLower
	}
}

// CountTokens counts tokens as the local trainer does (tokens.Count), so dataset token
// totals agree with what local-tune is billed for.
func CountTokens(s string) int { return tokens.Count(s) }

// joinSurface renders generated tokens as text: a space between tokens except before
// closing punctuation and after opening punctuation.
func joinSurface(b *strings.Builder, piece string) {
	if b.Len() > 0 && piece != "" {
		prev := b.String()
		last, _ := utf8.DecodeLastRuneInString(prev)
		first, _ := utf8.DecodeRuneInString(piece)
		if !strings.ContainsRune(",.;:!?)]}%'", first) && !strings.ContainsRune("([{$", last) {
			b.WriteByte(' ')
		}
	}
	b.WriteString(piece)
}

// hashString is FNV-1a, 64 bit.
func hashString(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}
