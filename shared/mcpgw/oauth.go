package mcpgw

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/modelcontextprotocol/go-sdk/oauthex"

	"github.com/plinth-ai/plinth/shared/auth"
	"github.com/plinth-ai/plinth/shared/httpapi"
	"github.com/plinth-ai/plinth/shared/tenant"
	"github.com/plinth-ai/plinth/shared/toolhub"
)

// OAuthConfig makes /mcp an OAuth 2.1 resource server.
type OAuthConfig struct {
	// Resource is this resource's identifier, the /mcp URL clients use; access tokens
	// must name it in their audience.
	Resource string
	// Issuer is the authorization server tokens come from (their iss).
	Issuer string
	// JWKSURL serves the issuer's signing keys.
	JWKSURL string
	// TenantClaim names the claim holding the caller's tenant (default "tenant").
	TenantClaim string
	// Scopes lists the scopes the resource recognises (advertised in the metadata).
	Scopes []string
	// HTTPClient fetches the JWKS (default http.DefaultClient with a 10 s timeout).
	HTTPClient *http.Client
}

// OAuth verifies access tokens and serves RFC 9728 protected resource metadata.
type OAuth struct {
	cfg     OAuthConfig
	tenants func(ctx context.Context, id string) (*tenant.Tenant, error)

	mu      sync.Mutex
	keys    *jose.JSONWebKeySet
	fetched time.Time
}

// NewOAuth returns a verifier; tenants looks a token's tenant up (active tenants only
// are admitted).
func NewOAuth(cfg OAuthConfig, tenants func(ctx context.Context, id string) (*tenant.Tenant, error)) (*OAuth, error) {
	if cfg.Resource == "" || cfg.Issuer == "" || cfg.JWKSURL == "" || tenants == nil {
		return nil, errors.New("mcpgw: OAuth needs a resource, an issuer, a JWKS URL and a tenant lookup")
	}
	if cfg.TenantClaim == "" {
		cfg.TenantClaim = "tenant"
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	return &OAuth{cfg: cfg, tenants: tenants}, nil
}

// MetadataPath is where the protected resource metadata of /mcp is served.
const MetadataPath = "/.well-known/oauth-protected-resource/mcp"

// challenge is the WWW-Authenticate value of a 401: where to find the metadata.
func (o *OAuth) challenge(r *http.Request, err error) string {
	base := strings.TrimSuffix(o.cfg.Resource, "/mcp")
	c := fmt.Sprintf("Bearer resource_metadata=%q", base+MetadataPath)
	if _, ok := bearer(r); ok && errors.Is(err, errInvalidToken) {
		c += `, error="invalid_token"`
	}
	return c
}

var errInvalidToken = errors.New("invalid access token")

func unauthorized(msg string) error {
	return fmt.Errorf("%w: %w", errInvalidToken, &httpapi.Error{Status: http.StatusUnauthorized, Code: httpapi.CodeInvalidAPIKey, Message: msg})
}

// verify checks a token's signature, issuer, audience and lifetime and returns its caller.
// The token is used for this gateway only and never forwarded.
func (o *OAuth) verify(ctx context.Context, raw string) (*toolhub.Caller, error) {
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.PS256})
	if err != nil {
		return nil, unauthorized("the access token is not a signed JWT")
	}
	keys, err := o.jwks(ctx, false)
	if err != nil {
		return nil, err
	}
	var kid string
	if len(tok.Headers) > 0 {
		kid = tok.Headers[0].KeyID
	}
	if len(keys.Key(kid)) == 0 {
		if keys, err = o.jwks(ctx, true); err != nil {
			return nil, err
		}
	}
	matches := keys.Key(kid)
	if len(matches) == 0 {
		return nil, unauthorized("the access token's signing key is unknown")
	}
	var std jwt.Claims
	extra := map[string]any{}
	if err := tok.Claims(matches[0].Key, &std, &extra); err != nil {
		return nil, unauthorized("the access token's signature is invalid")
	}
	if err := std.ValidateWithLeeway(jwt.Expected{Issuer: o.cfg.Issuer, Time: time.Now()}, 30*time.Second); err != nil {
		return nil, unauthorized("the access token is expired or from another issuer")
	}
	if std.Expiry == nil {
		return nil, unauthorized("the access token has no expiry")
	}
	if !oauthex.MatchesResource(std.Audience, o.cfg.Resource) {
		return nil, unauthorized("the access token was not issued for this resource (audience mismatch)")
	}
	tid, _ := extra[o.cfg.TenantClaim].(string)
	if tid == "" {
		return nil, &httpapi.Error{Status: http.StatusForbidden, Code: httpapi.CodePermissionDenied, Message: "the access token names no tenant (claim " + o.cfg.TenantClaim + ")"}
	}
	t, err := o.tenants(ctx, tid)
	if errors.Is(err, tenant.ErrNotFound) {
		return nil, &httpapi.Error{Status: http.StatusForbidden, Code: httpapi.CodePermissionDenied, Message: "the access token's tenant is unknown"}
	}
	if err != nil {
		return nil, err
	}
	if t.Status != tenant.StatusActive {
		return nil, &httpapi.Error{Status: http.StatusForbidden, Code: httpapi.CodeTenantSuspended, Message: "tenant is suspended"}
	}
	return &toolhub.Caller{Principal: auth.Principal{TenantID: t.ID, KeyID: "oauth:" + std.Subject, Scopes: []auth.Scope{auth.ScopeInference}}, Tenant: t}, nil
}

// jwks returns the issuer's keys, fetched at most once a minute unless refresh forces it
// (a token signed by a new key).
func (o *OAuth) jwks(ctx context.Context, refresh bool) (*jose.JSONWebKeySet, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.keys != nil && (!refresh || time.Since(o.fetched) < time.Minute) && time.Since(o.fetched) < time.Hour {
		return o.keys, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, o.cfg.JWKSURL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := o.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch the issuer's keys: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch the issuer's keys: HTTP %d", resp.StatusCode)
	}
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&set); err != nil {
		return nil, fmt.Errorf("decode the issuer's keys: %w", err)
	}
	o.keys, o.fetched = &set, time.Now()
	return o.keys, nil
}
