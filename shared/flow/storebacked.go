package flow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/plinth-ai/plinth/shared/store"
)

// StoreBacked persists executions in the platform's store port, so the local platform's
// embedded store (or DynamoDB) keeps them across restarts.
//
// Layout (single table):
//
//	PK flowexec#{id}        SK meta              the Execution record
//	PK flowexec#{id}        SK ev#{eventID:010}  one history event
//	PK flowexecs            SK {start}#{id}      index of every execution, by start time
//	PK flowmachine#{name}   SK {start}#{id}      index by state machine
//	PK flowrunning          SK {id}              executions not yet finished
type StoreBacked struct {
	st      store.Store
	ownerOf func(machine string, input json.RawMessage) string
	indexed sync.Map // id -> struct{}: indexes already written by this process
	owners  sync.Map // id -> string: owners found by this process
}

var _ ExecutionStore = (*StoreBacked)(nil)

// StoreOption configures a StoreBacked.
type StoreOption func(*StoreBacked)

// WithOwner names the tenant whose data each execution carries (its input, outputs and
// history), from its state machine and input ("" for the platform's); an execution
// started by another (a nested execution) without one inherits its parent's. The
// execution's record holds it as "owner", so a store that keeps tenants' data apart
// (package cellstore) places the execution's partition with the tenant's data, and the
// indexes of executions, which hold only IDs, are written apart from it.
func WithOwner(fn func(machine string, input json.RawMessage) string) StoreOption {
	return func(s *StoreBacked) { s.ownerOf = fn }
}

// NewStoreBacked returns an ExecutionStore over st.
func NewStoreBacked(st store.Store, opts ...StoreOption) *StoreBacked {
	if st == nil {
		panic("flow: NewStoreBacked(nil)")
	}
	s := &StoreBacked{st: st}
	for _, o := range opts {
		o(s)
	}
	return s
}

// storedExecution is an execution's record: the execution and its owner.
type storedExecution struct {
	Execution
	Owner string `json:"owner"`
}

// owner returns the tenant whose data ex carries.
func (s *StoreBacked) owner(ctx context.Context, ex Execution) string {
	if v, ok := s.owners.Load(ex.ID); ok {
		return v.(string)
	}
	o := s.ownerOf(ex.Machine, ex.Input)
	if o == "" {
		var in struct {
			Parent string `json:"AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID"`
		}
		if json.Unmarshal(ex.Input, &in) == nil && in.Parent != "" {
			if it, err := s.st.Get(ctx, store.Key{PK: pkExecPrefix + in.Parent, SK: skMeta}); err == nil {
				var parent storedExecution
				if json.Unmarshal(it.Data, &parent) == nil {
					o = parent.Owner
				}
			}
		}
	}
	s.owners.Store(ex.ID, o)
	return o
}

const (
	pkExecPrefix    = "flowexec#"
	pkAllExecs      = "flowexecs"
	pkMachinePrefix = "flowmachine#"
	pkRunning       = "flowrunning"
	skMeta          = "meta"
	skEventPrefix   = "ev#"
)

type indexEntry struct {
	ID string `json:"id"`
}

func indexSK(ex Execution) string {
	return ex.StartTime.UTC().Format("2006-01-02T15:04:05.000000000Z") + "#" + ex.ID
}

// SaveExecution implements ExecutionStore.
func (s *StoreBacked) SaveExecution(ctx context.Context, ex Execution) error {
	return s.SaveExecutionWithHistory(ctx, ex, nil)
}

// SaveExecutionWithHistory writes the record and appends events in as few store
// transactions as possible (one when there are fewer than about 95 events), so an
// execution costs one commit per state transition on a disk-backed store.
func (s *StoreBacked) SaveExecutionWithHistory(ctx context.Context, ex Execution, events []HistoryEvent) error {
	rec := storedExecution{Execution: ex}
	if s.ownerOf != nil {
		rec.Owner = s.owner(ctx, ex)
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("save execution %s: %w", ex.ID, err)
	}
	// before: the indexes and the running mark; own: the execution's partition; after:
	// the running mark's removal. Written together, or, with owners, in this order: a
	// crash in between leaves an index entry whose execution is skipped, never an
	// execution that is running and not resumed.
	var before, own, after []store.Op
	own = append(own, store.Op{Kind: store.OpPut, Item: store.Item{Key: store.Key{PK: pkExecPrefix + ex.ID, SK: skMeta}, Data: data}})
	_, indexed := s.indexed.Load(ex.ID)
	if !indexed {
		idx, _ := json.Marshal(indexEntry{ID: ex.ID})
		for _, pk := range []string{pkAllExecs, pkMachinePrefix + ex.Machine} {
			before = append(before, store.Op{Kind: store.OpPut, Item: store.Item{Key: store.Key{PK: pk, SK: indexSK(ex)}, Data: idx}})
		}
	}
	runKey := store.Key{PK: pkRunning, SK: ex.ID}
	switch {
	case ex.Status != StatusRunning:
		after = append(after, store.Op{Kind: store.OpDelete, Key: runKey})
	case ex.Checkpoint == nil:
		before = append(before, store.Op{Kind: store.OpPut, Item: store.Item{Key: runKey, Data: []byte(`{}`)}})
	}
	evOps, err := historyOps(ex.ID, events)
	if err != nil {
		return err
	}
	own = append(own, evOps...)
	groups := [][]store.Op{slices.Concat(own[:1], before, after, own[1:])}
	if s.ownerOf != nil {
		groups = [][]store.Op{before, own, after}
	}
	for _, ops := range groups {
		if err := s.transact(ctx, ops); err != nil {
			return fmt.Errorf("save execution %s: %w", ex.ID, err)
		}
	}
	if !indexed {
		s.indexed.Store(ex.ID, struct{}{})
	}
	return nil
}

