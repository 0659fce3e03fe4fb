package tenant_test

import (
	"errors"
	"testing"

	"github.com/plinth-ai/plinth/shared/auth"
	"github.com/plinth-ai/plinth/shared/tenant"
)

func TestCanInvokeMatrix(t *testing.T) {
	open := &tenant.Tenant{ID: "acme", Status: tenant.StatusActive}
	restricted := &tenant.Tenant{ID: "acme", Status: tenant.StatusActive, AllowedModels: []string{"gpt-x", "fast"}}
	suspended := &tenant.Tenant{ID: "acme", Status: tenant.StatusSuspended}
	key := auth.Principal{TenantID: "acme", KeyID: "key_1", Scopes: tenant.DefaultScopes}
	retrievalOnly := auth.Principal{TenantID: "acme", KeyID: "key_2", Scopes: []auth.Scope{auth.ScopeRetrieval}}
	foreign := auth.Principal{TenantID: "globex", KeyID: "key_3", Scopes: tenant.DefaultScopes}
	admin := auth.Principal{Admin: true}

	tests := []struct {
		name  string
		p     auth.Principal
		t     *tenant.Tenant
		scope auth.Scope
		m     tenant.ModelRef
		want  error
	}{
		{"open tenant any model", key, open, auth.ScopeInference, tenant.ModelRef{Name: "local-chat"}, nil},
		{"listed model", key, restricted, auth.ScopeInference, tenant.ModelRef{Name: "gpt-x"}, nil},
		{"unlisted model", key, restricted, auth.ScopeInference, tenant.ModelRef{Name: "local-chat"}, tenant.ErrModelNotAllowed},
		{"listed alias", key, restricted, auth.ScopeInference, tenant.ModelRef{Name: "fast", Target: "small-model"}, nil},
		{"alias of listed model", key, restricted, auth.ScopeInference, tenant.ModelRef{Name: "best", Target: "gpt-x"}, nil},
		{"alias of unlisted model", key, restricted, auth.ScopeInference, tenant.ModelRef{Name: "best", Target: "other"}, tenant.ErrModelNotAllowed},
		{"missing scope", retrievalOnly, open, auth.ScopeInference, tenant.ModelRef{Name: "local-chat"}, tenant.ErrScope},
		{"retrieval scope", retrievalOnly, open, auth.ScopeRetrieval, tenant.ModelRef{Name: "local-embed"}, nil},
		{"other tenant's key", foreign, open, auth.ScopeInference, tenant.ModelRef{Name: "local-chat"}, tenant.ErrModelNotAllowed},
		{"nil tenant", key, nil, auth.ScopeInference, tenant.ModelRef{Name: "local-chat"}, tenant.ErrModelNotAllowed},
		{"suspended", key, suspended, auth.ScopeInference, tenant.ModelRef{Name: "local-chat"}, tenant.ErrTenantSuspended},
		{"admin", admin, restricted, auth.ScopeInference, tenant.ModelRef{Name: "local-chat"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tenant.CanInvoke(tc.p, tc.t, tc.scope, tc.m)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("CanInvoke = %v, want %v", err, tc.want)
			}
			if tenant.Allowed(tc.p, tc.t, tc.scope, tc.m) != (tc.want == nil) {
				t.Fatal("Allowed disagrees with CanInvoke")
			}
		})
	}
}
