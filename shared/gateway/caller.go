package gateway

import (
	"context"

	"github.com/plinth-ai/plinth/shared/auth"
	"github.com/plinth-ai/plinth/shared/registry"
	"github.com/plinth-ai/plinth/shared/tenant"
)

// Caller is the authenticated caller of a request.
type Caller struct {
	Principal auth.Principal
	// Tenant is the caller's tenant (shared with the authentication cache: read-only).
	Tenant *tenant.Tenant
	// KeyLimits are the API key's own limits, when it has any.
	KeyLimits *tenant.Limits
	// OwnBudget makes KeyLimits the caller's only limits: its calls are not counted
	// against the tenant's limits at all (ingestion, whose budget is its own).
	OwnBudget bool
	// Candidates lets the platform's pre-approval evaluation call the tenant's own
	// models that are still pending review. Never set for API keys.
	Candidates bool
}

// allowed is the platform's one policy decision (tenant.CanInvoke) for a model the
// client named requested (an ID or an alias of m). /v1/models and every invocation use it.
func (c *Caller) allowed(m *registry.Model, requested string) error {
	ref := tenant.ModelRef{Name: requested, Owned: m.Tenant != "" && m.Tenant == c.Principal.TenantID}
	if requested != m.ID {
		ref.Target = m.ID
	}
	return tenant.CanInvoke(c.Principal, c.Tenant, auth.ScopeInference, ref)
}

// sees reports whether the caller may know the model exists: a tenant's own models
// (fine-tuned ones) are invisible to other tenants unless shared with them.
func (c *Caller) sees(m *registry.Model) bool {
	return c.Principal.Admin || m.VisibleTo(c.Principal.TenantID)
}

// callable reports whether m's review status lets the caller invoke it.
func (c *Caller) callable(m *registry.Model) bool {
	return m.Status.Invocable() || (c.Candidates && m.Status == registry.StatusPendingReview && m.Tenant != "" && m.Tenant == c.Principal.TenantID)
}

// guardrailPolicy names the tenant's guardrail policy ("" = none).
func (c *Caller) guardrailPolicy() string {
	if c.Tenant == nil {
		return ""
	}
	return c.Tenant.GuardrailPolicy
}

// cacheEnabled reports whether the tenant uses the response cache.
func (c *Caller) cacheEnabled() bool { return c.Tenant != nil && c.Tenant.Cache.Enabled }

type callerKey struct{}

// WithCaller returns ctx carrying c (and c's principal for shared/auth readers).
func WithCaller(ctx context.Context, c *Caller) context.Context {
	return context.WithValue(auth.WithPrincipalOf(ctx, &c.Principal), callerKey{}, c)
}

// CallerFrom returns the caller established by Authenticate (or WithCaller).
func CallerFrom(ctx context.Context) (*Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(*Caller)
	return c, ok
}
