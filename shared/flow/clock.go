package flow

import (
	"sort"
	"sync"
	"time"
)

// Clock is the executor's source of time. Wait states, retry intervals, task timeouts and
// execution timeouts all go through it, so tests can drive time without sleeping.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives the time once d has elapsed on this clock.
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now().UTC() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// RealClock is the wall clock.
var RealClock Clock = realClock{}

// FakeClock is a manually driven Clock for tests. Time moves only through Advance (or,
// with auto-advance, whenever something waits on it), so no test ever sleeps.
type FakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []fakeWaiter
	auto    bool
	changed chan struct{}
}

type fakeWaiter struct {
	at time.Time
	ch chan time.Time
}

// NewFakeClock returns a FakeClock reading start. With autoAdvance, Wait states and retry
// intervals advance the clock by their duration at once instead of blocking (firing any
// task or execution timeout that falls due); without it, they block until Advance.
func NewFakeClock(start time.Time, autoAdvance bool) *FakeClock {
	return &FakeClock{now: start, auto: autoAdvance, changed: make(chan struct{})}
}

// Now implements Clock.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// After implements Clock.
func (c *FakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	at := c.now.Add(d)
	c.waiters = append(c.waiters, fakeWaiter{at: at, ch: ch})
	close(c.changed)
	c.changed = make(chan struct{})
	return ch
}

// Advance moves the clock forward by d, firing every waiter that is due.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	sort.Slice(c.waiters, func(i, j int) bool { return c.waiters[i].at.Before(c.waiters[j].at) })
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(c.now) {
			w.ch <- c.now
			continue
		}
		kept = append(kept, w)
	}
	c.waiters = kept
}

// Waiters reports how many After calls are pending.
func (c *FakeClock) Waiters() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.waiters)
}

// BlockUntil returns once at least n After calls are pending, or when done is closed.
func (c *FakeClock) BlockUntil(n int, done <-chan struct{}) {
	for {
		c.mu.Lock()
		if len(c.waiters) >= n {
			c.mu.Unlock()
			return
		}
		ch := c.changed
		c.mu.Unlock()
		select {
		case <-ch:
		case <-done:
			return
		}
	}
}

// skip advances an auto-advancing clock by d and reports whether it did.
func (c *FakeClock) skip(d time.Duration) bool {
	if !c.auto {
		return false
	}
	c.Advance(d)
	return true
}
