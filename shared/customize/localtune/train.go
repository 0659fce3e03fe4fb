package localtune

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
)

// Hyperparameters use Amazon Bedrock's names, so one job request reads the same for
// local-tune and for a Bedrock base model.
type Hyperparameters struct {
	EpochCount              int     `json:"epochCount"`
	BatchSize               int     `json:"batchSize"`
	LearningRate            float64 `json:"learningRate"`
	LearningRateWarmupSteps int     `json:"learningRateWarmupSteps"`
	// Seed fixes the order examples are visited in.
	Seed int64 `json:"seed"`
}

// Bounds of local-tune's hyperparameters.
const (
	MinEpochs, MaxEpochs           = 1, 20
	MinBatchSize, MaxBatchSize     = 1, 256
	MinLearningRate                = 1e-4
	MaxLearningRate                = 1.0
	MinWarmupSteps, MaxWarmupSteps = 0, 1000
)

// DefaultHyperparameters are used for any value a job leaves unset.
func DefaultHyperparameters() Hyperparameters {
	return Hyperparameters{EpochCount: 5, BatchSize: 8, LearningRate: 0.1, LearningRateWarmupSteps: 0, Seed: 42}
}

// ErrInvalidHyperparameters means a value is outside local-tune's bounds.
var ErrInvalidHyperparameters = errors.New("localtune: invalid hyperparameters")

// Validate checks the bounds.
func (h Hyperparameters) Validate() error {
	switch {
	case h.EpochCount < MinEpochs || h.EpochCount > MaxEpochs:
		return fmt.Errorf("%w: epochCount %d is outside %d–%d", ErrInvalidHyperparameters, h.EpochCount, MinEpochs, MaxEpochs)
	case h.BatchSize < MinBatchSize || h.BatchSize > MaxBatchSize:
		return fmt.Errorf("%w: batchSize %d is outside %d–%d", ErrInvalidHyperparameters, h.BatchSize, MinBatchSize, MaxBatchSize)
	case !(h.LearningRate >= MinLearningRate && h.LearningRate <= MaxLearningRate):
		return fmt.Errorf("%w: learningRate %g is outside %g–%g", ErrInvalidHyperparameters, h.LearningRate, MinLearningRate, MaxLearningRate)
	case h.LearningRateWarmupSteps < MinWarmupSteps || h.LearningRateWarmupSteps > MaxWarmupSteps:
		return fmt.Errorf("%w: learningRateWarmupSteps %d is outside %d–%d", ErrInvalidHyperparameters, h.LearningRateWarmupSteps, MinWarmupSteps, MaxWarmupSteps)
	}
	return nil
}

// Example is one training record: the prompt the model sees and the completion it
// should produce (an empty prompt trains the word-to-word part alone, as continued
// pre-training does).
type Example struct {
	Prompt     string
	Completion string
}

// StepMetric is one row of step_wise_training_metrics.csv.
type StepMetric struct {
	Step         int     `json:"step_number"`
	Epoch        int     `json:"epoch_number"`
	TrainingLoss float64 `json:"training_loss"`
	Perplexity   float64 `json:"perplexity"`
}

// ValidationMetric is one row of validation_metrics.csv (one per epoch).
type ValidationMetric struct {
	Step           int     `json:"step_number"`
	Epoch          int     `json:"epoch_number"`
	ValidationLoss float64 `json:"validation_loss"`
	Perplexity     float64 `json:"perplexity"`
}

// Report is what a training run measured.
type Report struct {
	Steps         []StepMetric       `json:"steps"`
	Validation    []ValidationMetric `json:"validation,omitempty"`
	TrainedTokens int64              `json:"trained_tokens"`
}

// maxTrainTokens caps the completion tokens one example trains on.
const maxTrainTokens = 64

// TrainOption configures Train.
type TrainOption func(*trainConfig)

type trainConfig struct {
	validation []Example
	onStep     func(StepMetric)
	onEpoch    func(epoch int, train float64, validation *ValidationMetric)
	id         string
}

// WithValidation measures the loss on held-out examples after every epoch.
func WithValidation(ex []Example) TrainOption { return func(c *trainConfig) { c.validation = ex } }

// WithStepHook is called after every optimisation step.
func WithStepHook(fn func(StepMetric)) TrainOption { return func(c *trainConfig) { c.onStep = fn } }

// WithEpochHook is called after every epoch with its mean training loss and, when
// there is a validation set, its validation metric.
func WithEpochHook(fn func(epoch int, trainLoss float64, validation *ValidationMetric)) TrainOption {
	return func(c *trainConfig) { c.onEpoch = fn }
}

// WithModelID names the trained model.
func WithModelID(id string) TrainOption { return func(c *trainConfig) { c.id = id } }

