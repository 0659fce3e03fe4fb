// Package grounding scores a model answer against its grounding sources and the user's
// query, as Bedrock's contextual grounding check does: grounding says how much of the
// answer is supported by the sources, relevance how much the answer addresses the query.
// Scores are lexical: each answer sentence is supported by its best-matching source
// window (unigram and bigram overlap of stemmed content words, numbers must appear in the
// source), the grounding score is the length-weighted mean over sentences pulled down by
// the weakest sentence. Paraphrases that share no words with the source score low, and
// an answer that copies source words in a false combination can score high.
package grounding

import (
	"context"
	"math"
	"strings"

	"github.com/plinth-ai/plinth/shared/guardrail/textnorm"
)

func isNumber(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Grounding returns the share of the answer supported by the sources, in [0,1].
func Grounding(answer string, sources []string) float64 {
	g, _ := GroundingContext(context.Background(), answer, sources)
	return g
}

const (
	// maxPostings caps the source sentences remembered per term: a term found in more
	// sentences says little about which one supports a claim, and an uncapped list would
	// make a long answer over a repetitive source quadratic.
	maxPostings = 32
	// candidates is how many source sentences (with their neighbours) are scored per
	// answer sentence: those sharing the most terms with it.
	candidates = 6
	// pollEvery is how many sentences are processed between looks at the context.
	pollEvery = 256
)

// GroundingContext is Grounding that stops with ctx's error when ctx is done. Its work is
// linear in the length of the answer and the sources: each answer sentence is scored
// against the whole source and against the few source sentences that share the most
// terms with it (and their neighbours), found through an index of the sources.
func GroundingContext(ctx context.Context, answer string, sources []string) (float64, error) {
	var work int
	return grounding(ctx, answer, sources, &work, nil)
}

// Check returns the grounding score of answer against sources and its relevance to
// query, as GroundingContext and Relevance do, reading the answer's words once. With no
// sources the grounding score is 0; with an empty query the relevance is Relevance's.
func Check(ctx context.Context, answer string, sources []string, query string) (ground, relevance float64, err error) {
	rel := newRelevance(query)
	if len(sources) == 0 {
		var z textnorm.Tokenizer
		for _, t := range z.Terms(answer, nil) {
			rel.add(t)
		}
		return 0, rel.score(), nil
	}
	var work int
	ground, err = grounding(ctx, answer, sources, &work, rel)
	return ground, rel.score(), err
}

func grounding(ctx context.Context, answer string, sources []string, work *int, rel *relevance) (float64, error) {
	var zt, zp textnorm.Tokenizer // terms; proper names
	idx, err := indexSources(ctx, &zt, sources)
	if err != nil {
		return 0, err
	}
	if len(idx.sents) == 0 {
		if rel != nil {
			for _, t := range zt.Terms(answer, nil) {
				rel.add(t)
			}
		}
		return 0, nil
	}
	var sum, weight float64
	minS := 1.0
	hits := map[int32]int{}
	var ids []int32
	var terms []string
	cands := make([]int, 0, candidates)
	for n, a := range textnorm.Sentences(answer) {
		if n%pollEvery == 0 {
			if err := ctx.Err(); err != nil {
				return 0, err
			}
		}
		terms = zt.Terms(a, terms[:0])
		if rel != nil {
			for _, t := range terms {
				rel.add(t)
			}
		}
		if len(terms) == 0 {
			continue
		}
		ids = ids[:0]
		for _, t := range terms {
			id, ok := idx.ids[t]
			if !ok {
				id = -1
			}
			ids = append(ids, id)
		}
		best := 0.85 * idx.support(terms, ids, -1, -1) // support scattered across the whole source counts less
		*work += len(terms)
		cands = idx.candidates(ids, hits, cands[:0], work)
	windows:
		for _, c := range cands {
			for _, w := range [][2]int{{c, c}, {c - 1, c}, {c, c + 1}} {
				if best >= 1 {
					break windows // fully supported: no window can do better
				}
				if w[0] < 0 || w[1] >= len(idx.sents) {
					continue
				}
				best = math.Max(best, idx.support(terms, ids, w[0], w[1]))
				*work += len(terms)
			}
		}
		// A proper name the sources never mention is a likely fabricated fact: each one
		// halves the sentence's support.
		for _, pn := range properNames(&zp, a) {
			if _, ok := idx.ids[pn]; !ok {
				best *= 0.5
			}
		}
		sum += best * float64(len(terms))
		weight += float64(len(terms))
		minS = math.Min(minS, best)
	}
	if weight == 0 {
		return 1, nil
	}
	mean := sum / weight
	return 0.7*mean + 0.3*minS, nil
}

// sourceIndex holds the sources' sentences as term IDs, with set membership per sentence
// and for the whole source, and a capped posting list per term.
type sourceIndex struct {
	ids      map[string]int32
	sents    [][]int32
	uni      map[uint64]struct{} // sentence<<32 | term
	bi       map[[2]uint64]struct{}
	allBi    map[uint64]struct{} // a<<32 | b over the whole source
	postings [][]int32           // by term ID
}

func pair(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

func indexSources(ctx context.Context, z *textnorm.Tokenizer, sources []string) (*sourceIndex, error) {
	// Size the sets for the sources up front (about one term per seven bytes): growing
	// them is most of the cost of indexing a long source.
	n := 0
	for _, src := range sources {
		n += len(src)
	}
	hint := n / 7
	idx := &sourceIndex{ids: make(map[string]int32, hint/2), uni: make(map[uint64]struct{}, hint), bi: make(map[[2]uint64]struct{}, hint),
		allBi: make(map[uint64]struct{}, hint)}
	prevLast := int32(-1)
	var terms []string
	for _, src := range sources {
		for _, sent := range textnorm.Sentences(src) {
			si := int32(len(idx.sents))
			if si%pollEvery == 0 {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
			}
			terms = z.Terms(sent, terms[:0])
			ids := make([]int32, len(terms))
			for k, t := range terms {
				id, ok := idx.ids[t]
				if !ok {
					id = int32(len(idx.ids))
					idx.ids[strings.Clone(t)] = id
					idx.postings = append(idx.postings, nil)
				}
				ids[k] = id
				key := uint64(uint32(si))<<32 | uint64(uint32(id))
				if _, seen := idx.uni[key]; !seen {
					idx.uni[key] = struct{}{}
					if p := idx.postings[id]; len(p) < maxPostings {
						idx.postings[id] = append(p, si)
					}
				}
				if k > 0 {
					idx.bi[[2]uint64{uint64(uint32(si)), pair(ids[k-1], id)}] = struct{}{}
					idx.allBi[pair(ids[k-1], id)] = struct{}{}
				}
			}
			// The whole source reads across sentence boundaries.
			if prevLast >= 0 && len(ids) > 0 {
				idx.allBi[pair(prevLast, ids[0])] = struct{}{}
			}
			if len(ids) > 0 {
				prevLast = ids[len(ids)-1]
			}
			idx.sents = append(idx.sents, ids)
		}
	}
	return idx, nil
}

// candidates returns up to `candidates` source sentences sharing the most terms with ids
// (ties to the earlier sentence).
func (x *sourceIndex) candidates(ids []int32, hits map[int32]int, out []int, work *int) []int {
	clear(hits)
	for _, id := range ids {
		if id < 0 {
			continue
		}
		for _, si := range x.postings[id] {
			hits[si]++
		}
		*work += len(x.postings[id])
	}
	// Keep the best few in out, with their counts beside them.
	var counts [candidates]int
	for si, h := range hits {
		if len(out) < candidates {
			counts[len(out)] = h
			out = append(out, int(si))
			continue
		}
		worst := 0
		for k := 1; k < len(out); k++ {
			if counts[k] < counts[worst] || counts[k] == counts[worst] && out[k] > out[worst] {
				worst = k
			}
		}
		if h > counts[worst] || h == counts[worst] && int(si) < out[worst] {
			out[worst], counts[worst] = int(si), h
		}
	}
	return out
}

// has reports whether term id occurs in sentences lo..hi (lo < 0: the whole source).
func (x *sourceIndex) has(id int32, lo, hi int) bool {
	if id < 0 {
		return false
	}
	if lo < 0 {
		return true // every known term occurs somewhere in the sources
	}
	for s := lo; s <= hi; s++ {
		if _, ok := x.uni[uint64(uint32(s))<<32|uint64(uint32(id))]; ok {
			return true
		}
	}
	return false
}

// hasBigram reports whether the bigram a b occurs in sentences lo..hi (lo < 0: the whole
// source), including across the boundary of the two sentences of a pair.
func (x *sourceIndex) hasBigram(a, b int32, lo, hi int) bool {
	if a < 0 || b < 0 {
		return false
	}
	p := pair(a, b)
	if lo < 0 {
		_, ok := x.allBi[p]
		return ok
	}
	for s := lo; s <= hi; s++ {
		if _, ok := x.bi[[2]uint64{uint64(uint32(s)), p}]; ok {
			return true
		}
	}
	if hi > lo {
		l, f := x.sents[lo], x.sents[hi]
		return len(l) > 0 && len(f) > 0 && l[len(l)-1] == a && f[0] == b
	}
	return false
}

// support scores how much of an answer sentence (terms and their IDs) the window of
// source sentences lo..hi supports (lo < 0: the whole source): unigram and bigram
// coverage, zero when a number is missing from the window.
func (x *sourceIndex) support(terms []string, ids []int32, lo, hi int) float64 {
	hit := 0
	for k, id := range ids {
		if x.has(id, lo, hi) {
			hit++
		} else if isNumber(terms[k]) {
			return 0 // an unsupported number is a hallucination
		}
	}
	cov1 := float64(hit) / float64(len(terms))
	if len(terms) < 2 {
		return cov1
	}
	bh := 0
	for k := 1; k < len(ids); k++ {
		if x.hasBigram(ids[k-1], ids[k], lo, hi) {
			bh++
		}
	}
	cov2 := float64(bh) / float64(len(terms)-1)
	return 0.7*cov1 + 0.3*cov2
}

// Relevance returns how well the answer addresses the query, in [0,1]: the share of the
// query's content words (stemmed) that the answer takes up, lifted when the answer
// carries an entity-like token (a number or capitalised word) and some overlap.
func Relevance(answer, query string) float64 {
	rel := newRelevance(query)
	var za textnorm.Tokenizer
	for _, t := range za.Terms(answer, nil) {
		rel.add(t)
	}
	return rel.score()
}

// relevance accumulates an answer's terms against a query's: only the query's terms
// matter, so it marks which of them the answer holds, in one pass over the answer's
// terms (no set of the answer is built).
type relevance struct {
	want map[string]bool // query term → found in the answer
	n    int             // answer terms seen
}

func newRelevance(query string) *relevance {
	var zq textnorm.Tokenizer
	q := zq.Terms(query, nil)
	r := &relevance{want: make(map[string]bool, len(q))}
	for _, t := range q {
		r.want[strings.Clone(t)] = false
	}
	return r
}

func (r *relevance) add(term string) {
	r.n++
	if _, ok := r.want[term]; ok {
		r.want[term] = true
	}
}

func (r *relevance) score() float64 {
	if len(r.want) == 0 {
		if r.n == 0 {
			return 0
		}
		return 1
	}
	if r.n == 0 {
		return 0
	}
	hit := 0
	for _, found := range r.want {
		if found {
			hit++
		}
	}
	cov := float64(hit) / float64(len(r.want))
	if hit == 0 {
		return 0.1 * math.Min(1, float64(r.n)/20)
	}
	return math.Min(1, 0.35+0.65*math.Sqrt(cov))
}

// properNames returns the stemmed terms of capitalised words that do not start the
// sentence (aliasing z until its next Reset).
func properNames(z *textnorm.Tokenizer, sentence string) []string {
	toks := z.Reset(sentence)
	var out []string
	for i, t := range toks {
		if i == 0 || textnorm.IsStop(t.Norm) {
			continue
		}
		c := sentence[t.Start]
		if c >= 'A' && c <= 'Z' {
			out = append(out, textnorm.Stem(t.Norm))
		}
	}
	return out
}
