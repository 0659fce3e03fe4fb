package tenant_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"

	miniserver "github.com/truora/minidyn/server"

	"github.com/plinth-ai/plinth/shared/store/dynamostore"
	"github.com/plinth-ai/plinth/shared/tenant"
	"github.com/plinth-ai/plinth/test/dynalite"
)

// TestKeysOnDynamoDB runs the key lifecycle through the real AWS SDK client against
// minidyn's DynamoDB server: key creation and revocation are TransactWriteItems there.
func TestKeysOnDynamoDB(t *testing.T) {
	ctx := context.Background()
	srv := httptest.NewServer(miniserver.NewServer())
	t.Cleanup(srv.Close)
	c := dynalite.Client(srv.URL)
	if err := dynamostore.CreateTable(ctx, c, "plinth"); err != nil {
		t.Fatal(err)
	}
	st, err := dynamostore.New(c, "plinth")
	if err != nil {
		t.Fatal(err)
	}
	svc := tenant.NewService(st)
	if _, err := svc.CreateTenant(ctx, tenant.Tenant{ID: "acme", Limits: tenant.Limits{MonthlyUSD: 5}}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateTenant(ctx, tenant.Tenant{ID: "acme"}); !errors.Is(err, tenant.ErrExists) {
		t.Fatalf("duplicate: %v", err)
	}
	k, secret, err := svc.CreateKey(ctx, "acme", tenant.KeyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p, tn, err := tenant.NewService(st).Authenticate(ctx, secret); err != nil || p.KeyID != k.ID || tn.Limits.MonthlyUSD != 5 {
		t.Fatalf("authenticate: %+v %v", p, err)
	}
	if keys, err := svc.ListKeys(ctx, "acme"); err != nil || len(keys) != 1 {
		t.Fatalf("list: %v %v", keys, err)
	}
	if _, err := svc.RevokeKey(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := tenant.NewService(st).Authenticate(ctx, secret); !errors.Is(err, tenant.ErrKeyRevoked) {
		t.Fatalf("after revoke: %v", err)
	}
}
