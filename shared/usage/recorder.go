package usage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/plinth-ai/plinth/shared/store"
)

// ErrClosed is returned by Record after Close.
var ErrClosed = errors.New("usage: recorder closed")

type recOptions struct {
	queue       int
	workers     int
	enqueueWait time.Duration
	attempts    int
	backoff     time.Duration
	ttl         time.Duration
	log         *slog.Logger
	now         func() time.Time
	spool       Spool
}

// Option configures a Recorder.
type Option func(*recOptions)

// WithQueueSize bounds the number of records waiting to be written (default 4096, or
// spooledQueue with a spool, where the queue only carries records the spool refused).
func WithQueueSize(n int) Option { return func(o *recOptions) { o.queue = n } }

// WithWorkers sets how many background writers run (default 2).
func WithWorkers(n int) Option { return func(o *recOptions) { o.workers = n } }

// WithEnqueueWait is how long Record waits for queue space before writing synchronously
// (default 50 ms).
func WithEnqueueWait(d time.Duration) Option { return func(o *recOptions) { o.enqueueWait = d } }

// WithRetry sets the write attempts per record and the first backoff (default 6, 50 ms,
// doubling).
func WithRetry(attempts int, backoff time.Duration) Option {
	return func(o *recOptions) { o.attempts, o.backoff = attempts, backoff }
}

// WithRetention sets how long records are kept (default 90 days); aggregates are kept
// 400 days.
func WithRetention(d time.Duration) Option { return func(o *recOptions) { o.ttl = d } }

// WithLogger sets the logger for write failures (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(o *recOptions) { o.log = l } }

// WithClock sets the clock that stamps records recorded without a time (default
// time.Now).
func WithClock(now func() time.Time) Option {
	return func(o *recOptions) {
		if now != nil {
			o.now = now
		}
	}
}

// WithSpool makes Record hand every record to a durable spool (a file locally, a queue in
// AWS) instead of queueing it in memory: once Record returns, the record survives the
// process. The spool's drainer writes it to the ledger (Recorder.Ledger). Should the
// spool refuse a record, Record writes it to the store itself.
func WithSpool(s Spool) Option { return func(o *recOptions) { o.spool = s } }

// Spool keeps usage records durably between the request that made them and the ledger.
type Spool interface {
	// Append stores recs durably, or fails: once it returns nil, the records will reach
	// the ledger, exactly once, whatever happens to this process.
	Append(ctx context.Context, recs []Record) error
}

const (
	defaultQueue = 4096
	// spooledQueue is the queue beside a spool: it only holds records the spool refused
	// (a degraded mode), and when it is full Record writes synchronously, so a small one
	// loses nothing and does not keep ~1 MB of empty records for the process's life.
	spooledQueue = 64
)

// Recorder writes usage records asynchronously with a bounded queue. Records are never
// dropped silently: a full queue makes Record write synchronously, a failed write is
// retried with backoff, and a record that still cannot be written is logged at ERROR
// level in full (it holds no prompt text) so it can be replayed from the logs.
type Recorder struct {
	st     store.Store
	ledger *Ledger
	opt    recOptions
	q      chan Record

	mu      sync.RWMutex
	closed  bool
	wg      sync.WaitGroup
	abandon atomic.Bool

	pending inflight
}

// inflight counts records accepted but not yet settled; unlike sync.WaitGroup it may be
// incremented while someone waits.
type inflight struct {
	mu   sync.Mutex
	n    int
	idle chan struct{}
}

func (c *inflight) Add(int) {
	c.mu.Lock()
	if c.n == 0 {
		c.idle = make(chan struct{})
	}
	c.n++
	c.mu.Unlock()
}

func (c *inflight) Done() {
	c.mu.Lock()
	c.n--
	if c.n == 0 {
		close(c.idle)
	}
	c.mu.Unlock()
}

// zero returns a channel closed once nothing is in flight.
func (c *inflight) zero() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == 0 {
		ch := make(chan struct{})
		close(ch)
		return ch
	}
	return c.idle
}

