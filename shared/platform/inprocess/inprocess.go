// Package inprocess runs the platform's flows and schedules inside the local process:
// state machines on the embedded executor, evaluation schedules on the in-process
// scheduler (the platform's Flows and Schedules backends locally).
package inprocess

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/plinth-ai/plinth/shared/eval"
	"github.com/plinth-ai/plinth/shared/flow"
	"github.com/plinth-ai/plinth/shared/schedule"
	"github.com/plinth-ai/plinth/statemachines"
)

// Flows starts state machines on the embedded executor.
type Flows struct{ Exec *flow.Executor }

// Start starts machine with input and returns the execution's ID.
func (f Flows) Start(ctx context.Context, machine string, input json.RawMessage) (string, error) {
	ex, err := f.Exec.Start(ctx, machine, "", input)
	if err != nil {
		return "", err
	}
	return ex.ID, nil
}

// SendTaskSuccess completes a waiting (.waitForTaskToken) task: durable agent runs
// resume on it after approvals.
func (f Flows) SendTaskSuccess(ctx context.Context, token string, output json.RawMessage) error {
	return f.Exec.SendTaskSuccess(ctx, token, output)
}

// Starter starts a state machine with an input (the platform's Flows).
type Starter interface {
	Start(ctx context.Context, machine string, input json.RawMessage) (string, error)
}

// Schedules runs evaluation schedules with the in-process scheduler, starting each run
// on the evaluation state machine through flows. Run it with Run.
type Schedules struct {
	sched  *schedule.Scheduler
	flows  Starter
	log    *slog.Logger
	mu     sync.Mutex
	active map[string]string // name → expression
}

// NewSchedules returns schedules that start runs through flows.
func NewSchedules(flows Starter, log *slog.Logger) *Schedules {
	return &Schedules{sched: schedule.NewScheduler(), flows: flows, log: log, active: map[string]string{}}
}

// Sync makes the scheduler hold exactly suites' schedules.
func (s *Schedules) Sync(_ context.Context, suites []eval.ScheduledSuite) error {
	want := make(map[string]eval.ScheduledSuite, len(suites))
	for _, su := range suites {
		want[su.Tenant+"/"+su.SuiteID] = su
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, expr := range s.active {
		if w, ok := want[name]; !ok || w.Schedule != expr {
			s.sched.Remove(name)
			delete(s.active, name)
		}
	}
	var errs []error
	for name, w := range want {
		if _, ok := s.active[name]; ok {
			continue
		}
		sc, err := schedule.Parse(w.Schedule)
		if err != nil {
			errs = append(errs, fmt.Errorf("suite %s: schedule %q: %w", name, w.Schedule, err))
			continue
		}
		input := w.Input
		if err := s.sched.Add(name, sc, func(ctx context.Context, at time.Time) {
			if _, err := s.flows.Start(ctx, statemachines.Evaluation, input); err != nil {
				s.log.Error("scheduled evaluation did not start", "schedule", name, "at", at, "error", err)
			}
		}); err != nil {
			errs = append(errs, fmt.Errorf("suite %s: %w", name, err))
			continue
		}
		s.active[name] = w.Schedule
	}
	return errors.Join(errs...)
}

// Run runs the scheduler until ctx ends.
func (s *Schedules) Run(ctx context.Context) { s.sched.Run(ctx) }
