package rag

import (
	"context"
	"sync"
	"time"
)

// limiter is a token bucket shared by every embedding call of a service, so a burst of
// ingestions cannot exceed the embedding model's request rate.
type limiter struct {
	mu     sync.Mutex
	rate   float64 // tokens per second
	burst  float64
	tokens float64
	last   time.Time
	now    func() time.Time
	sleep  func(ctx context.Context, d time.Duration) error
}

func newLimiter(perSecond float64, burst int, now func() time.Time) *limiter {
	return &limiter{rate: perSecond, burst: float64(max(burst, 1)), tokens: float64(max(burst, 1)), last: now(), now: now, sleep: sleepCtx}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// wait takes one token, sleeping until one is available.
func (l *limiter) wait(ctx context.Context) error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	now := l.now()
	l.tokens = min(l.burst, l.tokens+now.Sub(l.last).Seconds()*l.rate)
	l.last = now
	l.tokens--
	deficit := -l.tokens
	l.mu.Unlock()
	if deficit <= 0 {
		return nil
	}
	return l.sleep(ctx, time.Duration(deficit/l.rate*float64(time.Second)))
}

// WithEmbedRateLimit caps embedding calls (batches) at perSecond with bursts of burst,
// across all ingestions and queries of the service.
func WithEmbedRateLimit(perSecond float64, burst int) Option {
	return func(s *Service) {
		if perSecond > 0 {
			s.limit = newLimiter(perSecond, burst, func() time.Time { return s.now() })
		}
	}
}
