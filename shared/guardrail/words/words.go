// Package words matches blocked words and phrases robustly: case, diacritics, spaced-out
// letters ("f u c k", "f.u.c.k"), elongation ("fuuuck"), masking ("f*ck") and simple
// character swaps ("sh1t", "@ss", "$hit") do not evade a match. Matching is per whole word,
// so "class" never matches "ass". It ships a moderate managed profanity list.
package words

import (
	_ "embed"
	"strings"

	"github.com/plinth-ai/plinth/shared/guardrail/textnorm"
)

//go:embed profanity.txt
var profanityList string

// Match is one matched entry: byte offsets in the text and the entry's index.
type Match struct {
	Start, End int
	Entry      int
}

// Filter matches a fixed set of words and phrases.
type Filter struct {
	entries [][]string       // normalised tokens per entry
	first   map[string][]int // first token → entries
	squeeze map[string][]int // squeezed first token → entries
	// byInitial lists the entries by the first byte of their first token.
	byInitial [256][]int
}

// New builds a filter over phrases (each a word or a multi-word phrase).
func New(phrases []string) *Filter {
	f := &Filter{first: map[string][]int{}, squeeze: map[string][]int{}}
	var z textnorm.Tokenizer
	for _, p := range phrases {
		toks := z.Reset(p)
		if len(toks) == 0 {
			f.entries = append(f.entries, nil)
			continue
		}
		norm := make([]string, len(toks))
		for i, t := range toks {
			norm[i] = strings.Clone(t.Norm)
		}
		idx := len(f.entries)
		f.entries = append(f.entries, norm)
		f.first[norm[0]] = append(f.first[norm[0]], idx)
		sq := squeeze(norm[0])
		f.squeeze[sq] = append(f.squeeze[sq], idx)
		f.byInitial[norm[0][0]] = append(f.byInitial[norm[0][0]], idx)
	}
	return f
}

var profanity = func() *Filter {
	var list []string
	for _, l := range strings.Split(profanityList, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		list = append(list, l)
	}
	return New(list)
}()

// Profanity returns the managed profanity filter.
func Profanity() *Filter { return profanity }

// Len is the number of entries.
func (f *Filter) Len() int { return len(f.entries) }

// squeeze collapses runs of one letter to a single letter.
func squeeze(s string) string {
	if len(s) < 2 {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if i > 0 && s[i] == s[i-1] {
			continue
		}
		b = append(b, s[i])
	}
	return string(b)
}

func elongated(s string) bool {
	for i := 2; i < len(s); i++ {
		if s[i] == s[i-1] && s[i] == s[i-2] {
			return true
		}
	}
	return false
}

// tokEq compares a text token with an entry token: equal, equal once elongation is
// squeezed, or equal with '*' standing for one or more letters.
func tokEq(text, entry string) bool {
	if text == entry {
		return true
	}
	if strings.IndexByte(text, '*') >= 0 {
		return wildEq(text, entry)
	}
	if elongated(text) {
		return squeeze(text) == squeeze(entry)
	}
	return false
}

// wildEq matches pat against s where each '*' in pat stands for one or more bytes. It
// runs in O(len(pat)·len(s)) with no backtracking blow-up, and rejects at once a pattern
// that needs more bytes than s has.
func wildEq(pat, s string) bool {
	if len(pat) > len(s) {
		return false // every byte of pat, '*' included, consumes at least one byte of s
	}
	// ok[j]: pat[:i] matches s[:j], for the current i.
	var buf [64]bool
	var ok []bool
	if len(s)+1 > len(buf) {
		ok = make([]bool, len(s)+1)
	} else {
		ok = buf[:len(s)+1]
	}
	ok[0] = true
	for i := 0; i < len(pat); i++ {
		if pat[i] == '*' {
			// One or more bytes: ok'[j] = any ok[k] for k < j.
			seen := false
			for j := 0; j <= len(s); j++ {
				prev := ok[j]
				ok[j] = seen
				seen = seen || prev
			}
			continue
		}
		for j := len(s); j >= 1; j-- {
			ok[j] = ok[j-1] && s[j-1] == pat[i]
		}
		ok[0] = false
	}
	return ok[len(s)]
}

