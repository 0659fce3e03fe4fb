package platform

import (
	"context"
	"testing"

	"github.com/plinth-ai/plinth/shared/store/memstore"
	"github.com/plinth-ai/plinth/shared/tenant"
)

// siloKeys gives every silo tenant a cell whose customisation key is named after it.
type siloKeys struct{}

func (siloKeys) Cell(_ context.Context, id string) (Cell, error) {
	return Cell{Store: memstore.New(), Blobs: Buckets{CustomizationKey: "key-of-" + id}}, nil
}

// A silo tenant's fine-tuning data and custom models are encrypted with its cell's key,
// a pool tenant's with the pool's.
func TestCustomizationKeysFollowTheCell(t *testing.T) {
	ctx := context.Background()
	pool := Cell{Store: memstore.New(), Blobs: Buckets{CustomizationKey: "pool-key"}}
	tenants := tenant.NewService(pool.Store)
	for _, tn := range []tenant.Tenant{{ID: "acme"}, {ID: "globex", IsolationTier: tenant.TierSilo}} {
		if _, err := tenants.CreateTenant(ctx, tn); err != nil {
			t.Fatal(err)
		}
	}
	cells := NewTenantCells(pool, siloKeys{}, nil)
	keys := customizationKeys(&Platform{b: Backends{Data: cells.Routed(), Cells: cells}})
	for id, want := range map[string]string{"acme": "pool-key", "globex": "key-of-globex"} {
		if got, err := keys(ctx, id); err != nil || got != want {
			t.Errorf("key of %s = %q (%v), want %q", id, got, err, want)
		}
	}
	if customizationKeys(&Platform{b: Backends{Data: Cell{Store: memstore.New()}}}) != nil {
		t.Error("a key resolver without any key")
	}
}
