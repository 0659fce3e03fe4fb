package textclass

import (
	"github.com/plinth-ai/plinth/shared/guardrail/textnorm"
)

const (
	fnvOffset = 2166136261
	fnvPrime  = 16777619
)

// Featurizer turns tokens into hashed feature buckets, reusing its buffers; it is not
// safe for concurrent use.
type Featurizer struct {
	buckets uint32
	out     []uint32
}

// NewFeaturizer returns a featurizer hashing into n buckets.
func NewFeaturizer(n uint32) *Featurizer { return &Featurizer{buckets: n} }

func hashString(h uint32, s string) uint32 {
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= fnvPrime
	}
	return h
}

// skip reports whether a token carries no meaning for classification: the retweet
// marker, an artefact of where a text was posted rather than of what it says.
func skip(norm string) bool { return norm == "rt" }

// Features returns the feature buckets of a tokenised text (valid until the next call).
func (f *Featurizer) Features(toks []textnorm.Token) []uint32 {
	f.out = f.out[:0]
	prev := uint32(0)
	havePrev := false
	for _, t := range toks {
		if skip(t.Norm) {
			continue
		}
		w := hashString(hashString(fnvOffset, "w:"), t.Norm)
		f.out = append(f.out, w%f.buckets)
		if havePrev {
			f.out = append(f.out, (prev*0x9E3779B1^w*0x85EBCA77+0x27D4EB2F)%f.buckets)
		}
		prev, havePrev = w, true
	}
	return f.out
}