// NewRecorder starts a Recorder writing to st. Call Close on shutdown to flush.
func NewRecorder(st store.Store, opts ...Option) *Recorder {
	if st == nil {
		panic("usage.NewRecorder: nil store")
	}
	o := recOptions{workers: 2, enqueueWait: 50 * time.Millisecond, attempts: 6, backoff: 50 * time.Millisecond,
		ttl: 90 * 24 * time.Hour, log: slog.Default(), now: time.Now}
	for _, f := range opts {
		f(&o)
	}
	if o.workers < 1 {
		o.workers = 1
	}
	if o.queue <= 0 {
		o.queue = defaultQueue
		if o.spool != nil {
			o.queue = spooledQueue
		}
	}
	r := &Recorder{st: st, ledger: NewLedger(st, o.ttl), opt: o, q: make(chan Record, o.queue)}
	for i := 0; i < o.workers; i++ {
		r.wg.Add(1)
		go r.work()
	}
	return r
}

// Record queues rec for writing. It fills Time and RequestID when empty. When the queue stays full for
// the enqueue wait, it writes rec synchronously instead of dropping it.
func (r *Recorder) Record(ctx context.Context, rec Record) error {
	if rec.Tenant == "" {
		return errors.New("usage: record needs a tenant")
	}
	if rec.RequestID == "" {
		// Never lose a record for want of an ID: give it one.
		var b [12]byte
		_, _ = rand.Read(b[:])
		rec.RequestID = "req_" + hex.EncodeToString(b[:])
	}
	if rec.Time.IsZero() {
		rec.Time = r.opt.now()
	}
	if r.opt.spool != nil {
		err := r.opt.spool.Append(ctx, []Record{rec})
		if err == nil {
			return nil
		}
		r.opt.log.Warn("usage spool refused a record; writing it to the store directly", "tenant", rec.Tenant, "request_id", rec.RequestID, "error", err)
	}
	r.mu.RLock()
	if r.closed {
		r.mu.RUnlock()
		return ErrClosed
	}
	r.pending.Add(1)
	select {
	case r.q <- rec:
		r.mu.RUnlock()
		return nil
	default:
	}
	t := time.NewTimer(r.opt.enqueueWait)
	defer t.Stop()
	select {
	case r.q <- rec:
		r.mu.RUnlock()
		return nil
	case <-t.C:
	case <-ctx.Done():
	}
	r.mu.RUnlock()
	r.opt.log.Warn("usage queue full; writing record synchronously", "tenant", rec.Tenant, "request_id", rec.RequestID)
	defer r.pending.Done()
	return r.writeWithRetry(context.WithoutCancel(ctx), rec)
}

// Ledger is the idempotent writer records end up in; a spool's drainer writes with it.
func (r *Recorder) Ledger() *Ledger { return r.ledger }

// Flush waits until every record queued so far is written (or given up and logged), and
// until a spool that can say so has drained.
func (r *Recorder) Flush(ctx context.Context) error {
	select {
	case <-r.pending.zero():
	case <-ctx.Done():
		return fmt.Errorf("usage: flush: %w", ctx.Err())
	}
	if f, ok := r.opt.spool.(interface{ Flush(context.Context) error }); ok {
		return f.Flush(ctx)
	}
	return nil
}

// Close stops accepting records and waits for queued ones to be written (graceful
// shutdown). If ctx ends first, the records still queued are logged in full at ERROR
// level instead of written, and Close returns ctx's error.
func (r *Recorder) Close(ctx context.Context) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	close(r.q)
	r.mu.Unlock()
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	// Out of time: log what is still queued instead of losing it with the process.
	r.abandon.Store(true)
	<-done
	return fmt.Errorf("usage: close: %w", ctx.Err())
}

func (r *Recorder) work() {
	defer r.wg.Done()
	batch := make([]Record, 0, maxBatch)
	for rec := range r.q {
		// Take what else is already queued, so that under load one transaction carries
		// many records instead of one commit each.
		batch = append(batch[:0], rec)
	drain:
		for len(batch) < maxBatch {
			select {
			case more, ok := <-r.q:
				if !ok {
					break drain
				}
				batch = append(batch, more)
			default:
				break drain
			}
		}
		r.writeBatch(batch)
		for range batch {
			r.pending.Done()
		}
	}
}

