package textclass

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/plinth-ai/plinth/shared/guardrail/textnorm"
)

// ErrBadModel means a model file could not be decoded.
var ErrBadModel = errors.New("textclass: bad model file")

// Thresholds are the probabilities at or above which a label has LOW, MEDIUM or HIGH
// confidence.
type Thresholds struct {
	Low, Medium, High float32
}

// Confidence maps a probability to NONE, LOW, MEDIUM or HIGH.
func (t Thresholds) Confidence(p float64) string {
	switch {
	case p >= float64(t.High):
		return "HIGH"
	case p >= float64(t.Medium):
		return "MEDIUM"
	case p >= float64(t.Low):
		return "LOW"
	}
	return "NONE"
}

// Model is a trained classifier. It is immutable once built and safe for concurrent use.
type Model struct {
	Labels     []string
	Thresholds []Thresholds // per label
	Buckets    uint32
	// CharGrams is the longest character n-gram of a word used as a feature (3..CharGrams),
	// 0 for words and word bigrams only.
	CharGrams int
	// Concepts adds each word's broader concepts (textnorm.Concepts) as features.
	Concepts bool
	Dim      int
	// heads are the model's embedding tables; each scores some of the labels. A model
	// trained without Options.Separate has one head scoring every label.
	heads []head
}

// head is one embedding table with the output layer of the labels it scores.
type head struct {
	labels []int // indices into Model.Labels
	// emb holds Buckets rows of Dim int8 values, each row multiplied by its scale.
	emb   []int8
	scale []float32
	// out holds one row of Dim weights per label, then one bias per label.
	out  []float32
	bias []float32
}

// Label returns the index of a label, or -1.
func (m *Model) Label(name string) int {
	for i, l := range m.Labels {
		if l == name {
			return i
		}
	}
	return -1
}

// Scratch holds per-caller buffers for prediction; it is not safe for concurrent use.
type Scratch struct {
	f      *Featurizer
	hidden []float32
	probs  []float64
}

// NewScratch returns buffers for predicting with m.
func (m *Model) NewScratch() *Scratch {
	return &Scratch{f: NewFeaturizer(m.Buckets, m.CharGrams, m.Concepts), hidden: make([]float32, m.Dim), probs: make([]float64, len(m.Labels))}
}

// priorFeatures is added to the feature count when averaging: a text of few features
// is pulled toward the zero vector, where the outputs are their biases, so that a short
// text must carry strong features to score high (at 8, one word seen only in harmful
// tweets, "mail", made a text score HIGH). Training divides the same way.
const priorFeatures = 16

// Predict returns the probability of every label for a tokenised text (valid until the
// next call with the same scratch). A text with no features has probability sigmoid(bias).
func (m *Model) Predict(s *Scratch, toks []textnorm.Token) []float64 {
	return m.PredictFeatures(s, s.f.Features(toks))
}

// PredictFeatures is Predict over feature buckets.
func (m *Model) PredictFeatures(s *Scratch, feats []uint32) []float64 {
	h := s.hidden
	d := m.Dim
	inv := 1 / float32(len(feats)+priorFeatures)
	for _, hd := range m.heads {
		clear(h)
		for _, b := range feats {
			row := hd.emb[int(b)*d : int(b)*d+d]
			sc := hd.scale[b]
			for k, v := range row {
				h[k] += sc * float32(v)
			}
		}
		for k := range h {
			h[k] *= inv
		}
		for j, l := range hd.labels {
			z := hd.bias[j]
			w := hd.out[j*d : j*d+d]
			for k, v := range w {
				z += v * h[k]
			}
			s.probs[l] = Sigmoid(float64(z))
		}
	}
	return s.probs
}

// magic starts a file of one head; magicHeads one of several, where each head is written
// after its count of labels and their indices.
const (
	magic      = "PLTC3\n"
	magicHeads = "PLTC4\n"
)

