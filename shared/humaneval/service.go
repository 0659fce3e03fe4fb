package humaneval

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	"github.com/plinth-ai/plinth/shared/blob"
	"github.com/plinth-ai/plinth/shared/fault"
	"github.com/plinth-ai/plinth/shared/store"
)

// RunOutput is one item of a finished evaluation run.
type RunOutput struct {
	ID         string
	Input      string
	References []string
	Contexts   []string
	Output     string
	Failed     bool
}

// Run is a finished evaluation run, as a queue source reads it.
type Run struct {
	ID     string
	Tenant string
	Label  string // the model or configuration evaluated
	Items  []RunOutput
}

// Runs reads evaluation runs; ErrNotFound (wrapped) when the run is unknown.
type Runs interface {
	Run(ctx context.Context, id string) (*Run, error)
}

// FeedbackRecord is one end-user rating with the prompt and answer it rates.
type FeedbackRecord struct {
	ID              string
	RequestID       string
	Rating          int
	Comment         string
	CorrectedAnswer string
	Input, Output   string
}

// Feedback reads a tenant's feedback, oldest first.
type Feedback interface {
	Feedback(ctx context.Context, tenant string) ([]FeedbackRecord, error)
}

// Service holds review queues, reviews and ground-truth datasets.
type Service struct {
	store    store.Store
	blobs    blob.Store
	runs     Runs
	feedback Feedback
	tenants  func(ctx context.Context, id string) error
	now      func() time.Time

	mu  sync.Mutex
	rng *rand.Rand
}

// Option configures a Service.
type Option func(*Service)

// WithRuns enables queues built from evaluation runs.
func WithRuns(r Runs) Option { return func(s *Service) { s.runs = r } }

// WithFeedback enables queues built from end-user feedback.
func WithFeedback(f Feedback) Option { return func(s *Service) { s.feedback = f } }

// WithTenants checks that a queue's tenant exists when it is created (nil or an error of
// package fault's kinds).
func WithTenants(check func(ctx context.Context, id string) error) Option {
	return func(s *Service) { s.tenants = check }
}

// WithClock replaces time.Now.
func WithClock(now func() time.Time) Option { return func(s *Service) { s.now = now } }

// WithRandSeed makes the left/right orders drawn for pairwise reviews reproducible
// (default: seeded from crypto/rand).
func WithRandSeed(seed uint64) Option {
	return func(s *Service) { s.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }
}

// NewService returns the human-evaluation service over a store and a blob store.
func NewService(st store.Store, blobs blob.Store, opts ...Option) (*Service, error) {
	if st == nil || blobs == nil {
		return nil, errors.New("humaneval: nil store or blob store")
	}
	var seed [16]byte
	_, _ = crand.Read(seed[:])
	s := &Service{store: st, blobs: blobs, now: time.Now,
		rng: rand.New(rand.NewPCG(binary.LittleEndian.Uint64(seed[:8]), binary.LittleEndian.Uint64(seed[8:])))}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

const queuesPK = "REVIEWQ"

func queuePK(id string) string              { return "REVIEWQ#" + id }
func itemSK(index int) string               { return fmt.Sprintf("ITEM#%06d", index) }
func reviewSK(item, reviewer string) string { return "REVIEW#" + item + "#" + reviewer }
func assignSK(item, reviewer string) string { return "ASSIGN#" + item + "#" + reviewer }

func newID(prefix string, now time.Time) string {
	var b [5]byte
	_, _ = crand.Read(b[:])
	return prefix + now.UTC().Format("20060102t150405") + hex.EncodeToString(b[:])
}

// CreateQueue builds a queue's items from its source and stores both.
func (s *Service) CreateQueue(ctx context.Context, q Queue, createdBy string) (*Queue, error) {
	if err := q.validate(); err != nil {
		return nil, err
	}
	if s.tenants != nil {
		if err := s.tenants(ctx, q.Tenant); err != nil {
			return nil, fault.WithParam(err, "tenant")
		}
	}
	items, err := s.buildItems(ctx, &q)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, invalid("the source has no reviewable items")
	}
	items = s.draw(items, q.Source)
	now := s.now().UTC()
	q.ID = newID("rq-", now)
	q.CreatedAt = now
	q.CreatedBy = createdBy
	q.ItemCount = len(items)
	q.Source.Samples = nil
	q.Progress = nil
	pk := queuePK(q.ID)
	// The items are written before the queue record that names the tenant: a store that
	// keeps tenants' data apart places them by the context's owner.
	ctx = store.WithOwner(ctx, q.Tenant)
	for start := 0; start < len(items); start += 25 {
		var ops []store.Op
		for i := start; i < min(start+25, len(items)); i++ {
			items[i].Index = i
			b, err := json.Marshal(items[i])
			if err != nil {
				return nil, err
			}
			ops = append(ops, store.Op{Kind: store.OpPut, Item: store.Item{Key: store.Key{PK: pk, SK: itemSK(i)}, Data: b}})
		}
		if err := s.store.Transact(ctx, ops); err != nil {
			return nil, fmt.Errorf("store queue items: %w", err)
		}
	}
	// The queue record goes last: a queue is listed only once all its items exist.
	b, err := json.Marshal(q)
	if err != nil {
		return nil, err
	}
	if _, err := s.store.Put(ctx, store.Item{Key: store.Key{PK: queuesPK, SK: q.ID}, Data: b}, store.WriteOptions{Cond: store.IfNotExists}); err != nil {
		return nil, fmt.Errorf("store queue: %w", err)
	}
	q.Progress = &Progress{Reviewers: []string{}}
	return &q, nil
}

