package textclass

import (
	"math"
	"math/rand/v2"
	"slices"

	"github.com/plinth-ai/plinth/shared/guardrail/textnorm"
)

// Example is one training text with a target per label of the model being trained:
// 1 (the label applies), 0 (it does not) or -1 (unknown: the label is not trained on it).
type Example struct {
	Text    string
	Targets []int8
	// Weight scales the example's loss (0 means 1).
	Weight float64
	// SeparateOnly keeps the example out of the shared head: it trains only the labels
	// of Options.Separate.
	SeparateOnly bool
}

// Options tune training; zero values take the defaults.
type Options struct {
	Labels  []string
	Buckets uint32 // hashed feature buckets, default 1<<17
	// CharGrams adds the character 3- to CharGrams-grams of each word (0: none).
	CharGrams int
	// Concepts adds each word's broader concepts (textnorm.Concepts) as features.
	Concepts bool
	Dim      int     // embedding size, default 16
	Epochs   int     // default 5
	LR       float64 // initial learning rate, decayed linearly to 0; default 0.5
	Seed     uint64
	// Balance weights each label's rarer class up by the square root of the imbalance.
	Balance bool
	// Separate lists labels that get an embedding table of their own (a head), trained
	// and scored apart from the other labels, which share one. Labels that share a table
	// compete for its few dimensions: a category with many varied training rows can
	// crowd the others out of it.
	Separate []string
	// Auxiliary keeps the separated labels as outputs of the shared head during training
	// (they are dropped from the model): the shared embedding is then trained as if no
	// label had been separated.
	Auxiliary bool
}

func (o *Options) defaults() {
	if o.Buckets == 0 {
		o.Buckets = 1 << 17
	}
	if o.Dim == 0 {
		o.Dim = 16
	}
	if o.Epochs == 0 {
		o.Epochs = 5
	}
	if o.LR == 0 {
		o.LR = 0.5
	}
}

// Train fits a model on examples. The result depends only on the examples (in order)
// and the options: the shuffle and the initial embeddings come from opt.Seed, and every
// update is done in one goroutine in a fixed order. Each head (see Options.Separate) is
// trained on its own labels' targets, one after the other, from the same seed.
func Train(examples []Example, opt Options) *Model {
	opt.defaults()
	feats := make([][]uint32, len(examples))
	var z textnorm.Tokenizer
	fz := NewFeaturizer(opt.Buckets, opt.CharGrams, opt.Concepts)
	for i, e := range examples {
		feats[i] = append([]uint32(nil), fz.Features(z.Reset(e.Text))...)
	}
	m := &Model{Labels: append([]string(nil), opt.Labels...), Thresholds: make([]Thresholds, len(opt.Labels)), Buckets: opt.Buckets,
		CharGrams: opt.CharGrams, Concepts: opt.Concepts, Dim: opt.Dim}
	var shared, trained []int
	for l, name := range opt.Labels {
		if !slices.Contains(opt.Separate, name) {
			shared = append(shared, l)
		}
		if opt.Auxiliary || !slices.Contains(opt.Separate, name) {
			trained = append(trained, l)
		}
	}
	if len(shared) > 0 {
		var ex []Example
		var fs [][]uint32
		for i, e := range examples {
			if !e.SeparateOnly {
				ex, fs = append(ex, e), append(fs, feats[i])
			}
		}
		m.heads = append(m.heads, trainHead(ex, fs, trained, opt).keep(shared, opt.Dim))
	}
	for l, name := range opt.Labels {
		if slices.Contains(opt.Separate, name) {
			m.heads = append(m.heads, trainHead(examples, feats, []int{l}, opt))
		}
	}
	return m
}

// keep drops the outputs of the labels not in labels.
func (h head) keep(labels []int, dim int) head {
	if len(labels) == len(h.labels) {
		return h
	}
	k := head{labels: labels, emb: h.emb, scale: h.scale}
	for j, l := range h.labels {
		if slices.Contains(labels, l) {
			k.out = append(k.out, h.out[j*dim:(j+1)*dim]...)
			k.bias = append(k.bias, h.bias[j])
		}
	}
	return k
}

