package eval

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/plinth-ai/plinth/shared/blob"
	"github.com/plinth-ai/plinth/shared/eval/metrics"
	"github.com/plinth-ai/plinth/shared/fault"
	"github.com/plinth-ai/plinth/shared/provider"
	"github.com/plinth-ai/plinth/shared/store"
)

// Target invokes the model under evaluation through the gateway's own path, so quotas,
// guardrails and usage apply and are charged to tenant. Judge calls use it too.
type Target interface {
	Chat(ctx context.Context, tenant string, req *provider.ChatRequest) (*provider.ChatResponse, error)
}

// TargetFunc adapts a function to Target.
type TargetFunc func(ctx context.Context, tenant string, req *provider.ChatRequest) (*provider.ChatResponse, error)

// Chat calls f.
func (f TargetFunc) Chat(ctx context.Context, tenant string, req *provider.ChatRequest) (*provider.ChatResponse, error) {
	return f(ctx, tenant, req)
}

// Retriever fetches passages from a tenant's knowledge base, best first, for RAG
// targets.
type Retriever interface {
	Retrieve(ctx context.Context, tenant, knowledgeBase, query string, topK int) ([]string, error)
}

// PromptResolver returns a registry prompt template version (0 = the latest): its
// template, system message and exact version.
type PromptResolver func(ctx context.Context, id string, version int) (template, system string, resolved int, err error)

// RunStarter starts the evaluation state machine with input (the flow's execution
// input) and returns the execution's ID (an execution ARN in AWS).
type RunStarter func(ctx context.Context, input json.RawMessage) (executionID string, err error)

// RequestLookup finds a served request by ID so feedback can be exported with the
// prompt and answer it rates; ok is false when the request is unknown.
type RequestLookup func(ctx context.Context, tenant, requestID string) (input string, output string, ok bool)

// Service holds the evaluation domain: suites, runs, the flow's tasks and feedback.
type Service struct {
	store     store.Store
	blobs     blob.Store
	target    Target
	judge     Target
	retriever Retriever
	embedder  metrics.Embedder
	events    EventPublisher
	starter   RunStarter
	lookup    RequestLookup
	now       func() time.Time
	log       *slog.Logger
	prompts   PromptResolver
	batchSize int
	// inlineLimit is the largest serialised batch carried through the flow's state.
	inlineLimit int

	refs References

	mu       sync.Mutex
	datasets map[string][]Item // snapshot key → items, a small cache for the tasks

	migrateMu sync.Mutex
	migrated  bool // suites of the layout before tenant scoping are moved
}

// Option configures a Service.
type Option func(*Service)

// WithPromptResolver enables suites whose target names a registry prompt template.
func WithPromptResolver(f PromptResolver) Option { return func(s *Service) { s.prompts = f } }

// WithJudge sets what LLM-as-a-judge calls go through (default: the target). A judge's
// prompt is the platform's own rubric around the item: the platform binds a judge whose
// calls say so, so the tenant's input guardrail does not judge the rubric as the
// tenant's words.
func WithJudge(t Target) Option { return func(s *Service) { s.judge = t } }

// WithRetriever enables knowledge-base targets.
func WithRetriever(r Retriever) Option { return func(s *Service) { s.retriever = r } }

// WithEmbedder enables the embedding_similarity metric.
func WithEmbedder(e metrics.Embedder) Option { return func(s *Service) { s.embedder = e } }

// WithEventPublisher sets where run events go (default: discarded).
func WithEventPublisher(p EventPublisher) Option { return func(s *Service) { s.events = p } }

// WithRunStarter sets how API- and schedule-triggered runs start the state machine.
func WithRunStarter(f RunStarter) Option { return func(s *Service) { s.starter = f } }

// WithRequestLookup lets feedback exports fill in the rated prompt and answer.
func WithRequestLookup(f RequestLookup) Option { return func(s *Service) { s.lookup = f } }

// WithClock replaces time.Now.
func WithClock(now func() time.Time) Option { return func(s *Service) { s.now = now } }

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(s *Service) { s.log = l } }

// WithBatchSize sets how many items one Map iteration handles (default 10).
func WithBatchSize(n int) Option { return func(s *Service) { s.batchSize = max(1, n) } }

// NewService returns the evaluation service. The store, blob store and target are
// required.
func NewService(st store.Store, blobs blob.Store, target Target, opts ...Option) (*Service, error) {
	switch {
	case st == nil:
		return nil, errors.New("eval: nil store")
	case blobs == nil:
		return nil, errors.New("eval: nil blob store")
	case target == nil:
		return nil, errors.New("eval: nil target")
	}
	s := &Service{
		store: st, blobs: blobs, target: target,
		events: discardPublisher{}, now: time.Now, log: slog.Default(),
		batchSize: 10, inlineLimit: 64 << 10, datasets: map[string][]Item{},
	}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

func newID(prefix string, now time.Time) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s%s%s", prefix, now.UTC().Format("20060102t150405"), hex.EncodeToString(b[:]))
}

// ScheduledSuite is a suite with a schedule, for the scheduler to register.
type ScheduledSuite struct {
	SuiteID  string `json:"suite_id"`
	Tenant   string `json:"tenant"`
	Schedule string `json:"schedule"`
	// Input is the state machine input the schedule should start it with.
	Input json.RawMessage `json:"input"`
}

// Schedules lists the suites that have a schedule.
func (s *Service) Schedules(ctx context.Context) ([]ScheduledSuite, error) {
	suites, err := s.ListSuites(ctx, "")
	if err != nil {
		return nil, err
	}
	var out []ScheduledSuite
	for _, su := range suites {
		if su.Schedule == "" {
			continue
		}
		in, _ := json.Marshal(FlowInput{Tenant: su.Tenant, SuiteID: su.ID, Trigger: "schedule"})
		out = append(out, ScheduledSuite{SuiteID: su.ID, Tenant: su.Tenant, Schedule: su.Schedule, Input: in})
	}
	return out, nil
}