// draw keeps a random sample of src.SampleSize items (seeded by src.Seed), in their
// original order; the whole list is capped at MaxItems.
func (s *Service) draw(items []Item, src Source) []Item {
	n := src.SampleSize
	if n == 0 || n > MaxItems {
		n = MaxItems
	}
	if len(items) <= n {
		return items
	}
	r := rand.New(rand.NewPCG(src.Seed, src.Seed^0x2545f4914f6cdd1d))
	idx := r.Perm(len(items))[:n]
	sort.Ints(idx)
	out := make([]Item, n)
	for i, j := range idx {
		out[i] = items[j]
	}
	return out
}

func (s *Service) buildItems(ctx context.Context, q *Queue) ([]Item, error) {
	switch q.Source.Type {
	case SourceEvalRun:
		return s.itemsFromRuns(ctx, q)
	case SourceFeedback:
		return s.itemsFromFeedback(ctx, q)
	default:
		return itemsFromSamples(q)
	}
}

func (s *Service) run(ctx context.Context, tenant, id string) (*Run, error) {
	if s.runs == nil {
		return nil, invalid("evaluation runs are not available as a source here")
	}
	r, err := s.runs.Run(ctx, id)
	if err != nil {
		return nil, err
	}
	if r.Tenant != tenant {
		return nil, fault.New(ErrNotFound, "source.run_id", "tenant %s has no evaluation run %q; list a suite's runs with GET /admin/eval-suites/{id}/runs?tenant=%s", tenant, id, tenant)
	}
	return r, nil
}

func (s *Service) itemsFromRuns(ctx context.Context, q *Queue) ([]Item, error) {
	a, err := s.run(ctx, q.Tenant, q.Source.RunID)
	if err != nil {
		return nil, err
	}
	var items []Item
	if q.Kind == KindRubric {
		for _, o := range a.Items {
			if o.Failed || o.Output == "" {
				continue
			}
			items = append(items, Item{ID: o.ID, Input: o.Input, References: o.References, Contexts: o.Contexts, Output: o.Output,
				Origin: map[string]string{"run_id": a.ID, "item_id": o.ID}})
		}
		return items, validateAll(q.Kind, items)
	}
	b, err := s.run(ctx, q.Tenant, q.Source.CompareRunID)
	if err != nil {
		return nil, err
	}
	other := make(map[string]RunOutput, len(b.Items))
	for _, o := range b.Items {
		other[o.ID] = o
	}
	for _, o := range a.Items {
		p, ok := other[o.ID]
		if !ok || o.Failed || p.Failed || o.Output == "" || p.Output == "" {
			continue
		}
		items = append(items, Item{ID: o.ID, Input: o.Input, References: o.References, Contexts: o.Contexts,
			Candidates: []Candidate{{ID: "a", Label: labelOf(a), Text: o.Output}, {ID: "b", Label: labelOf(b), Text: p.Output}},
			Origin:     map[string]string{"run_id": a.ID, "compare_run_id": b.ID, "item_id": o.ID}})
	}
	return items, validateAll(q.Kind, items)
}