// trainHead fits one embedding table and the outputs of labels on the examples' targets
// for those labels.
func trainHead(examples []Example, feats [][]uint32, labels []int, opt Options) head {
	nl, d := len(labels), opt.Dim
	target := func(e Example, j int) int8 { return e.Targets[labels[j]] }
	// Per-label class weights.
	posW, negW := make([]float64, nl), make([]float64, nl)
	for l := range posW {
		posW[l], negW[l] = 1, 1
	}
	if opt.Balance {
		for l := 0; l < nl; l++ {
			var p, n float64
			for _, e := range examples {
				w := weight(e)
				switch target(e, l) {
				case 1:
					p += w
				case 0:
					n += w
				}
			}
			// The rarer class is weighted up by the square root of the imbalance, not
			// all of it: full balancing lets a few dozen positives push their rare
			// n-grams to extreme weights that then fire on unrelated text.
			if p > 0 && n > 0 {
				posW[l] = math.Sqrt((p + n) / (2 * p))
				negW[l] = math.Sqrt((p + n) / (2 * n))
			}
		}
	}
	r := rand.New(rand.NewPCG(opt.Seed, 0x7e57))
	emb := make([]float32, int(opt.Buckets)*d)
	for i := range emb {
		emb[i] = float32((r.Float64()*2 - 1) / float64(d))
	}
	out := make([]float32, nl*d)
	bias := make([]float32, nl)
	order := make([]int, len(examples))
	for i := range order {
		order[i] = i
	}
	hidden := make([]float32, d)
	grad := make([]float32, d)
	total := float64(opt.Epochs * len(examples))
	step := 0.0
	for ep := 0; ep < opt.Epochs; ep++ {
		r.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, i := range order {
			lr := float32(opt.LR * (1 - step/total))
			step++
			fs := feats[i]
			if len(fs) == 0 {
				continue
			}
			clear(hidden)
			for _, b := range fs {
				row := emb[int(b)*d : int(b)*d+d]
				for k := range hidden {
					hidden[k] += row[k]
				}
			}
			inv := 1 / float32(len(fs)+priorFeatures)
			for k := range hidden {
				hidden[k] *= inv
			}
			clear(grad)
			e := examples[i]
			w := weight(e)
			for l := 0; l < nl; l++ {
				t := target(e, l)
				if t < 0 {
					continue
				}
				wl := out[l*d : l*d+d]
				zl := bias[l]
				for k := range wl {
					zl += wl[k] * hidden[k]
				}
				cw := negW[l]
				if t == 1 {
					cw = posW[l]
				}
				g := float32((Sigmoid(float64(zl)) - float64(t)) * cw * w)
				for k := range wl {
					grad[k] += g * wl[k]
					wl[k] -= lr * g * hidden[k]
				}
				bias[l] -= lr * g
			}
			for k := range grad {
				grad[k] *= lr * inv
			}
			for _, b := range fs {
				row := emb[int(b)*d : int(b)*d+d]
				for k := range row {
					row[k] -= grad[k]
				}
			}
		}
	}
	hd := head{labels: labels, out: out, bias: bias, scale: make([]float32, opt.Buckets), emb: make([]int8, len(emb))}
	// Quantise each embedding row to 8 bits with its own scale. Rows no training text
	// touched keep no random initial value: a feature never seen says nothing.
	seen := make([]bool, opt.Buckets)
	for _, fs := range feats {
		for _, b := range fs {
			seen[b] = true
		}
	}
	for b := 0; b < int(opt.Buckets); b++ {
		if !seen[b] {
			continue
		}
		row := emb[b*d : b*d+d]
		var mx float32
		for _, v := range row {
			mx = max(mx, abs32(v))
		}
		if mx == 0 {
			continue
		}
		sc := mx / 127
		hd.scale[b] = sc
		for k, v := range row {
			hd.emb[b*d+k] = int8(math.Round(float64(v / sc)))
		}
	}
	return hd
}

func weight(e Example) float64 {
	if e.Weight == 0 {
		return 1
	}
	return e.Weight
}

func abs32(v float32) float32 {
	if v < 0 {
		return -v
	}
	return v
}

// Sigmoid is the logistic function, computed with an exponential of our own (exp2 by
// range reduction and a polynomial) so that training gives the same bits on every
// processor: the standard library's math.Exp picks an FMA path by CPU feature.
func Sigmoid(z float64) float64 {
	if z >= 0 {
		return 1 / (1 + expDet(-z))
	}
	e := expDet(z)
	return e / (1 + e)
}

// expDet returns e^x for x ≤ 0 with about 1e-15 relative error, using only additions,
// multiplications and math.Ldexp, which are exact or correctly rounded everywhere.
func expDet(x float64) float64 {
	if x < -700 {
		return 0
	}
	const ln2 = 0.6931471805599453
	k := math.Floor(x/ln2 + 0.5)
	r := x - k*ln2
	// Taylor series of e^r for |r| ≤ ln2/2, to the 13th power.
	sum, term := 1.0, 1.0
	for i := 1; i <= 13; i++ {
		term = term * r / float64(i)
		sum += term
	}
	return math.Ldexp(sum, int(k))
}
