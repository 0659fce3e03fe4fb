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
	"math"
	"strings"

	"github.com/plinth-ai/plinth/shared/guardrail/textnorm"
)

type bag struct {
	uni map[string]bool
	bi  map[string]bool
}

func newBag(terms []string) bag {
	b := bag{uni: map[string]bool{}, bi: map[string]bool{}}
	for i, t := range terms {
		b.uni[t] = true
		if i > 0 {
			b.bi[terms[i-1]+" "+t] = true
		}
	}
	return b
}

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

func support(terms []string, src bag) float64 {
	if len(terms) == 0 {
		return 1
	}
	hit := 0
	for _, t := range terms {
		if src.uni[t] {
			hit++
		} else if isNumber(t) {
			return 0 // an unsupported number is a hallucination
		}
	}
	cov1 := float64(hit) / float64(len(terms))
	if len(terms) < 2 {
		return cov1
	}
	bh := 0
	for i := 1; i < len(terms); i++ {
		if src.bi[terms[i-1]+" "+terms[i]] {
			bh++
		}
	}
	cov2 := float64(bh) / float64(len(terms)-1)
	return 0.7*cov1 + 0.3*cov2
}

// Grounding returns the share of the answer supported by the sources, in [0,1].
func Grounding(answer string, sources []string) float64 {
	var srcSents []string
	for _, s := range sources {
		srcSents = append(srcSents, textnorm.Sentences(s)...)
	}
	if len(srcSents) == 0 {
		return 0
	}
	// Source windows: single sentences, adjacent pairs, and the whole source.
	var windows []bag
	all := textnorm.Terms(strings.Join(sources, "\n"))
	windows = append(windows, newBag(all))
	for i, s := range srcSents {
		windows = append(windows, newBag(textnorm.Terms(s)))
		if i > 0 {
			windows = append(windows, newBag(textnorm.Terms(srcSents[i-1]+" "+s)))
		}
	}
	var sum, weight float64
	minS := 1.0
	for _, a := range textnorm.Sentences(answer) {
		terms := textnorm.Terms(a)
		if len(terms) == 0 {
			continue
		}
		best := 0.0
		for wi, w := range windows {
			s := support(terms, w)
			if wi == 0 {
				s *= 0.85 // support scattered across the whole source counts less
			}
			best = math.Max(best, s)
		}
		// A proper name the sources never mention is a likely fabricated fact: each one
		// halves the sentence's support.
		for _, pn := range properNames(a) {
			if !windows[0].uni[pn] {
				best *= 0.5
			}
		}
		sum += best * float64(len(terms))
		weight += float64(len(terms))
		minS = math.Min(minS, best)
	}
	if weight == 0 {
		return 1
	}
	mean := sum / weight
	return 0.7*mean + 0.3*minS
}

// Relevance returns how well the answer addresses the query, in [0,1]: the share of the
// query's content words (stemmed) that the answer takes up, lifted when the answer
// carries an entity-like token (a number or capitalised word) and some overlap.
func Relevance(answer, query string) float64 {
	q := textnorm.Terms(query)
	a := textnorm.Terms(answer)
	if len(a) == 0 {
		return 0
	}
	if len(q) == 0 {
		return 1
	}
	ab := newBag(a)
	hit := 0
	seen := map[string]bool{}
	uniq := 0
	for _, t := range q {
		if seen[t] {
			continue
		}
		seen[t] = true
		uniq++
		if ab.uni[t] {
			hit++
		}
	}
	cov := float64(hit) / float64(uniq)
	if hit == 0 {
		return 0.1 * math.Min(1, float64(len(a))/20)
	}
	return math.Min(1, 0.35+0.65*math.Sqrt(cov))
}

// properNames returns the stemmed terms of capitalised words that do not start the sentence.
func properNames(sentence string) []string {
	var z textnorm.Tokenizer
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
