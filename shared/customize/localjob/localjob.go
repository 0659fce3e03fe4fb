// Package localjob runs customisation jobs in-process with local-tune (package
// localtune): the Customizer adapter of the local platform. A job reads the validated
// records from the blob store, trains in a background goroutine (one job at a time by
// default) and writes the model and Bedrock's metrics files under the job's output
// prefix. Job state lives in the store, so a job interrupted by a restart is trained
// again when its flow next asks for its status.
package localjob

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/plinth-ai/plinth/shared/blob"
	"github.com/plinth-ai/plinth/shared/customize"
	"github.com/plinth-ai/plinth/shared/customize/localtune"
	"github.com/plinth-ai/plinth/shared/provider"
	"github.com/plinth-ai/plinth/shared/store"
)

// Files a finished job writes under its output prefix.
const ModelFile = "model.bin"

// Runner implements customize.Customizer with local-tune.
type Runner struct {
	store   store.Store
	blobs   blob.Store
	library *Library
	log     *slog.Logger
	now     func() time.Time
	slots   chan struct{}

	mu       sync.Mutex
	running  map[string]context.CancelFunc
	progress map[string][]customize.StepMetric
	base     context.Context
	stop     context.CancelFunc
	wg       sync.WaitGroup
}

var _ customize.Customizer = (*Runner)(nil)

// Option configures a Runner.
type Option func(*Runner)

// WithConcurrency sets how many jobs train at once (default 1).
func WithConcurrency(n int) Option {
	return func(r *Runner) { r.slots = make(chan struct{}, max(1, n)) }
}

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(r *Runner) { r.log = l } }

// New returns a Runner over the store and blob store; library loads base models that
// are themselves fine-tuned.
func New(st store.Store, blobs blob.Store, library *Library, opts ...Option) *Runner {
	if st == nil || blobs == nil || library == nil {
		panic("localjob: nil store, blob store or library")
	}
	r := &Runner{store: st, blobs: blobs, library: library, log: slog.Default(), now: time.Now,
		slots: make(chan struct{}, 1), running: map[string]context.CancelFunc{}, progress: map[string][]customize.StepMetric{}}
	for _, o := range opts {
		o(r)
	}
	r.base, r.stop = context.WithCancel(context.Background())
	return r
}

// state is a job as the runner persists it.
type state struct {
	Spec   customize.JobSpec     `json:"spec"`
	Report customize.ProviderJob `json:"report"`
}

func key(id string) store.Key { return store.Key{PK: "FT#LOCALJOB", SK: id} }

func (r *Runner) load(ctx context.Context, id string) (*state, int64, error) {
	it, err := r.store.Get(ctx, key(id))
	if errors.Is(err, store.ErrNotFound) {
		return nil, 0, fmt.Errorf("local job %s: %w", id, customize.ErrNotFound)
	}
	if err != nil {
		return nil, 0, err
	}
	var st state
	if err := json.Unmarshal(it.Data, &st); err != nil {
		return nil, 0, fmt.Errorf("decode local job %s: %w", id, err)
	}
	return &st, it.Version, nil
}

func (r *Runner) save(ctx context.Context, id string, st *state, version int64) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	_, err = r.store.Put(ctx, store.Item{Key: key(id), Data: b}, store.WriteOptions{Cond: store.IfVersion, Version: version})
	return err
}

// Start implements customize.Customizer: it records the job and begins training.
func (r *Runner) Start(ctx context.Context, spec customize.JobSpec) (string, error) {
	id := "local-" + strings.TrimPrefix(spec.Name, "ftjob-")
	if _, _, err := r.load(ctx, id); err == nil {
		return id, nil
	}
	if _, err := hyperparameters(spec.Hyperparameters); err != nil {
		return "", err
	}
	st := &state{Spec: spec, Report: customize.ProviderJob{ID: id, Status: customize.ProviderInProgress}}
	if err := r.save(ctx, id, st, 0); err != nil && !errors.Is(err, store.ErrConditionFailed) {
		return "", fmt.Errorf("record local job: %w", err)
	}
	r.launch(id, spec)
	return id, nil
}

// Get implements customize.Customizer. A job recorded in progress that this process
// is not training (it was interrupted by a restart) starts training again.
func (r *Runner) Get(ctx context.Context, _ customize.JobSpec, id string) (customize.ProviderJob, error) {
	st, _, err := r.load(ctx, id)
	if err != nil {
		return customize.ProviderJob{}, err
	}
	rep := st.Report
	if rep.Status == customize.ProviderInProgress {
		r.mu.Lock()
		_, active := r.running[id]
		steps := append([]customize.StepMetric(nil), r.progress[id]...)
		r.mu.Unlock()
		if !active {
			r.launch(id, st.Spec)
		}
		rep.Steps = steps
	}
	return rep, nil
}

