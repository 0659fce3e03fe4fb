package eval

import (
	"math/rand/v2"
	"strings"
)

// grammar is a small generative grammar: each key names a list of alternatives, and an
// alternative may refer to other keys as {key}. Expanding a key picks one alternative
// at random and expands its references, so a few hundred phrases written by hand give
// many thousand distinct texts.
type grammar map[string][]string

// expand returns s with every {key} replaced by an expansion of one of key's
// alternatives. A reference to an unknown key is kept as written.
func (g grammar) expand(r *rand.Rand, s string) string {
	return g.expandDepth(r, s, nil, 0)
}

// expandBound is expand with the keys in bind picked once for the whole text, so that
// a persona keeps one name and a system prompt one domain throughout.
func (g grammar) expandBound(r *rand.Rand, s string, bind ...string) string {
	fixed := map[string]string{}
	for _, k := range bind {
		if alts := g[k]; len(alts) > 0 {
			fixed[k] = g.expandDepth(r, alts[r.IntN(len(alts))], nil, 1)
		}
	}
	return g.expandDepth(r, s, fixed, 0)
}

func (g grammar) expandDepth(r *rand.Rand, s string, fixed map[string]string, depth int) string {
	if depth > 12 || !strings.Contains(s, "{") {
		return s
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			b.WriteString(s)
			break
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			b.WriteString(s)
			break
		}
		key := s[i+1 : i+j]
		alts, ok := g[key]
		b.WriteString(s[:i])
		if v, bound := fixed[key]; bound {
			b.WriteString(v)
		} else if ok && len(alts) > 0 {
			b.WriteString(g.expandDepth(r, alts[r.IntN(len(alts))], fixed, depth+1))
		} else {
			b.WriteString(s[i : i+j+1])
		}
		s = s[i+j+1:]
	}
	return tidy(b.String())
}

// tidy collapses the doubled spaces and space-before-punctuation that empty
// alternatives leave, and capitalises the first letter.
func tidy(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	for _, p := range []string{" ,", " .", " :", " ?", " !"} {
		s = strings.ReplaceAll(s, p, p[1:])
	}
	if s != "" && s[0] >= 'a' && s[0] <= 'z' {
		s = string(s[0]-32) + s[1:]
	}
	return s
}

// merge returns one grammar holding every key of gs (later grammars win).
func merge(gs ...grammar) grammar {
	out := grammar{}
	for _, g := range gs {
		for k, v := range g {
			out[k] = v
		}
	}
	return out
}