func historyOps(id string, events []HistoryEvent) ([]store.Op, error) {
	ops := make([]store.Op, 0, len(events))
	for _, ev := range events {
		data, err := json.Marshal(ev)
		if err != nil {
			return nil, fmt.Errorf("history of %s: %w", id, err)
		}
		key := store.Key{PK: pkExecPrefix + id, SK: fmt.Sprintf("%s%010d", skEventPrefix, ev.ID)}
		ops = append(ops, store.Op{Kind: store.OpPut, Item: store.Item{Key: key, Data: data}})
	}
	return ops, nil
}

// transact applies ops in transactions of at most maxTransactOps.
func (s *StoreBacked) transact(ctx context.Context, ops []store.Op) error {
	for len(ops) > 0 {
		n := min(len(ops), maxTransactOps)
		if err := s.st.Transact(ctx, ops[:n]); err != nil {
			return err
		}
		ops = ops[n:]
	}
	return nil
}

// maxTransactOps is the store port's (and DynamoDB's) limit on operations per transaction.
const maxTransactOps = 100

// GetExecution implements ExecutionStore.
func (s *StoreBacked) GetExecution(ctx context.Context, id string) (Execution, error) {
	it, err := s.st.Get(ctx, store.Key{PK: pkExecPrefix + id, SK: skMeta})
	if errors.Is(err, store.ErrNotFound) {
		return Execution{}, fmt.Errorf("execution %q does not exist; list executions with GET /admin/executions: %w", id, ErrExecutionNotFound)
	}
	if err != nil {
		return Execution{}, fmt.Errorf("get %s: %w", id, err)
	}
	var ex Execution
	if err := json.Unmarshal(it.Data, &ex); err != nil {
		return Execution{}, fmt.Errorf("decode execution %s: %w", id, err)
	}
	return ex, nil
}

// ListExecutions implements ExecutionStore.
func (s *StoreBacked) ListExecutions(ctx context.Context, f ListFilter) ([]Execution, error) {
	var ids []string
	if f.Status == StatusRunning && f.Machine == "" {
		items, err := s.st.Query(ctx, pkRunning, store.QueryOptions{})
		if err != nil {
			return nil, fmt.Errorf("list running executions: %w", err)
		}
		for _, it := range items {
			ids = append(ids, it.SK)
		}
	} else {
		pk := pkAllExecs
		if f.Machine != "" {
			pk = pkMachinePrefix + f.Machine
		}
		items, err := s.st.Query(ctx, pk, store.QueryOptions{Desc: true})
		if err != nil {
			return nil, fmt.Errorf("list executions: %w", err)
		}
		for _, it := range items {
			var e indexEntry
			if json.Unmarshal(it.Data, &e) == nil {
				ids = append(ids, e.ID)
			}
		}
	}
	out := make([]Execution, 0, len(ids))
	for _, id := range ids {
		ex, err := s.GetExecution(ctx, id)
		if errors.Is(err, ErrExecutionNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if (f.Machine == "" || ex.Machine == f.Machine) && (f.Status == "" || ex.Status == f.Status) {
			out = append(out, ex)
		}
	}
	sortExecutions(out)
	return out, nil
}

// AppendHistory implements ExecutionStore.
func (s *StoreBacked) AppendHistory(ctx context.Context, id string, events []HistoryEvent) error {
	ops, err := historyOps(id, events)
	if err != nil {
		return err
	}
	if err := s.transact(ctx, ops); err != nil {
		return fmt.Errorf("append history of %s: %w", id, err)
	}
	return nil
}

// History implements ExecutionStore.
func (s *StoreBacked) History(ctx context.Context, id string) ([]HistoryEvent, error) {
	if _, err := s.GetExecution(ctx, id); err != nil {
		return nil, err
	}
	items, err := s.st.Query(ctx, pkExecPrefix+id, store.QueryOptions{Prefix: skEventPrefix})
	if err != nil {
		return nil, fmt.Errorf("history of %s: %w", id, err)
	}
	out := make([]HistoryEvent, 0, len(items))
	for _, it := range items {
		var ev HistoryEvent
		if err := json.Unmarshal(it.Data, &ev); err != nil {
			return nil, fmt.Errorf("decode history of %s: %w", id, err)
		}
		out = append(out, ev)
	}
	return out, nil
}