// writeBatch stores a batch in one transaction, or record by record (with retries) when
// that fails, e.g. because one of them was already stored by an earlier attempt.
func (r *Recorder) writeBatch(batch []Record) {
	if r.abandon.Load() {
		for _, rec := range batch {
			r.logLost(rec, ErrClosed)
		}
		return
	}
	if len(batch) > 1 {
		if ops, err := r.ledger.ops(batch); err == nil {
			if err = r.st.Transact(context.Background(), ops); err == nil {
				return
			}
		}
	}
	for _, rec := range batch {
		_ = r.writeWithRetry(context.Background(), rec)
	}
}

func (r *Recorder) writeWithRetry(ctx context.Context, rec Record) error {
	var err error
	backoff := r.opt.backoff
	for attempt := 1; attempt <= r.opt.attempts && !r.abandon.Load(); attempt++ {
		if err = r.ledger.WriteOne(ctx, rec); err == nil {
			return nil
		}
		if errors.Is(err, ErrInvalidRecord) {
			break
		}
		r.opt.log.Warn("usage record write failed; retrying", "tenant", rec.Tenant, "request_id", rec.RequestID, "attempt", attempt, "error", err)
		if attempt < r.opt.attempts {
			time.Sleep(backoff)
			backoff *= 2
		}
	}
	if err == nil {
		err = ErrClosed
	}
	r.logLost(rec, err)
	return fmt.Errorf("usage: write %s: %w", rec.RequestID, err)
}

// logLost writes a record that could not be stored to the log in full, for replay.
func (r *Recorder) logLost(rec Record, err error) {
	raw, _ := json.Marshal(rec)
	r.opt.log.Error("usage record NOT STORED; replay it from this log line",
		"tenant", rec.Tenant, "request_id", rec.RequestID, "error", err, "usage_record", string(raw))
}

// mergeDeltas adds src's counters into dst's. Both usually list the same counters in
// the same order; a counter dst lacks is appended.
func mergeDeltas(dst, src []store.Delta) []store.Delta {
	for j, d := range src {
		if j < len(dst) && dst[j].Name == d.Name {
			dst[j].By += d.By
			continue
		}
		found := false
		for i := range dst {
			if dst[i].Name == d.Name {
				dst[i].By += d.By
				found = true
				break
			}
		}
		if !found {
			dst = append(dst, d)
		}
	}
	return dst
}

// nRecordDeltas is how many counters every record adds to its tenant, model and day
// (guardrail counters come on top).
const nRecordDeltas = 10

// appendRecordDeltas appends the aggregate counters one record adds.
func appendRecordDeltas(deltas []store.Delta, rec *Record) []store.Delta {
	b := func(v bool) float64 {
		if v {
			return 1
		}
		return 0
	}
	deltas = append(deltas,
		store.Delta{Name: nRequests, By: 1},
		store.Delta{Name: nInput, By: float64(rec.InputTokens)},
		store.Delta{Name: nOutput, By: float64(rec.OutputTokens)},
		store.Delta{Name: nCost, By: math.Round(rec.CostUSD * microUSD)},
		store.Delta{Name: nCacheHits, By: b(rec.CacheHit)},
		store.Delta{Name: nErrors, By: b(rec.Status != StatusOK && rec.Status != "")},
		store.Delta{Name: nEstimated, By: b(rec.Estimated)},
		store.Delta{Name: nStreamed, By: b(rec.Streamed)},
		store.Delta{Name: nGuarded, By: b(rec.Guarded)},
		store.Delta{Name: nLatency, By: float64(rec.LatencyMS)},
	)
	for typ, n := range rec.Guardrail {
		deltas = append(deltas, store.Delta{Name: nGuardrail + typ, By: float64(n)})
	}
	return deltas
}
