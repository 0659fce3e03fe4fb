package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

type writerOptions struct {
	queue    int
	attempts int
	backoff  time.Duration
	log      *slog.Logger
	now      func() time.Time
}

// WriterOption configures a Writer.
type WriterOption func(*writerOptions)

// WithQueueSize bounds the events waiting to be appended (default 4096); when full,
// Record appends synchronously rather than drop.
func WithQueueSize(n int) WriterOption { return func(o *writerOptions) { o.queue = n } }

// WithRetry sets the append attempts per event and the first backoff (default 6, 50 ms,
// doubling).
func WithRetry(attempts int, backoff time.Duration) WriterOption {
	return func(o *writerOptions) { o.attempts, o.backoff = attempts, backoff }
}

// WithLogger sets the logger for append failures (default slog.Default()).
func WithLogger(l *slog.Logger) WriterOption { return func(o *writerOptions) { o.log = l } }

// WithClock sets the clock that stamps events without a time (default time.Now).
func WithClock(now func() time.Time) WriterOption { return func(o *writerOptions) { o.now = now } }

// Writer is the Recorder the platform wires: Record stamps the event (ID, time) and
// queues it; a background worker appends it to the Log with retries. An event that
// still cannot be appended is logged in full at ERROR level (it holds no secrets), so
// nothing is dropped silently. Close flushes.
type Writer struct {
	log Log
	opt writerOptions
	q   chan Event

	mu      sync.RWMutex
	closed  bool
	done    chan struct{}
	pending sync.WaitGroup
}

var _ Recorder = (*Writer)(nil)

// NewWriter starts a Writer appending to l.
func NewWriter(l Log, opts ...WriterOption) *Writer {
	if l == nil {
		panic("audit.NewWriter: nil log")
	}
	o := writerOptions{queue: 4096, attempts: 6, backoff: 50 * time.Millisecond, log: slog.Default(), now: time.Now}
	for _, f := range opts {
		f(&o)
	}
	if o.attempts < 1 {
		o.attempts = 1
	}
	w := &Writer{log: l, opt: o, q: make(chan Event, o.queue), done: make(chan struct{})}
	go w.work()
	return w
}

// Record queues e for appending. It fills ID and Time when empty.
func (w *Writer) Record(ctx context.Context, e Event) {
	if e.Time.IsZero() {
		e.Time = w.opt.now()
	}
	e.Time = e.Time.UTC()
	if e.ID == "" {
		e.ID = NewID(e.Time)
	}
	if err := e.Validate(); err != nil {
		w.lost(e, err)
		return
	}
	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		w.lost(e, ErrClosed)
		return
	}
	w.pending.Add(1)
	select {
	case w.q <- e:
		w.mu.RUnlock()
		return
	default:
	}
	w.mu.RUnlock()
	w.opt.log.Warn("audit queue full; appending synchronously", "action", e.Action, "request_id", e.RequestID)
	defer w.pending.Done()
	w.appendWithRetry(context.WithoutCancel(ctx), e)
}

// Flush waits until every event recorded so far is appended (or logged as lost).
func (w *Writer) Flush(ctx context.Context) error {
	done := make(chan struct{})
	go func() { w.pending.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("audit: flush: %w", ctx.Err())
	}
}

// Close stops accepting events and waits for the queued ones to be appended.
func (w *Writer) Close(ctx context.Context) error {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.q)
	}
	w.mu.Unlock()
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("audit: close: %w", ctx.Err())
	}
}

func (w *Writer) work() {
	defer close(w.done)
	for e := range w.q {
		w.appendWithRetry(context.Background(), e)
		w.pending.Done()
	}
}

func (w *Writer) appendWithRetry(ctx context.Context, e Event) {
	backoff := w.opt.backoff
	var err error
	for attempt := 1; attempt <= w.opt.attempts; attempt++ {
		err = w.log.Append(ctx, e)
		if err == nil || errors.Is(err, ErrExists) {
			return
		}
		if errors.Is(err, ErrInvalid) {
			break
		}
		w.opt.log.Warn("audit append failed; retrying", "action", e.Action, "request_id", e.RequestID, "attempt", attempt, "error", err)
		if attempt < w.opt.attempts {
			time.Sleep(backoff)
			backoff *= 2
		}
	}
	w.lost(e, err)
}

// lost logs an event that could not be appended, in full, so it can be replayed.
func (w *Writer) lost(e Event, err error) {
	raw, _ := json.Marshal(e)
	w.opt.log.Error("audit event NOT STORED; replay it from this log line", "action", e.Action, "request_id", e.RequestID,
		"error", err, "audit_event", string(raw))
}