// MarshalBinary encodes the model file: a magic line, then little-endian sizes, labels,
// thresholds, and per head its labels, output layer and quantised embeddings. A model of
// one head is written as the format before heads were added, so its file is unchanged.
func (m *Model) MarshalBinary() ([]byte, error) {
	var b bytes.Buffer
	single := len(m.heads) == 1
	if single {
		b.WriteString(magic)
	} else {
		b.WriteString(magicHeads)
	}
	w := func(v any) { _ = binary.Write(&b, binary.LittleEndian, v) }
	w(uint32(m.Buckets))
	w(uint32(m.Dim))
	w(uint32(len(m.Labels)))
	w(uint32(m.CharGrams))
	w(boolU32(m.Concepts))
	for _, l := range m.Labels {
		w(uint16(len(l)))
		b.WriteString(l)
	}
	for _, t := range m.Thresholds {
		w([3]float32{t.Low, t.Medium, t.High})
	}
	if !single {
		w(uint32(len(m.heads)))
	}
	for _, hd := range m.heads {
		if !single {
			w(uint32(len(hd.labels)))
			for _, l := range hd.labels {
				w(uint32(l))
			}
		}
		w(hd.out)
		w(hd.bias)
		w(hd.scale)
		w(hd.emb)
	}
	return b.Bytes(), nil
}

// UnmarshalBinary decodes a model file written by MarshalBinary.
func (m *Model) UnmarshalBinary(data []byte) error {
	single := bytes.HasPrefix(data, []byte(magic))
	if !single && !bytes.HasPrefix(data, []byte(magicHeads)) {
		return fmt.Errorf("%w: no %q or %q header", ErrBadModel, magic[:5], magicHeads[:5])
	}
	r := bytes.NewReader(data[len(magic):])
	var err error
	rd := func(v any) {
		if err == nil {
			err = binary.Read(r, binary.LittleEndian, v)
		}
	}
	var buckets, dim, nl, grams, concepts uint32
	rd(&buckets)
	rd(&dim)
	rd(&nl)
	rd(&grams)
	rd(&concepts)
	if err != nil || buckets == 0 || buckets > 1<<24 || dim == 0 || dim > 256 || nl == 0 || nl > 64 || grams > 8 || concepts > 1 {
		return fmt.Errorf("%w: bad sizes", ErrBadModel)
	}
	m.Buckets, m.Dim, m.CharGrams, m.Concepts = buckets, int(dim), int(grams), concepts == 1
	m.Labels = make([]string, nl)
	for i := range m.Labels {
		var n uint16
		rd(&n)
		buf := make([]byte, n)
		rd(buf)
		m.Labels[i] = string(buf)
	}
	m.Thresholds = make([]Thresholds, nl)
	for i := range m.Thresholds {
		var t [3]float32
		rd(&t)
		m.Thresholds[i] = Thresholds{t[0], t[1], t[2]}
	}
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadModel, err)
	}
	var labels [][]int
	if single {
		labels = [][]int{make([]int, nl)}
		for i := range labels[0] {
			labels[0][i] = i
		}
	} else {
		var nh uint32
		rd(&nh)
		if err != nil || nh == 0 || nh > nl {
			return fmt.Errorf("%w: bad head count", ErrBadModel)
		}
		labels = make([][]int, nh)
	}
	covered := make([]bool, nl)
	m.heads = make([]head, len(labels))
	for i := range m.heads {
		if !single {
			var n uint32
			rd(&n)
			if err != nil || n == 0 || n > nl {
				return fmt.Errorf("%w: bad head size", ErrBadModel)
			}
			labels[i] = make([]int, n)
			for j := range labels[i] {
				var l uint32
				rd(&l)
				if err != nil || l >= nl || covered[l] {
					return fmt.Errorf("%w: bad head label", ErrBadModel)
				}
				labels[i][j] = int(l)
				covered[l] = true
			}
		}
		hd := head{labels: labels[i], out: make([]float32, len(labels[i])*m.Dim), bias: make([]float32, len(labels[i])),
			scale: make([]float32, buckets), emb: make([]int8, int(buckets)*m.Dim)}
		rd(hd.out)
		rd(hd.bias)
		rd(hd.scale)
		rd(hd.emb)
		m.heads[i] = hd
	}
	if !single && slices.Contains(covered, false) {
		return fmt.Errorf("%w: a label without a head", ErrBadModel)
	}
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadModel, err)
	}
	if r.Len() != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrBadModel, r.Len())
	}
	return nil
}

// Load decodes a model file.
func Load(data []byte) (*Model, error) {
	m := &Model{}
	if err := m.UnmarshalBinary(data); err != nil {
		return nil, err
	}
	return m, nil
}

func boolU32(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}