// ErrNoExamples means there was nothing to train on.
var ErrNoExamples = errors.New("localtune: no training examples")

// prepared is an example ready for training: its analysed prompt and target tokens.
type prepared struct {
	a       *analysed
	targets []token
	tokens  int64
}

func prepare(ex []Example) []prepared {
	out := make([]prepared, 0, len(ex))
	for _, e := range ex {
		targets := tokenize(e.Completion)
		if len(targets) > maxTrainTokens {
			targets = targets[:maxTrainTokens]
		}
		a := analyse(e.Prompt)
		out = append(out, prepared{a: a, targets: targets, tokens: int64(len(a.toks) + len(targets))})
	}
	return out
}

// Train fine-tunes base on examples by mini-batch stochastic gradient descent on the
// log-likelihood of each completion token (AdaGrad per-weight step sizes, linear
// learning-rate warm-up) and returns the new model. base is not changed.
func Train(ctx context.Context, base *Model, examples []Example, hp Hyperparameters, opts ...TrainOption) (*Model, *Report, error) {
	if err := hp.Validate(); err != nil {
		return nil, nil, err
	}
	if len(examples) == 0 {
		return nil, nil, ErrNoExamples
	}
	var cfg trainConfig
	for _, o := range opts {
		o(&cfg)
	}
	m := base.clone()
	m.vocab = buildVocabulary(base.vocab, examples)
	m.Info = Info{ID: cfg.id, Base: base.Info.ID, Hyperparameters: hp}
	if base.Info.Base != "" {
		m.Info.Base = base.Info.Base
	}
	train := prepare(examples)
	valid := prepare(cfg.validation)
	t := &trainer{m: m, s: newScorer(m), grad: make([]float32, len(m.weights)), touched: make([]bool, len(m.weights)),
		acc: make([]float32, len(m.weights))}
	rng := rand.New(rand.NewPCG(uint64(hp.Seed), 0x9e3779b97f4a7c15))
	order := make([]int, len(train))
	for i := range order {
		order[i] = i
	}
	rep := &Report{}
	step := 0
	for epoch := 1; epoch <= hp.EpochCount; epoch++ {
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		epochLoss, epochTokens := 0.0, 0
		for from := 0; from < len(order); from += hp.BatchSize {
			if err := ctx.Err(); err != nil {
				return nil, nil, err
			}
			batch := order[from:min(from+hp.BatchSize, len(order))]
			loss, n := 0.0, 0
			for _, idx := range batch {
				l, k := t.example(&train[idx], true)
				loss += l
				n += k
				rep.TrainedTokens += train[idx].tokens
			}
			step++
			lr := hp.LearningRate
			if hp.LearningRateWarmupSteps > 0 && step <= hp.LearningRateWarmupSteps {
				lr *= float64(step) / float64(hp.LearningRateWarmupSteps)
			}
			t.apply(lr, len(batch))
			mean := loss / float64(max(n, 1))
			sm := StepMetric{Step: step, Epoch: epoch, TrainingLoss: round6(mean), Perplexity: round6(math.Exp(mean))}
			rep.Steps = append(rep.Steps, sm)
			if cfg.onStep != nil {
				cfg.onStep(sm)
			}
			epochLoss += loss
			epochTokens += n
		}
		var vm *ValidationMetric
		if len(valid) > 0 {
			loss, n := 0.0, 0
			for i := range valid {
				l, k := t.example(&valid[i], false)
				loss += l
				n += k
			}
			mean := loss / float64(max(n, 1))
			vm = &ValidationMetric{Step: step, Epoch: epoch, ValidationLoss: round6(mean), Perplexity: round6(math.Exp(mean))}
			rep.Validation = append(rep.Validation, *vm)
		}
		if cfg.onEpoch != nil {
			cfg.onEpoch(epoch, round6(epochLoss/float64(max(epochTokens, 1))), vm)
		}
	}
	m.Info.TrainedTokens = rep.TrainedTokens
	m.Info.Examples = len(train)
	m.Info.Steps = step
	return m, rep, nil
}

func round6(x float64) float64 { return math.Round(x*1e6) / 1e6 }

type trainer struct {
	m       *Model
	s       *scorer
	grad    []float32
	touched []bool
	list    []uint32
	acc     []float32
}

// minProb floors the probability of a token the model cannot produce at all (a word
// of a validation completion that is neither in the prompt nor in the vocabulary).
const minProb = 1e-9

