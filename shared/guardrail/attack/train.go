package attack

import (
	_ "embed"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
)

// Example is one labelled text.
type Example struct {
	Text  string
	Label int // 1 = attack
}

// TrainOptions tune training.
type TrainOptions struct {
	Epochs int     // default 10
	L2     float64 // default 1e-4
	LR     float64 // default 0.1 (Adagrad)
	Seed   uint64
}

func (o *TrainOptions) defaults() {
	if o.Epochs == 0 {
		o.Epochs = 10
	}
	if o.L2 == 0 {
		o.L2 = 1e-4
	}
	if o.LR == 0 {
		o.LR = 0.1
	}
}

// Train fits logistic regression with Adagrad on examples (deterministic for a seed).
func Train(examples []Example, opt TrainOptions) *Model {
	opt.defaults()
	var x Extractor
	vecs := make([][]Feature, len(examples))
	for i, e := range examples {
		vecs[i] = append([]Feature(nil), x.Extract(e.Text)...)
	}
	w := make([]float64, Dim)
	g2 := make([]float64, Dim)
	var b, gb2 float64
	// Class weights balance the classes.
	pos := 0
	for _, e := range examples {
		pos += e.Label
	}
	wPos := float64(len(examples)) / (2 * math.Max(1, float64(pos)))
	wNeg := float64(len(examples)) / (2 * math.Max(1, float64(len(examples)-pos)))
	r := rand.New(rand.NewPCG(opt.Seed, 42))
	order := make([]int, len(examples))
	for i := range order {
		order[i] = i
	}
	for ep := 0; ep < opt.Epochs; ep++ {
		r.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, i := range order {
			z := b
			for _, f := range vecs[i] {
				z += w[f.Index] * float64(f.Value)
			}
			p := sigmoid(z)
			cw := wNeg
			if examples[i].Label == 1 {
				cw = wPos
			}
			g := (p - float64(examples[i].Label)) * cw
			for _, f := range vecs[i] {
				gi := g*float64(f.Value) + opt.L2*w[f.Index]
				g2[f.Index] += gi * gi
				w[f.Index] -= opt.LR * gi / (math.Sqrt(g2[f.Index]) + 1e-8)
			}
			gb2 += g * g
			b -= opt.LR * g / (math.Sqrt(gb2) + 1e-8)
		}
	}
	m := &Model{Bias: b, Weights: make([]float32, Dim)}
	for i, v := range w {
		m.Weights[i] = float32(v)
	}
	return m
}

// CVResult holds out-of-fold scores from k-fold cross-validation.
type CVResult struct {
	Scores []float64 // per example, from the model that did not see it
	Labels []int
}

// CrossValidate trains k models on stratified folds and scores each held-out fold,
// blending heuristics with weight hw. Extra examples (such as BenignExtra) join every
// training fold and are never scored.
func CrossValidate(examples []Example, k int, hw float64, opt TrainOptions, extra ...Example) CVResult {
	idxPos, idxNeg := []int{}, []int{}
	for i, e := range examples {
		if e.Label == 1 {
			idxPos = append(idxPos, i)
		} else {
			idxNeg = append(idxNeg, i)
		}
	}
	r := rand.New(rand.NewPCG(opt.Seed+1, 7))
	r.Shuffle(len(idxPos), func(i, j int) { idxPos[i], idxPos[j] = idxPos[j], idxPos[i] })
	r.Shuffle(len(idxNeg), func(i, j int) { idxNeg[i], idxNeg[j] = idxNeg[j], idxNeg[i] })
	fold := make([]int, len(examples))
	for i, id := range idxPos {
		fold[id] = i % k
	}
	for i, id := range idxNeg {
		fold[id] = i % k
	}
	res := CVResult{Scores: make([]float64, len(examples)), Labels: make([]int, len(examples))}
	for f := 0; f < k; f++ {
		train := append([]Example(nil), extra...)
		for i, e := range examples {
			if fold[i] != f {
				train = append(train, e)
			}
		}
		m := Train(train, opt)
		m.HeuristicWeight = hw
		s := Scorer{M: m}
		for i, e := range examples {
			if fold[i] == f {
				res.Scores[i], _ = s.Score(e.Text)
			}
			res.Labels[i] = e.Label
		}
	}
	return res
}

// ThresholdAtFPR returns the smallest threshold whose false-positive rate on the negatives
// is at most fpr, and the true-positive rate there.
func ThresholdAtFPR(scores []float64, labels []int, fpr float64) (thr, tpr, actualFPR float64) {
	var neg, pos []float64
	for i, s := range scores {
		if labels[i] == 1 {
			pos = append(pos, s)
		} else {
			neg = append(neg, s)
		}
	}
	sort.Float64s(neg)
	// Allowed false positives.
	allowed := int(math.Floor(fpr * float64(len(neg))))
	// Threshold just above the (allowed+1)-th highest negative.
	if allowed >= len(neg) {
		thr = 0
	} else {
		thr = math.Nextafter(neg[len(neg)-1-allowed], 2)
	}
	fp, tp := 0, 0
	for _, s := range neg {
		if s >= thr {
			fp++
		}
	}
	for _, s := range pos {
		if s >= thr {
			tp++
		}
	}
	return thr, float64(tp) / float64(max(1, len(pos))), float64(fp) / float64(max(1, len(neg)))
}

//go:embed benign.txt
var benignText string

// BenignExtra returns the hand-written ordinary prompts used as extra training negatives.
func BenignExtra() []Example {
	var out []Example
	for _, l := range strings.Split(benignText, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		out = append(out, Example{Text: l})
	}
	return out
}
