package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/plinth-ai/plinth/shared/spool"
)

type writerOptions struct {
	spool    spool.Spool[Event]
	queue    int
	attempts int
	backoff  time.Duration
	log      *slog.Logger
	now      func() time.Time
}

// WriterOption configures a Writer.
type WriterOption func(*writerOptions)

// WithSpool makes Record hand every event to a durable spool (a file locally, a queue in
// AWS) before it returns: once the action's response is sent, its event survives the
// process, and the spool's drainer appends it to the log (Store) exactly once. Should
// the spool refuse an event, Record falls back to appending it itself.
func WithSpool(s spool.Spool[Event]) WriterOption { return func(o *writerOptions) { o.spool = s } }

// WithQueueSize bounds the events waiting to be appended (default 4096, or 64 with a
// spool, where the queue only carries events the spool refused); when full, Record
// appends synchronously rather than drop.
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
// spools it durably (WithSpool), or queues it for a background worker that appends it to
// the Log with retries. An event that still cannot be appended is logged in full at
// ERROR level (it holds no secrets), so nothing is dropped silently. Close flushes.
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
	o := writerOptions{attempts: 6, backoff: 50 * time.Millisecond, log: slog.Default(), now: time.Now}
	for _, f := range opts {
		f(&o)
	}
	if o.attempts < 1 {
		o.attempts = 1
	}
	if o.queue <= 0 {
		// Beside a spool the queue is a fallback only; a full one appends synchronously,
		// so a small one loses nothing and does not hold ~1 MB for the process's life.
		o.queue = 4096
		if o.spool != nil {
			o.queue = 64
		}
	}
	w := &Writer{log: l, opt: o, q: make(chan Event, o.queue), done: make(chan struct{})}
	go w.work()
	return w
}

// Record spools e (WithSpool), or queues it for appending. It fills ID and Time when
// empty: the ID is fixed before the event leaves Record, so however often a spool or a
// retry delivers it, the log holds it once.
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
	if w.opt.spool != nil {
		err := w.opt.spool.Append(context.WithoutCancel(ctx), []Event{e})
		if err == nil {
			return
		}
		w.opt.log.Warn("audit spool refused an event; appending it directly", "action", e.Action, "request_id", e.RequestID, "error", err)
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

// Flush waits until every event recorded so far is appended (or logged as lost), and
// until a spool that can say so has drained.
func (w *Writer) Flush(ctx context.Context) error {
	done := make(chan struct{})
	go func() { w.pending.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("audit: flush: %w", ctx.Err())
	}
	if f, ok := w.opt.spool.(interface{ Flush(context.Context) error }); ok {
		return f.Flush(ctx)
	}
	return nil
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
func (w *Writer) lost(e Event, err error) { logLost(w.opt.log, e, err) }

func logLost(log *slog.Logger, e Event, err error) {
	raw, _ := json.Marshal(e)
	log.Error("audit event NOT STORED; replay it from this log line", "action", e.Action, "request_id", e.RequestID,
		"error", err, "audit_event", string(raw))
}

// AppendError names the events a Store sink could not append (spool.Partial); the
// others are in the log.
type AppendError struct {
	Failed []Event
	Err    error
}

func (e *AppendError) Error() string {
	return fmt.Sprintf("audit: %d events not appended: %v", len(e.Failed), e.Err)
}

func (e *AppendError) Unwrap() error { return e.Err }

// Unstored names the events to retry.
func (e *AppendError) Unstored() []Event { return e.Failed }

// Store is the sink a spool drains into: it appends each event to l. An event already
// there (ErrExists: a replay after a crash, a redelivered message) counts as appended;
// an event the log refuses as invalid can never be appended, so it is logged in full at
// ERROR level instead of retried forever; the others that fail are named in an
// *AppendError for the spool to retry.
func Store(l Log, log *slog.Logger) spool.Sink[Event] {
	if l == nil {
		panic("audit.Store: nil log")
	}
	if log == nil {
		log = slog.Default()
	}
	return func(ctx context.Context, events []Event) error {
		var (
			failed []Event
			errs   []error
		)
		for _, e := range events {
			err := l.Append(ctx, e)
			switch {
			case err == nil, errors.Is(err, ErrExists):
			case errors.Is(err, ErrInvalid):
				logLost(log, e, err)
			default:
				failed = append(failed, e)
				errs = append(errs, err)
			}
		}
		if len(failed) == 0 {
			return nil
		}
		return &AppendError{Failed: failed, Err: errors.Join(errs...)}
	}
}

// Key names an event for a spool: its ID, which the log is keyed by ("" for a message
// that is not an event).
func Key(e Event) string { return e.ID }