// Scanner matches text against filters with reusable buffers; not safe for concurrent use.
// Load tokenises a text once; Match then runs any number of filters over it.
type Scanner struct {
	z      textnorm.Tokenizer
	toks   []textnorm.Token
	n      int // tokens of the text itself; merged spaced-out words follow
	merged []byte
}

// Load tokenises text for the following Match calls.
func (s *Scanner) Load(text string) {
	toks := s.z.Reset(text)
	s.toks = append(s.toks[:0], toks...)
	s.n = len(s.toks)
	s.mergeSingles(text)
}

// Tokens returns the loaded text's tokens (valid until the next Load).
func (s *Scanner) Tokens() []textnorm.Token { return s.toks[:s.n] }

// Match appends the matches of f in the loaded text to dst.
func (s *Scanner) Match(f *Filter, dst []Match) []Match {
	for i := range s.toks {
		dst = f.matchAt(s.toks, i, dst)
	}
	return dst
}

// Find loads text and appends the matches of f to dst.
func (s *Scanner) Find(f *Filter, text string, dst []Match) []Match {
	s.Load(text)
	return s.Match(f, dst)
}

// FindAll runs several filters over one tokenisation; out[k] receives filter k's matches.
func (s *Scanner) FindAll(text string, filters []*Filter, out [][]Match) [][]Match {
	s.Load(text)
	return s.MatchAll(filters, out)
}

// MatchAll runs several filters over the loaded text.
func (s *Scanner) MatchAll(filters []*Filter, out [][]Match) [][]Match {
	for k, f := range filters {
		for i := range s.toks {
			out[k] = f.matchAt(s.toks, i, out[k])
		}
	}
	return out
}

// mergeSingles adds a token for each run of three or more one-letter tokens separated by
// at most two non-letter bytes ("f u c k", "f.u.c.k", "f-u-c-k").
func (s *Scanner) mergeSingles(text string) {
	n := len(s.toks)
	for i := 0; i < n; {
		if !s.toks[i].Single {
			i++
			continue
		}
		j := i + 1
		for j < n && s.toks[j].Single && s.toks[j].Start-s.toks[j-1].End <= 2 && s.toks[j].Start > s.toks[j-1].End {
			j++
		}
		if j-i >= 3 {
			s.merged = s.merged[:0]
			for k := i; k < j; k++ {
				s.merged = append(s.merged, s.toks[k].Norm...)
			}
			s.toks = append(s.toks, textnorm.Token{Start: s.toks[i].Start, End: s.toks[j-1].End, Norm: string(s.merged)})
		}
		i = j
	}
}

func (f *Filter) matchAt(toks []textnorm.Token, i int, dst []Match) []Match {
	t := toks[i].Norm
	try := func(ids []int) {
		for _, id := range ids {
			e := f.entries[id]
			if !tokEq(t, e[0]) {
				continue
			}
			end := toks[i].End
			ok := true
			for k := 1; k < len(e); k++ {
				if i+k >= len(toks) || !tokEq(toks[i+k].Norm, e[k]) {
					ok = false
					break
				}
				end = toks[i+k].End
			}
			if ok {
				dst = append(dst, Match{Start: toks[i].Start, End: end, Entry: id})
			}
		}
	}
	if ids, ok := f.first[t]; ok {
		try(ids)
		return dst
	}
	if strings.IndexByte(t, '*') >= 0 {
		// A masked word never starts with '*', so only entries sharing its first letter
		// can match.
		for _, k := range f.byInitial[t[0]] {
			if wildEq(t, f.entries[k][0]) {
				try([]int{k})
			}
		}
		return dst
	}
	if elongated(t) {
		try(f.squeeze[squeeze(t)])
	}
	return dst
}
