package usage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/plinth-ai/plinth/shared/store"
)

// Ledger writes usage records to the store, idempotently: each record and its aggregate
// update are one transaction whose record write is conditional on absence, so writing a
// record again (a retry, a replay from a spool, a redelivered message) changes nothing.
type Ledger struct {
	st  store.Store
	ttl time.Duration
}

// NewLedger returns a Ledger on st keeping records for ttl (aggregates 400 days).
func NewLedger(st store.Store, ttl time.Duration) *Ledger {
	if st == nil {
		panic("usage.NewLedger: nil store")
	}
	if ttl <= 0 {
		ttl = 90 * 24 * time.Hour
	}
	return &Ledger{st: st, ttl: ttl}
}

// maxBatch bounds the records a Recorder's worker writes in one store transaction:
// each adds a put, and the batch adds one aggregate update per tenant, model and day and
// one per tenant, key and day, within the store's 100 operations.
const maxBatch = 32

// maxOps is the store's limit on one transaction; Write fills transactions up to it.
const maxOps = 100

// WriteError names the records a Write could not store; the others are stored.
type WriteError struct {
	Failed []Record
	Err    error
}

func (e *WriteError) Error() string {
	return fmt.Sprintf("usage: %d records not stored: %v", len(e.Failed), e.Err)
}

func (e *WriteError) Unwrap() error { return e.Err }

// Unstored names the records to retry (spool.Partial): a spool's drainer retries only
// those.
func (e *WriteError) Unstored() []Record { return e.Failed }

// Write stores recs: in transactions of up to maxBatch records, or record by record when
// a batch fails (e.g. because one of its records is already stored). It fails only if
// some record could not be stored, with a *WriteError naming those worth retrying.
func (l *Ledger) Write(ctx context.Context, recs []Record) error {
	var (
		errs   []error
		failed []Record
	)
	for len(recs) > 0 {
		// As many records as one transaction holds: records of one tenant, model or key
		// on one day share their aggregate updates.
		ops, n, err := l.opsUpTo(recs, maxOps)
		batch := recs[:n]
		recs = recs[n:]
		if err == nil && n > 1 {
			if err := l.st.Transact(ctx, ops); err == nil {
				continue
			}
			ops = nil
		}
		for _, rec := range batch {
			// A batch of one keeps its operations; the records of a failed batch are
			// planned again one by one.
			if err := l.writeOne(ctx, rec, ops); err != nil {
				errs = append(errs, err)
				if !errors.Is(err, ErrInvalidRecord) {
					failed = append(failed, rec)
				}
			}
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return &WriteError{Failed: failed, Err: errors.Join(errs...)}
}

// WriteOne stores one record and its aggregate update; a record already stored means an
// earlier attempt succeeded, so nothing is added twice.
func (l *Ledger) WriteOne(ctx context.Context, rec Record) error {
	return l.writeOne(ctx, rec, nil)
}

// writeOne is WriteOne with the record's operations when they are already planned.
func (l *Ledger) writeOne(ctx context.Context, rec Record, ops []store.Op) error {
	if rec.Tenant == "" || rec.RequestID == "" || rec.Time.IsZero() {
		return fmt.Errorf("usage: record %q needs a tenant, a request ID and a time: %w", rec.RequestID, ErrInvalidRecord)
	}
	if ops == nil {
		var err error
		if ops, err = l.ops([]Record{rec}); err != nil {
			return err
		}
	}
	err := l.st.Transact(ctx, ops)
	if errors.Is(err, store.ErrConditionFailed) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("usage: write %s: %w", rec.RequestID, err)
	}
	return nil
}

// ErrInvalidRecord means a record lacks what the ledger keys it by; retrying cannot help.
var ErrInvalidRecord = errors.New("usage: invalid record")

// ops is one put per record (only if absent) and one aggregate update per tenant, model
// and day, and per tenant, key and day, carrying the records' summed counters.
func (l *Ledger) ops(batch []Record) ([]store.Op, error) {
	ops, _, err := l.opsUpTo(batch, len(batch)*3)
	return ops, err
}

// opsUpTo is ops for the longest prefix of recs (at least one record) whose operations
// stay within limit, and the prefix's length.
func (l *Ledger) opsUpTo(recs []Record, limit int) ([]store.Op, int, error) {
	// Each record needs a put and at most two aggregate updates (fewer when it shares
	// them with records before it).
	n := min(len(recs), max(limit-2, 1))
	ops := make([]store.Op, 0, min(max(limit, 3), 3*len(recs)))
	// The counters of every record share one backing array; a merge that adds a counter
	// (a guardrail type) reallocates only that op's slice, as each is capped.
	deltas := make([]store.Delta, 0, n*(nRecordDeltas+nKeyDeltas))
	var (
		scratch    [8]byte
		tenant     string
		aggP, keyP string
		taken      int
	)
	for ; taken < len(recs); taken++ {
		rec := &recs[taken]
		if aggP == "" || rec.Tenant != tenant {
			tenant, aggP, keyP = rec.Tenant, aggPK(rec.Tenant), keyAggPK(rec.Tenant)
		}
		day := rec.Time.UTC().AppendFormat(scratch[:0], "20060102")
		model, key := rec.Model, rec.KeyID
		if model == "" {
			model = "-"
		}
		if key == "" {
			key = "-"
		}
		aggS, keyS := string(day)+"#"+model, string(day)+"#"+key
		aggAt, keyAt := findAdd(ops, aggP, aggS), findAdd(ops, keyP, keyS)
		if need := 1 + b2i(aggAt < 0) + b2i(keyAt < 0); taken > 0 && len(ops)+need > limit {
			break
		}
		data, err := rec.AppendJSON(make([]byte, 0, 320))
		if err != nil {
			if taken == 0 {
				return nil, 1, err
			}
			break // the next call fails on it alone
		}
		ops = append(ops, store.Op{Kind: store.OpPut,
			Item: store.Item{Key: store.Key{PK: "USAGE#" + rec.Tenant + "#" + string(day), SK: recordSK(*rec)}, Data: data,
				ExpiresAt: rec.Time.Add(l.ttl)},
			Options: store.WriteOptions{Cond: store.IfNotExists}})
		expires := rec.Time.Add(400 * 24 * time.Hour)
		at := len(deltas)
		deltas = appendRecordDeltas(deltas, rec)
		ops = addAt(ops, aggAt, aggP, aggS, deltas[at:len(deltas):len(deltas)], expires)
		at = len(deltas)
		deltas = appendKeyDeltas(deltas, rec)
		ops = addAt(ops, keyAt, keyP, keyS, deltas[at:len(deltas):len(deltas)], expires)
	}
	return ops, taken, nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// findAdd is the index of the batch's aggregate update of an item, or -1. Updates are
// few per batch (a tenant's models and keys of the day): a scan finds them without a map.
func findAdd(ops []store.Op, pk, sk string) int {
	for i := range ops {
		if op := &ops[i]; op.Kind == store.OpAdd && op.Key.SK == sk && op.Key.PK == pk {
			return i
		}
	}
	return -1
}

// addAt merges an aggregate update into the batch's update at i, or adds one (i < 0).
func addAt(ops []store.Op, i int, pk, sk string, deltas []store.Delta, expires time.Time) []store.Op {
	if i >= 0 {
		ops[i].Deltas = mergeDeltas(ops[i].Deltas, deltas)
		return ops
	}
	return append(ops, store.Op{Kind: store.OpAdd, Key: store.Key{PK: pk, SK: sk}, Deltas: deltas,
		Add: store.AddOptions{ExpiresAt: expires}})
}
