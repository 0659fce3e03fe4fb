package access

import (
	"errors"
	"fmt"
	"slices"

	"github.com/plinth-ai/plinth/shared/auth"
)

// Sentinel errors of Decide. The edge maps them to 403 (ErrScope: insufficient_scope,
// the others: permission_denied).
var (
	// ErrRole means the caller's role may not call the route.
	ErrRole = errors.New("access: role may not call this route")
	// ErrScope means the credential lacks every scope the route accepts.
	ErrScope = errors.New("access: credential lacks the scope this route needs")
	// ErrOtherTenant means the request is about a tenant other than the caller's.
	ErrOtherTenant = errors.New("access: the request is about another tenant")
	// ErrPlatformOnly means a tenant's credential called a platform-wide route.
	ErrPlatformOnly = errors.New("access: platform-wide route")
)

// Where says where a request names the tenant it is about.
type Where int

const (
	// Platform routes are about the whole platform; only platform principals (platform
	// admins, and platform auditors where Roles lists auditor) may call them.
	Platform Where = iota
	// Global routes are about no tenant in particular (the caller's own session, the
	// platform's guardrail floor): every role the rule lists may call them.
	Global
	// Own routes act for the caller's own tenant (the tenant API): the caller must be a
	// tenant's principal.
	Own
	// Path routes name the tenant in the path parameter Param.
	Path
	// Query routes name it in the query parameter "tenant"; a tenant's principal that
	// leaves it out gets its own tenant filled in.
	Query
	// Body routes name it in the JSON body's "tenant" field.
	Body
	// Owned routes name a resource (path parameter Param) of kind Resource whose owner is
	// the tenant; with SharedRead, a resource no tenant owns (platform-shared) may be read
	// by any tenant's principal the rule admits.
	Owned
)

var whereNames = map[Where]string{Platform: "platform", Global: "global", Own: "own", Path: "path", Query: "query", Body: "body", Owned: "owner"}

func (w Where) String() string { return whereNames[w] }

// Locator finds the tenant of a request.
type Locator struct {
	Where Where
	// Param is the path parameter (Path, Owned).
	Param string
	// Resource is the kind of resource whose owner is the tenant (Owned), e.g. "key",
	// "eval-suite"; Middleware looks owners up with its Owners.
	Resource string
}

// Rule is who may call one route.
type Rule struct {
	// Roles may call the route besides platform admins, who may call every route.
	Roles []auth.Role
	// Scopes: the credential needs at least one of them (none listed: no scope needed).
	Scopes []auth.Scope
	// Tenant says where the request names its tenant; every locator must agree (a PUT
	// that names a resource and carries a body naming a tenant checks both).
	Tenant []Locator
	// SharedRead lets tenants' principals read resources no tenant owns (Owned).
	SharedRead bool
}

// Allows reports whether the role is admitted by the rule (platform admins always are).
func (r Rule) Allows(role auth.Role) bool {
	return role == auth.RolePlatformAdmin || slices.Contains(r.Roles, role)
}

// where is the rule's first locator kind (Platform when it has none).
func (r Rule) where() Where {
	if len(r.Tenant) == 0 {
		return Platform
	}
	return r.Tenant[0].Where
}

// Target is what a request is about, as the edge found it.
type Target struct {
	// Tenant is the tenant the request names ("" when it names none or the resource is
	// platform-shared).
	Tenant string
	// Shared is set when the named resource belongs to no tenant.
	Shared bool
}

// Decide is the one authorization decision: may p call the route the rule governs, for
// the target? It is pure; Middleware supplies the target. It fails with ErrRole,
// ErrPlatformOnly, ErrScope or ErrOtherTenant, each wrapped with a message for the caller.
func Decide(p auth.Principal, r Rule, t Target) error {
	role := p.EffectiveRole()
	if role == auth.RolePlatformAdmin {
		return nil
	}
	where := r.where()
	if where == Platform && !p.PlatformWide() {
		return fmt.Errorf("a %s of tenant %s may not call platform-wide routes: %w", role, p.TenantID, ErrPlatformOnly)
	}
	if !r.Allows(role) {
		return fmt.Errorf("the %s role may not call this route: %w", role, ErrRole)
	}
	if len(r.Scopes) > 0 && !slices.ContainsFunc(r.Scopes, p.Has) {
		return fmt.Errorf("this route needs one of the scopes %v: %w", r.Scopes, ErrScope)
	}
	switch {
	case where == Platform || where == Global:
		return nil
	case where == Own:
		if p.TenantID == "" {
			return fmt.Errorf("this route acts for a tenant; use a tenant's credential: %w", ErrPlatformOnly)
		}
		return nil
	case p.PlatformWide():
		return nil
	case t.Shared && r.SharedRead:
		return nil
	case t.Shared:
		return fmt.Errorf("only platform admins change platform-shared resources: %w", ErrOtherTenant)
	case t.Tenant != p.TenantID:
		return fmt.Errorf("this credential acts for tenant %s only: %w", p.TenantID, ErrOtherTenant)
	}
	return nil
}
