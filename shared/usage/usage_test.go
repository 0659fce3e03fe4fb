package usage_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plinth-ai/plinth/shared/auth"
	"github.com/plinth-ai/plinth/shared/store"
	"github.com/plinth-ai/plinth/shared/store/memstore"
	"github.com/plinth-ai/plinth/shared/tenant"
	"github.com/plinth-ai/plinth/shared/usage"
)

var day1 = time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)

// testNow is the tests' clock: stores judge the records' expiry by it, so the tests pass
// on any date, not only within the records' retention of day1.
func testNow() time.Time { return day1.Add(48 * time.Hour) }

func TestCost(t *testing.T) {
	if got := usage.Cost(1_000_000, 500_000, 0.15, 0.6); got != 0.45 {
		t.Fatalf("cost %v", got)
	}
}

// flaky fails the first n Transact calls, then delegates.
type flaky struct {
	store.Store
	fail atomic.Int64
	txs  atomic.Int64
}

func (f *flaky) Transact(ctx context.Context, ops []store.Op) error {
	f.txs.Add(1)
	if f.fail.Add(-1) >= 0 {
		return errors.New("throttled")
	}
	return f.Store.Transact(ctx, ops)
}

func setup(t *testing.T) (*memstore.Store, *tenant.Service) {
	st := memstore.New(memstore.WithClock(testNow))
	ts := tenant.NewService(st)
	for _, tn := range []tenant.Tenant{
		{ID: "acme", Tags: map[string]string{"cost-center": "cc-1"}},
		{ID: "globex", Tags: map[string]string{"cost-center": "cc-2"}},
		{ID: "initech"},
	} {
		if _, err := ts.CreateTenant(context.Background(), tn); err != nil {
			t.Fatal(err)
		}
	}
	return st, ts
}

func record(tenantID, model string, at time.Time, n int, in, out int64, cost float64) usage.Record {
	return usage.Record{RequestID: fmt.Sprintf("req-%s-%d", tenantID, n), Tenant: tenantID, KeyID: "key_1", Model: model,
		InputTokens: in, OutputTokens: out, CostUSD: cost, LatencyMS: 100, Status: usage.StatusOK, Time: at}
}

func TestRecorderAggregatesAndRetries(t *testing.T) {
	st, ts := setup(t)
	fl := &flaky{Store: st}
	fl.fail.Store(2)
	var logs bytes.Buffer
	rec := usage.NewRecorder(fl, usage.WithRetry(4, time.Millisecond), usage.WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))))
	ctx := context.Background()

	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r := record("acme", "local-chat", day1.Add(time.Duration(i)*time.Minute), i, 10, 5, 0.001)
			if i%10 == 0 {
				r.CacheHit, r.InputTokens, r.OutputTokens, r.CostUSD = true, 0, 0, 0
			}
			if i == 7 {
				r.Guardrail = map[string]int{"EMAIL": 2}
				r.Estimated, r.Streamed = true, true
			}
			if err := rec.Record(ctx, r); err != nil {
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
	if err := rec.Record(ctx, record("acme", "gpt-x", day1.Add(24*time.Hour), 99, 1000, 1000, 0.5)); err != nil {
		t.Fatal(err)
	}
	if err := rec.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := rec.Record(ctx, record("acme", "gpt-x", day1, 100, 1, 1, 0)); !errors.Is(err, usage.ErrClosed) {
		t.Fatalf("record after close: %v", err)
	}
	if !strings.Contains(logs.String(), "retrying") {
		t.Fatal("failed writes were not logged")
	}

	svc := usage.NewService(st, ts)
	rg, _ := usage.ParseRange("2026-11-24", "2026-11-25", day1)
	rows, total, err := svc.Summary(ctx, "acme", rg, "model")
	if err != nil {
		t.Fatal(err)
	}
	if total.Requests != 51 || total.CacheHits != 5 || total.InputTokens != 45*10+1000 || total.Estimated != 1 || total.GuardrailHits["EMAIL"] != 2 {
		t.Fatalf("total %+v", total)
	}
	if len(rows) != 2 || rows[0].Model != "gpt-x" || rows[1].Model != "local-chat" || rows[1].Requests != 50 {
		t.Fatalf("rows %+v", rows)
	}
	if got := fmt.Sprintf("%.6f", total.CostUSD); got != "0.545000" {
		t.Fatalf("cost %s", got)
	}
	recs, err := svc.Records(ctx, "acme", day1, 0)
	if err != nil || len(recs) != 50 {
		t.Fatalf("records %d %v", len(recs), err)
	}
	raw, _ := json.Marshal(recs[0])
	for _, field := range []string{"prompt", "messages", "content"} {
		if strings.Contains(string(raw), field) {
			t.Fatalf("record carries %s: %s", field, raw)
		}
	}
}

func TestRecorderLogsWhatItCannotStore(t *testing.T) {
	st, _ := setup(t)
	fl := &flaky{Store: st}
	fl.fail.Store(1 << 30)
	var logs bytes.Buffer
	rec := usage.NewRecorder(fl, usage.WithRetry(3, time.Millisecond), usage.WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))))
	if err := rec.Record(context.Background(), record("acme", "m", day1, 1, 1, 1, 0.25)); err != nil {
		t.Fatal(err)
	}
	if err := rec.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if fl.txs.Load() != 3 || !strings.Contains(logs.String(), `"level":"ERROR"`) || !strings.Contains(logs.String(), `req-acme-1`) {
		t.Fatalf("attempts %d, logs %s", fl.txs.Load(), logs.String())
	}
}

