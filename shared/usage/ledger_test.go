package usage_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plinth-ai/plinth/shared/store"
	"github.com/plinth-ai/plinth/shared/store/memstore"
	"github.com/plinth-ai/plinth/shared/usage"
)

// counting counts transactions and their largest size.
type counting struct {
	store.Store
	txs, most atomic.Int64
}

func (c *counting) Transact(ctx context.Context, ops []store.Op) error {
	c.txs.Add(1)
	if n := int64(len(ops)); n > c.most.Load() {
		c.most.Store(n)
	}
	return c.Store.Transact(ctx, ops)
}

// TestLedgerFillsTransactions: a Write puts as many records in one transaction as the
// store's 100 operations hold (records of one tenant, model and key share their two
// aggregate updates), and the aggregates count every record once.
func TestLedgerFillsTransactions(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name        string
		n, wantTxs  int
		model, key  func(i int) string
		wantAggRows int
	}{
		{"one model and key", 98, 1, func(int) string { return "m" }, func(int) string { return "k" }, 1},
		{"a model and key each", 40, 2, func(i int) string { return fmt.Sprint("m", i) }, func(i int) string { return fmt.Sprint("k", i) }, 40},
		{"two models", 150, 2, func(i int) string { return fmt.Sprint("m", i%2) }, func(int) string { return "k" }, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := &counting{Store: memstore.New(memstore.WithClock(testNow))}
			var recs []usage.Record
			for i := range tc.n {
				r := record("acme", tc.model(i), day1.Add(time.Duration(i)*time.Millisecond), i, 2, 3, 0.01)
				r.KeyID = tc.key(i)
				recs = append(recs, r)
			}
			if err := usage.NewLedger(st, 0).Write(ctx, recs); err != nil {
				t.Fatal(err)
			}
			if got := st.txs.Load(); got != int64(tc.wantTxs) || st.most.Load() > 100 {
				t.Fatalf("%d transactions of up to %d operations, want %d of at most 100", got, st.most.Load(), tc.wantTxs)
			}
			// Written again (a replay): nothing changes.
			if err := usage.NewLedger(st, 0).Write(ctx, recs); err != nil {
				t.Fatal(err)
			}
			rg, _ := usage.ParseRange("2026-11-24", "2026-11-24", day1)
			rows, total, err := usage.NewService(st, nil).Summary(ctx, "acme", rg, "model")
			if err != nil {
				t.Fatal(err)
			}
			if total.Requests != int64(tc.n) || total.InputTokens != int64(2*tc.n) || len(rows) != tc.wantAggRows {
				t.Fatalf("totals %+v over %d rows, want %d requests over %d", total, len(rows), tc.n, tc.wantAggRows)
			}
			keys, err := usage.NewService(st, nil).ByKey(ctx, "acme", rg)
			if err != nil {
				t.Fatal(err)
			}
			var byKey int64
			for _, k := range keys {
				byKey += k.Requests
			}
			if byKey != int64(tc.n) {
				t.Fatalf("per-key rows count %d requests, want %d", byKey, tc.n)
			}
		})
	}
}

// BenchmarkLedgerWrite writes batches of records of one tenant, model and key, as the
// usage spool's drainer does, and reports the store commits per record.
func BenchmarkLedgerWrite(b *testing.B) {
	for _, size := range []int{1, 8, 40} {
		b.Run(fmt.Sprint("batch=", size), func(b *testing.B) {
			st := &counting{Store: memstore.New(memstore.WithClock(testNow))}
			l := usage.NewLedger(st, 0)
			ctx := context.Background()
			batch := make([]usage.Record, size)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				for j := range batch {
					batch[j] = record("acme", "gpt-4o-mini", day1.Add(time.Duration(i)*time.Microsecond), i, 1200, 50, 0.0004)
					i++
				}
				if err := l.Write(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(st.txs.Load())/float64(i), "commits/record")
		})
	}
}
