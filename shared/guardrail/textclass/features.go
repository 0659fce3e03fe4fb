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
	buckets  uint32
	grams    int // longest character n-gram (3..grams), 0 for none
	concepts bool
	out      []uint32
	prev     uint32
	havePrev bool
	buf      []byte
}

// NewFeaturizer returns a featurizer hashing into n buckets, adding the character 3- to
// grams-grams of each word when grams ≥ 3, and each word's broader concepts
// (textnorm.Concepts) when concepts is set.
func NewFeaturizer(n uint32, grams int, concepts bool) *Featurizer {
	return &Featurizer{buckets: n, grams: grams, concepts: concepts}
}

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

// contractions maps contracted forms (as textnorm writes them, apostrophe dropped) to
// their full words. Sources differ in register: the harmful requests say "What's the",
// the benign instructions "What is the"; expanded, the register no longer tells them apart.
var contractions = map[string][]string{
	"whats": {"what", "is"}, "hows": {"how", "is"}, "whos": {"who", "is"}, "wheres": {"where", "is"},
	"thats": {"that", "is"}, "theres": {"there", "is"}, "heres": {"here", "is"}, "whens": {"when", "is"},
	"dont": {"do", "not"}, "doesnt": {"does", "not"}, "didnt": {"did", "not"}, "cant": {"can", "not"},
	"cannot": {"can", "not"}, "wont": {"will", "not"}, "isnt": {"is", "not"}, "arent": {"are", "not"},
	"wasnt": {"was", "not"}, "werent": {"were", "not"}, "shouldnt": {"should", "not"},
	"couldnt": {"could", "not"}, "wouldnt": {"would", "not"}, "havent": {"have", "not"},
	"hasnt": {"has", "not"}, "im": {"i", "am"}, "ive": {"i", "have"}, "youre": {"you", "are"},
	"youve": {"you", "have"}, "theyre": {"they", "are"}, "weve": {"we", "have"}, "itll": {"it", "will"},
	"youll": {"you", "will"}, "id": {"i", "would"}, "youd": {"you", "would"},
}

// Features returns the feature buckets of a tokenised text (valid until the next call).
func (f *Featurizer) Features(toks []textnorm.Token) []uint32 {
	f.out = f.out[:0]
	f.prev, f.havePrev = 0, false
	for _, t := range toks {
		if skip(t.Norm) {
			continue
		}
		if full, ok := contractions[t.Norm]; ok {
			for _, w := range full {
				f.word(w)
			}
			continue
		}
		f.word(t.Norm)
	}
	return f.out
}

// word adds a word's feature, its bigram with the previous word and, when the featurizer
// has them, the character n-grams of "<word>" (at most the first 24 bytes of a word).
func (f *Featurizer) word(norm string) {
	w := hashString(hashString(fnvOffset, "w:"), norm)
	f.out = append(f.out, w%f.buckets)
	if f.havePrev {
		f.out = append(f.out, (f.prev*0x9E3779B1^w*0x85EBCA77+0x27D4EB2F)%f.buckets)
	}
	f.prev, f.havePrev = w, true
	if f.concepts {
		for _, c := range textnorm.Concepts(norm) {
			f.out = append(f.out, (c*0x9E3779B1^0x5bd1e995)%f.buckets)
		}
	}
	if f.grams < 3 {
		return
	}
	f.buf = append(f.buf[:0], '<')
	f.buf = append(f.buf, norm[:min(len(norm), 24)]...)
	f.buf = append(f.buf, '>')
	for g := 3; g <= f.grams; g++ {
		for i := 0; i+g <= len(f.buf); i++ {
			h := uint32(fnvOffset) ^ uint32(g)
			for _, c := range f.buf[i : i+g] {
				h ^= uint32(c)
				h *= fnvPrime
			}
			f.out = append(f.out, h%f.buckets)
		}
	}
}
