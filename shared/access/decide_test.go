package access

import (
	"errors"
	"testing"

	"github.com/plinth-ai/plinth/shared/auth"
)

func TestDecide(t *testing.T) {
	var (
		platformAdmin = auth.Principal{Admin: true, KeyID: "admin"}
		platformAudit = auth.Principal{KeyID: "key_a", Role: auth.RoleAuditor, Scopes: []auth.Scope{auth.ScopeAdminRead}}
		acmeAdmin     = auth.Principal{TenantID: "acme", KeyID: "key_1", Role: auth.RoleTenantAdmin, Scopes: []auth.Scope{auth.ScopeInference, auth.ScopeAdminRead, auth.ScopeAdmin}}
		acmeDev       = auth.Principal{TenantID: "acme", KeyID: "key_2", Scopes: []auth.Scope{auth.ScopeInference, auth.ScopeRetrieval}}
		acmeViewer    = auth.Principal{TenantID: "acme", KeyID: "key_3", Role: auth.RoleViewer, Scopes: []auth.Scope{auth.ScopeAdminRead}}
		acmeAuditor   = auth.Principal{TenantID: "acme", KeyID: "key_4", Role: auth.RoleAuditor, Scopes: []auth.Scope{auth.ScopeAdminRead}}
		readOnlyAdmin = auth.Principal{TenantID: "acme", KeyID: "key_5", Role: auth.RoleTenantAdmin, Scopes: []auth.Scope{auth.ScopeAdminRead}}
	)
	cases := []struct {
		name    string
		p       auth.Principal
		pattern string
		target  Target
		want    error
	}{
		{"platform admin creates tenants", platformAdmin, "POST /admin/tenants", Target{}, nil},
		{"tenant admin may not create tenants", acmeAdmin, "POST /admin/tenants", Target{}, ErrPlatformOnly},
		{"tenant admin may not review models", acmeAdmin, "POST /admin/models/{id...}", Target{}, ErrPlatformOnly},
		{"tenant admin issues its own keys", acmeAdmin, "POST /admin/tenants/{id}/keys", Target{Tenant: "acme"}, nil},
		{"tenant admin may not issue another tenant's keys", acmeAdmin, "POST /admin/tenants/{id}/keys", Target{Tenant: "globex"}, ErrOtherTenant},
		{"a read-only tenant admin key may not issue keys", readOnlyAdmin, "POST /admin/tenants/{id}/keys", Target{Tenant: "acme"}, ErrScope},
		{"developer may not issue keys", acmeDev, "POST /admin/tenants/{id}/keys", Target{Tenant: "acme"}, ErrRole},
		{"developer without admin-read may not read its tenant", acmeDev, "GET /admin/tenants/{id}", Target{Tenant: "acme"}, ErrScope},
		{"viewer reads its tenant", acmeViewer, "GET /admin/tenants/{id}", Target{Tenant: "acme"}, nil},
		{"viewer may not change anything", acmeViewer, "DELETE /admin/knowledge-bases/{kb}", Target{Tenant: "acme"}, ErrRole},
		{"viewer calls no model", acmeViewer, "POST /v1/chat/completions", Target{}, ErrRole},
		{"developer calls models", acmeDev, "POST /v1/chat/completions", Target{}, nil},
		{"platform auditor reads every tenant", platformAudit, "GET /admin/knowledge-bases", Target{Tenant: "globex"}, nil},
		{"platform auditor reads the registry", platformAudit, "GET /admin/models", Target{}, nil},
		{"platform auditor changes nothing", platformAudit, "PATCH /admin/tenants/{id}", Target{Tenant: "acme"}, ErrRole},
		{"platform auditor calls no model", platformAudit, "POST /v1/chat/completions", Target{}, ErrRole},
		{"tenant auditor reads its audit trail", acmeAuditor, "GET /admin/audit", Target{Tenant: "acme"}, nil},
		{"tenant auditor reads no other", acmeAuditor, "GET /admin/audit", Target{Tenant: "globex"}, ErrOtherTenant},
		{"tenant auditor reads no platform record", acmeAuditor, "GET /admin/usage/report", Target{}, ErrPlatformOnly},
		{"a developer without admin-read reads no prompt", acmeDev, "GET /admin/prompts/{id}", Target{Shared: true}, ErrScope},
		{"shared prompts are readable with admin-read", acmeViewer, "GET /admin/prompts/{id}", Target{Shared: true}, nil},
		{"shared policies are not writable", acmeAdmin, "PUT /admin/guardrail-policies/{id}", Target{Shared: true}, ErrOtherTenant},
		{"everyone reads the guardrail floor", acmeViewer, "GET /admin/guardrail-baseline", Target{}, nil},
		{"only platform admins set it", acmeAdmin, "PUT /admin/guardrail-baseline", Target{}, ErrPlatformOnly},
		{"every role reads its session", acmeViewer, "GET /admin/session", Target{}, nil},
		{"a platform key does not act for a tenant", platformAudit, "GET /v1/usage", Target{}, ErrPlatformOnly},
		{"an unlisted route is for platform admins", acmeAdmin, "GET /admin/unknown", Target{}, ErrPlatformOnly},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, ok := RuleFor(c.pattern)
			if !ok {
				r = Rule{Roles: nobody}
			}
			err := Decide(c.p, r, c.target)
			if (c.want == nil) != (err == nil) || (c.want != nil && !errors.Is(err, c.want)) {
				t.Fatalf("Decide = %v, want %v", err, c.want)
			}
		})
	}
}

// Every rule is well formed: its locators name what Middleware can find, and a route
// about one tenant never lets a tenant's principal act without finding its tenant.
func TestRulesAreWellFormed(t *testing.T) {
	for _, p := range Patterns() {
		r, _ := RuleFor(p)
		for _, l := range r.Tenant {
			switch l.Where {
			case Path, Owned:
				if l.Param == "" {
					t.Errorf("%s: %s locator without a path parameter", p, l.Where)
				}
			}
			if l.Where == Owned && l.Resource == "" {
				t.Errorf("%s: owner locator without a resource kind", p)
			}
		}
		for _, role := range r.Roles {
			if !role.Valid() || role == auth.RolePlatformAdmin {
				t.Errorf("%s: role %q does not belong in a rule's list", p, role)
			}
		}
		if r.SharedRead && (len(r.Tenant) == 0 || r.Tenant[0].Where != Owned) {
			t.Errorf("%s: shared reads need an owner locator", p)
		}
	}
}
