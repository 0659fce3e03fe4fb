package eval

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/plinth-ai/plinth/shared/fault"
	"github.com/plinth-ai/plinth/shared/store"
)

// Store layout (one table):
//
//	EVAL#SUITES                        SUITE#<tenant>#<id>            the suite
//	EVAL#SUITE#<tenant>#<id>#RUNS      <started RFC3339Nano>#<run>    run index entry (summary)
//	EVAL#RUN#<run>            META                           the run
//	EVAL#RUN#<run>            ITEM#<index, 8 digits>         one item result
//	EVAL#FEEDBACK#<tenant>    <created RFC3339Nano>#<id>     one feedback record
const (
	pkSuites   = "EVAL#SUITES"
	skRunMeta  = "META"
	itemPrefix = "ITEM#"
	timeLayout = "2006-01-02T15:04:05.000000000Z"
)

// IDs and tenants never hold '#' (reID), so the keys below cannot collide. Suites
// stored before they were scoped by tenant had SK SUITE#<id> and run index partitions
// EVAL#SUITE#<id>#RUNS; migrateLegacy moves them.
func suiteKey(tenant, id string) store.Key {
	return store.Key{PK: pkSuites, SK: "SUITE#" + tenant + "#" + id}
}
func runKey(id string) store.Key { return store.Key{PK: "EVAL#RUN#" + id, SK: skRunMeta} }
func runIndexPK(tenant, suite string) string {
	return "EVAL#SUITE#" + tenant + "#" + suite + "#RUNS"
}
func runIndexKey(r *Run) store.Key {
	return store.Key{PK: runIndexPK(r.Tenant, r.SuiteID), SK: r.StartedAt.UTC().Format(timeLayout) + "#" + r.ID}
}
func itemKey(run string, index int) store.Key {
	return store.Key{PK: "EVAL#RUN#" + run, SK: fmt.Sprintf("%s%08d", itemPrefix, index)}
}

// runSummary is the run index entry: enough for trends and baselines without reading
// every run.
type runSummary struct {
	ID         string             `json:"id"`
	Status     string             `json:"status"`
	Metrics    map[string]float64 `json:"metrics,omitempty"`
	Passed     *bool              `json:"passed,omitempty"`
	Regressed  bool               `json:"regressed"`
	StartedAt  time.Time          `json:"started_at"`
	FinishedAt *time.Time         `json:"finished_at,omitempty"`
}

func (s *Service) getJSON(ctx context.Context, key store.Key, v any) (int64, error) {
	it, err := s.store.Get(ctx, key)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return 0, ErrNotFound
		}
		return 0, err
	}
	if err := json.Unmarshal(it.Data, v); err != nil {
		return 0, fmt.Errorf("decode %s %s: %w", key.PK, key.SK, err)
	}
	return it.Version, nil
}

func (s *Service) putSuite(ctx context.Context, su *Suite, cond store.WriteOptions) error {
	b, err := json.Marshal(su)
	if err != nil {
		return err
	}
	if _, err := s.store.Put(ctx, store.Item{Key: suiteKey(su.Tenant, su.ID), Data: b}, cond); err != nil {
		if errors.Is(err, store.ErrConditionFailed) {
			if cond.Cond == store.IfNotExists {
				return fault.New(ErrExists, "id", "tenant %s already has an evaluation suite %q; choose another id, or replace it with PUT /admin/eval-suites/%s?tenant=%s", su.Tenant, su.ID, su.ID, su.Tenant)
			}
			return suiteNotFound(su.Tenant, su.ID)
		}
		return fmt.Errorf("store suite %q: %w", su.ID, err)
	}
	return nil
}

// saveRun writes the run and its index entry in one transaction, the run under cond.
func (s *Service) saveRun(ctx context.Context, r *Run, cond store.WriteOptions) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	sum, err := json.Marshal(runSummary{
		ID: r.ID, Status: r.Status, Metrics: r.Metrics, Passed: r.Passed,
		Regressed: len(r.Regressions) > 0, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt,
	})
	if err != nil {
		return err
	}
	err = s.store.Transact(ctx, []store.Op{
		{Kind: store.OpPut, Item: store.Item{Key: runKey(r.ID), Data: b}, Options: cond},
		{Kind: store.OpPut, Item: store.Item{Key: runIndexKey(r), Data: sum}},
	})
	if err != nil {
		return fmt.Errorf("store run %s: %w", r.ID, err)
	}
	return nil
}

// updateRun applies fn to the stored run under optimistic concurrency.
func (s *Service) updateRun(ctx context.Context, id string, fn func(r *Run) error) (*Run, error) {
	for attempt := 0; attempt < 5; attempt++ {
		var r Run
		v, err := s.getJSON(ctx, runKey(id), &r)
		if err != nil {
			return nil, err
		}
		if err := fn(&r); err != nil {
			return nil, err
		}
		err = s.saveRun(ctx, &r, store.WriteOptions{Cond: store.IfVersion, Version: v})
		if errors.Is(err, store.ErrTransactionConflict) || errors.Is(err, store.ErrConditionFailed) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return &r, nil
	}
	return nil, fmt.Errorf("update run %s: %w", id, store.ErrConditionFailed)
}

func (s *Service) putItemResult(ctx context.Context, run string, res *ItemResult) error {
	b, err := json.Marshal(res)
	if err != nil {
		return err
	}
	if _, err := s.store.Put(ctx, store.Item{Key: itemKey(run, res.Index), Data: b}, store.WriteOptions{}); err != nil {
		return fmt.Errorf("store result of item %q: %w", res.ID, err)
	}
	return nil
}

// itemResults returns the run's item results with indexes in [from, to) (to < 0: all).
func (s *Service) itemResults(ctx context.Context, run string, from, to int) ([]ItemResult, error) {
	opts := store.QueryOptions{Prefix: itemPrefix}
	if from > 0 {
		opts.From = itemKey(run, from).SK
	}
	if to >= 0 {
		opts.To = itemKey(run, to-1).SK
		if to <= from {
			return nil, nil
		}
	}
	items, err := s.store.Query(ctx, "EVAL#RUN#"+run, opts)
	if err != nil {
		return nil, fmt.Errorf("query results of run %s: %w", run, err)
	}
	out := make([]ItemResult, 0, len(items))
	for _, it := range items {
		var r ItemResult
		if err := json.Unmarshal(it.Data, &r); err != nil {
			return nil, fmt.Errorf("decode %s: %w", it.SK, err)
		}
		out = append(out, r)
	}
	return out, nil
}

func (s *Service) runSummaries(ctx context.Context, tenant, suite string, limit int) ([]runSummary, error) {
	items, err := s.store.Query(ctx, runIndexPK(tenant, suite), store.QueryOptions{Desc: true, Limit: limit})
	if err != nil {
		return nil, fmt.Errorf("query runs of suite %s: %w", suite, err)
	}
	out := make([]runSummary, 0, len(items))
	for _, it := range items {
		var r runSummary
		if err := json.Unmarshal(it.Data, &r); err != nil {
			return nil, fmt.Errorf("decode run index %s: %w", it.SK, err)
		}
		out = append(out, r)
	}
	return out, nil
}
