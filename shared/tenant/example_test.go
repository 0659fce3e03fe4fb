package tenant_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/plinth-ai/plinth/shared/store/memstore"
	"github.com/plinth-ai/plinth/shared/tenant"
)

func ExampleService_Authenticate() {
	ctx := context.Background()
	svc := tenant.NewService(memstore.New())
	_, _ = svc.CreateTenant(ctx, tenant.Tenant{ID: "acme", Name: "Acme", Limits: tenant.Limits{RequestsPerMinute: 60}})
	key, secret, _ := svc.CreateKey(ctx, "acme", tenant.KeyOptions{Name: "ci"})

	p, t, err := svc.Authenticate(ctx, secret)
	fmt.Println(p.TenantID, p.KeyID == key.ID, t.Limits.RequestsPerMinute, err)

	_, _ = svc.RevokeKey(ctx, key.ID)
	_, _, err = svc.Authenticate(ctx, secret)
	fmt.Println(errors.Is(err, tenant.ErrKeyRevoked))
	// Output:
	// acme true 60 <nil>
	// true
}
