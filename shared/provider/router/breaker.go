package router

import (
	"sync"
	"time"
)

type breakerKey struct{ model, deployment string }

type circuit int

const (
	closed circuit = iota
	open
	halfOpen
)

// breaker is one deployment's circuit: consecutive failures open it; after the cooldown
// one probe request passes (half-open); its success closes the circuit, its failure
// opens it again.
type breaker struct {
	mu       sync.Mutex
	circuit  circuit
	failures int
	openedAt time.Time
	probing  bool
}

func (r *Router) breaker(model, deployment string) *breaker {
	k := breakerKey{model, deployment}
	r.mu.RLock()
	b := r.breakers[k]
	r.mu.RUnlock()
	if b != nil {
		return b
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if b = r.breakers[k]; b == nil {
		b = &breaker{}
		r.breakers[k] = b
	}
	return b
}

// available reports whether acquire could succeed now, without changing anything.
func (b *breaker) available(now time.Time, cooldown time.Duration) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.circuit {
	case open:
		return now.Sub(b.openedAt) >= cooldown
	case halfOpen:
		return !b.probing
	}
	return true
}

// acquire lets a request through, turning an expired open circuit into a half-open probe.
func (b *breaker) acquire(now time.Time, cooldown time.Duration) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.circuit {
	case open:
		if now.Sub(b.openedAt) < cooldown {
			return false
		}
		b.circuit, b.probing = halfOpen, true
		return true
	case halfOpen:
		if b.probing {
			return false
		}
		b.probing = true
		return true
	}
	return true
}

func (b *breaker) success() {
	b.mu.Lock()
	b.circuit, b.failures, b.probing = closed, 0, false
	b.mu.Unlock()
}

func (b *breaker) failure(now time.Time, threshold int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failures++
	if b.circuit == halfOpen || b.failures >= threshold {
		b.circuit, b.openedAt, b.probing = open, now, false
	}
}

// release ends an attempt that says nothing about the deployment's health (a bad
// request, a cancelled client).
func (b *breaker) release() {
	b.mu.Lock()
	if b.circuit == halfOpen {
		b.probing = false
	}
	b.mu.Unlock()
}

func (b *breaker) state(now time.Time, cooldown time.Duration) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.circuit == open && now.Sub(b.openedAt) < cooldown:
		return "open"
	case b.circuit == open || b.circuit == halfOpen:
		return "half-open"
	}
	return "closed"
}
