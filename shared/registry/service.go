package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/plinth-ai/plinth/shared/fault"
	"github.com/plinth-ai/plinth/shared/store"
)

const (
	pkModels  = "REGISTRY#MODEL"
	pkAliases = "REGISTRY#ALIAS"
)

// Service manages the registry on the store port. Reads on the request path go through a
// short-lived in-process snapshot so the gateway does not touch the store per request;
// writes made through this instance invalidate it at once.
type Service struct {
	st  store.Store
	now func() time.Time
	ttl time.Duration

	mu       sync.RWMutex
	snapshot map[string]*Model // by ID and by alias
	loadedAt time.Time

	obsMu     sync.RWMutex
	observers []ReviewObserver
}

// ReviewObserver is told about every review decision once it is stored.
type ReviewObserver func(ctx context.Context, m Model, decision, reviewer, comment string)

// ObserveReviews registers fn to be called after every successful review (the
// customisation flow resumes on the decision about a fine-tuned model).
func (s *Service) ObserveReviews(fn ReviewObserver) {
	s.obsMu.Lock()
	s.observers = append(s.observers, fn)
	s.obsMu.Unlock()
}

// Option configures a Service.
type Option func(*Service)

// WithClock sets the clock.
func WithClock(now func() time.Time) Option { return func(s *Service) { s.now = now } }

// WithCacheTTL sets how long a snapshot of the registry is trusted (default 5s).
func WithCacheTTL(d time.Duration) Option { return func(s *Service) { s.ttl = d } }

