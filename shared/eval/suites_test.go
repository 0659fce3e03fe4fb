package eval

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/plinth-ai/plinth/shared/provider"
	"github.com/plinth-ai/plinth/shared/store"
	"github.com/plinth-ai/plinth/shared/store/memstore"
)

// TestSuitesWrittenBeforeTenantScopingAreMoved: a suite stored under its ID alone, with
// its run index, is found under its tenant afterwards, runs included, and the old keys
// are gone.
func TestSuitesWrittenBeforeTenantScopingAreMoved(t *testing.T) {
	ctx := context.Background()
	st := memstore.New()
	started := time.Date(2025, 3, 1, 6, 0, 0, 0, time.UTC)
	su := Suite{Tenant: "acme", ID: "qa", Dataset: Dataset{Items: []Item{{ID: "1", Input: "x"}}}, Target: TargetSpec{Model: "m"}}
	run := Run{ID: "run-old", SuiteID: "qa", Tenant: "acme", Status: StatusSucceeded, StartedAt: started, Metrics: map[string]float64{"f1": 50}}
	put := func(pk, sk string, v any) {
		b, _ := json.Marshal(v)
		if _, err := st.Put(ctx, store.Item{Key: store.Key{PK: pk, SK: sk}, Data: b}, store.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	put(pkSuites, "SUITE#qa", su)
	put("EVAL#SUITE#qa#RUNS", started.Format(timeLayout)+"#run-old", runSummary{ID: run.ID, Status: run.Status, Metrics: run.Metrics, StartedAt: started})
	put("EVAL#RUN#run-old", skRunMeta, run)

	svc, err := NewService(st, newMemBlob(), TargetFunc(func(context.Context, string, *provider.ChatRequest) (*provider.ChatResponse, error) {
		return nil, errors.New("not called")
	}))
	if err != nil {
		t.Fatal(err)
	}
	got, err := svc.GetSuite(ctx, "acme", "qa")
	if err != nil || got.Tenant != "acme" {
		t.Fatalf("GetSuite after the move: %+v, %v", got, err)
	}
	if _, err := svc.GetSuite(ctx, "other", "qa"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("another tenant sees the moved suite: %v", err)
	}
	runs, err := svc.ListRuns(ctx, "acme", "qa", 0)
	if err != nil || len(runs) != 1 || runs[0].ID != "run-old" {
		t.Fatalf("runs after the move: %+v, %v", runs, err)
	}
	for _, k := range []store.Key{{PK: pkSuites, SK: "SUITE#qa"}, {PK: "EVAL#SUITE#qa#RUNS", SK: started.Format(timeLayout) + "#run-old"}} {
		if _, err := st.Get(ctx, k); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("old key %v is still there: %v", k, err)
		}
	}
}

// TestSuiteIDsAreTenantScoped: two tenants' suites of one ID are two suites; without a
// tenant the ID is ambiguous.
func TestSuiteIDsAreTenantScoped(t *testing.T) {
	ctx := context.Background()
	svc, err := NewService(memstore.New(), newMemBlob(), TargetFunc(func(context.Context, string, *provider.ChatRequest) (*provider.ChatResponse, error) {
		return nil, errors.New("not called")
	}))
	if err != nil {
		t.Fatal(err)
	}
	for _, tenant := range []string{"a", "b"} {
		if _, err := svc.CreateSuite(ctx, Suite{Tenant: tenant, ID: "qa", Dataset: Dataset{Items: []Item{{ID: "1", Input: tenant}}}, Target: TargetSpec{Model: "m"}}); err != nil {
			t.Fatalf("create %s/qa: %v", tenant, err)
		}
	}
	if _, err := svc.CreateSuite(ctx, Suite{Tenant: "a", ID: "qa", Dataset: Dataset{Items: []Item{{ID: "1", Input: "x"}}}, Target: TargetSpec{Model: "m"}}); !errors.Is(err, ErrExists) {
		t.Fatalf("a second a/qa: %v", err)
	}
	b, err := svc.GetSuite(ctx, "b", "qa")
	if err != nil || b.Dataset.Items[0].Input != "b" {
		t.Fatalf("b's qa: %+v, %v", b, err)
	}
	if _, err := svc.GetSuite(ctx, "", "qa"); !errors.Is(err, ErrAmbiguous) {
		t.Fatalf("qa without a tenant: %v, want ErrAmbiguous", err)
	}
	if err := svc.DeleteSuite(ctx, "a", "qa"); err != nil {
		t.Fatal(err)
	}
	if su, err := svc.GetSuite(ctx, "", "qa"); err != nil || su.Tenant != "b" {
		t.Fatalf("the one qa left: %+v, %v", su, err)
	}
}
