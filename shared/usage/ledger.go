package usage

import (
	"context"
	"encoding/json"
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

// maxBatch bounds the records written in one store transaction: each adds a put, and
// the batch adds one aggregate update per tenant, model and day and one per tenant, key
// and day, within the store's 100 operations.
const maxBatch = 32

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
		n := min(len(recs), maxBatch)
		batch := recs[:n]
		recs = recs[n:]
		if len(batch) > 1 {
			if ops, err := l.ops(batch); err == nil {
				if err := l.st.Transact(ctx, ops); err == nil {
					continue
				}
			}
		}
		for _, rec := range batch {
			if err := l.WriteOne(ctx, rec); err != nil {
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
	if rec.Tenant == "" || rec.RequestID == "" || rec.Time.IsZero() {
		return fmt.Errorf("usage: record %q needs a tenant, a request ID and a time: %w", rec.RequestID, ErrInvalidRecord)
	}
	ops, err := l.ops([]Record{rec})
	if err != nil {
		return err
	}
	err = l.st.Transact(ctx, ops)
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
// and day carrying the records' summed counters.
func (l *Ledger) ops(batch []Record) ([]store.Op, error) {
	ops := make([]store.Op, 0, len(batch)+2)
	aggs := map[store.Key]int{} // aggregate key → index of its op
	for _, rec := range batch {
		data, err := json.Marshal(rec)
		if err != nil {
			return nil, err
		}
		ops = append(ops, store.Op{Kind: store.OpPut,
			Item:    store.Item{Key: store.Key{PK: recordPK(rec.Tenant, rec.Time), SK: recordSK(rec)}, Data: data, ExpiresAt: rec.Time.Add(l.ttl)},
			Options: store.WriteOptions{Cond: store.IfNotExists}})
		day := rec.Time.UTC().Format("20060102")
		model := rec.Model
		if model == "" {
			model = "-"
		}
		key := store.Key{PK: aggPK(rec.Tenant), SK: day + "#" + model}
		deltas := recordDeltas(rec)
		if i, ok := aggs[key]; ok {
			ops[i].Deltas = mergeDeltas(ops[i].Deltas, deltas)
			continue
		}
		aggs[key] = len(ops)
		ops = append(ops, store.Op{Kind: store.OpAdd, Key: key, Deltas: deltas,
			Add: store.AddOptions{ExpiresAt: rec.Time.Add(400 * 24 * time.Hour)}})
	}
	// Per-key aggregates: what each application (use case) of a tenant called and spent.
	for _, rec := range batch {
		key := keyAggKey(rec)
		deltas := keyDeltas(rec)
		if i, ok := aggs[key]; ok {
			ops[i].Deltas = mergeDeltas(ops[i].Deltas, deltas)
			continue
		}
		aggs[key] = len(ops)
		ops = append(ops, store.Op{Kind: store.OpAdd, Key: key, Deltas: deltas,
			Add: store.AddOptions{ExpiresAt: rec.Time.Add(400 * 24 * time.Hour)}})
	}
	return ops, nil
}
