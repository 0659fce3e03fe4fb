package local

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/plinth-ai/plinth/shared/provider"
	"github.com/plinth-ai/plinth/shared/tokens"
)

// DefaultDimensions is local-embed's vector size when NewEmbed is given 0. Hashing
// collisions cost retrieval quality below about a thousand dimensions (SciFact nDCG@10
// 0.45 at 384, 0.55 at 1024), so the default favours quality; callers may ask for less.
const DefaultDimensions = 1024

// EmbedModelID is the model name local-embed reports.
const EmbedModelID = "local-embed"

// Feature weights: whole words dominate, bigrams reward exact phrases a little (more
// costs retrieval quality through hashing collisions), character trigrams let
// inflections and compounds meet ("glucocorticoid"/"corticosteroid").
const (
	unigramWeight = 1.0
	bigramWeight  = 0.1
	trigramWeight = 0.1
)

// Seeds keep the three feature families in separate hash spaces.
const (
	seedUnigram uint64 = 0x9e3779b97f4a7c15
	seedBigram  uint64 = 0xc2b2ae3d27d4eb4f
	seedTrigram uint64 = 0x165667b19e3779f9
)

type embedModel struct {
	dim  int
	pool sync.Pool // *embedScratch
}

type feature struct {
	h uint64
	w float32
}

type embedScratch struct {
	lower []byte
	words []span
	feats []feature
	vec   []float32
}

type span struct{ start, end int }

// NewEmbed returns local-embed with vectors of dim dimensions (DefaultDimensions when
// dim <= 0). A request's Dimensions, when smaller, truncates the vector and renormalises.
func NewEmbed(dim int) provider.EmbeddingModel {
	if dim <= 0 {
		dim = DefaultDimensions
	}
	m := &embedModel{dim: dim}
	m.pool.New = func() any { return &embedScratch{} }
	return m
}

// Embed implements provider.EmbeddingModel.
func (m *embedModel) Embed(ctx context.Context, req *provider.EmbeddingRequest) (*provider.EmbeddingResponse, error) {
	dim := m.dim
	if req.Dimensions < 0 || req.Dimensions > m.dim {
		return nil, &provider.Error{Kind: provider.KindBadRequest, Provider: "local", Code: "invalid_dimensions",
			Message: fmt.Sprintf("dimensions must be between 1 and %d", m.dim)}
	}
	if req.Dimensions > 0 {
		dim = req.Dimensions
	}
	model := req.Model
	if model == "" {
		model = EmbedModelID
	}
	resp := &provider.EmbeddingResponse{Model: model, Data: make([]provider.Embedding, len(req.Input))}
	// One backing array for all vectors: one allocation per request instead of one per input.
	all := make([]float32, len(req.Input)*dim)
	used := 0
	s := m.pool.Get().(*embedScratch)
	defer m.pool.Put(s)
	for i, text := range req.Input {
		if i&63 == 63 {
			if err := ctx.Err(); err != nil {
				return nil, &provider.Error{Kind: provider.KindTimeout, Provider: "local", Message: "embedding cancelled", Err: err}
			}
		}
		vec := all[i*dim : (i+1)*dim : (i+1)*dim]
		m.embedInto(s, text, vec)
		resp.Data[i] = provider.Embedding{Index: i, Embedding: vec}
		used += tokens.Count(text)
	}
	resp.Usage = provider.Usage{PromptTokens: used, TotalTokens: used}
	return resp, nil
}

// embedInto writes the vector of text, truncated to len(dst) and renormalised, into dst.
// It allocates nothing once the scratch buffers have grown.
func (m *embedModel) embedInto(s *embedScratch, text string, dst []float32) {
	if cap(s.vec) < m.dim {
		s.vec = make([]float32, m.dim)
	}
	full := s.vec[:m.dim]
	clear(full)
	s.extract(text)
	feats := s.feats
	slices.SortFunc(feats, func(a, b feature) int {
		switch {
		case a.h < b.h:
			return -1
		case a.h > b.h:
			return 1
		}
		return 0
	})
	dimU := uint64(m.dim)
	for i := 0; i < len(feats); {
		j := i + 1
		for j < len(feats) && feats[j].h == feats[i].h {
			j++
		}
		tf := float64(j - i)
		v := float32(float64(feats[i].w) * (1 + math.Log(tf)))
		h := feats[i].h
		idx := int((h >> 1) % dimU)
		if h&1 == 1 {
			v = -v
		}
		full[idx] += v
		i = j
	}
	out := dst
	copy(out, full[:len(out)])
	normalize(out)
}

func normalize(v []float32) {
	var sum float64
	for _, x := range v {
		sum += float64(x) * float64(x)
	}
	if sum == 0 {
		return
	}
	inv := float32(1 / math.Sqrt(sum))
	for i := range v {
		v[i] *= inv
	}
}

// extract fills s.feats with the hashed features of text.
func (s *embedScratch) extract(text string) {
	s.lower = s.lower[:0]
	s.words = s.words[:0]
	s.feats = s.feats[:0]
	tokens.Each(text, func(start, end int) bool {
		if !isWordRuneAt(text, start) {
			return true
		}
		st := len(s.lower)
		s.lower = appendLower(s.lower, text[start:end])
		w := s.lower[st:]
		if isStopword(w) {
			s.lower = s.lower[:st]
			return true
		}
		w = stem(w)
		s.lower = s.lower[:st+len(w)]
		s.words = append(s.words, span{st, st + len(w)})
		return true
	})
	for i, sp := range s.words {
		w := s.lower[sp.start:sp.end]
		s.feats = append(s.feats, feature{hashBytes(seedUnigram, w), unigramWeightOf(w)})
		if i > 0 {
			prev := s.lower[s.words[i-1].start:s.words[i-1].end]
			h := hashBytes(seedBigram, prev)
			h = hashByte(h, ' ')
			h = hashMore(h, w)
			s.feats = append(s.feats, feature{mix(h), bigramWeight})
		}
		if len(w) >= 4 {
			// Trigrams of "^word$", so prefixes and suffixes are features of their own.
			n := len(w) + 2
			for k := 0; k+3 <= n; k++ {
				h := seedTrigram
				for t := k; t < k+3; t++ {
					switch {
					case t == 0:
						h = hashByte(h, '^')
					case t == n-1:
						h = hashByte(h, '$')
					default:
						h = hashByte(h, w[t-1])
					}
				}
				s.feats = append(s.feats, feature{mix(h), trigramWeight})
			}
		}
	}
}

const fnvPrime = 1099511628211

func hashByte(h uint64, b byte) uint64 { return (h ^ uint64(b)) * fnvPrime }

func hashMore(h uint64, b []byte) uint64 {
	for _, c := range b {
		h = (h ^ uint64(c)) * fnvPrime
	}
	return h
}

func hashBytes(seed uint64, b []byte) uint64 { return mix(hashMore(seed, b)) }

// mix is a 64-bit finaliser (splitmix64) that spreads FNV's weak low bits.
func mix(h uint64) uint64 {
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}
