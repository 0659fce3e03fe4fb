package rag

import (
	"context"
	"testing"
	"time"
)

func TestLimiterSpacesCallsBeyondTheBurst(t *testing.T) {
	now := time.Unix(0, 0)
	var slept []time.Duration
	l := newLimiter(2, 3, func() time.Time { return now })
	l.sleep = func(_ context.Context, d time.Duration) error {
		slept = append(slept, d)
		now = now.Add(d)
		return nil
	}
	for i := 0; i < 5; i++ {
		if err := l.wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	// Three calls pass on the burst; the next two wait half a second each at 2/s.
	if len(slept) != 2 || slept[0] != 500*time.Millisecond || slept[1] != 500*time.Millisecond {
		t.Fatalf("slept %v, want two waits of 500ms", slept)
	}
	var none *limiter
	if err := none.wait(context.Background()); err != nil {
		t.Fatalf("nil limiter: %v", err)
	}
}

func TestLimiterReturnsTheTokenOfACanceledWait(t *testing.T) {
	now := time.Unix(0, 0)
	l := newLimiter(1, 1, func() time.Time { return now })
	var slept []time.Duration
	l.sleep = func(ctx context.Context, d time.Duration) error {
		slept = append(slept, d)
		return ctx.Err()
	}
	if err := l.wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.wait(ctx); err == nil {
		t.Fatal("a canceled wait succeeded")
	}
	// The canceled caller's token is back: the next caller waits one interval, not two.
	if err := l.wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(slept) != 2 || slept[1] != time.Second {
		t.Fatalf("slept %v, want the second wait to be 1s", slept)
	}
}
