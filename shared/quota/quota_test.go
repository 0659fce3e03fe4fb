package quota_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plinth-ai/plinth/shared/quota"
	"github.com/plinth-ai/plinth/shared/store"
	"github.com/plinth-ai/plinth/shared/store/boltstore"
	"github.com/plinth-ai/plinth/shared/store/memstore"
	"github.com/plinth-ai/plinth/shared/store/tiered"
	"github.com/plinth-ai/plinth/shared/tenant"
)

// at is the tests' request time. Stores judge expiry by their own clock, so every store a
// test builds is given clock too: with the wall clock, quota windows written at a fixed
// past time would be expired on arrival and the tests would depend on today's date.
var at = time.Date(2026, 11, 25, 10, 0, 20, 0, time.UTC)

func clock() time.Time { return at }

func memStore(testing.TB) store.Store { return memstore.New(memstore.WithClock(clock)) }

func boltStore(t testing.TB) store.Store {
	s, err := boltstore.Open(filepath.Join(t.TempDir(), "plinth.db"), boltstore.WithNoSync(), boltstore.WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// tieredStore is the local platform's quota store: counters in memory over the embedded
// file, written back in the background.
func tieredStore(t testing.TB) store.Store {
	s := tiered.New(boltStore(t), tiered.WithPrefixes("QUOTA#"), tiered.WithClock(clock))
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}

// stores are the shared backends the guarantee is tested on.
var stores = map[string]func(testing.TB) store.Store{
	"memstore":  memStore,
	"boltstore": boltStore,
	"tiered":    tieredStore,
}

// raceCase is one concurrency scenario: n requests race through instances gateway
// instances sharing one store; exactly want must be admitted.
type raceCase struct {
	name      string
	limits    tenant.Limits
	keyLimits *tenant.Limits
	estTokens int64
	estUSD    float64
	want      int
	code      string
	// oneItem is true when all limits live on one item (a single conditional Add).
	oneItem bool
}

var raceCases = []raceCase{
	// 1.00 USD / 0.03 USD per request: 33 feasible, the per-minute limit is not binding.
	{name: "monthly budget binds", limits: tenant.Limits{RequestsPerMinute: 150, MonthlyUSD: 1}, estTokens: 300, estUSD: 0.03, want: 33, code: "insufficient_quota"},
	{name: "requests per minute binds", limits: tenant.Limits{RequestsPerMinute: 37, DailyTokens: 1_000_000}, estTokens: 100, estUSD: 0.001, want: 37, code: "rate_limit_exceeded", oneItem: true},
	{name: "daily tokens bind", limits: tenant.Limits{DailyTokens: 10_000}, estTokens: 450, want: 22, code: "insufficient_quota", oneItem: true},
	{name: "key limit binds under tenant limits", limits: tenant.Limits{RequestsPerMinute: 100, MonthlyTokens: 1_000_000}, keyLimits: &tenant.Limits{TokensPerMinute: 5_000}, estTokens: 400, want: 12, code: "rate_limit_exceeded"},
}

// RunRace races 200 reservations with a barrier through 4 Quotas instances sharing st and
// checks that exactly the feasible number is admitted and no counter passes its limit.
// With oneItemOnly, only scenarios needing no transaction run.
func RunRace(t *testing.T, newStore func(testing.TB) store.Store, oneItemOnly bool) {
	for _, tc := range raceCases {
		if oneItemOnly && !tc.oneItem {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			st := newStore(t)
			instances := make([]*quota.Quotas, 4)
			for i := range instances {
				instances[i] = quota.New(st)
			}
			const n = 200
			var (
				start    = make(chan struct{})
				wg       sync.WaitGroup
				admitted atomic.Int64
				refused  atomic.Int64
				mu       sync.Mutex
				errs     []error
			)
			for i := 0; i < n; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					<-start
					_, err := instances[i%len(instances)].Reserve(context.Background(), quota.ReserveRequest{
						Tenant: "acme", KeyID: "key_1", Limits: tc.limits, KeyLimits: tc.keyLimits,
						EstTokens: tc.estTokens, EstUSD: tc.estUSD, Now: at,
					})
					var le *quota.LimitError
					switch {
					case err == nil:
						admitted.Add(1)
					case errors.As(err, &le):
						refused.Add(1)
						if le.Code() != tc.code {
							mu.Lock()
							errs = append(errs, fmt.Errorf("code %s (%v), want %s", le.Code(), le, tc.code))
							mu.Unlock()
						}
					default:
						mu.Lock()
						errs = append(errs, err)
						mu.Unlock()
					}
				}(i)
			}
			close(start)
			wg.Wait()
			for _, err := range errs {
				t.Error(err)
			}
			if got := admitted.Load(); got != int64(tc.want) || refused.Load() != int64(n-tc.want) {
				t.Fatalf("admitted %d refused %d, want exactly %d admitted", got, refused.Load(), tc.want)
			}
			u, err := quota.New(st).Current(context.Background(), "acme", "", at)
			if err != nil {
				t.Fatal(err)
			}
			l := tc.limits
			if (l.RequestsPerMinute > 0 && u.RequestsThisMinute > l.RequestsPerMinute) ||
				(l.MonthlyUSD > 0 && u.USDThisMonth > l.MonthlyUSD) ||
				(l.DailyTokens > 0 && u.TokensToday > l.DailyTokens) ||
				(l.MonthlyTokens > 0 && u.TokensThisMonth > l.MonthlyTokens) {
				t.Fatalf("counters passed limits: %+v vs %+v", u, l)
			}
			wantSpend := float64(tc.want) * tc.estUSD
			if l.MonthlyUSD > 0 && (u.USDThisMonth < wantSpend-1e-9 || u.USDThisMonth > wantSpend+1e-9) {
				t.Fatalf("recorded spend %.6f, want %.6f", u.USDThisMonth, wantSpend)
			}
		})
	}
}