func labelOf(r *Run) string {
	if r.Label != "" {
		return r.ID + " (" + r.Label + ")"
	}
	return r.ID
}

func (s *Service) itemsFromFeedback(ctx context.Context, q *Queue) ([]Item, error) {
	if s.feedback == nil {
		return nil, invalid("feedback is not available as a source here")
	}
	fbs, err := s.feedback.Feedback(ctx, q.Tenant)
	if err != nil {
		return nil, err
	}
	var items []Item
	for _, f := range fbs {
		if q.Source.MaxRating > 0 && f.Rating > q.Source.MaxRating {
			continue
		}
		if f.Input == "" || f.Output == "" {
			continue // nothing a reviewer could judge
		}
		it := Item{ID: f.ID, Input: f.Input, Output: f.Output,
			Origin:   map[string]string{"feedback_id": f.ID, "request_id": f.RequestID},
			Metadata: map[string]any{"rating": f.Rating}}
		if f.Comment != "" {
			it.Metadata["comment"] = f.Comment
		}
		if f.CorrectedAnswer != "" {
			it.References = []string{f.CorrectedAnswer}
		}
		items = append(items, it)
	}
	return items, validateAll(q.Kind, items)
}

func itemsFromSamples(q *Queue) ([]Item, error) {
	if len(q.Source.Samples) > MaxItems*5 {
		return nil, invalid("at most %d samples", MaxItems*5)
	}
	items := make([]Item, 0, len(q.Source.Samples))
	seen := map[string]bool{}
	for i, sm := range q.Source.Samples {
		id := sm.ID
		if id == "" {
			id = fmt.Sprintf("sample-%d", i+1)
		}
		if !idPattern.MatchString(id) || seen[id] {
			return nil, invalid("samples[%d].id %q must be unique letters, digits, '.', '_' or '-'", i, id)
		}
		seen[id] = true
		it := Item{ID: id, Input: sm.Input, References: sm.References, Contexts: sm.Contexts, Metadata: sm.Metadata,
			Origin: map[string]string{"sample_id": id}}
		switch q.Kind {
		case KindRubric:
			if len(sm.Outputs) > 0 {
				return nil, invalid("samples[%d]: a rubric queue reviews one output; use output", i)
			}
			it.Output = sm.Output
		case KindPairwise:
			if len(sm.Outputs) != 2 {
				return nil, invalid("samples[%d]: a pairwise queue compares two outputs; give outputs with two answers", i)
			}
			it.Candidates = []Candidate{{ID: "a", Text: sm.Outputs[0]}, {ID: "b", Text: sm.Outputs[1]}}
		}
		items = append(items, it)
	}
	return items, validateAll(q.Kind, items)
}

func validateAll(kind Kind, items []Item) error {
	for i := range items {
		if err := validateItem(kind, &items[i]); err != nil {
			return err
		}
	}
	return nil
}

// GetQueue returns a queue with its progress; tenant, when not empty, must own it.
func (s *Service) GetQueue(ctx context.Context, tenant, id string) (*Queue, error) {
	it, err := s.store.Get(ctx, store.Key{PK: queuesPK, SK: id})
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("review queue %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get review queue %s: %w", id, err)
	}
	var q Queue
	if err := json.Unmarshal(it.Data, &q); err != nil {
		return nil, fmt.Errorf("decode review queue %s: %w", id, err)
	}
	if tenant != "" && q.Tenant != tenant {
		return nil, fmt.Errorf("review queue %s: %w", id, ErrNotFound)
	}
	reviews, err := s.reviews(ctx, id)
	if err != nil {
		return nil, err
	}
	q.Progress = progressOf(&q, reviews)
	return &q, nil
}

