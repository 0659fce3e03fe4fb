package eval

import (
	"math/rand/v2"
	"sort"
	"strings"

	"github.com/plinth-ai/plinth/shared/guardrail/grounding"
)

// Contexts lists every paragraph.
func (d *SquadDoc) Contexts() []string {
	var out []string
	for _, a := range d.Data {
		for _, p := range a.Paragraphs {
			out = append(out, p.Context)
		}
	}
	return out
}

// GroundingReport measures how well the grounding and relevance scores separate matched
// from mismatched pairs built from SQuAD (AUC: the probability that a matched pair scores
// above a mismatched one).
type GroundingReport struct {
	Pairs        int
	GroundingAUC float64
	RelevanceAUC float64
	// SubstitutedAUC compares the true statement with the same statement whose answer was
	// replaced by another article's answer, against the true paragraph.
	SubstitutedAUC float64
	SubstitutedAt  map[float64]float64
	GroundingAt    map[float64][2]float64 // threshold → (matched pass rate, mismatched pass rate)
	RelevanceAt    map[float64][2]float64
}

// MeasureGrounding builds, for each answerable SQuAD question, an answer statement (the
// context sentence holding the gold answer). Grounding: the statement against its own
// paragraph (matched) and a paragraph of another article (mismatched). Relevance: the
// statement against its question (matched) and a question from another article.
func MeasureGrounding(d *SquadDoc, seed uint64) GroundingReport {
	type item struct {
		article                  int
		ctx, q, sentence, answer string
	}
	var items []item
	for ai, a := range d.Data {
		for _, p := range a.Paragraphs {
			for _, q := range p.QAs {
				if q.Impossible || len(q.Answers) == 0 {
					continue
				}
				s := sentenceWith(p.Context, q.Answers[0].Text)
				if s == "" {
					continue
				}
				items = append(items, item{ai, p.Context, q.Question, s, q.Answers[0].Text})
			}
		}
	}
	r := rand.New(rand.NewPCG(seed, 3))
	var gPos, gNeg, gSub, rPos, rNeg []float64
	for _, it := range items {
		other := items[r.IntN(len(items))]
		for tries := 0; other.article == it.article && tries < 50; tries++ {
			other = items[r.IntN(len(items))]
		}
		if other.article == it.article {
			continue
		}
		gPos = append(gPos, grounding.Grounding(it.sentence, []string{it.ctx}))
		gNeg = append(gNeg, grounding.Grounding(it.sentence, []string{other.ctx}))
		// A wrong fact: the gold answer swapped for another article's answer.
		gSub = append(gSub, grounding.Grounding(strings.Replace(it.sentence, it.answer, other.answer, 1), []string{it.ctx}))
		rPos = append(rPos, grounding.Relevance(it.sentence, it.q))
		rNeg = append(rNeg, grounding.Relevance(it.sentence, other.q))
	}
	rep := GroundingReport{Pairs: len(gPos), GroundingAUC: auc(gPos, gNeg), SubstitutedAUC: auc(gPos, gSub), RelevanceAUC: auc(rPos, rNeg),
		GroundingAt: map[float64][2]float64{}, RelevanceAt: map[float64][2]float64{}, SubstitutedAt: map[float64]float64{}}
	for _, thr := range []float64{0.5, 0.7} {
		rep.GroundingAt[thr] = [2]float64{passRate(gPos, thr), passRate(gNeg, thr)}
		rep.SubstitutedAt[thr] = passRate(gSub, thr)
		rep.RelevanceAt[thr] = [2]float64{passRate(rPos, thr), passRate(rNeg, thr)}
	}
	return rep
}

func sentenceWith(ctx, answer string) string {
	i := strings.Index(ctx, answer)
	if i < 0 {
		return ""
	}
	start := strings.LastIndex(ctx[:i], ". ")
	if start < 0 {
		start = 0
	} else {
		start += 2
	}
	end := strings.Index(ctx[i:], ". ")
	if end < 0 {
		end = len(ctx)
	} else {
		end += i + 1
	}
	return ctx[start:end]
}

func passRate(xs []float64, thr float64) float64 {
	n := 0
	for _, x := range xs {
		if x >= thr {
			n++
		}
	}
	return float64(n) / float64(max(1, len(xs)))
}

// auc is the Mann-Whitney estimate of P(pos > neg), ties counting one half.
func auc(pos, neg []float64) float64 {
	if len(pos) == 0 || len(neg) == 0 {
		return 0
	}
	type sv struct {
		v   float64
		pos bool
	}
	all := make([]sv, 0, len(pos)+len(neg))
	for _, v := range pos {
		all = append(all, sv{v, true})
	}
	for _, v := range neg {
		all = append(all, sv{v, false})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].v < all[j].v })
	var rankSum float64
	for i := 0; i < len(all); {
		j := i
		for j < len(all) && all[j].v == all[i].v {
			j++
		}
		avg := float64(i+j+1) / 2 // ranks are 1-based
		for k := i; k < j; k++ {
			if all[k].pos {
				rankSum += avg
			}
		}
		i = j
	}
	np, nn := float64(len(pos)), float64(len(neg))
	return (rankSum - np*(np+1)/2) / (np * nn)
}
