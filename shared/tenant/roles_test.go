package tenant_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/plinth-ai/plinth/shared/auth"
	"github.com/plinth-ai/plinth/shared/store/memstore"
	"github.com/plinth-ai/plinth/shared/tenant"
)

func TestKeyRolesAndScopes(t *testing.T) {
	ctx := context.Background()
	svc := tenant.NewService(memstore.New())
	if _, err := svc.CreateTenant(ctx, tenant.Tenant{ID: "acme"}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name       string
		o          tenant.KeyOptions
		want       error
		wantRole   auth.Role
		wantScopes []auth.Scope
	}{
		{"default is today's developer key", tenant.KeyOptions{}, nil, auth.RoleDeveloper, []auth.Scope{auth.ScopeInference, auth.ScopeRetrieval}},
		{"tenant admin gets every scope", tenant.KeyOptions{Role: auth.RoleTenantAdmin}, nil, auth.RoleTenantAdmin,
			[]auth.Scope{auth.ScopeInference, auth.ScopeRetrieval, auth.ScopeAdminRead, auth.ScopeAdmin}},
		{"viewer reads", tenant.KeyOptions{Role: auth.RoleViewer}, nil, auth.RoleViewer, []auth.Scope{auth.ScopeAdminRead}},
		{"a read-only tenant admin", tenant.KeyOptions{Role: auth.RoleTenantAdmin, Scopes: []auth.Scope{auth.ScopeAdminRead}}, nil, auth.RoleTenantAdmin, []auth.Scope{auth.ScopeAdminRead}},
		{"a viewer cannot call models", tenant.KeyOptions{Role: auth.RoleViewer, Scopes: []auth.Scope{auth.ScopeInference}}, tenant.ErrInvalid, "", nil},
		{"a developer cannot administer", tenant.KeyOptions{Scopes: []auth.Scope{auth.ScopeAdmin}}, tenant.ErrInvalid, "", nil},
		{"no platform admins among a tenant's keys", tenant.KeyOptions{Role: auth.RolePlatformAdmin}, tenant.ErrInvalid, "", nil},
		{"unknown role", tenant.KeyOptions{Role: "owner"}, tenant.ErrInvalid, "", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k, secret, err := svc.CreateKey(ctx, "acme", c.o)
			if !errors.Is(err, c.want) || (c.want == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if c.want != nil {
				return
			}
			if k.Role != c.wantRole || !slices.Equal(k.Scopes, c.wantScopes) {
				t.Fatalf("key %s %v, want %s %v", k.Role, k.Scopes, c.wantRole, c.wantScopes)
			}
			id, err := svc.Resolve(ctx, secret)
			if err != nil || id.Principal.Role != c.wantRole || id.Principal.Admin {
				t.Fatalf("resolved %+v, %v", id.Principal, err)
			}
		})
	}
}

