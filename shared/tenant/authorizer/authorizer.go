// Package authorizer is the API Gateway Lambda REQUEST authorizer: it turns a bearer API
// key into an IAM policy plus a context ({tenant, keyId, scopes, role}) that API Gateway caches
// (keyed by the Authorization header) and passes to the gateway function, which then
// trusts it through PrincipalFromAuthorizerContext instead of reading the key again.
//
// Revocation latency in AWS is the authorizer's result cache TTL plus the function's
// in-process cache TTL (tenant.WithCacheTTL); keep their sum at or below 60 s
// (for example 30 s + 30 s).
//
// With WithAccessTokens it also admits OAuth 2.1 access tokens issued for the MCP
// gateway (package accesstoken checks signature, issuer, lifetime and audience): a token
// is good for /mcp only, so its policy allows that resource and nothing else of the
// stage, and API Gateway refuses it on every other route even from its cache.
package authorizer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/plinth-ai/plinth/shared/auth"
	"github.com/plinth-ai/plinth/shared/auth/accesstoken"
	"github.com/plinth-ai/plinth/shared/tenant"
)

// ErrUnauthorized is returned for a missing, malformed, unknown, revoked or expired key.
// Its message is exactly "Unauthorized", which API Gateway turns into a 401.
var ErrUnauthorized = errors.New("Unauthorized")

// Context keys of the authorizer result.
const (
	ContextTenant = "tenant"
	ContextKeyID  = "keyId"
	ContextScopes = "scopes"
	// ContextRole holds the key's role (tenant-admin, developer, viewer, auditor).
	ContextRole = "role"
	// ContextKeyLimits holds the key's own limits as JSON, when it has any.
	ContextKeyLimits = "keyLimits"
)

// Resolver resolves an API key secret; *tenant.Service implements it.
type Resolver interface {
	Resolve(ctx context.Context, secret string) (tenant.Identity, error)
}

// Handler is the authorizer's Lambda handler.
type Handler struct {
	keys    Resolver
	log     *slog.Logger
	tokens  *accesstoken.Verifier
	tenants func(ctx context.Context, id string) (*tenant.Tenant, error)
}

// Option configures a Handler.
type Option func(*Handler)

// WithAccessTokens admits OAuth access tokens v accepts on /mcp, for tenants that
// tenants finds active.
func WithAccessTokens(v *accesstoken.Verifier, tenants func(ctx context.Context, id string) (*tenant.Tenant, error)) Option {
	return func(h *Handler) { h.tokens, h.tenants = v, tenants }
}

// New returns a Handler. It panics if keys is nil.
func New(keys Resolver, log *slog.Logger, opts ...Option) *Handler {
	if keys == nil {
		panic("authorizer.New: nil resolver")
	}
	if log == nil {
		log = slog.Default()
	}
	h := &Handler{keys: keys, log: log}
	for _, o := range opts {
		o(h)
	}
	if h.tokens != nil && h.tenants == nil {
		panic("authorizer.New: access tokens without a tenant lookup")
	}
	return h
}

// BearerToken extracts the token of an "Authorization: Bearer …" header from headers
// whose names may have any case.
func BearerToken(headers map[string]string) string {
	for k, v := range headers {
		if strings.EqualFold(k, "Authorization") {
			if tok, ok := strings.CutPrefix(v, "Bearer "); ok {
				return strings.TrimSpace(tok)
			}
			if tok, ok := strings.CutPrefix(v, "bearer "); ok {
				return strings.TrimSpace(tok)
			}
		}
	}
	return ""
}

// Handle authorizes one request. Unknown, revoked and expired keys fail with
// ErrUnauthorized (401); a suspended tenant gets a Deny policy (403). The Allow policy
// covers every method and path of the stage, because API Gateway reuses a cached result
// for every route the same key calls.
func (h *Handler) Handle(ctx context.Context, ev events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
	secret := BearerToken(ev.Headers)
	if h.tokens != nil && accesstoken.LooksLikeJWT(secret) {
		return h.accessToken(ctx, ev, secret)
	}
	id, err := h.keys.Resolve(ctx, secret)
	switch {
	case errors.Is(err, tenant.ErrTenantSuspended):
		h.log.Info("authorizer denied", "reason", "tenant_suspended", "request_id", ev.RequestContext.RequestID)
		return policy("suspended", "Deny", ev.MethodArn, nil), nil
	case errors.Is(err, tenant.ErrInvalidKey), errors.Is(err, tenant.ErrKeyRevoked), errors.Is(err, tenant.ErrKeyExpired):
		h.log.Info("authorizer refused", "reason", err.Error(), "request_id", ev.RequestContext.RequestID)
		return events.APIGatewayCustomAuthorizerResponse{}, ErrUnauthorized
	case err != nil:
		h.log.Error("authorizer failed", "error", err, "request_id", ev.RequestContext.RequestID)
		return events.APIGatewayCustomAuthorizerResponse{}, fmt.Errorf("authorize: %w", err)
	}
	p := id.Principal
	ctxMap := ContextFor(p)
	if id.KeyLimits != nil {
		raw, _ := json.Marshal(id.KeyLimits)
		ctxMap[ContextKeyLimits] = string(raw)
	}
	return policy(p.KeyID, "Allow", ev.MethodArn, ctxMap), nil
}

