// Package auth carries the authenticated caller through a request's context.
package auth

import "context"

// Scope is a permission granted to an API key or IAM principal.
type Scope string

const (
	ScopeInference Scope = "inference"  // chat completions, embeddings, guardrails
	ScopeRetrieval Scope = "retrieval"  // knowledge-base retrieval, answers, documents
	ScopeAdminRead Scope = "admin-read" // read-only access to the tenant's own admin data
)

// Principal is who is calling: a tenant's API key or IAM principal, or a platform admin.
type Principal struct {
	TenantID string
	// KeyID is the API key's public ID (never the secret), or the IAM principal ARN.
	KeyID  string
	Scopes []Scope
	// Admin is true for platform administrators (admin key locally, IAM in AWS).
	Admin bool
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

// FromContext returns the principal set by the authentication middleware.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(ctxKey{}).(Principal)
	return p, ok
}
