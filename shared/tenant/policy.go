package tenant

import (
	"fmt"
	"strings"

	"github.com/plinth-ai/plinth/shared/auth"
)

// ModelRef names a model as the caller asked for it.
type ModelRef struct {
	// Name is what the caller sent: a model ID or an alias.
	Name string
	// Target is the model ID an alias resolves to ("" when Name is a model ID). A tenant
	// allowed either the alias or its target may call through the alias.
	Target string
	// Owned marks the tenant's own model (one it fine-tuned): its allowed-model list
	// does not restrict it.
	Owned bool
}

// CanInvoke is the one policy decision for model access, used both to list models
// (GET /v1/models lists exactly the models for which it returns nil) and to admit every
// invocation. It is pure: the caller passes only models the registry has approved.
//
// It refuses with ErrScope when p lacks scope, ErrTenantSuspended when the tenant is not
// active, and ErrModelNotAllowed when p belongs to another tenant or the tenant's
// allowed-model list names neither the model nor its alias target (a model the tenant
// owns needs no entry). Platform admins may
// call any approved model.
func CanInvoke(p auth.Principal, t *Tenant, scope auth.Scope, m ModelRef) error {
	if p.Admin {
		return nil
	}
	if !p.Has(scope) {
		return fmt.Errorf("this key lacks the %q scope that calling %s needs; create a key with that scope: %w", scope, m.Name, ErrScope)
	}
	if t == nil || t.ID != p.TenantID {
		return fmt.Errorf("this key may not call model %s: %w", m.Name, ErrModelNotAllowed)
	}
	if t.Status != StatusActive {
		return fmt.Errorf("tenant %s is suspended; an admin can reactivate it with PATCH /admin/tenants/%s: %w", t.ID, t.ID, ErrTenantSuspended)
	}
	if len(t.AllowedModels) == 0 || m.Owned {
		return nil
	}
	for _, a := range t.AllowedModels {
		if a == m.Name || (m.Target != "" && a == m.Target) {
			return nil
		}
	}
	return fmt.Errorf("tenant %s may not call model %s (its allowed_models: %s); an admin can add it with PATCH /admin/tenants/%s: %w",
		t.ID, m.Name, strings.Join(t.AllowedModels, ", "), t.ID, ErrModelNotAllowed)
}

// Allowed reports whether CanInvoke admits the call.
func Allowed(p auth.Principal, t *Tenant, scope auth.Scope, m ModelRef) bool {
	return CanInvoke(p, t, scope, m) == nil
}