// NewService returns a registry over st.
func NewService(st store.Store, opts ...Option) *Service {
	if st == nil {
		panic("registry: nil store")
	}
	s := &Service{st: st, now: time.Now, ttl: 5 * time.Second}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Builtins are the local models every installation starts with, approved.
func Builtins() []Model {
	return []Model{
		{
			ID: "local-chat", Kind: KindChat, Owner: "platform",
			Description:   "Built-in extractive model: answers with the sentences of the prompt that best match the question. Deterministic; no neural network.",
			Deployments:   []Deployment{{ID: "local", Provider: ProviderLocal, Model: "local-chat", Weight: 1}},
			ContextWindow: 32768, MaxOutputTokens: 1024,
			Tags: map[string]string{"builtin": "true"},
		},
		{
			ID: "local-tune", Kind: KindChat, Owner: "platform",
			Description:   "Built-in trainable base model for fine-tuning: a log-linear next-token model over hashed features that copies spans of the prompt and generates words it was trained on. Untrained, it answers with the prompt sentence that best matches the question. Deterministic; no neural network.",
			Deployments:   []Deployment{{ID: "local", Provider: ProviderLocal, Model: "local-tune", Weight: 1}},
			ContextWindow: 4096, MaxOutputTokens: 256,
			Tags: map[string]string{"builtin": "true", "trainable": "true"},
		},
		{
			ID: "local-embed", Kind: KindEmbedding, Owner: "platform",
			Description:   "Built-in lexical embedder: signed feature hashing of words and character n-grams, L2-normalised. Deterministic; no neural network.",
			Deployments:   []Deployment{{ID: "local", Provider: ProviderLocal, Model: "local-embed", Weight: 1}},
			ContextWindow: 8192, Dimensions: 1024, SupportsDimensions: true,
			Tags: map[string]string{"builtin": "true"},
		},
	}
}

// SeedBuiltins stores the built-in models as approved unless they already exist.
func (s *Service) SeedBuiltins(ctx context.Context) error {
	now := s.now().UTC()
	for _, m := range Builtins() {
		m.Status = StatusApproved
		m.CreatedAt, m.UpdatedAt, m.CreatedBy = now, now, "platform"
		m.Reviews = []Review{{Decision: "approve", Reviewer: "platform", Comment: "built-in", At: now}}
		if err := s.put(ctx, &m, store.WriteOptions{Cond: store.IfNotExists}); err != nil && !errors.Is(err, ErrExists) {
			return fmt.Errorf("seed model %s: %w", m.ID, err)
		}
	}
	s.invalidate()
	return nil
}

// Create stores a new model in pending-review status.
func (s *Service) Create(ctx context.Context, m Model, by string) (Model, error) {
	now := s.now().UTC()
	m.Status = StatusPendingReview
	m.Reviews = nil
	m.CreatedAt, m.UpdatedAt, m.CreatedBy, m.Version = now, now, by, 0
	normalise(&m)
	if err := m.Validate(); err != nil {
		return Model{}, err
	}
	if err := s.checkAliases(ctx, &m); err != nil {
		return Model{}, err
	}
	if err := s.checkFallbacks(ctx, &m, nil); err != nil {
		return Model{}, err
	}
	if err := s.put(ctx, &m, store.WriteOptions{Cond: store.IfNotExists}); err != nil {
		return Model{}, err
	}
	if err := s.writeAliases(ctx, &m, nil); err != nil {
		return Model{}, err
	}
	s.invalidate()
	return m, nil
}

func normalise(m *Model) {
	for i := range m.Deployments {
		d := &m.Deployments[i]
		if d.Weight == 0 {
			d.Weight = 1
		}
		if d.ID == "" {
			d.ID = fmt.Sprintf("%s-%d", d.Provider, i)
		}
	}
}

// Get returns a model by ID.
func (s *Service) Get(ctx context.Context, id string) (Model, error) {
	it, err := s.st.Get(ctx, store.Key{PK: pkModels, SK: id})
	if errors.Is(err, store.ErrNotFound) {
		return Model{}, modelNotFound(id)
	}
	if err != nil {
		return Model{}, fmt.Errorf("get model %s: %w", id, err)
	}
	var m Model
	if err := json.Unmarshal(it.Data, &m); err != nil {
		return Model{}, fmt.Errorf("decode model %s: %w", id, err)
	}
	m.Version = it.Version
	return m, nil
}

// List returns every model, ordered by ID.
func (s *Service) List(ctx context.Context) ([]Model, error) {
	items, err := s.st.Query(ctx, pkModels, store.QueryOptions{})
	if err != nil {
		return nil, fmt.Errorf("list models: %w", err)
	}
	out := make([]Model, 0, len(items))
	for _, it := range items {
		var m Model
		if err := json.Unmarshal(it.Data, &m); err != nil {
			return nil, fmt.Errorf("decode model %s: %w", it.SK, err)
		}
		m.Version = it.Version
		out = append(out, m)
	}
	return out, nil
}

// Update applies change to the stored model with optimistic concurrency, retrying on
// conflicting writers. The change may not alter ID, status or reviews.
func (s *Service) Update(ctx context.Context, id string, change func(*Model) error) (Model, error) {
	for attempt := 0; attempt < 5; attempt++ {
		cur, err := s.Get(ctx, id)
		if err != nil {
			return Model{}, err
		}
		next := cur
		next.Aliases = append([]string(nil), cur.Aliases...)
		if err := change(&next); err != nil {
			return Model{}, err
		}
		next.ID, next.Status, next.Reviews, next.CreatedAt, next.CreatedBy = cur.ID, cur.Status, cur.Reviews, cur.CreatedAt, cur.CreatedBy
		next.UpdatedAt = s.now().UTC()
		normalise(&next)
		if err := next.Validate(); err != nil {
			return Model{}, err
		}
		if err := s.checkAliases(ctx, &next); err != nil {
			return Model{}, err
		}
		if err := s.checkFallbacks(ctx, &next, cur.Fallbacks); err != nil {
			return Model{}, err
		}
		err = s.put(ctx, &next, store.WriteOptions{Cond: store.IfVersion, Version: cur.Version})
		if errors.Is(err, ErrConflict) {
			continue
		}
		if err != nil {
			return Model{}, err
		}
		if err := s.writeAliases(ctx, &next, cur.Aliases); err != nil {
			return Model{}, err
		}
		s.invalidate()
		return next, nil
	}
	return Model{}, fmt.Errorf("update model %s: %w", id, ErrConflict)
}

// Review records a decision: "approve", "reject", "deprecate" or "retire".
func (s *Service) Review(ctx context.Context, id, decision, reviewer, comment string) (Model, error) {
	if reviewer == "" {
		return Model{}, fault.New(ErrInvalid, "reviewer", "reviewer is required")
	}
	var to Status
	switch decision {
	case "approve":
		to = StatusApproved
	case "reject":
		to = StatusRejected
	case "deprecate":
		to = StatusDeprecated
	case "retire":
		to = StatusRetired
	default:
		return Model{}, fault.New(ErrInvalid, "decision", "decision must be approve, reject, deprecate or retire")
	}
	for attempt := 0; attempt < 5; attempt++ {
		cur, err := s.Get(ctx, id)
		if err != nil {
			return Model{}, err
		}
		if err := checkTransition(cur.Status, to); err != nil {
			return Model{}, err
		}
		now := s.now().UTC()
		cur.Status = to
		cur.Reviews = append(cur.Reviews, Review{Decision: decision, Reviewer: reviewer, Comment: comment, At: now})
		cur.UpdatedAt = now
		err = s.put(ctx, &cur, store.WriteOptions{Cond: store.IfVersion, Version: cur.Version})
		if errors.Is(err, ErrConflict) {
			continue
		}
		if err != nil {
			return Model{}, err
		}
		s.invalidate()
		s.obsMu.RLock()
		obs := s.observers
		s.obsMu.RUnlock()
		for _, fn := range obs {
			fn(ctx, cur, decision, reviewer, comment)
		}
		return cur, nil
	}
	return Model{}, fmt.Errorf("review model %s: %w", id, ErrConflict)
}

func checkTransition(from, to Status) error {
	ok := false
	switch to {
	case StatusApproved:
		ok = from == StatusPendingReview || from == StatusRejected || from == StatusDeprecated
	case StatusRejected:
		ok = from == StatusPendingReview
	case StatusDeprecated:
		ok = from == StatusApproved
	case StatusRetired:
		ok = from == StatusApproved || from == StatusDeprecated
	}
	if !ok {
		return fault.New(ErrInvalid, "", "cannot move from %s to %s", from, to)
	}
	return nil
}

// Resolve finds a model by ID or alias through the in-process snapshot.
func (s *Service) Resolve(ctx context.Context, name string) (*Model, error) {
	snap, err := s.current(ctx)
	if err != nil {
		return nil, err
	}
	m, ok := snap[name]
	if !ok {
		return nil, modelNotFound(name)
	}
	return m, nil
}

// Snapshot returns the current models (shared; callers must not modify them), by ID.
func (s *Service) Snapshot(ctx context.Context) ([]*Model, error) {
	snap, err := s.current(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*Model, 0, len(snap))
	for k, m := range snap {
		if k == m.ID {
			out = append(out, m)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (s *Service) current(ctx context.Context) (map[string]*Model, error) {
	now := s.now()
	s.mu.RLock()
	snap, at := s.snapshot, s.loadedAt
	s.mu.RUnlock()
	if snap != nil && now.Sub(at) < s.ttl {
		return snap, nil
	}
	models, err := s.List(ctx)
	if err != nil {
		if snap != nil {
			// Serving a slightly stale registry beats failing every request while the
			// store is briefly unreachable; the refresh is retried on the next call.
			return snap, nil
		}
		return nil, err
	}
	next := make(map[string]*Model, len(models)*2)
	for i := range models {
		m := &models[i]
		next[m.ID] = m
	}
	for i := range models {
		m := &models[i]
		for _, a := range m.Aliases {
			if _, taken := next[a]; !taken {
				next[a] = m
			}
		}
	}
	s.mu.Lock()
	s.snapshot, s.loadedAt = next, now
	s.mu.Unlock()
	return next, nil
}

func (s *Service) invalidate() {
	s.mu.Lock()
	s.snapshot = nil
	s.mu.Unlock()
}

func (s *Service) put(ctx context.Context, m *Model, opts store.WriteOptions) error {
	data, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode model %s: %w", m.ID, err)
	}
	v, err := s.st.Put(ctx, store.Item{Key: store.Key{PK: pkModels, SK: m.ID}, Data: data}, opts)
	if errors.Is(err, store.ErrConditionFailed) {
		if opts.Cond == store.IfNotExists {
			return fault.New(ErrExists, "id", "model %q is already registered; change it with PATCH /admin/models/%s", m.ID, m.ID)
		}
		return fmt.Errorf("model %q: %w", m.ID, ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("put model %s: %w", m.ID, err)
	}
	m.Version = v
	return nil
}

// checkAliases refuses aliases that name another model or another model's alias.
// checkFallbacks checks that every fallback m names, and had not named before, is a
// registered model of m's kind.
func (s *Service) checkFallbacks(ctx context.Context, m *Model, before []string) error {
	for i, f := range m.Fallbacks {
		if slices.Contains(before, f) {
			continue
		}
		fb, err := s.Resolve(ctx, f)
		if err != nil {
			return fault.WithParam(err, fmt.Sprintf("fallbacks[%d]", i))
		}
		if fb.Kind != m.Kind {
			return fault.New(ErrInvalid, fmt.Sprintf("fallbacks[%d]", i), "fallback %q is %s; %s falls back only to %s", f, fb.Kind.Noun(), m.ID, m.Kind.Noun())
		}
	}
	return nil
}

func (s *Service) checkAliases(ctx context.Context, m *Model) error {
	for _, a := range m.Aliases {
		if a == m.ID {
			return fault.New(ErrInvalid, "", "alias %q equals the model id", a)
		}
		if _, err := s.st.Get(ctx, store.Key{PK: pkModels, SK: a}); err == nil {
			return fault.New(ErrInvalid, "", "alias %q is already a model id", a)
		}
		it, err := s.st.Get(ctx, store.Key{PK: pkAliases, SK: a})
		if err == nil && string(it.Data) != m.ID {
			return fault.New(ErrInvalid, "", "alias %q already points at %s", a, it.Data)
		}
	}
	return nil
}

func (s *Service) writeAliases(ctx context.Context, m *Model, old []string) error {
	keep := map[string]bool{}
	for _, a := range m.Aliases {
		keep[a] = true
		if _, err := s.st.Put(ctx, store.Item{Key: store.Key{PK: pkAliases, SK: a}, Data: []byte(m.ID)}, store.WriteOptions{}); err != nil {
			return fmt.Errorf("write alias %s: %w", a, err)
		}
	}
	for _, a := range old {
		if !keep[a] {
			if err := s.st.Delete(ctx, store.Key{PK: pkAliases, SK: a}, store.WriteOptions{}); err != nil {
				return fmt.Errorf("delete alias %s: %w", a, err)
			}
		}
	}
	return nil
}

// modelNotFound is the failure for a model ID or alias the registry does not have.
func modelNotFound(id string) error {
	return fault.New(ErrNotFound, "", "model %q is not in the registry; list models with GET /admin/models, or register it with POST /admin/models", id)
}