func TestKeyPolicyBindsTenantAdmins(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	svc := tenant.NewService(memstore.New(), tenant.WithClock(clk.Now))
	if _, err := svc.CreateTenant(ctx, tenant.Tenant{ID: "acme", KeyPolicy: tenant.KeyPolicy{MaxKeys: 2, MaxLifetimeDays: 30}}); err != nil {
		t.Fatal(err)
	}
	in := func(d time.Duration) *time.Time { at := clk.Now().Add(d); return &at }
	delegated := func(o tenant.KeyOptions) error {
		o.Delegated = true
		_, _, err := svc.CreateKey(ctx, "acme", o)
		return err
	}
	if err := delegated(tenant.KeyOptions{Name: "forever"}); !errors.Is(err, tenant.ErrKeyPolicy) {
		t.Fatalf("a key without expiry: %v, want ErrKeyPolicy", err)
	}
	if err := delegated(tenant.KeyOptions{ExpiresAt: in(31 * 24 * time.Hour)}); !errors.Is(err, tenant.ErrKeyPolicy) {
		t.Fatalf("a key living 31 days: %v, want ErrKeyPolicy", err)
	}
	if err := delegated(tenant.KeyOptions{Role: auth.RoleTenantAdmin, ExpiresAt: in(time.Hour)}); !errors.Is(err, tenant.ErrKeyPolicy) {
		t.Fatalf("a tenant-admin key by default: %v, want ErrKeyPolicy", err)
	}
	for i := 0; i < 2; i++ {
		if err := delegated(tenant.KeyOptions{ExpiresAt: in(24 * time.Hour)}); err != nil {
			t.Fatalf("key %d: %v", i, err)
		}
	}
	if err := delegated(tenant.KeyOptions{Role: auth.RoleViewer, ExpiresAt: in(time.Hour)}); !errors.Is(err, tenant.ErrKeyPolicy) {
		t.Fatalf("a third active key: %v, want ErrKeyPolicy", err)
	}
	// The platform admin is not bound; expired keys no longer count.
	if _, _, err := svc.CreateKey(ctx, "acme", tenant.KeyOptions{Role: auth.RoleTenantAdmin}); err != nil {
		t.Fatalf("platform admin: %v", err)
	}
	clk.Advance(25 * time.Hour)
	if err := delegated(tenant.KeyOptions{ExpiresAt: in(time.Hour)}); err != nil {
		t.Fatalf("after two keys expired: %v", err)
	}
	if err := delegated(tenant.KeyOptions{ExpiresAt: in(time.Hour)}); !errors.Is(err, tenant.ErrKeyPolicy) {
		t.Fatalf("beside the platform admin's key and the new one: %v, want ErrKeyPolicy", err)
	}
	if _, err := svc.UpdateTenant(ctx, "acme", func(t *tenant.Tenant) error {
		t.KeyPolicy.Roles = []auth.Role{auth.RoleTenantAdmin}
		t.KeyPolicy.MaxKeys = 3
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := delegated(tenant.KeyOptions{Role: auth.RoleTenantAdmin, ExpiresAt: in(time.Hour)}); err != nil {
		t.Fatalf("a tenant-admin key once the policy allows it: %v", err)
	}
}

func TestPlatformCredentials(t *testing.T) {
	ctx := context.Background()
	svc := tenant.NewService(memstore.New())
	k, secret, err := svc.CreatePlatformKey(ctx, tenant.KeyOptions{Name: "compliance"})
	if err != nil {
		t.Fatal(err)
	}
	if k.Role != auth.RoleAuditor || k.TenantID != "" {
		t.Fatalf("platform key %+v, want a tenant-less auditor", k)
	}
	if _, err := svc.Resolve(ctx, secret); !errors.Is(err, tenant.ErrInvalidKey) {
		t.Fatalf("the tenant API resolved a platform key: %v", err)
	}
	id, err := svc.ResolveAny(ctx, secret)
	if err != nil || id.Tenant != nil || !id.Principal.PlatformWide() || id.Principal.Admin {
		t.Fatalf("ResolveAny = %+v, %v", id, err)
	}
	if _, _, err := svc.CreatePlatformKey(ctx, tenant.KeyOptions{Role: auth.RoleDeveloper}); !errors.Is(err, tenant.ErrInvalid) {
		t.Fatalf("a platform developer: %v, want ErrInvalid", err)
	}
	_, adminSecret, err := svc.CreatePlatformKey(ctx, tenant.KeyOptions{Role: auth.RolePlatformAdmin, Name: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := svc.ResolveAny(ctx, adminSecret); !id.Principal.Admin {
		t.Fatalf("a named platform admin resolved as %+v", id.Principal)
	}
	keys, err := svc.ListPlatformKeys(ctx)
	if err != nil || len(keys) != 2 {
		t.Fatalf("platform keys %v, %v", keys, err)
	}
	if owner, err := svc.KeyTenant(ctx, k.ID); err != nil || owner != "" {
		t.Fatalf("KeyTenant = %q, %v", owner, err)
	}
	if _, err := svc.RevokeKey(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ResolveAny(ctx, secret); !errors.Is(err, tenant.ErrKeyRevoked) {
		t.Fatalf("revoked platform key: %v", err)
	}

	const arn = "arn:aws:iam::123456789012:role/auditors"
	if _, err := svc.MapIAM(ctx, tenant.IAMPrincipal{ARN: arn}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.AuthenticateIAM(ctx, arn); !errors.Is(err, tenant.ErrUnknownPrincipal) {
		t.Fatalf("the tenant API admitted a platform mapping: %v", err)
	}
	p, tn, err := svc.AuthenticateIAMAny(ctx, arn+"-not")
	if !errors.Is(err, tenant.ErrUnknownPrincipal) {
		t.Fatalf("unmapped ARN: %+v %v %v", p, tn, err)
	}
	p, tn, err = svc.AuthenticateIAMAny(ctx, "arn:aws:sts::123456789012:assumed-role/auditors/jo")
	if err != nil || tn != nil || p.Role != auth.RoleAuditor || !p.PlatformWide() {
		t.Fatalf("assumed auditor role: %+v %v %v", p, tn, err)
	}
}