// FlowInput is the evaluation state machine's execution input. RunID is empty when a
// schedule starts the machine directly; LoadDataset then creates the run. Tenant names
// the suite's owner (inputs without one name a suite ID only one tenant has).
type FlowInput struct {
	Tenant         string `json:"tenant,omitempty"`
	SuiteID        string `json:"suite_id"`
	RunID          string `json:"run_id,omitempty"`
	MaxConcurrency int    `json:"max_concurrency,omitempty"`
	Trigger        string `json:"trigger,omitempty"`
}

// StartRun creates a running run of the tenant's suite and starts the state machine for
// it through the RunStarter (tenant "" finds the suite as GetSuite does). maxConcurrency
// bounds the Map state (0 = default 4).
func (s *Service) StartRun(ctx context.Context, tenant, suiteID string, maxConcurrency int) (*Run, error) {
	if s.starter == nil {
		return nil, errors.New("eval: no run starter configured")
	}
	su, err := s.GetSuite(ctx, tenant, suiteID)
	if err != nil {
		return nil, err
	}
	r, err := s.newRun(ctx, su, "api")
	if err != nil {
		return nil, err
	}
	in, _ := json.Marshal(FlowInput{Tenant: su.Tenant, SuiteID: su.ID, RunID: r.ID, MaxConcurrency: maxConcurrency, Trigger: "api"})
	exec, err := s.starter(ctx, in)
	if err != nil {
		msg := "start evaluation flow: " + err.Error()
		_, _ = s.updateRun(ctx, r.ID, func(r *Run) error { s.fail(r, msg); return nil })
		return nil, fmt.Errorf("run %s of suite %s: start flow: %w", r.ID, su.ID, err)
	}
	if exec != "" {
		// The answer is the run as started: an in-process flow may already have finished
		// it, and its outcome is GET /admin/eval-runs/{id}'s to report.
		if _, err := s.updateRun(ctx, r.ID, func(r *Run) error { r.ExecutionID = exec; return nil }); err == nil {
			r.ExecutionID = exec
		}
	}
	return r, nil
}

func (s *Service) newRun(ctx context.Context, su *Suite, trigger string) (*Run, error) {
	now := s.now().UTC()
	snap := *su
	snap.Dataset.Items = nil
	if p := su.Target.Prompt; p != nil {
		if s.prompts == nil {
			return nil, fmt.Errorf("suite %q names prompt %s but no prompt registry is configured: %w", su.ID, p.ID, ErrInvalid)
		}
		tmpl, system, v, err := s.prompts(ctx, p.ID, p.Version)
		if err != nil {
			return nil, fmt.Errorf("suite %q: prompt %s: %w", su.ID, p.ID, err)
		}
		snap.Target.Prompt = &PromptRef{ID: p.ID, Version: v}
		snap.Target.PromptTemplate = tmpl
		snap.Target.PromptVersion = fmt.Sprintf("%s@%d", p.ID, v)
		if system != "" && snap.Target.System == "" {
			snap.Target.System = system
		}
	}
	r := &Run{
		ID: newID("run-", now), SuiteID: su.ID, Tenant: su.Tenant, Status: StatusRunning,
		Trigger: trigger, Suite: snap, StartedAt: now, Metrics: map[string]float64{},
	}
	if err := s.saveRun(ctx, r, store.WriteOptions{Cond: store.IfNotExists}); err != nil {
		return nil, err
	}
	return r, nil
}

func (s *Service) fail(r *Run, msg string) {
	now := s.now().UTC()
	r.Status, r.Error, r.FinishedAt = StatusFailed, msg, &now
}

// GetRun returns a run.
func (s *Service) GetRun(ctx context.Context, id string) (*Run, error) {
	var r Run
	if _, err := s.getJSON(ctx, runKey(id), &r); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, fault.New(ErrNotFound, "", "evaluation run %q does not exist; list a suite's runs with GET /admin/eval-suites/{id}/runs", id)
		}
		return nil, fmt.Errorf("run %q: %w", id, err)
	}
	return &r, nil
}

// RunOf returns the run if it belongs to tenant ("" = any tenant); another tenant's run
// is not found, exactly as a missing one.
func (s *Service) RunOf(ctx context.Context, tenant, id string) (*Run, error) {
	r, err := s.GetRun(ctx, id)
	if err != nil {
		return nil, err
	}
	if !ownedBy(r, tenant) {
		return nil, fault.New(ErrNotFound, "", "tenant %s has no evaluation run %q; list a suite's runs with GET /admin/eval-suites/{id}/runs?tenant=%s", tenant, id, tenant)
	}
	return r, nil
}

// RunItems returns a run's item results in dataset order.
func (s *Service) RunItems(ctx context.Context, id string) ([]ItemResult, error) {
	return s.itemResults(ctx, id, 0, -1)
}

// ListRuns returns the runs of the tenant's suite, newest first (at most limit; 0 = all).
func (s *Service) ListRuns(ctx context.Context, tenant, suiteID string, limit int) ([]Run, error) {
	sums, err := s.runSummaries(ctx, tenant, suiteID, limit)
	if err != nil {
		return nil, err
	}
	out := make([]Run, 0, len(sums))
	for _, sm := range sums {
		r, err := s.GetRun(ctx, sm.ID)
		if err != nil {
			return nil, err
		}
		out = append(out, *r)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].StartedAt.After(out[j].StartedAt) })
	return out, nil
}
