package quota_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/plinth-ai/plinth/shared/quota"
	"github.com/plinth-ai/plinth/shared/store"
	"github.com/plinth-ai/plinth/shared/store/memstore"
	"github.com/plinth-ai/plinth/shared/tenant"
)

// counting counts store round trips by operation.
type counting struct {
	store.Store
	gets, adds, txs atomic.Int64
}

func (c *counting) Get(ctx context.Context, k store.Key) (store.Item, error) {
	c.gets.Add(1)
	return c.Store.Get(ctx, k)
}

func (c *counting) Add(ctx context.Context, k store.Key, d []store.Delta, o store.AddOptions) (store.Item, error) {
	c.adds.Add(1)
	return c.Store.Add(ctx, k, d, o)
}

func (c *counting) Transact(ctx context.Context, ops []store.Op) error {
	c.txs.Add(1)
	return c.Store.Transact(ctx, ops)
}

func (c *counting) total() int64 { return c.gets.Load() + c.adds.Load() + c.txs.Load() }

// TestRoundTrips pins the store round trips the hot path makes.
func TestRoundTrips(t *testing.T) {
	tests := []struct {
		name                string
		limits              tenant.Limits
		keyLimits           *tenant.Limits
		reserve, adds, txs  int64
		reconcile, noChange int64
	}{
		{"no limits", tenant.Limits{}, nil, 0, 0, 0, 0, 0},
		{"minute and day limits: one Add", tenant.Limits{RequestsPerMinute: 100, TokensPerMinute: 1e6, DailyUSD: 10}, nil, 1, 1, 0, 1, 0},
		{"monthly only: one Add", tenant.Limits{MonthlyUSD: 10}, nil, 1, 1, 0, 1, 0},
		{"minute and monthly: one Transact", tenant.Limits{RequestsPerMinute: 100, MonthlyUSD: 10}, nil, 1, 0, 1, 1, 0},
		{"tenant and key: one Transact", tenant.Limits{RequestsPerMinute: 100}, &tenant.Limits{TokensPerMinute: 1e6}, 1, 0, 1, 1, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			st := &counting{Store: memstore.New()}
			q := quota.New(st)
			req := quota.ReserveRequest{Tenant: "acme", KeyID: "key_1", Limits: tc.limits, KeyLimits: tc.keyLimits, EstTokens: 100, EstUSD: 0.01, Now: at}
			r, err := q.Reserve(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if st.total() != tc.reserve || st.adds.Load() != tc.adds || st.txs.Load() != tc.txs {
				t.Fatalf("reserve: %d round trips (%d adds, %d transactions)", st.total(), st.adds.Load(), st.txs.Load())
			}
			before := st.total()
			if err := q.Reconcile(ctx, r, 60, 0.006); err != nil {
				t.Fatal(err)
			}
			if got := st.total() - before; got != tc.reconcile {
				t.Fatalf("reconcile: %d round trips, want %d", got, tc.reconcile)
			}
			r2, err := q.Reserve(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			before = st.total()
			if err := q.Reconcile(ctx, r2, r2.Tokens, r2.USD); err != nil {
				t.Fatal(err)
			}
			if got := st.total() - before; got != tc.noChange {
				t.Fatalf("reconcile without change: %d round trips", got)
			}
		})
	}
}
