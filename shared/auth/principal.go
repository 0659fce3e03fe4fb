// Package auth carries the authenticated caller through a request's context: who it is
// (tenant, key or IAM principal), its role and the scopes its credential was given.
package auth

import "context"

// Scope is a permission granted to an API key or IAM principal: an area of the platform
// the credential may use. Roles decide which operations a caller may perform; scopes
// narrow a credential to some areas.
type Scope string

const (
	ScopeInference Scope = "inference"  // chat completions, embeddings, guardrails, tools
	ScopeRetrieval Scope = "retrieval"  // knowledge-base retrieval, answers, documents
	ScopeAdminRead Scope = "admin-read" // read-only access to the tenant's own admin data
	ScopeAdmin     Scope = "admin"      // changes to the tenant's own admin data (tenant admins)
)

// Role is what a caller may do. Platform admins and platform auditors act across tenants;
// the other roles act on one tenant.
type Role string

const (
	// RolePlatformAdmin administers the whole platform: tenants, model and tool approval,
	// guardrail floors, every tenant's resources.
	RolePlatformAdmin Role = "platform-admin"
	// RoleAuditor reads everything in its reach (the platform, or one tenant) including
	// the audit trail, and changes nothing.
	RoleAuditor Role = "auditor"
	// RoleTenantAdmin administers one tenant: its keys (within the limits the platform
	// admin set), knowledge bases, evaluation suites, prompts, review queues and
	// guardrail policies, and uses its models like a developer.
	RoleTenantAdmin Role = "tenant-admin"
	// RoleDeveloper calls models, guardrails, knowledge bases and tools for one tenant
	// (the role of every key created before roles existed).
	RoleDeveloper Role = "developer"
	// RoleViewer reads one tenant's configuration and usage and calls nothing.
	RoleViewer Role = "viewer"
)

// Roles lists every role, most powerful first.
var Roles = []Role{RolePlatformAdmin, RoleAuditor, RoleTenantAdmin, RoleDeveloper, RoleViewer}

// Valid reports whether r is one of Roles.
func (r Role) Valid() bool {
	for _, x := range Roles {
		if r == x {
			return true
		}
	}
	return false
}

// Principal is who is calling: a tenant's API key or IAM principal, or a platform
// principal (admin key, platform key, IAM).
type Principal struct {
	// TenantID is the tenant the caller acts for; empty for platform principals.
	TenantID string
	// KeyID is the API key's public ID (never the secret), or the IAM principal ARN.
	KeyID  string
	Scopes []Scope
	// Admin is true for platform administrators (admin key locally, IAM in AWS).
	Admin bool
	// Role is the caller's role; empty means RoleDeveloper for a tenant's credential (keys
	// made before roles existed) and RolePlatformAdmin when Admin is set.
	Role Role
}

// EffectiveRole is the role the caller acts with (see Role).
func (p Principal) EffectiveRole() Role {
	switch {
	case p.Admin:
		return RolePlatformAdmin
	case p.Role == "":
		return RoleDeveloper
	}
	return p.Role
}

// PlatformWide reports whether the caller acts across tenants (a platform admin or a
// platform auditor) rather than for one tenant.
func (p Principal) PlatformWide() bool {
	return p.Admin || (p.TenantID == "" && p.Role == RoleAuditor)
}

// Has reports whether the principal holds the scope (admins hold every scope).
func (p Principal) Has(s Scope) bool {
	if p.Admin {
		return true
	}
	for _, x := range p.Scopes {
		if x == s {
			return true
		}
	}
	return false
}

type ctxKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// WithPrincipalOf is WithPrincipal for a principal the request keeps anyway (the
// gateway's caller): ctx refers to *p rather than holding a copy of it, which saves the
// copy's allocation; *p must not change afterwards.
func WithPrincipalOf(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// FromContext returns the principal set by the authentication middleware.
func FromContext(ctx context.Context) (Principal, bool) {
	switch p := ctx.Value(ctxKey{}).(type) {
	case Principal:
		return p, true
	case *Principal:
		if p != nil {
			return *p, true
		}
	}
	return Principal{}, false
}
