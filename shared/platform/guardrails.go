package platform

import (
	"context"
	"time"

	"github.com/plinth-ai/plinth/shared/guardrail"
	"github.com/plinth-ai/plinth/shared/store"
	"github.com/plinth-ai/plinth/shared/tenant"
)

// newGuardrails builds the guardrail service over the store, with tenants' assigned
// policies (guardrail_policy "id" or "id:version") looked up through the tenant cache.
func newGuardrails(st store.Store, tenants *tenant.Service, now func() time.Time, opts ...guardrail.Option) (*guardrail.Service, error) {
	engine, err := guardrail.New(opts...)
	if err != nil {
		return nil, err
	}
	return guardrail.NewService(engine, guardrail.NewRepository(st, guardrail.WithRepoClock(now)),
		guardrail.WithTenantPolicy(guardrail.TenantPolicyFromRef(func(ctx context.Context, tenantID string) (string, error) {
			t, err := tenants.CachedTenant(ctx, tenantID)
			if err != nil {
				return "", err
			}
			return t.GuardrailPolicy, nil
		}))), nil
}
