package attack

import (
	"math"
	"sort"

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
	idx  []uint32
	out  []Feature
}

// Extract returns the feature vector of text (valid until the next call).
func (x *Extractor) Extract(text string) []Feature {
	toks := x.z.Reset(text)
	x.idx = x.idx[:0]
	x.norm = append(x.norm[:0], ' ')
	var prev uint32
	for i, t := range toks {
		h := fnvStr(fnvStr(fnvOffset, "w:"), t.Norm)
		x.idx = append(x.idx, h%Dim)
		if i > 0 {
			x.idx = append(x.idx, (prev*31+h*17+7)%Dim)
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
			x.idx = append(x.idx, h%Dim)
		}
	}
	for _, c := range cues(nb) {
		x.idx = append(x.idx, fnvStr(fnvStr(fnvOffset, "cue:"), c)%Dim)
	}
	// Length bucket.
	lb := "len:short"
	switch {
	case len(toks) > 40:
		lb = "len:long"
	case len(toks) > 12:
		lb = "len:mid"
	}
	x.idx = append(x.idx, fnvStr(fnvOffset, lb)%Dim)

	sort.Slice(x.idx, func(i, j int) bool { return x.idx[i] < x.idx[j] })
	x.out = x.out[:0]
	for i, v := range x.idx {
		if i > 0 && v == x.idx[i-1] {
			x.out[len(x.out)-1].Value++
			continue
		}
		x.out = append(x.out, Feature{Index: v, Value: 1})
	}
	var ss float64
	for i := range x.out {
		// Sub-linear term frequency.
		x.out[i].Value = float32(1 + math.Log(float64(x.out[i].Value)))
		ss += float64(x.out[i].Value * x.out[i].Value)
	}
	if ss > 0 {
		inv := float32(1 / math.Sqrt(ss))
		for i := range x.out {
			x.out[i].Value *= inv
		}
	}
	return x.out
}