func TestRoutes(t *testing.T) {
	st, ts := setup(t)
	rec := usage.NewRecorder(st)
	ctx := context.Background()
	now := time.Now().UTC()
	for i, r := range []usage.Record{
		record("acme", "local-chat", now, 1, 100, 50, 0.10),
		record("acme", "gpt-x", now, 2, 100, 50, 0.20),
		record("globex", "gpt-x", now, 3, 10, 5, 0.05),
		record("initech", "local-chat", now, 4, 1, 1, 0.01),
	} {
		r.RequestID = fmt.Sprint("r", i)
		if err := rec.Record(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := rec.Close(ctx); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	usage.Routes(mux, usage.NewService(st, ts))
	as := func(p auth.Principal, h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), p)))
		})
	}
	get := func(h http.Handler, url string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", url, nil))
		return w
	}

	t.Run("own usage only", func(t *testing.T) {
		w := get(as(auth.Principal{TenantID: "globex", KeyID: "k"}, mux), "/v1/usage?group_by=model")
		var a usage.Answer
		if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil || w.Code != 200 {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		if a.Tenant != "globex" || a.Total.Requests != 1 || len(a.Data) != 1 || a.Data[0].Model != "gpt-x" || strings.Contains(w.Body.String(), "local-chat") {
			t.Fatalf("answer %s", w.Body)
		}
	})
	t.Run("no principal", func(t *testing.T) {
		if w := get(mux, "/v1/usage"); w.Code != 401 {
			t.Fatalf("%d", w.Code)
		}
	})
	for _, bad := range []string{"/v1/usage?start=yesterday", "/v1/usage?group_by=tenant", "/v1/usage?start=2026-02-01&end=2026-01-01"} {
		t.Run("bad "+bad, func(t *testing.T) {
			if w := get(as(auth.Principal{TenantID: "acme"}, mux), bad); w.Code != 400 {
				t.Fatalf("%d %s", w.Code, w.Body)
			}
		})
	}
	t.Run("csv by tag", func(t *testing.T) {
		w := get(mux, "/admin/usage/report?format=csv&group_by=tag:cost-center")
		if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/csv") {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		rows, err := csv.NewReader(w.Body).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		want := [][]string{
			{"tag:cost-center", "requests", "input_tokens", "output_tokens", "cost_usd", "cache_hits", "errors", "estimated"},
			{"(untagged)", "1", "1", "1", "0.010000", "0", "0", "0"},
			{"cc-1", "2", "200", "100", "0.300000", "0", "0", "0"},
			{"cc-2", "1", "10", "5", "0.050000", "0", "0", "0"},
		}
		if fmt.Sprint(rows) != fmt.Sprint(want) {
			t.Fatalf("csv\n%v\nwant\n%v", rows, want)
		}
	})
	t.Run("json by tenant", func(t *testing.T) {
		w := get(mux, "/admin/usage/report")
		var a usage.Answer
		if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil || w.Code != 200 || len(a.Data) != 3 || a.Data[0].Tenant != "acme" || a.Total.Requests != 4 {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
	})
}

// blocked is a store whose transactions wait until released, so records pile up in the
// queue and the recorder must batch them.
type blocked struct {
	store.Store
	gate chan struct{}
	txs  atomic.Int64
}

func (b *blocked) Transact(ctx context.Context, ops []store.Op) error {
	<-b.gate
	b.txs.Add(1)
	return b.Store.Transact(ctx, ops)
}

func TestRecorderBatchesQueuedRecords(t *testing.T) {
	st, ts := setup(t)
	bl := &blocked{Store: st, gate: make(chan struct{})}
	rec := usage.NewRecorder(bl, usage.WithWorkers(1), usage.WithQueueSize(500))
	ctx := context.Background()
	const n = 200
	for i := 0; i < n; i++ {
		model := "m-a"
		if i%3 == 0 {
			model = "m-b"
		}
		if err := rec.Record(ctx, record("acme", model, day1.Add(time.Duration(i)*time.Second), i, 2, 3, 0.01)); err != nil {
			t.Fatal(err)
		}
	}
	close(bl.gate)
	if err := rec.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got := bl.txs.Load(); got >= n/4 {
		t.Fatalf("%d transactions for %d queued records: they were not batched", got, n)
	}
	svc := usage.NewService(st, ts)
	rg, _ := usage.ParseRange("2026-11-24", "2026-11-25", day1)
	rows, total, err := svc.Summary(ctx, "acme", rg, "model")
	if err != nil {
		t.Fatal(err)
	}
	if total.Requests != n || total.InputTokens != 2*n || total.OutputTokens != 3*n || len(rows) != 2 {
		t.Fatalf("totals %+v rows %+v", total, rows)
	}
	if got := fmt.Sprintf("%.2f", total.CostUSD); got != "2.00" {
		t.Fatalf("cost %s", got)
	}
	recs, err := svc.Records(ctx, "acme", day1, 0)
	if err != nil || len(recs) != n {
		t.Fatalf("records %d %v", len(recs), err)
	}
}
