// Package topics matches text against denied topics, each a name, a definition and up to
// five example phrases. A topic's score is the largest of three similarities:
//
//   - lexical: cosine of weighted unigram and bigram vectors of stemmed content words and,
//     at half weight, their broader WordNet concepts (textnorm.Concepts), between each
//     sentence window of the text and each example (and the definition);
//   - semantic, without any model: the topic's words expanded over WordNet into a
//     neighbourhood of senses and words, met by the meaning of each word of a sentence
//     (see semantic.go), so "savings" meets "funds" and "dosage" meets "dose";
//   - with an Embedder: the cosine of each text window's embedding with the embeddings of
//     each example and of the definition, calibrated per topic against a set of ordinary
//     requests (see calibrate.go) so that the default threshold means the same for any
//     embedding model.
package topics

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"

	"github.com/plinth-ai/plinth/shared/guardrail/textnorm"
)

// Embedder turns texts into vectors (for example a provider's embeddings endpoint).
type Embedder interface {
	Embed(ctx context.Context, texts []string) ([][]float32, error)
}

// Topic is one denied topic.
type Topic struct {
	Name       string
	Definition string
	Examples   []string
	Threshold  float64
}

type entry struct {
	id int32
	w  float64
}

type compiled struct {
	Topic
	refs     [][]entry // examples, then the definition, over the matcher's vocabulary
	refNorms []float64
	refEmb   [][]float32 // embeddings of the same, when an embedder is set
	defIdx   int
	cal      calibration // maps embedding cosines to scores, when an embedder is set
}

// Matcher scores texts against a set of topics.
type Matcher struct {
	topics  []compiled
	emb     Embedder
	vocab   map[string]int32
	bigrams map[uint64]int32
	sem     *semantic
}

// Option configures a Matcher.
type Option func(*Matcher)

// WithEmbedder adds semantic similarity.
func WithEmbedder(e Embedder) Option { return func(m *Matcher) { m.emb = e } }

