package rag

import (
	"context"
	"time"

	"golang.org/x/time/rate"
)

// limiter is a token bucket (golang.org/x/time/rate) shared by every embedding call of a
// service, so a burst of ingestions cannot exceed the embedding model's request rate.
// Reservations are taken at the service's clock, so tests drive it without real time.
type limiter struct {
	bucket *rate.Limiter
	now    func() time.Time
	sleep  func(ctx context.Context, d time.Duration) error
}

func newLimiter(perSecond float64, burst int, now func() time.Time) *limiter {
	return &limiter{bucket: rate.NewLimiter(rate.Limit(perSecond), max(burst, 1)), now: now, sleep: sleepCtx}
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

// wait takes one token, sleeping until it is available; a call canceled while it waits
// gives its token back.
func (l *limiter) wait(ctx context.Context) error {
	if l == nil {
		return nil
	}
	now := l.now()
	r := l.bucket.ReserveN(now, 1)
	d := r.DelayFrom(now)
	if d <= 0 {
		return nil
	}
	if err := l.sleep(ctx, d); err != nil {
		r.CancelAt(l.now())
		return err
	}
	return nil
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
