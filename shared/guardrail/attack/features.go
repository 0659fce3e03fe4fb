package attack

import (
	"github.com/plinth-ai/plinth/shared/guardrail/textnorm"
)

// Dim is the number of hashed feature buckets.
const Dim = 1 << 16

// Feature is one hashed feature with its weight in the document vector.
type Feature struct {
	Index uint32
	Value float32
}

const (
	fnvOffset = 2166136261
	fnvPrime  = 16777619
)

func fnvStr(h uint32, s string) uint32 {
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= fnvPrime
	}
	return h
}

// Extractor turns text into an L2-normalised sparse vector of hashed word uni-/bigrams,
// character 3-5-grams of the normalised text and heuristic cue features. It reuses its
// buffers; not safe for concurrent use.
type Extractor struct {
	z    textnorm.Tokenizer
	norm []byte
	d    dense
	hits []bool
	out  []Feature
}

// Extract returns the feature vector of text (valid until the next call). Feature order
// is unspecified.
func (x *Extractor) Extract(text string) []Feature {
	return x.ExtractTokens(x.z.Reset(text))
}

// ExtractTokens is Extract over an existing tokenisation of the text.
func (x *Extractor) ExtractTokens(toks []textnorm.Token) []Feature {
	x.norm = append(x.norm[:0], ' ')
	var prev uint32
	for i, t := range toks {
		h := fnvStr(fnvStr(fnvOffset, "w:"), t.Norm)
		x.d.add(h % Dim)
		if i > 0 {
			x.d.add((prev*31 + h*17 + 7) % Dim)
		}
		prev = h
		x.norm = append(x.norm, t.Norm...)
		x.norm = append(x.norm, ' ')
	}
	nb := x.norm
	for n := 3; n <= 5; n++ {
		for i := 0; i+n <= len(nb); i++ {
			h := uint32(fnvOffset) ^ uint32(n)
			for k := i; k < i+n; k++ {
				h ^= uint32(nb[k])
				h *= fnvPrime
			}
			x.d.add(h % Dim)
		}
	}
	if x.hits == nil {
		x.hits = make([]bool, len(cueFamilies))
	}
	cueHits(toks, x.hits)
	for fi, h := range x.hits {
		if h {
			x.d.add(fnvStr(fnvStr(fnvOffset, "cue:"), cueFamilies[fi].name) % Dim)
		}
	}
	lb := "len:short"
	switch {
	case len(toks) > 40:
		lb = "len:long"
	case len(toks) > 12:
		lb = "len:mid"
	}
	x.d.add(fnvStr(fnvOffset, lb) % Dim)
	x.out = x.d.finish(x.out)
	return x.out
}