func progressOf(q *Queue, reviews []Review) *Progress {
	p := &Progress{Reviews: len(reviews), Reviewers: []string{}}
	perItem := map[string]int{}
	seen := map[string]bool{}
	for _, r := range reviews {
		perItem[r.ItemID]++
		if !seen[r.Reviewer] {
			seen[r.Reviewer] = true
			p.Reviewers = append(p.Reviewers, r.Reviewer)
		}
	}
	for _, n := range perItem {
		if n >= q.ReviewersPerItem {
			p.Complete++
		}
	}
	sort.Strings(p.Reviewers)
	return p
}

// ListQueues returns the queues of a tenant (every tenant's when tenant is empty),
// newest first, with their progress.
func (s *Service) ListQueues(ctx context.Context, tenant string) ([]Queue, error) {
	items, err := s.store.Query(ctx, queuesPK, store.QueryOptions{Desc: true})
	if err != nil {
		return nil, fmt.Errorf("list review queues: %w", err)
	}
	out := []Queue{}
	for _, it := range items {
		var q Queue
		if err := json.Unmarshal(it.Data, &q); err != nil {
			return nil, fmt.Errorf("decode review queue %s: %w", it.SK, err)
		}
		if tenant != "" && q.Tenant != tenant {
			continue
		}
		reviews, err := s.reviews(ctx, q.ID)
		if err != nil {
			return nil, err
		}
		q.Progress = progressOf(&q, reviews)
		out = append(out, q)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreatedAt.After(out[j].CreatedAt) })
	return out, nil
}

// DeleteQueue removes a queue with its items, assignments and reviews (datasets already
// published from it stay).
func (s *Service) DeleteQueue(ctx context.Context, tenant, id string) error {
	if _, err := s.GetQueue(ctx, tenant, id); err != nil {
		return err
	}
	if err := s.store.Delete(ctx, store.Key{PK: queuesPK, SK: id}, store.WriteOptions{}); err != nil {
		return fmt.Errorf("delete review queue %s: %w", id, err)
	}
	rows, err := s.store.Query(ctx, queuePK(id), store.QueryOptions{})
	if err != nil {
		return fmt.Errorf("delete review queue %s: %w", id, err)
	}
	for _, r := range rows {
		if err := s.store.Delete(ctx, r.Key, store.WriteOptions{}); err != nil {
			return fmt.Errorf("delete review queue %s: %w", id, err)
		}
	}
	return nil
}

// items returns a queue's items in index order.
func (s *Service) items(ctx context.Context, id string) ([]Item, error) {
	rows, err := s.store.Query(ctx, queuePK(id), store.QueryOptions{Prefix: "ITEM#"})
	if err != nil {
		return nil, fmt.Errorf("list items of %s: %w", id, err)
	}
	out := make([]Item, 0, len(rows))
	for _, r := range rows {
		var it Item
		if err := json.Unmarshal(r.Data, &it); err != nil {
			return nil, fmt.Errorf("decode item %s/%s: %w", id, r.SK, err)
		}
		out = append(out, it)
	}
	return out, nil
}

// reviews returns a queue's reviews ordered by item and reviewer.
func (s *Service) reviews(ctx context.Context, id string) ([]Review, error) {
	rows, err := s.store.Query(ctx, queuePK(id), store.QueryOptions{Prefix: "REVIEW#"})
	if err != nil {
		return nil, fmt.Errorf("list reviews of %s: %w", id, err)
	}
	out := make([]Review, 0, len(rows))
	for _, r := range rows {
		var rv Review
		if err := json.Unmarshal(r.Data, &rv); err != nil {
			return nil, fmt.Errorf("decode review %s/%s: %w", id, r.SK, err)
		}
		out = append(out, rv)
	}
	return out, nil
}

// Items returns a queue's items, each with its reviews (the drill-down for admins).
func (s *Service) Items(ctx context.Context, tenant, id string) ([]Item, error) {
	if _, err := s.GetQueue(ctx, tenant, id); err != nil {
		return nil, err
	}
	items, err := s.items(ctx, id)
	if err != nil {
		return nil, err
	}
	reviews, err := s.reviews(ctx, id)
	if err != nil {
		return nil, err
	}
	byItem := map[string][]Review{}
	for _, r := range reviews {
		byItem[r.ItemID] = append(byItem[r.ItemID], r)
	}
	for i := range items {
		items[i].Reviews = byItem[items[i].ID]
	}
	return items, nil
}
