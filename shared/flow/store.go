package flow

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"time"
)

// Execution statuses, as DescribeExecution reports them.
const (
	StatusRunning   = "RUNNING"
	StatusSucceeded = "SUCCEEDED"
	StatusFailed    = "FAILED"
	StatusTimedOut  = "TIMED_OUT"
	StatusAborted   = "ABORTED"
)

// Execution is the durable record of one execution, shaped after DescribeExecution.
type Execution struct {
	ID        string          `json:"executionArn"`
	Name      string          `json:"name"`
	Machine   string          `json:"stateMachineName"`
	MachineID string          `json:"stateMachineArn"`
	Status    string          `json:"status"`
	Input     json.RawMessage `json:"input"`
	Output    json.RawMessage `json:"output,omitempty"`
	Error     string          `json:"error,omitempty"`
	Cause     string          `json:"cause,omitempty"`
	StartTime time.Time       `json:"startDate"`
	StopTime  *time.Time      `json:"stopDate,omitempty"`
	// Checkpoint is where a RUNNING execution resumes after a restart.
	Checkpoint *Checkpoint `json:"checkpoint,omitempty"`
}

// Checkpoint records the top-level state an execution last entered and that state's input.
type Checkpoint struct {
	State   string          `json:"state"`
	Input   json.RawMessage `json:"input"`
	Entered time.Time       `json:"entered"`
}

// ListFilter narrows ListExecutions.
type ListFilter struct {
	// Machine keeps executions of this state machine ("" = all).
	Machine string
	// Status keeps executions in this status ("" = all).
	Status string
}

// ExecutionStore persists executions and their histories. Implementations must be safe for
// concurrent use. SaveExecution overwrites the record with the same ID.
type ExecutionStore interface {
	SaveExecution(ctx context.Context, ex Execution) error
	// GetExecution returns the record or an error wrapping ErrExecutionNotFound.
	GetExecution(ctx context.Context, id string) (Execution, error)
	// ListExecutions returns matching records, newest first.
	ListExecutions(ctx context.Context, f ListFilter) ([]Execution, error)
	AppendHistory(ctx context.Context, id string, events []HistoryEvent) error
	// History returns an execution's events in order.
	History(ctx context.Context, id string) ([]HistoryEvent, error)
}

// HistorySaver is an optional ExecutionStore extension that saves a record and appends
// events in one write; the executor uses it, when present, to persist a state transition
// with a single commit.
type HistorySaver interface {
	SaveExecutionWithHistory(ctx context.Context, ex Execution, events []HistoryEvent) error
}

// MemoryStore is an in-memory ExecutionStore.
type MemoryStore struct {
	mu      sync.RWMutex
	execs   map[string]Execution
	history map[string][]HistoryEvent
}

var _ ExecutionStore = (*MemoryStore)(nil)

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{execs: map[string]Execution{}, history: map[string][]HistoryEvent{}}
}

// SaveExecution implements ExecutionStore.
func (s *MemoryStore) SaveExecution(_ context.Context, ex Execution) error {
	s.mu.Lock()
	s.execs[ex.ID] = ex
	s.mu.Unlock()
	return nil
}

// GetExecution implements ExecutionStore.
func (s *MemoryStore) GetExecution(_ context.Context, id string) (Execution, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ex, ok := s.execs[id]
	if !ok {
		return Execution{}, fmt.Errorf("execution %q does not exist; list executions with GET /admin/executions: %w", id, ErrExecutionNotFound)
	}
	return ex, nil
}

// ListExecutions implements ExecutionStore.
func (s *MemoryStore) ListExecutions(_ context.Context, f ListFilter) ([]Execution, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []Execution
	for _, ex := range s.execs {
		if (f.Machine == "" || ex.Machine == f.Machine) && (f.Status == "" || ex.Status == f.Status) {
			out = append(out, ex)
		}
	}
	sortExecutions(out)
	return out, nil
}

func sortExecutions(out []Execution) {
	sort.Slice(out, func(i, j int) bool {
		if !out[i].StartTime.Equal(out[j].StartTime) {
			return out[i].StartTime.After(out[j].StartTime)
		}
		return out[i].ID < out[j].ID
	})
}

// AppendHistory implements ExecutionStore.
func (s *MemoryStore) AppendHistory(_ context.Context, id string, events []HistoryEvent) error {
	s.mu.Lock()
	s.history[id] = append(s.history[id], events...)
	s.mu.Unlock()
	return nil
}

// History implements ExecutionStore.
func (s *MemoryStore) History(_ context.Context, id string) ([]HistoryEvent, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if _, ok := s.execs[id]; !ok {
		return nil, fmt.Errorf("execution %q does not exist; list executions with GET /admin/executions: %w", id, ErrExecutionNotFound)
	}
	return append([]HistoryEvent(nil), s.history[id]...), nil
}
