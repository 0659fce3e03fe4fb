package platform

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/plinth-ai/plinth/shared/flow"
	"github.com/plinth-ai/plinth/shared/schedule"
	"github.com/plinth-ai/plinth/statemachines"
)

// LocalFunctionARN is the function ARN a task placeholder is bound to in local mode; it
// has the shape of a real Lambda ARN so the definitions run unchanged.
func LocalFunctionARN(placeholder string) string {
	return "arn:aws:lambda:local:000000000000:function:plinth-" + placeholder
}

// registerMachine loads a definition from statemachines/, binds each ${…} placeholder to
// its in-process task and registers the machine with the executor.
func registerMachine(exec *flow.Executor, name string, tasks map[string]func(context.Context, json.RawMessage) (json.RawMessage, error)) error {
	def, err := statemachines.Definition(name)
	if err != nil {
		return err
	}
	subs := map[string]string{}
	for _, ph := range statemachines.Placeholders(def) {
		fn, ok := tasks[ph]
		if !ok {
			return fmt.Errorf("state machine %s: no task bound to ${%s}", name, ph)
		}
		arn := LocalFunctionARN(ph)
		exec.Bind(arn, flow.TaskFunc(fn))
		subs[ph] = arn
	}
	m, err := flow.Load(def, subs)
	if err != nil {
		return fmt.Errorf("load state machine %s: %w", name, err)
	}
	return exec.Register(name, m)
}

// scheduleSync keeps the in-process scheduler in step with the evaluation suites'
// schedules (suites are created and changed at run time through the admin API).
type scheduleSync struct {
	sched  *schedule.Scheduler
	list   func(ctx context.Context) (map[string]scheduled, error)
	start  func(ctx context.Context, input json.RawMessage) error
	log    *slog.Logger
	mu     sync.Mutex
	active map[string]string // name → expression
}

type scheduled struct {
	Expr  string
	Input json.RawMessage
}

func (s *scheduleSync) sync(ctx context.Context) {
	want, err := s.list(ctx)
	if err != nil {
		s.log.Warn("list evaluation schedules", "error", err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, expr := range s.active {
		if w, ok := want[name]; !ok || w.Expr != expr {
			s.sched.Remove(name)
			delete(s.active, name)
		}
	}
	for name, w := range want {
		if _, ok := s.active[name]; ok {
			continue
		}
		sc, err := schedule.Parse(w.Expr)
		if err != nil {
			s.log.Warn("invalid evaluation schedule; not scheduled", "schedule", name, "expression", w.Expr, "error", err)
			continue
		}
		input := w.Input
		if err := s.sched.Add(name, sc, func(ctx context.Context, at time.Time) {
			if err := s.start(ctx, input); err != nil {
				s.log.Error("scheduled evaluation did not start", "schedule", name, "at", at, "error", err)
			}
		}); err != nil {
			s.log.Warn("add evaluation schedule", "schedule", name, "error", err)
			continue
		}
		s.active[name] = w.Expr
	}
}

// run syncs now and then every interval until ctx ends, running the scheduler meanwhile.
func (s *scheduleSync) run(ctx context.Context, interval time.Duration) {
	s.sync(ctx)
	done := make(chan struct{})
	go func() { defer close(done); s.sched.Run(ctx) }()
	defer func() { <-done }()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.sync(ctx)
		}
	}
}
