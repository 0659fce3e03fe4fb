package toolhub

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/plinth-ai/plinth/shared/auth"
	"github.com/plinth-ai/plinth/shared/tenant"
)

// Policy refusals. Decide wraps one of them (or a tenant package sentinel) with context.
var (
	// ErrNotGranted means no grant gives the caller the tool (the caller sees "unknown tool").
	ErrNotGranted = errors.New("toolhub: tool not granted")
	// ErrNotApproved means the server or the tool's current definition is not approved.
	ErrNotApproved = errors.New("toolhub: tool not approved for use")
)

// Grant gives a tenant, or one of its API keys, tools of one server. Without grants a
// caller has no tools (deny by default).
type Grant struct {
	ID     string `json:"id"`
	Tenant string `json:"tenant"`
	// KeyID, when set, limits the grant to one API key (or IAM principal); otherwise it
	// applies to every key of the tenant.
	KeyID  string `json:"key_id,omitempty"`
	Server string `json:"server"`
	// Tools lists the server's tools (upstream names) granted; empty grants every approved
	// tool of the server and its resources and prompts.
	Tools []string `json:"tools,omitempty"`
	// CallsPerMinute caps the calls the grantee makes to the server's tools (0 = no cap).
	CallsPerMinute int64     `json:"calls_per_minute,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
	CreatedBy      string    `json:"created_by,omitempty"`
}

// WholeServer reports whether the grant covers every tool, resource and prompt of its server.
func (g *Grant) WholeServer() bool { return len(g.Tools) == 0 }

func (g *Grant) validate() error {
	if !tenant.ValidID(g.Tenant) {
		return fmt.Errorf("%w: tenant %q is not a valid tenant id", ErrInvalid, g.Tenant)
	}
	if !idPattern.MatchString(g.Server) {
		return fmt.Errorf("%w: server %q is not a valid server id", ErrInvalid, g.Server)
	}
	if g.CallsPerMinute < 0 {
		return fmt.Errorf("%w: calls_per_minute must not be negative", ErrInvalid)
	}
	return nil
}

// ItemKind is what a caller asks for.
type ItemKind string

const (
	ItemTool     ItemKind = "tool"
	ItemResource ItemKind = "resource"
	ItemPrompt   ItemKind = "prompt"
)

// Item names one thing on a server: a tool (by upstream name), or the server's resources
// or prompts as a whole.
type Item struct {
	Kind ItemKind
	Name string
}

// Decide is the one policy decision for tools. Listing shows exactly the items for which
// it returns nil, and every call is admitted only when it returns nil: a tool is callable
// if and only if it is listed.
//
// It refuses with tenant.ErrScope when p lacks the inference scope, tenant.ErrTenantSuspended
// when the tenant is not active, ErrNotApproved when the server or the tool's current
// definition is not approved, and ErrNotGranted when no grant of p's tenant (for every key,
// or for p's key) names the item. Platform admins need no grant but still only reach
// approved tools. grants may hold other tenants' grants; they never match.
func Decide(p auth.Principal, t *tenant.Tenant, grants []Grant, s *Server, it Item) (*Grant, error) {
	if s == nil {
		return nil, fmt.Errorf("%s %s: %w", it.Kind, it.Name, ErrNotGranted)
	}
	if !p.Has(auth.ScopeInference) {
		return nil, fmt.Errorf("tools need scope %q: %w", auth.ScopeInference, tenant.ErrScope)
	}
	if s.Status != StatusApproved {
		return nil, fmt.Errorf("server %s is %s: %w", s.ID, s.Status, ErrNotApproved)
	}
	if it.Kind == ItemTool {
		tl, ok := s.Tool(it.Name)
		if !ok {
			return nil, fmt.Errorf("tool %s: %w", it.Name, ErrNotGranted)
		}
		if !tl.Approved() {
			return nil, fmt.Errorf("tool %s of %s: %w", it.Name, s.ID, ErrNotApproved)
		}
	}
	if p.Admin {
		return nil, nil
	}
	if t == nil || t.ID != p.TenantID {
		return nil, fmt.Errorf("%s %s: %w", it.Kind, it.Name, ErrNotGranted)
	}
	if t.Status != tenant.StatusActive {
		return nil, fmt.Errorf("tenant %s: %w", t.ID, tenant.ErrTenantSuspended)
	}
	for i := range grants {
		g := &grants[i]
		if g.Tenant != t.ID || g.Server != s.ID || (g.KeyID != "" && g.KeyID != p.KeyID) {
			continue
		}
		if g.WholeServer() || (it.Kind == ItemTool && slices.Contains(g.Tools, it.Name)) {
			return g, nil
		}
	}
	return nil, fmt.Errorf("%s %s of %s: %w", it.Kind, it.Name, s.ID, ErrNotGranted)
}