// Stop implements customize.Customizer.
func (r *Runner) Stop(ctx context.Context, _ customize.JobSpec, id string) error {
	r.mu.Lock()
	cancel, active := r.running[id]
	r.mu.Unlock()
	if active {
		cancel()
	}
	for attempt := 0; attempt < 5; attempt++ {
		st, v, err := r.load(ctx, id)
		if errors.Is(err, customize.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if st.Report.Done() {
			return nil
		}
		now := r.now()
		st.Report.Status, st.Report.EndTime, st.Report.FailureMessage = customize.ProviderStopped, &now, "stopped on request"
		if err := r.save(ctx, id, st, v); errors.Is(err, store.ErrConditionFailed) {
			continue
		} else if err != nil {
			return err
		}
		return nil
	}
	return fmt.Errorf("stop local job %s: %w", id, customize.ErrConflict)
}

// Close stops every training goroutine and waits for them.
func (r *Runner) Close(context.Context) error {
	r.stop()
	r.wg.Wait()
	return nil
}

func (r *Runner) launch(id string, spec customize.JobSpec) {
	r.mu.Lock()
	if _, active := r.running[id]; active || r.base.Err() != nil {
		r.mu.Unlock()
		return
	}
	ctx, cancel := context.WithCancel(r.base)
	r.running[id] = cancel
	r.progress[id] = nil
	r.wg.Add(1)
	r.mu.Unlock()
	go func() {
		defer r.wg.Done()
		defer func() {
			r.mu.Lock()
			delete(r.running, id)
			delete(r.progress, id)
			r.mu.Unlock()
			cancel()
		}()
		select {
		case r.slots <- struct{}{}:
			defer func() { <-r.slots }()
		case <-ctx.Done():
			return
		}
		rep := r.train(ctx, id, spec)
		if ctx.Err() != nil && r.base.Err() != nil {
			return // shutting down: the job stays in progress and resumes later
		}
		r.finish(id, rep)
	}()
}

// finish records a training outcome unless the job was stopped meanwhile.
func (r *Runner) finish(id string, rep customize.ProviderJob) {
	ctx := context.Background()
	for attempt := 0; attempt < 5; attempt++ {
		st, v, err := r.load(ctx, id)
		if err != nil {
			r.log.Error("local job state lost", "job", id, "error", err)
			return
		}
		if st.Report.Done() {
			return
		}
		now := r.now()
		rep.EndTime = &now
		st.Report = rep
		if err := r.save(ctx, id, st, v); errors.Is(err, store.ErrConditionFailed) {
			continue
		} else if err != nil {
			r.log.Error("record local job outcome", "job", id, "error", err)
		}
		return
	}
}

func (r *Runner) failed(id, format string, args ...any) customize.ProviderJob {
	return customize.ProviderJob{ID: id, Status: customize.ProviderFailed, FailureMessage: fmt.Sprintf(format, args...)}
}

// train runs one job to completion and returns its report.
func (r *Runner) train(ctx context.Context, id string, spec customize.JobSpec) customize.ProviderJob {
	hp, err := hyperparameters(spec.Hyperparameters)
	if err != nil {
		return r.failed(id, "%v", err)
	}
	trainEx, err := r.examples(ctx, spec.TrainingKey)
	if err != nil {
		return r.failed(id, "read training data: %v", err)
	}
	var validEx []localtune.Example
	if spec.ValidationKey != "" {
		if validEx, err = r.examples(ctx, spec.ValidationKey); err != nil {
			return r.failed(id, "read validation data: %v", err)
		}
	}
	base, err := r.library.Base(ctx, spec.BaseModel)
	if err != nil {
		return r.failed(id, "load base model %s: %v", spec.BaseModel, err)
	}
	total := hp.EpochCount * ((len(trainEx) + hp.BatchSize - 1) / hp.BatchSize)
	m, rep, err := localtune.Train(ctx, base, trainEx, hp, localtune.WithValidation(validEx), localtune.WithModelID(spec.OutputModelName),
		localtune.WithStepHook(func(sm localtune.StepMetric) {
			r.mu.Lock()
			r.progress[id] = append(r.progress[id], customize.StepMetric{Step: sm.Step, Epoch: sm.Epoch, TrainingLoss: sm.TrainingLoss, Perplexity: sm.Perplexity})
			r.mu.Unlock()
		}))
	if err != nil {
		return r.failed(id, "training: %v", err)
	}
	put := blob.PutOptions{ContentType: "application/octet-stream", KMSKeyID: spec.KMSKeyID}
	var model bytes.Buffer
	if err := m.Save(&model); err != nil {
		return r.failed(id, "save model: %v", err)
	}
	modelKey := spec.OutputPrefix + ModelFile
	if _, err := r.blobs.Put(ctx, modelKey, &model, put); err != nil {
		return r.failed(id, "store model: %v", err)
	}
	var steps bytes.Buffer
	_ = localtune.WriteStepMetrics(&steps, rep.Steps)
	stepsKey := spec.OutputPrefix + localtune.StepMetricsFile
	put.ContentType = "text/csv"
	if _, err := r.blobs.Put(ctx, stepsKey, &steps, put); err != nil {
		return r.failed(id, "store metrics: %v", err)
	}
	out := customize.ProviderJob{ID: id, Status: customize.ProviderCompleted, OutputModel: modelKey, TotalSteps: total,
		TrainedTokens: rep.TrainedTokens, ResultKeys: []string{stepsKey}}
	for _, s := range rep.Steps {
		out.Steps = append(out.Steps, customize.StepMetric{Step: s.Step, Epoch: s.Epoch, TrainingLoss: s.TrainingLoss, Perplexity: s.Perplexity})
	}
	if n := len(rep.Steps); n > 0 {
		out.TrainingLoss = &rep.Steps[n-1].TrainingLoss
	}
	if n := len(rep.Validation); n > 0 {
		var vb bytes.Buffer
		_ = localtune.WriteValidationMetrics(&vb, rep.Validation)
		vKey := spec.OutputPrefix + localtune.ValidationMetricsFile
		if _, err := r.blobs.Put(ctx, vKey, &vb, put); err != nil {
			return r.failed(id, "store validation metrics: %v", err)
		}
		out.ResultKeys = append(out.ResultKeys, vKey)
		out.ValidationLoss = &rep.Validation[n-1].ValidationLoss
	}
	r.log.Info("local-tune job trained", "job", id, "examples", len(trainEx), "steps", len(rep.Steps), "trained_tokens", rep.TrainedTokens)
	return out
}

// hyperparameters reads Bedrock-named string values into local-tune's.
func hyperparameters(m map[string]string) (localtune.Hyperparameters, error) {
	hp := localtune.DefaultHyperparameters()
	for k, v := range m {
		var err error
		switch k {
		case "epochCount":
			hp.EpochCount, err = strconv.Atoi(v)
		case "batchSize":
			hp.BatchSize, err = strconv.Atoi(v)
		case "learningRate":
			hp.LearningRate, err = strconv.ParseFloat(v, 64)
		case "learningRateWarmupSteps":
			hp.LearningRateWarmupSteps, err = strconv.Atoi(v)
		case "seed":
			hp.Seed, err = strconv.ParseInt(v, 10, 64)
		default:
			return hp, fmt.Errorf("%w: local-tune has no hyperparameter %q", customize.ErrInvalid, k)
		}
		if err != nil {
			return hp, fmt.Errorf("%w: hyperparameter %s=%q: %v", customize.ErrInvalid, k, v, err)
		}
	}
	if err := hp.Validate(); err != nil {
		return hp, fmt.Errorf("%w: %v", customize.ErrInvalid, err)
	}
	return hp, nil
}

// examples reads validated records and renders them as local-tune reads chat requests.
func (r *Runner) examples(ctx context.Context, key string) ([]localtune.Example, error) {
	rc, _, err := r.blobs.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var out []localtune.Example
	sc := bufio.NewScanner(rc)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for sc.Scan() {
		var rec customize.Record
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return nil, fmt.Errorf("record %d: %w", len(out)+1, err)
		}
		out = append(out, Example(rec))
	}
	return out, sc.Err()
}

// Example renders a record the way local-tune sees a chat request: the prompt is the
// text of every message before the completion, joined as localtune.PromptOf joins them.
func Example(rec customize.Record) localtune.Example {
	prompt, completion := rec.PromptAndCompletion()
	msgs := make([]provider.Message, len(prompt))
	for i, p := range prompt {
		msgs[i] = provider.Message{Role: "user", Content: provider.TextContent(p)}
	}
	return localtune.Example{Prompt: localtune.PromptOf(msgs), Completion: completion}
}