// example runs teacher forcing over one example, accumulating gradients when learn is
// set, and returns the summed negative log-likelihood and the number of tokens scored.
func (t *trainer) example(ex *prepared, learn bool) (float64, int) {
	st := startState()
	loss := 0.0
	for k := 0; k <= len(ex.targets); k++ {
		cands := t.s.step(ex.a, &st)
		var target *token
		if k < len(ex.targets) {
			target = &ex.targets[k]
		}
		gold, chosen := 0.0, -1
		for i := range cands {
			c := &cands[i]
			if !isGold(t.m, ex.a, c, target) {
				continue
			}
			gold += c.p
			if chosen < 0 || preferred(c, &cands[chosen], &st) {
				chosen = i
			}
		}
		loss -= math.Log(max(gold, minProb))
		if learn && gold > 0 {
			for i := range cands {
				c := &cands[i]
				coef := c.p
				if isGold(t.m, ex.a, c, target) {
					coef -= c.p / gold
				}
				if coef == 0 {
					continue
				}
				for _, f := range c.feats[:c.nf] {
					if !t.touched[f] {
						t.touched[f] = true
						t.list = append(t.list, f)
					}
					t.grad[f] += float32(coef)
				}
			}
		}
		if target == nil || chosen < 0 {
			break
		}
		c := cands[chosen]
		t.m.advance(ex.a, &st, &c)
	}
	return loss, len(ex.targets) + 1
}

// isGold reports whether candidate c produces the target token (nil: the end).
func isGold(m *Model, a *analysed, c *candidate, target *token) bool {
	switch c.kind {
	case kindEOS:
		return target == nil
	case kindCopy:
		return target != nil && a.toks[c.pos].hash == target.hash
	default:
		return target != nil && m.vocab.hashes[c.word] == target.hash
	}
}

// preferred picks the path teacher forcing follows when several candidates produce the
// target: continuing the current copied span, else the most probable.
func preferred(c, cur *candidate, st *state) bool {
	cont := func(x *candidate) bool { return x.kind == kindCopy && st.lastCopy >= 0 && int(x.pos) == st.lastCopy+1 }
	if cont(c) != cont(cur) {
		return cont(c)
	}
	return c.p > cur.p
}

// apply takes one AdaGrad step with the accumulated gradient of n examples.
func (t *trainer) apply(lr float64, n int) {
	scale := 1 / float32(n)
	for _, f := range t.list {
		g := t.grad[f] * scale
		t.acc[f] += g * g
		t.m.weights[f] -= float32(lr) * g / (float32(math.Sqrt(float64(t.acc[f]))) + 1e-6)
		t.grad[f], t.touched[f] = 0, false
	}
	t.list = t.list[:0]
}

// commonWords is how many of the most frequent completion words are candidates at
// every step.
const commonWords = 32

// buildVocabulary extends base with the words of the completions and their successions.
func buildVocabulary(base vocabulary, examples []Example) vocabulary {
	v := vocabulary{
		words: append([]string(nil), base.words...), surface: append([]string(nil), base.surface...),
		hashes: append([]uint64(nil), base.hashes...), index: make(map[uint64]int32, len(base.index)),
		succ: make(map[int32][]int32, len(base.succ)),
	}
	for h, i := range base.index {
		v.index[h] = i
	}
	succ := map[int32]map[int32]bool{}
	for p, ws := range base.succ {
		succ[p] = map[int32]bool{}
		for _, w := range ws {
			succ[p][w] = true
		}
	}
	freq := map[int32]int{}
	spellings := map[int32]map[string]int{}
	for _, e := range examples {
		prev := bosWord
		toks := tokenize(e.Completion)
		if len(toks) > maxTrainTokens {
			toks = toks[:maxTrainTokens]
		}
		for _, t := range toks {
			id, ok := v.index[t.hash]
			if !ok {
				id = int32(len(v.words))
				v.index[t.hash] = id
				v.words = append(v.words, t.norm)
				v.surface = append(v.surface, e.Completion[t.start:t.end])
				v.hashes = append(v.hashes, t.hash)
			}
			if spellings[id] == nil {
				spellings[id] = map[string]int{}
			}
			spellings[id][e.Completion[t.start:t.end]]++
			freq[id]++
			if succ[prev] == nil {
				succ[prev] = map[int32]bool{}
			}
			succ[prev][id] = true
			prev = id
		}
	}
	for id, sp := range spellings {
		best, bestN := v.surface[id], 0
		for s, n := range sp {
			if n > bestN || (n == bestN && s < best) {
				best, bestN = s, n
			}
		}
		v.surface[id] = best
	}
	for p, ws := range succ {
		list := make([]int32, 0, len(ws))
		for w := range ws {
			list = append(list, w)
		}
		sort.Slice(list, func(i, j int) bool { return list[i] < list[j] })
		v.succ[p] = list
	}
	ids := make([]int32, 0, len(freq))
	for id := range freq {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool {
		if freq[ids[i]] != freq[ids[j]] {
			return freq[ids[i]] > freq[ids[j]]
		}
		return ids[i] < ids[j]
	})
	v.common = ids[:min(len(ids), commonWords)]
	return v
}
