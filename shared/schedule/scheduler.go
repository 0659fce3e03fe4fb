package schedule

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Clock is the scheduler's source of time (flow.FakeClock satisfies it for tests).
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type wallClock struct{}

func (wallClock) Now() time.Time                         { return time.Now() }
func (wallClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Func is a scheduled callback. at is the time the schedule was due.
type Func func(ctx context.Context, at time.Time)

// ErrDuplicate means a schedule with the same name is already registered.
var ErrDuplicate = errors.New("schedule: duplicate name")

type entry struct {
	name  string
	sched *Schedule
	fn    Func
	next  time.Time
}

// Scheduler fires callbacks when their schedules are due. Each firing runs in its own
// goroutine, so a slow callback never delays another schedule.
type Scheduler struct {
	clock   Clock
	mu      sync.Mutex
	entries map[string]*entry
	wake    chan struct{}
	wg      sync.WaitGroup
	running bool
	// armed, when set, is called each time Run starts waiting (a test hook).
	armed func()
}

// SchedulerOption configures a Scheduler.
type SchedulerOption func(*Scheduler)

// WithClock sets the scheduler's clock (default: the wall clock).
func WithClock(c Clock) SchedulerOption { return func(s *Scheduler) { s.clock = c } }

// NewScheduler returns an idle Scheduler; call Run to start firing.
func NewScheduler(opts ...SchedulerOption) *Scheduler {
	s := &Scheduler{clock: wallClock{}, entries: map[string]*entry{}, wake: make(chan struct{}, 1)}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Add registers fn under name. Rate schedules count from now.
func (s *Scheduler) Add(name string, sched *Schedule, fn Func) error {
	if sched == nil || fn == nil {
		return fmt.Errorf("schedule %s: schedule and callback are required", name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.entries[name]; ok {
		return fmt.Errorf("add %s: %w", name, ErrDuplicate)
	}
	s.entries[name] = &entry{name: name, sched: sched, fn: fn, next: sched.Next(s.clock.Now())}
	s.poke()
	return nil
}

// Remove unregisters name; it reports whether it was registered.
func (s *Scheduler) Remove(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.entries[name]
	if ok {
		delete(s.entries, name)
		s.poke()
	}
	return ok
}

// Next returns when name fires next (zero if never or unknown).
func (s *Scheduler) Next(name string) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.entries[name]; ok {
		return e.next
	}
	return time.Time{}
}

func (s *Scheduler) poke() {
	if !s.running {
		return
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run fires due schedules until ctx ends, then waits for running callbacks to return.
func (s *Scheduler) Run(ctx context.Context) {
	s.mu.Lock()
	s.running = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.running = false
		s.mu.Unlock()
	}()
	defer s.wg.Wait()
	for {
		now := s.clock.Now()
		var due []*entry
		var soonest time.Time
		s.mu.Lock()
		for name, e := range s.entries {
			if e.next.IsZero() {
				delete(s.entries, name) // an at() schedule that has fired
				continue
			}
			if !e.next.After(now) {
				due = append(due, &entry{name: e.name, fn: e.fn, next: e.next})
				e.next = e.sched.Next(maxTime(now, e.next))
				if e.sched.kind == kindRate {
					e.next = e.sched.Next(due[len(due)-1].next)
					for !e.next.After(now) {
						e.next = e.sched.Next(e.next)
					}
				}
				if e.next.IsZero() {
					delete(s.entries, name)
					continue
				}
			}
			if soonest.IsZero() || e.next.Before(soonest) {
				soonest = e.next
			}
		}
		s.mu.Unlock()
		for _, d := range due {
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				d.fn(ctx, d.next)
			}()
		}
		var timer <-chan time.Time
		if !soonest.IsZero() {
			timer = s.clock.After(soonest.Sub(now))
		}
		if s.armed != nil {
			s.armed()
		}
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-timer:
		}
	}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
