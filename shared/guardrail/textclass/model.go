package textclass

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

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
	clear(h)
	d := m.Dim
	for _, b := range feats {
		row := m.emb[int(b)*d : int(b)*d+d]
		sc := m.scale[b]
		for k, v := range row {
			h[k] += sc * float32(v)
		}
	}
	inv := 1 / float32(len(feats)+priorFeatures)
	for k := range h {
		h[k] *= inv
	}
	for l := range m.Labels {
		z := m.bias[l]
		w := m.out[l*d : l*d+d]
		for k, v := range w {
			z += v * h[k]
		}
		s.probs[l] = Sigmoid(float64(z))
	}
	return s.probs
}

const magic = "PLTC3\n"

// MarshalBinary encodes the model file: a magic line, then little-endian sizes, labels,
// thresholds, output layer and the quantised embeddings.
func (m *Model) MarshalBinary() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(magic)
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
	w(m.out)
	w(m.bias)
	w(m.scale)
	w(m.emb)
	return b.Bytes(), nil
}

// UnmarshalBinary decodes a model file written by MarshalBinary.
func (m *Model) UnmarshalBinary(data []byte) error {
	if !bytes.HasPrefix(data, []byte(magic)) {
		return fmt.Errorf("%w: no %q header", ErrBadModel, magic[:5])
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
	m.out = make([]float32, int(nl)*m.Dim)
	m.bias = make([]float32, nl)
	m.scale = make([]float32, buckets)
	m.emb = make([]int8, int(buckets)*m.Dim)
	rd(m.out)
	rd(m.bias)
	rd(m.scale)
	rd(m.emb)
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
