package registry_test

import (
	"context"
	"errors"
	"testing"

	"github.com/plinth-ai/plinth/shared/registry"
)

func approved(t *testing.T, svc *registry.Service, id string) {
	t.Helper()
	ctx := context.Background()
	if _, err := svc.Create(ctx, openAIModel(id), "admin"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Review(ctx, id, "approve", "alice", ""); err != nil {
		t.Fatal(err)
	}
}

func TestPointAliasMovesAndRollsBack(t *testing.T) {
	ctx := context.Background()
	svc := newService(t)
	approved(t, svc, "v1")
	approved(t, svc, "v2")
	if prev, err := svc.PointAlias(ctx, "acme/prod", "v1", "alice"); err != nil || prev != "" {
		t.Fatalf("first point: %q %v", prev, err)
	}
	if prev, err := svc.PointAlias(ctx, "acme/prod", "v2", "alice"); err != nil || prev != "v1" {
		t.Fatalf("second point: %q %v", prev, err)
	}
	m, err := svc.Resolve(ctx, "acme/prod")
	if err != nil || m.ID != "v2" {
		t.Fatalf("alias resolves to %v, %v; want v2", m, err)
	}
	if old, _ := svc.Get(ctx, "v1"); len(old.Aliases) != 0 {
		t.Fatalf("v1 still carries %v", old.Aliases)
	}
	back, err := svc.RollbackAlias(ctx, "acme/prod", "bob")
	if err != nil || back != "v1" {
		t.Fatalf("rollback: %q %v", back, err)
	}
	if m, _ := svc.Resolve(ctx, "acme/prod"); m.ID != "v1" {
		t.Fatalf("after rollback the alias names %s", m.ID)
	}
	hist, err := svc.AliasHistory(ctx, "acme/prod")
	if err != nil || len(hist) != 3 || !hist[0].Rollback || hist[0].From != "v2" || hist[0].To != "v1" || hist[2].From != "" {
		t.Fatalf("history %+v %v", hist, err)
	}
	if _, err := svc.RollbackAlias(ctx, "no-such-alias", "bob"); !errors.Is(err, registry.ErrNoHistory) {
		t.Fatalf("want ErrNoHistory, got %v", err)
	}
	if _, err := svc.Create(ctx, openAIModel("pending"), "admin"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.PointAlias(ctx, "acme/prod", "pending", "alice"); !errors.Is(err, registry.ErrNotInvocable) {
		t.Fatalf("promoting a pending model: want ErrNotInvocable, got %v", err)
	}
	if _, err := svc.PointAlias(ctx, "v1", "v2", "alice"); !errors.Is(err, registry.ErrInvalid) {
		t.Fatalf("an alias named like a model: want ErrInvalid, got %v", err)
	}
}

func TestReviewObserversSeeDecisions(t *testing.T) {
	ctx := context.Background()
	svc := newService(t)
	var seen []string
	svc.ObserveReviews(func(_ context.Context, m registry.Model, decision, reviewer, _ string) {
		seen = append(seen, m.ID+":"+decision+":"+reviewer+":"+string(m.Status))
	})
	approved(t, svc, "v1")
	if _, err := svc.Review(ctx, "v1", "approve", "carol", ""); err == nil {
		t.Fatal("approving twice must fail")
	}
	if len(seen) != 1 || seen[0] != "v1:approve:alice:approved" {
		t.Fatalf("observer saw %v", seen)
	}
}

func TestTenantModelsAreVisibleToOwnerAndShares(t *testing.T) {
	m := registry.Model{ID: "ft:x", Tenant: "acme", SharedWith: []string{"globex"}}
	for tenant, want := range map[string]bool{"acme": true, "globex": true, "initech": false} {
		if got := m.VisibleTo(tenant); got != want {
			t.Errorf("VisibleTo(%s) = %v, want %v", tenant, got, want)
		}
	}
	if !(&registry.Model{ID: "shared"}).VisibleTo("anyone") {
		t.Fatal("a model without a tenant is visible to all")
	}
	bad := openAIModel("y")
	bad.SharedWith = []string{"globex"}
	if err := bad.Validate(); !errors.Is(err, registry.ErrInvalid) {
		t.Fatalf("shared_with without an owner: want ErrInvalid, got %v", err)
	}
}

func TestLocalTuneIsABuiltin(t *testing.T) {
	m, err := newService(t).Resolve(context.Background(), "local-tune")
	if err != nil || m.Status != registry.StatusApproved || m.Kind != registry.KindChat || m.Deployments[0].Provider != "local" {
		t.Fatalf("local-tune: %+v %v", m, err)
	}
}