// New compiles topics. With an embedder, the reference texts are embedded once here.
func New(ctx context.Context, ts []Topic, opts ...Option) (*Matcher, error) {
	m := &Matcher{vocab: map[string]int32{}, bigrams: map[uint64]int32{}}
	next := int32(0)
	intern := func(term string) int32 {
		id, ok := m.vocab[term]
		if !ok {
			id = next
			next++
			m.vocab[strings.Clone(term)] = id // term may alias the tokenizer's buffer
		}
		return id
	}
	var z textnorm.Tokenizer
	sparse := func(text string) []entry {
		acc := map[int32]float64{}
		prev := int32(-1)
		i := 0
		for _, tok := range z.Reset(text) {
			if textnorm.IsStop(tok.Norm) {
				continue
			}
			for _, c := range textnorm.Concepts(tok.Norm) {
				acc[intern(conceptKey(c))] += conceptWeight
			}
			id := intern(textnorm.Stem(tok.Norm))
			acc[id]++
			i++
			if i > 1 {
				key := uint64(uint32(prev))<<32 | uint64(uint32(id))
				bid, ok := m.bigrams[key]
				if !ok {
					bid = next
					next++
					m.bigrams[key] = bid
				}
				acc[bid] += 1.5
			}
			prev = id
		}
		out := make([]entry, 0, len(acc))
		for id, w := range acc {
			out = append(out, entry{id, w})
		}
		return out
	}
	for _, o := range opts {
		o(m)
	}
	for _, t := range ts {
		c := compiled{Topic: t}
		var texts []string
		for _, e := range t.Examples {
			c.refs = append(c.refs, sparse(e))
			texts = append(texts, e)
		}
		c.defIdx = len(c.refs)
		c.refs = append(c.refs, sparse(t.Name+" "+t.Definition))
		for _, r := range c.refs {
			var n float64
			for _, e := range r {
				n += e.w * e.w
			}
			c.refNorms = append(c.refNorms, math.Sqrt(n))
		}
		texts = append(texts, t.Name+": "+t.Definition)
		if m.emb != nil {
			e, err := m.emb.Embed(ctx, texts)
			if err != nil {
				return nil, fmt.Errorf("embed topic %q: %w", t.Name, err)
			}
			c.refEmb = e
		}
		m.topics = append(m.topics, c)
	}
	m.sem = newSemantic(ts)
	if m.emb != nil && len(m.topics) > 0 {
		if err := m.calibrate(ctx); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func cosF(a, b []float32) float64 {
	var dot, na, nb float64
	for i := range a {
		if i >= len(b) {
			break
		}
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return dot / math.Sqrt(na*nb)
}

// conceptWeight is the weight of a word's broader concept (textnorm.Concepts) beside the
// word itself: a paraphrase that shares concepts but not words ("savings" and "funds")
// scores, but less than one that shares the words.
const conceptWeight = 0.5

// conceptKey names a concept in the matcher's vocabulary, apart from any word.
func conceptKey(c uint32) string { return "\x00c" + strconv.FormatUint(uint64(c), 36) }

// Score is one topic's similarity to a text.
type Score struct {
	Name      string
	Score     float64
	Threshold float64
	Matched   bool
}

// window is a text window as counts over the matcher's vocabulary (reference terms and
// bigrams) plus the squared weight of everything outside it, which only enters the norm.
type window struct {
	counts map[int32]float64
	other  float64
}

func (w window) norm() float64 {
	n := w.other
	for _, x := range w.counts {
		n += x * x
	}
	return math.Sqrt(n)
}

var tokPool = sync.Pool{New: func() any { return new(textnorm.Tokenizer) }}

// sentenceWindows returns one window per sentence of the tokenised text.
func (m *Matcher) sentenceWindows(text string, toks []textnorm.Token) []window {
	var out []window
	cur := window{counts: map[int32]float64{}}
	prev := int32(-2) // previous content term's ID (-1 = outside the vocabulary)
	prevEnd := 0
	n := 0
	for i, t := range toks {
		if i > 0 && strings.ContainsAny(text[prevEnd:t.Start], ".!?\n") && n > 0 {
			out = append(out, cur)
			cur = window{counts: map[int32]float64{}}
			prev, n = -2, 0
		}
		prevEnd = t.End
		if textnorm.IsStop(t.Norm) {
			continue
		}
		for _, c := range textnorm.Concepts(t.Norm) {
			if cid, ok := m.vocab[conceptKey(c)]; ok {
				cur.counts[cid] += conceptWeight
			} else {
				cur.other += conceptWeight * conceptWeight
			}
		}
		id, ok := m.vocab[textnorm.Stem(t.Norm)]
		if !ok {
			id = -1
			cur.other++
		} else {
			cur.counts[id]++
		}
		if prev != -2 {
			if bid, ok := m.bigrams[uint64(uint32(prev))<<32|uint64(uint32(id))]; ok && prev >= 0 && id >= 0 {
				cur.counts[bid] += 1.5
			} else {
				cur.other += 1.5 * 1.5
			}
		}
		prev = id
		n++
	}
	if n > 0 {
		out = append(out, cur)
	}
	return out
}

func merge(ws ...window) window {
	out := window{counts: map[int32]float64{}}
	for _, w := range ws {
		out.other += w.other
		for k, x := range w.counts {
			out.counts[k] += x
		}
	}
	return out
}

// Match scores text against every topic.
func (m *Matcher) Match(ctx context.Context, text string) ([]Score, error) {
	z := tokPool.Get().(*textnorm.Tokenizer)
	defer tokPool.Put(z)
	return m.MatchTokens(ctx, text, z.Reset(text))
}

// MatchTokens is Match over an existing tokenisation (textnorm) of text.
func (m *Matcher) MatchTokens(ctx context.Context, text string, toks []textnorm.Token) ([]Score, error) {
	if len(m.topics) == 0 {
		return nil, nil
	}
	sents := m.sentenceWindows(text, toks)
	// Windows: the whole text, each sentence, and each pair of adjacent sentences. Pair
	// counts are the sum of two sentences' counts, so they are computed from the
	// sentences without building merged maps.
	whole := merge(sents...)
	wholeNorm := whole.norm()
	norms := make([]float64, len(sents))
	for i, w := range sents {
		norms[i] = w.norm()
	}
	var cross []float64 // cross[i] = sents[i-1]·sents[i] over the vocabulary
	if len(sents) > 1 {
		cross = make([]float64, len(sents))
		for i := 1; i < len(sents); i++ {
			a, b := sents[i-1].counts, sents[i].counts
			if len(a) > len(b) {
				a, b = b, a
			}
			for k, x := range a {
				cross[i] += x * b[k]
			}
		}
	}
	var textEmb [][]float32
	if m.emb != nil {
		var err error
		if textEmb, err = m.embedWindows(ctx, text); err != nil {
			return nil, err
		}
	}
	semBest := make([]float64, len(m.topics))
	m.sem.score(text, toks, semBest)
	out := make([]Score, 0, len(m.topics))
	for ti, t := range m.topics {
		best := semBest[ti]
		for ri, r := range t.refs {
			rn := t.refNorms[ri]
			if rn == 0 {
				continue
			}
			isDef := ri == t.defIdx
			score := func(dot, got, all, norm float64) {
				if norm == 0 {
					return
				}
				s := dot / (rn * norm)
				if !isDef {
					// An example fully contained in a window is a strong signal.
					s = math.Max(s, 0.9*(got/all)*math.Min(1, float64(len(r))/3))
				} else {
					s *= 0.9
				}
				best = math.Max(best, s)
			}
			var all float64
			for _, e := range r {
				all += e.w
			}
			// Whole text.
			{
				var dot, got float64
				for _, e := range r {
					if y := whole.counts[e.id]; y > 0 {
						dot += e.w * y
						got += e.w
					}
				}
				score(dot, got, all, wholeNorm)
			}
			if len(sents) < 2 {
				continue
			}
			var prevDot float64
			var prevHit []bool
			hit := make([]bool, len(r))
			for i, w := range sents {
				var dot, got float64
				for k, e := range r {
					y := w.counts[e.id]
					hit[k] = y > 0
					if y > 0 {
						dot += e.w * y
						got += e.w
					}
				}
				score(dot, got, all, norms[i])
				if i > 0 {
					// Pair (i-1, i): counts add; norm² = |a|² + |b|² + 2a·b.
					pairGot := 0.0
					for k, e := range r {
						if hit[k] || prevHit[k] {
							pairGot += e.w
						}
					}
					n2 := norms[i-1]*norms[i-1] + norms[i]*norms[i] + 2*cross[i]
					score(prevDot+dot, pairGot, all, math.Sqrt(n2))
				}
				prevDot = dot
				if prevHit == nil {
					prevHit = make([]bool, len(r))
				}
				copy(prevHit, hit)
			}
		}
		for _, te := range textEmb {
			cos := 0.0
			for _, re := range t.refEmb {
				cos = math.Max(cos, cosF(te, re))
			}
			best = math.Max(best, t.cal.score(cos))
		}
		thr := t.Threshold
		if thr == 0 {
			thr = DefaultThreshold
		}
		out = append(out, Score{Name: t.Name, Score: math.Min(1, best), Threshold: thr, Matched: best >= thr})
	}
	return out, nil
}

// Embedding windows: the text is embedded in pieces of whole sentences of about
// windowChars characters (a topic is usually one request, and an embedding model reads a
// bounded input), sent embedBatch pieces per call.
const (
	windowChars = 1000
	embedBatch  = 32
)

// embedWindows embeds text in windows of whole sentences; its cost is linear in the text.
func (m *Matcher) embedWindows(ctx context.Context, text string) ([][]float32, error) {
	var windows []string
	var cur strings.Builder
	for _, s := range textnorm.Sentences(text) {
		for len(s) > windowChars { // one very long sentence is cut at a space
			cut := strings.LastIndexByte(s[:windowChars], ' ')
			if cut <= 0 {
				cut = windowChars
			}
			windows = append(windows, s[:cut])
			s = strings.TrimSpace(s[cut:])
		}
		if cur.Len() > 0 && cur.Len()+1+len(s) > windowChars {
			windows = append(windows, cur.String())
			cur.Reset()
		}
		if cur.Len() > 0 {
			cur.WriteByte(' ')
		}
		cur.WriteString(s)
	}
	if cur.Len() > 0 {
		windows = append(windows, cur.String())
	}
	var out [][]float32
	for i := 0; i < len(windows); i += embedBatch {
		e, err := m.emb.Embed(ctx, windows[i:min(len(windows), i+embedBatch)])
		if err != nil {
			return nil, fmt.Errorf("embed text for topics: %w", err)
		}
		out = append(out, e...)
	}
	return out, nil
}

// Names lists the topics' names.
func (m *Matcher) Names() []string {
	out := make([]string, len(m.topics))
	for i, t := range m.topics {
		out[i] = t.Name
	}
	return out
}