// MCPPath is the one route an access token is good for.
const MCPPath = "/mcp"

// accessToken authorizes a request carrying an OAuth access token: Allow on /mcp for a
// valid token of an active tenant, 401 for a token this resource does not accept, Deny
// (403) for one whose tenant is unknown, suspended or missing.
func (h *Handler) accessToken(ctx context.Context, ev events.APIGatewayCustomAuthorizerRequestTypeRequest, raw string) (events.APIGatewayCustomAuthorizerResponse, error) {
	rid := ev.RequestContext.RequestID
	claims, err := h.tokens.Verify(ctx, raw)
	switch {
	case errors.Is(err, accesstoken.ErrInvalid):
		h.log.Info("authorizer refused", "reason", err.Error(), "request_id", rid)
		return events.APIGatewayCustomAuthorizerResponse{}, ErrUnauthorized
	case errors.Is(err, accesstoken.ErrNoTenant):
		h.log.Info("authorizer denied", "reason", "token_without_tenant", "request_id", rid)
		return policy("oauth", "Deny", ev.MethodArn, nil), nil
	case err != nil:
		h.log.Error("authorizer failed", "error", err, "request_id", rid)
		return events.APIGatewayCustomAuthorizerResponse{}, fmt.Errorf("authorize: %w", err)
	}
	p := claims.Principal()
	t, err := h.tenants(ctx, claims.Tenant)
	switch {
	case errors.Is(err, tenant.ErrNotFound):
		h.log.Info("authorizer denied", "reason", "token_tenant_unknown", "request_id", rid)
		return policy(p.KeyID, "Deny", ev.MethodArn, nil), nil
	case err != nil:
		h.log.Error("authorizer failed", "error", err, "request_id", rid)
		return events.APIGatewayCustomAuthorizerResponse{}, fmt.Errorf("authorize: %w", err)
	case t.Status != tenant.StatusActive:
		h.log.Info("authorizer denied", "reason", "tenant_suspended", "request_id", rid)
		return policy(p.KeyID, "Deny", ev.MethodArn, nil), nil
	}
	resp := policy(p.KeyID, "Allow", ev.MethodArn, ContextFor(p))
	resp.PolicyDocument.Statement[0].Resource = []string{stageWildcard(ev.MethodArn, MCPPath)}
	return resp, nil
}

// KeyLimitsFromAuthorizerContext returns the key's own limits passed by the authorizer,
// or nil when it has none.
func KeyLimitsFromAuthorizerContext(m map[string]any) *tenant.Limits {
	raw, _ := m[ContextKeyLimits].(string)
	if raw == "" {
		return nil
	}
	var l tenant.Limits
	if json.Unmarshal([]byte(raw), &l) != nil {
		return nil
	}
	return &l
}

// ContextFor is the authorizer context describing p.
func ContextFor(p auth.Principal) map[string]any {
	scopes := make([]string, len(p.Scopes))
	for i, s := range p.Scopes {
		scopes[i] = string(s)
	}
	return map[string]any{ContextTenant: p.TenantID, ContextKeyID: p.KeyID, ContextScopes: strings.Join(scopes, " "), ContextRole: string(p.EffectiveRole())}
}

// PrincipalFromAuthorizerContext rebuilds the principal from the authorizer context API
// Gateway passes to the integration (requestContext.authorizer). It reports false when
// the context does not come from this authorizer.
func PrincipalFromAuthorizerContext(m map[string]any) (auth.Principal, bool) {
	tenantID, _ := m[ContextTenant].(string)
	keyID, _ := m[ContextKeyID].(string)
	scopes, _ := m[ContextScopes].(string)
	if tenantID == "" || keyID == "" {
		return auth.Principal{}, false
	}
	role, _ := m[ContextRole].(string)
	p := auth.Principal{TenantID: tenantID, KeyID: keyID, Role: auth.Role(role)}
	if !p.Role.Valid() || p.Role == auth.RolePlatformAdmin {
		p.Role = auth.RoleDeveloper
	}
	for _, s := range strings.Fields(scopes) {
		p.Scopes = append(p.Scopes, auth.Scope(s))
	}
	return p, true
}

// stageWildcard turns arn:aws:execute-api:region:acct:api/stage/METHOD/path into
// arn:aws:execute-api:region:acct:api/stage/*/* (every method and path of the stage), or
// with path set, into .../stage/*<path> (every method of that path only).
func stageWildcard(methodARN string, path ...string) string {
	parts := strings.SplitN(methodARN, "/", 3)
	if len(parts) < 2 {
		return methodARN
	}
	if len(path) > 0 {
		return parts[0] + "/" + parts[1] + "/*" + path[0]
	}
	return parts[0] + "/" + parts[1] + "/*/*"
}

func policy(principalID, effect, methodARN string, ctx map[string]any) events.APIGatewayCustomAuthorizerResponse {
	return events.APIGatewayCustomAuthorizerResponse{
		PrincipalID: principalID,
		PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{
			Version: "2012-10-17",
			Statement: []events.IAMPolicyStatement{{
				Action:   []string{"execute-api:Invoke"},
				Effect:   effect,
				Resource: []string{stageWildcard(methodARN)},
			}},
		},
		Context: ctx,
	}
}
