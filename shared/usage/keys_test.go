package usage_test

import (
	"context"
	"testing"
	"time"

	"github.com/plinth-ai/plinth/shared/store/memstore"
	"github.com/plinth-ai/plinth/shared/usage"
)

func TestUsageByKeyAndFirstCall(t *testing.T) {
	ctx := context.Background()
	st := memstore.New(memstore.WithClock(testNow)) // records expire by the test's clock, not today's
	led := usage.NewLedger(st, 0)
	at := func(d, h int) time.Time { return day1.AddDate(0, 0, d).Add(time.Duration(h) * time.Hour) }
	recs := []usage.Record{
		// The platform's own evaluation ran first; it is not the tenant's first call.
		{RequestID: "r1", Tenant: "acme", KeyID: "platform:evaluation", Model: "m", CostUSD: 0.5, Status: usage.StatusOK, Time: at(0, 1)},
		// A refused request is not a production call either.
		{RequestID: "r2", Tenant: "acme", KeyID: "key_app", Model: "m", Status: usage.StatusError, HTTPStatus: 400, Time: at(1, 2)},
		{RequestID: "r3", Tenant: "acme", KeyID: "key_app", Model: "m", CostUSD: 0.25, InputTokens: 10, Status: usage.StatusOK, Time: at(2, 3)},
		{RequestID: "r4", Tenant: "acme", KeyID: "key_app", Model: "m", CostUSD: 0.25, Status: usage.StatusOK, Time: at(2, 5)},
		{RequestID: "r5", Tenant: "acme", KeyID: "key_bot", Model: "m", CostUSD: 1, Status: usage.StatusOK, Time: at(3, 1)},
		{RequestID: "r6", Tenant: "globex", KeyID: "key_g", Model: "m", CostUSD: 9, Status: usage.StatusOK, Time: at(0, 0)},
	}
	if err := led.Write(ctx, recs); err != nil {
		t.Fatal(err)
	}
	svc := usage.NewService(st, nil)
	rows, err := svc.ByKey(ctx, "acme", usage.Range{Start: day1, End: day1.AddDate(0, 0, 3)})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		key      string
		requests int64
		cost     float64
		first    string
	}{{"key_bot", 1, 1, "2026-11-27"}, {"key_app", 3, 0.5, "2026-11-25"}, {"platform:evaluation", 1, 0.5, "2026-11-24"}}
	if len(rows) != len(want) {
		t.Fatalf("rows %+v", rows)
	}
	for i, w := range want {
		if rows[i].KeyID != w.key || rows[i].Requests != w.requests || rows[i].CostUSD != w.cost || rows[i].FirstDay != w.first {
			t.Errorf("row %d = %s %d %v %s, want %+v", i, rows[i].KeyID, rows[i].Requests, rows[i].CostUSD, rows[i].FirstDay, w)
		}
	}
	first, ok, err := svc.FirstCall(ctx, "acme")
	if err != nil || !ok || !first.Equal(at(2, 3)) {
		t.Fatalf("first call = %v %v %v, want %v", first, ok, err, at(2, 3))
	}
	if _, ok, err := svc.FirstCall(ctx, "initech"); ok || err != nil {
		t.Fatalf("a tenant without calls: %v %v", ok, err)
	}
	// The same records again change nothing (the ledger is idempotent).
	if err := led.Write(ctx, recs); err != nil {
		t.Fatal(err)
	}
	again, _ := svc.ByKey(ctx, "acme", usage.Range{Start: day1, End: day1.AddDate(0, 0, 3)})
	if again[1].Requests != 3 {
		t.Fatalf("after a replay: %+v", again[1])
	}
}
