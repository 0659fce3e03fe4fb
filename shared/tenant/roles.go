package tenant

import (
	"errors"
	"slices"

	"github.com/plinth-ai/plinth/shared/auth"
	"github.com/plinth-ai/plinth/shared/fault"
)

// ErrKeyPolicy means a tenant admin asked for a key the tenant's key policy does not
// allow (a role it may not issue, too many keys, too long a lifetime) (403).
var ErrKeyPolicy = errors.New("tenant: key policy does not allow this key")

// roleScopes are the scopes a credential of each role may hold. Roles decide which
// operations a caller may perform; scopes narrow a credential to some areas.
var roleScopes = map[auth.Role][]auth.Scope{
	auth.RolePlatformAdmin: {auth.ScopeInference, auth.ScopeRetrieval, auth.ScopeAdminRead, auth.ScopeAdmin},
	auth.RoleAuditor:       {auth.ScopeAdminRead},
	auth.RoleTenantAdmin:   {auth.ScopeInference, auth.ScopeRetrieval, auth.ScopeAdminRead, auth.ScopeAdmin},
	auth.RoleDeveloper:     {auth.ScopeInference, auth.ScopeRetrieval, auth.ScopeAdminRead},
	auth.RoleViewer:        {auth.ScopeAdminRead},
}

// defaultScopes are granted to a credential of the role created without explicit scopes.
// A developer's are DefaultScopes, as every key's were before roles existed.
var defaultScopes = map[auth.Role][]auth.Scope{
	auth.RolePlatformAdmin: {auth.ScopeInference, auth.ScopeRetrieval, auth.ScopeAdminRead, auth.ScopeAdmin},
	auth.RoleAuditor:       {auth.ScopeAdminRead},
	auth.RoleTenantAdmin:   {auth.ScopeInference, auth.ScopeRetrieval, auth.ScopeAdminRead, auth.ScopeAdmin},
	auth.RoleDeveloper:     DefaultScopes,
	auth.RoleViewer:        {auth.ScopeAdminRead},
}

// RoleScopes returns the scopes a credential of the role may hold.
func RoleScopes(r auth.Role) []auth.Scope { return slices.Clone(roleScopes[r]) }

// DefaultRoleScopes returns the scopes a credential of the role gets by default.
func DefaultRoleScopes(r auth.Role) []auth.Scope { return slices.Clone(defaultScopes[r]) }

// tenantRoles are the roles of a tenant's credentials.
var tenantRoles = []auth.Role{auth.RoleTenantAdmin, auth.RoleDeveloper, auth.RoleViewer, auth.RoleAuditor}

// platformRoles are the roles of platform credentials (no tenant).
var platformRoles = []auth.Role{auth.RoleAuditor, auth.RolePlatformAdmin}

// roleAndScopes fills the role's defaults and checks the scopes fit the role.
func roleAndScopes(role auth.Role, scopes []auth.Scope, allowed []auth.Role) (auth.Role, []auth.Scope, error) {
	if role == "" {
		role = allowed[0]
		if slices.Contains(allowed, auth.RoleDeveloper) {
			role = auth.RoleDeveloper
		}
	}
	if !slices.Contains(allowed, role) {
		return "", nil, fault.New(ErrInvalid, "role", "role %q must be one of %v", role, allowed)
	}
	if len(scopes) == 0 {
		return role, DefaultRoleScopes(role), nil
	}
	if err := validScopes(scopes); err != nil {
		return "", nil, err
	}
	for _, s := range scopes {
		if !slices.Contains(roleScopes[role], s) {
			return "", nil, fault.New(ErrInvalid, "scopes", "a %s credential may hold only the scopes %v, not %q", role, roleScopes[role], s)
		}
	}
	return role, slices.Compact(slices.Clone(scopes)), nil
}

// KeyPolicy is what a tenant's own admins may issue, set by the platform admin on the
// tenant. Platform admins are not bound by it.
type KeyPolicy struct {
	// Roles a tenant admin may give a key (default developer, viewer and auditor; a
	// tenant admin may issue tenant-admin keys only when listed).
	Roles []auth.Role `json:"roles,omitempty"`
	// MaxKeys bounds the tenant's active (unrevoked, unexpired) keys when a tenant admin
	// creates one (0 = no bound).
	MaxKeys int `json:"max_keys,omitempty"`
	// MaxLifetimeDays makes keys issued by tenant admins expire within this many days
	// (0 = they may live forever).
	MaxLifetimeDays int `json:"max_lifetime_days,omitempty"`
}

// DefaultDelegatedRoles are the roles a tenant admin may issue when the key policy names none.
var DefaultDelegatedRoles = []auth.Role{auth.RoleDeveloper, auth.RoleViewer, auth.RoleAuditor}

func (kp KeyPolicy) validate() error {
	for _, r := range kp.Roles {
		if !slices.Contains(tenantRoles, r) {
			return fault.New(ErrInvalid, "key_policy", "key_policy.roles: %q must be one of %v", r, tenantRoles)
		}
	}
	if kp.MaxKeys < 0 || kp.MaxLifetimeDays < 0 {
		return fault.New(ErrInvalid, "key_policy", "key_policy: max_keys and max_lifetime_days must not be negative")
	}
	return nil
}

// delegatedRoles returns the roles a tenant admin may issue.
func (kp KeyPolicy) delegatedRoles() []auth.Role {
	if len(kp.Roles) == 0 {
		return DefaultDelegatedRoles
	}
	return kp.Roles
}
