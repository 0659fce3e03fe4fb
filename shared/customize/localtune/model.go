package localtune

import (
	"math"
	"strings"
)

// BaseModelID is the registry name of the untrained base model.
const BaseModelID = "local-tune"

// DefaultMaxAnswerTokens caps an answer when the request sets no max_tokens.
const DefaultMaxAnswerTokens = 48

// Model is a local-tune model: base weights plus whatever training added. It is safe
// for concurrent use once built (decoding only reads it).
type Model struct {
	weights []float32
	vocab   vocabulary
	// Info describes how the model was made.
	Info Info
}

// Info is a model's provenance and training summary.
type Info struct {
	// ID is the model's name (BaseModelID for the base).
	ID string `json:"id"`
	// Base is the model training started from.
	Base            string          `json:"base,omitempty"`
	Hyperparameters Hyperparameters `json:"hyperparameters"`
	TrainedTokens   int64           `json:"trained_tokens"`
	Examples        int             `json:"examples"`
	Steps           int             `json:"steps"`
}

// vocabulary holds the words the model may generate (those of the training
// completions) and which may follow which.
type vocabulary struct {
	words   []string // lower-case forms
	surface []string // most frequent spelling
	hashes  []uint64
	index   map[uint64]int32
	// succ lists the words seen after a word (after bosWord for the first word).
	succ map[int32][]int32
	// common are the most frequent words, always candidates.
	common []int32
}

const bosWord int32 = -2

func (v *vocabulary) id(h uint64) int32 {
	if i, ok := v.index[h]; ok {
		return i
	}
	return unknownWord
}

// NewBase returns the untrained local-tune model. Its prior weights make it an
// extractive reader: it copies the prompt sentence that shares the most words with the
// question, without the closing full stop, and never generates words of its own.
func NewBase() *Model {
	m := &Model{weights: make([]float32, 1<<weightBits), Info: Info{ID: BaseModelID}}
	m.vocab.index = map[uint64]int32{}
	m.vocab.succ = map[int32][]int32{}
	w := m.weights
	w[f1(tCont)] = 4
	w[f1(tRestart)] = -8
	w[f2(tSentFirst, 1)] = 2
	w[f2(tQSpan, 1)] = -6
	for b := uint64(0); b <= 5; b++ {
		w[f2(tSentOv, b)] = float32(b)
	}
	w[f1(tEOS)] = -1
	for wh := uint64(0); wh <= uint64(whHow); wh++ {
		w[f3(tEOSLen, 0, wh)] = -20
	}
	for _, end := range []string{".", "!", "?"} {
		w[f2(tEOSNext, hashString(end))] = 8
	}
	w[f2(tEOSNext, 1)] = 8
	w[f2(tGen, 1)] = -12
	return m
}

// scorer builds and scores the candidates of one decoding step, reusing its buffers.
type scorer struct {
	m     *Model
	cands []candidate
	seen  []uint32
	stamp uint32
}

func newScorer(m *Model) *scorer {
	return &scorer{m: m, seen: make([]uint32, len(m.vocab.words))}
}

// step fills s.cands with every candidate for the next token and their probabilities.
func (s *scorer) step(a *analysed, st *state) []candidate {
	s.cands = s.cands[:0]
	for i := range a.toks {
		s.cands = append(s.cands, candidate{kind: kindCopy, pos: int32(i)})
		copyFeatures(&s.cands[len(s.cands)-1], a, st, i)
	}
	s.cands = append(s.cands, candidate{kind: kindEOS})
	eosFeatures(&s.cands[len(s.cands)-1], a, st)
	s.stamp++
	addGen := func(w int32) {
		if s.seen[w] == s.stamp {
			return
		}
		s.seen[w] = s.stamp
		s.cands = append(s.cands, candidate{kind: kindGen, word: w})
		genFeatures(&s.cands[len(s.cands)-1], a, st, s.m.vocab.hashes[w])
	}
	prev := st.prevWord
	if st.step == 0 {
		prev = bosWord
	}
	for _, w := range s.m.vocab.succ[prev] {
		addGen(w)
	}
	for _, w := range s.m.vocab.common {
		addGen(w)
	}
	s.softmax()
	return s.cands
}

func (s *scorer) softmax() {
	w := s.m.weights
	best := math.Inf(-1)
	for i := range s.cands {
		c := &s.cands[i]
		sum := float32(0)
		for _, f := range c.feats[:c.nf] {
			sum += w[f]
		}
		c.score = float64(sum)
		best = max(best, c.score)
	}
	total := 0.0
	for i := range s.cands {
		c := &s.cands[i]
		c.p = math.Exp(c.score - best)
		total += c.p
	}
	for i := range s.cands {
		s.cands[i].p /= total
	}
}

// advance moves the state past candidate c.
func (m *Model) advance(a *analysed, st *state, c *candidate) {
	st.step++
	switch c.kind {
	case kindCopy:
		t := &a.toks[c.pos]
		st.prevHash, st.prevWord, st.lastCopy, st.lastGen, st.lastTok = t.hash, m.vocab.id(t.hash), int(c.pos), false, t.shape
	case kindGen:
		h := m.vocab.hashes[c.word]
		st.prevHash, st.prevWord, st.lastCopy, st.lastGen, st.lastTok = h, c.word, -1, true, shapeOf(m.vocab.surface[c.word])
	}
}

// Generate answers prompt greedily with at most maxTokens tokens (DefaultMaxAnswerTokens
// when maxTokens ≤ 0). It reports whether it stopped for the length limit.
func (m *Model) Generate(prompt string, maxTokens int) (text string, tokens int, truncated bool) {
	if maxTokens <= 0 {
		maxTokens = DefaultMaxAnswerTokens
	}
	a := analyse(prompt)
	s := newScorer(m)
	st := startState()
	var out strings.Builder
	spanStart, spanEnd := -1, -1
	flush := func() {
		if spanStart >= 0 {
			joinSurface(&out, a.text[a.toks[spanStart].start:a.toks[spanEnd].end])
			spanStart = -1
		}
	}
	for tokens < maxTokens {
		cands := s.step(a, &st)
		best := 0
		for i := range cands {
			if cands[i].p > cands[best].p {
				best = i
			}
		}
		c := cands[best]
		if c.kind == kindEOS {
			flush()
			return out.String(), tokens, false
		}
		if c.kind == kindCopy {
			if spanStart >= 0 && int(c.pos) != spanEnd+1 {
				flush()
			}
			if spanStart < 0 {
				spanStart = int(c.pos)
			}
			spanEnd = int(c.pos)
		} else {
			flush()
			joinSurface(&out, m.vocab.surface[c.word])
		}
		m.advance(a, &st, &c)
		tokens++
	}
	flush()
	return out.String(), tokens, true
}

// clone returns a deep copy whose weights training may change.
func (m *Model) clone() *Model {
	c := &Model{weights: append([]float32(nil), m.weights...), Info: m.Info}
	c.vocab = m.vocab
	return c
}
