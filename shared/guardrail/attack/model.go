// Package attack detects prompt injection and jailbreak attempts with a logistic-regression
// classifier over hashed word and character n-grams plus multilingual cue features,
// trained by `go run ./shared/guardrail/attack/train` on the deepset prompt-injection data
// (English and German) and embedded in the binary. Thresholds for the LOW, MEDIUM and HIGH
// confidence levels are chosen by the trainer from out-of-fold cross-validation scores.
package attack

import (
	_ "embed"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/plinth-ai/plinth/shared/guardrail/textnorm"
)

//go:embed model.json
var modelJSON []byte

// ErrBadModel means a model file could not be decoded.
var ErrBadModel = errors.New("attack: bad model file")

// Thresholds are the scores at or above which a text has LOW, MEDIUM or HIGH confidence.
type Thresholds struct {
	Low    float64 `json:"low"`
	Medium float64 `json:"medium"`
	High   float64 `json:"high"`
}

// Model is a trained classifier.
type Model struct {
	Bias       float64
	Weights    []float32
	Thresholds Thresholds
	// HeuristicWeight blends the cue score in: p' = 1-(1-p)(1-HeuristicWeight*h).
	HeuristicWeight float64
	Meta            map[string]any
}

type modelFile struct {
	Version         int            `json:"version"`
	Dim             int            `json:"dim"`
	Bias            float64        `json:"bias"`
	Weights         string         `json:"weights"` // base64 of little-endian float32
	Thresholds      Thresholds     `json:"thresholds"`
	HeuristicWeight float64        `json:"heuristic_weight"`
	Meta            map[string]any `json:"meta,omitempty"`
}

// MarshalJSON encodes the model file.
func (m *Model) MarshalJSON() ([]byte, error) {
	buf := make([]byte, 4*len(m.Weights))
	for i, w := range m.Weights {
		binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(w))
	}
	return json.MarshalIndent(modelFile{Version: 1, Dim: len(m.Weights), Bias: m.Bias,
		Weights: base64.StdEncoding.EncodeToString(buf), Thresholds: m.Thresholds,
		HeuristicWeight: m.HeuristicWeight, Meta: m.Meta}, "", " ")
}

// UnmarshalJSON decodes a model file.
func (m *Model) UnmarshalJSON(b []byte) error {
	var f modelFile
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("%w: %v", ErrBadModel, err)
	}
	raw, err := base64.StdEncoding.DecodeString(f.Weights)
	if err != nil || len(raw) != 4*Dim || f.Dim != Dim {
		return fmt.Errorf("%w: weights must be %d float32 values", ErrBadModel, Dim)
	}
	m.Weights = make([]float32, Dim)
	for i := range m.Weights {
		m.Weights[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	m.Bias, m.Thresholds, m.HeuristicWeight, m.Meta = f.Bias, f.Thresholds, f.HeuristicWeight, f.Meta
	return nil
}

var (
	defaultOnce  sync.Once
	defaultModel *Model
	defaultErr   error
)

// Default returns the embedded model.
func Default() (*Model, error) {
	defaultOnce.Do(func() {
		m := &Model{}
		if err := json.Unmarshal(modelJSON, m); err != nil {
			defaultErr = err
			return
		}
		defaultModel = m
	})
	return defaultModel, defaultErr
}

func sigmoid(z float64) float64 { return 1 / (1 + math.Exp(-z)) }

// Raw returns the classifier's probability for a feature vector.
func (m *Model) Raw(fs []Feature) float64 {
	z := m.Bias
	for _, f := range fs {
		z += float64(m.Weights[f.Index]) * float64(f.Value)
	}
	return sigmoid(z)
}

// Scorer scores texts with a model, reusing buffers; not safe for concurrent use.
type Scorer struct {
	M *Model
	x Extractor
}

// Score returns the attack probability of text in [0,1] and the cue families found.
func (s *Scorer) Score(text string) (float64, []string) {
	return s.score(s.x.Extract(text))
}

// ScoreTokens is Score over an existing tokenisation (textnorm) of the text.
func (s *Scorer) ScoreTokens(toks []textnorm.Token) (float64, []string) {
	return s.score(s.x.ExtractTokens(toks))
}

func (s *Scorer) score(fs []Feature) (float64, []string) {
	p := s.M.Raw(fs)
	h, hits := heuristicScore(s.x.hits)
	if s.M.HeuristicWeight > 0 {
		p = 1 - (1-p)*(1-s.M.HeuristicWeight*h)
	}
	return p, hits
}

// Confidence maps a score to NONE, LOW, MEDIUM or HIGH.
func (t Thresholds) Confidence(p float64) string {
	switch {
	case p >= t.High:
		return "HIGH"
	case p >= t.Medium:
		return "MEDIUM"
	case p >= t.Low:
		return "LOW"
	}
	return "NONE"
}
