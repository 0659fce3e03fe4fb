// Package topics matches text against denied topics, each a name, a definition and up to
// five example phrases. Similarity is lexical by default: cosine of weighted unigram and
// bigram vectors of stemmed content words, between each sentence window of the text and
// each example (and the definition), taking the maximum. An optional Embedder adds
// semantic similarity (cosine of embeddings), and the topic's score is the larger of the
// two. Lexical matching needs shared words: a paraphrase with no word in common with the
// definition or examples scores near zero without an embedder.
package topics

import (
	"context"
	"fmt"
	"math"

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

type vec map[string]float64

type compiled struct {
	Topic
	refs   []vec       // examples, then the definition
	refEmb [][]float32 // embeddings of the same, when an embedder is set
	defIdx int
}

// Matcher scores texts against a set of topics.
type Matcher struct {
	topics []compiled
	emb    Embedder
}

// Option configures a Matcher.
type Option func(*Matcher)

// WithEmbedder adds semantic similarity.
func WithEmbedder(e Embedder) Option { return func(m *Matcher) { m.emb = e } }

// New compiles topics. With an embedder, the reference texts are embedded once here.
func New(ctx context.Context, ts []Topic, opts ...Option) (*Matcher, error) {
	m := &Matcher{}
	for _, o := range opts {
		o(m)
	}
	for _, t := range ts {
		c := compiled{Topic: t}
		var texts []string
		for _, e := range t.Examples {
			c.refs = append(c.refs, vectorize(e))
			texts = append(texts, e)
		}
		c.defIdx = len(c.refs)
		c.refs = append(c.refs, vectorize(t.Name+" "+t.Definition))
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
	return m, nil
}

func vectorize(text string) vec {
	terms := textnorm.Terms(text)
	v := vec{}
	for i, t := range terms {
		v[t] += 1
		if i > 0 {
			v[terms[i-1]+" "+t] += 1.5
		}
	}
	return v
}

func cosine(a, b vec) float64 {
	if len(a) == 0 || len(b) == 0 {
		return 0
	}
	if len(a) > len(b) {
		a, b = b, a
	}
	var dot, na, nb float64
	for k, x := range a {
		dot += x * b[k]
		na += x * x
	}
	for _, y := range b {
		nb += y * y
	}
	return dot / math.Sqrt(na*nb)
}

// coverage is the share of the reference's weight found in the text, which rewards a
// long text that contains a short example.
func coverage(text, ref vec) float64 {
	var got, all float64
	for k, w := range ref {
		all += w
		if text[k] > 0 {
			got += w
		}
	}
	if all == 0 {
		return 0
	}
	return got / all
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

// Score is one topic's similarity to a text.
type Score struct {
	Name      string
	Score     float64
	Threshold float64
	Matched   bool
}

// Match scores text against every topic.
func (m *Matcher) Match(ctx context.Context, text string) ([]Score, error) {
	if len(m.topics) == 0 {
		return nil, nil
	}
	// Windows: each sentence and each pair of adjacent sentences, plus the whole text.
	sents := textnorm.Sentences(text)
	windows := make([]vec, 0, 2*len(sents)+1)
	whole := vectorize(text)
	windows = append(windows, whole)
	if len(sents) > 1 {
		for i, s := range sents {
			windows = append(windows, vectorize(s))
			if i > 0 {
				windows = append(windows, vectorize(sents[i-1]+" "+s))
			}
		}
	}
	var textEmb []float32
	if m.emb != nil {
		e, err := m.emb.Embed(ctx, []string{text})
		if err != nil {
			return nil, fmt.Errorf("embed text for topics: %w", err)
		}
		if len(e) > 0 {
			textEmb = e[0]
		}
	}
	out := make([]Score, 0, len(m.topics))
	for _, t := range m.topics {
		best := 0.0
		for ri, r := range t.refs {
			for _, w := range windows {
				s := cosine(w, r)
				if ri != t.defIdx {
					// An example fully contained in a sentence is a strong signal.
					s = math.Max(s, 0.9*coverage(w, r)*math.Min(1, float64(len(r))/3))
				} else {
					s *= 0.9
				}
				best = math.Max(best, s)
			}
		}
		if textEmb != nil {
			for _, re := range t.refEmb {
				best = math.Max(best, cosF(textEmb, re))
			}
		}
		thr := t.Threshold
		if thr == 0 {
			thr = 0.35
		}
		out = append(out, Score{Name: t.Name, Score: math.Min(1, best), Threshold: thr, Matched: best >= thr})
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