func TestConcurrentReservations(t *testing.T) {
	for name, newStore := range stores {
		t.Run(name, func(t *testing.T) { RunRace(t, newStore, false) })
	}
}

func TestRefusalsAndReconcile(t *testing.T) {
	ctx := context.Background()
	q := quota.New(memStore(t))
	req := quota.ReserveRequest{Tenant: "acme", KeyID: "key_1", Limits: tenant.Limits{RequestsPerMinute: 3, MonthlyUSD: 1}, EstTokens: 1000, EstUSD: 0.4, Now: at}

	r1, err := q.Reserve(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.Reserve(ctx, req); err != nil {
		t.Fatal(err)
	}
	_, err = q.Reserve(ctx, req)
	var le *quota.LimitError
	if !errors.As(err, &le) || !errors.Is(err, quota.ErrBudgetExceeded) || le.Limit != "monthly_usd" || le.Code() != "insufficient_quota" {
		t.Fatalf("third: %v", err)
	}
	if want := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC).Sub(at); le.RetryAfter != want {
		t.Fatalf("retry after %s, want %s", le.RetryAfter, want)
	}

	// Reconciling the first request down to its real cost frees budget for another.
	if err := q.Reconcile(ctx, r1, 200, 0.05); err != nil {
		t.Fatal(err)
	}
	if err := q.Reconcile(ctx, r1, 200, 0.05); err == nil {
		t.Fatal("second reconcile accepted")
	}
	if _, err := q.Reserve(ctx, req); err != nil {
		t.Fatalf("after reconcile: %v", err)
	}
	u, _ := q.Current(ctx, "acme", "", at)
	if u.RequestsThisMinute != 3 || u.USDThisMonth != 0.85 || u.TokensThisMonth != 2200 {
		t.Fatalf("counters %+v", u)
	}
	// The fourth request in the minute is refused by the rate limit until the next minute.
	_, err = q.Reserve(ctx, quota.ReserveRequest{Tenant: "acme", Limits: req.Limits, EstTokens: 1, EstUSD: 0.0001, Now: at})
	if !errors.As(err, &le) || !errors.Is(err, quota.ErrRateLimited) || le.Limit != "requests_per_minute" || le.RetryAfter != 40*time.Second {
		t.Fatalf("rate: %v", err)
	}
	if _, err := q.Reserve(ctx, quota.ReserveRequest{Tenant: "acme", Limits: req.Limits, EstTokens: 1, EstUSD: 0.0001, Now: at.Add(40 * time.Second)}); err != nil {
		t.Fatalf("next minute: %v", err)
	}
	// A cache hit keeps its request but gives back all tokens and cost.
	r, err := q.Reserve(ctx, quota.ReserveRequest{Tenant: "acme", Limits: req.Limits, EstTokens: 100, EstUSD: 0.01, Now: at.Add(41 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	before, _ := q.Current(ctx, "acme", "", at.Add(41*time.Second))
	if err := q.Reconcile(ctx, r, 0, 0); err != nil {
		t.Fatal(err)
	}
	after, _ := q.Current(ctx, "acme", "", at.Add(41*time.Second))
	if after.RequestsThisMinute != before.RequestsThisMinute || after.TokensThisMinute != before.TokensThisMinute-100 || after.USDThisMonth >= before.USDThisMonth {
		t.Fatalf("cache hit: before %+v after %+v", before, after)
	}
}

func TestRequestLargerThanLimit(t *testing.T) {
	q := quota.New(memStore(t))
	_, err := q.Reserve(context.Background(), quota.ReserveRequest{Tenant: "acme", Limits: tenant.Limits{TokensPerMinute: 1000}, EstTokens: 4000, Now: at})
	var le *quota.LimitError
	if !errors.As(err, &le) || !le.TooLarge || le.RetryAfter <= 0 || le.RetryAfter > time.Minute || le.Limit != "tokens_per_minute" {
		t.Fatalf("err = %v", err)
	}
}

func TestNoLimitsNoWrites(t *testing.T) {
	st := memStore(t)
	r, err := quota.New(st).Reserve(context.Background(), quota.ReserveRequest{Tenant: "acme", EstTokens: 10, EstUSD: 1, Now: at})
	if err != nil || r == nil {
		t.Fatal(err)
	}
	items, _ := st.Query(context.Background(), "QUOTA#acme", store.QueryOptions{})
	if len(items) != 0 {
		t.Fatalf("unlimited tenant wrote %d items", len(items))
	}
}

func benchReserve(b *testing.B, st store.Store, lim tenant.Limits, busy bool) {
	q := quota.New(st)
	ctx := context.Background()
	req := quota.ReserveRequest{Tenant: "acme", KeyID: "key_1", Limits: lim, EstTokens: 500, EstUSD: 0.001, Now: at}
	if busy {
		// Ten hours of traffic before the measured minute: the day item holds a request
		// and a token counter for each of 600 minutes, as it does by the afternoon.
		for m := range 600 {
			req.Now = at.Add(-time.Duration(m+1) * time.Minute)
			r, err := q.Reserve(ctx, req)
			if err != nil {
				b.Fatal(err)
			}
			if err := q.Reconcile(ctx, r, 300, 0.0006); err != nil {
				b.Fatal(err)
			}
		}
		req.Now = at
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, err := q.Reserve(ctx, req)
		if err != nil {
			b.Fatal(err)
		}
		if err := q.Reconcile(ctx, r, 300, 0.0006); err != nil {
			b.Fatal(err)
		}
	}
}

var (
	oneItem  = tenant.Limits{RequestsPerMinute: 1e12, TokensPerMinute: 1e15, DailyUSD: 1e9}
	twoItems = tenant.Limits{RequestsPerMinute: 1e12, TokensPerMinute: 1e15, DailyTokens: 1e15, MonthlyUSD: 1e9}
)

// BenchmarkReserveReconcile measures one admitted request's quota work (reserve +
// reconcile: two round trips) on the embedded stores, with limits on one item (Add) or
// two items (Transact), early in the day and late in a busy day (a day item holding
// 600 minutes of counters).
func BenchmarkReserveReconcile(b *testing.B) {
	for _, s := range []string{"memstore", "boltstore", "tiered"} {
		b.Run(s+"/add", func(b *testing.B) { benchReserve(b, stores[s](b), oneItem, false) })
		b.Run(s+"/transact", func(b *testing.B) { benchReserve(b, stores[s](b), twoItems, false) })
		b.Run(s+"/transact-busy-day", func(b *testing.B) { benchReserve(b, stores[s](b), twoItems, true) })
	}
}
