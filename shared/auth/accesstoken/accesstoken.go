// Package accesstoken verifies OAuth 2.1 access tokens (signed JWTs) issued for one
// resource, /mcp: the signature by a key of the issuer's JWKS, the issuer, the lifetime
// and the audience (RFC 8707 / RFC 9068), and reads the caller's tenant from a claim.
//
// The local platform's MCP gateway and, in AWS, the API Gateway key authorizer (before
// the request reaches the gateway function, which checks the token again) both use it,
// so a token is judged alike on both runtimes. A verified token is used to admit the
// caller only; it is never passed on to an upstream server.
package accesstoken

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

	"github.com/plinth-ai/plinth/shared/auth"
)

// Config says which tokens are accepted.
type Config struct {
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
	// HTTPClient fetches the JWKS (default a client with a 10 s timeout).
	HTTPClient *http.Client
}

// Environment variables ConfigFromEnv reads.
const (
	EnvIssuer      = "PLINTH_MCP_OAUTH_ISSUER"
	EnvJWKSURL     = "PLINTH_MCP_OAUTH_JWKS_URL"
	EnvResource    = "PLINTH_MCP_RESOURCE"
	EnvTenantClaim = "PLINTH_MCP_OAUTH_TENANT_CLAIM"
)

// ConfigFromEnv reads the configuration from getenv: nil when neither the issuer nor
// the JWKS URL is set (OAuth off). defaultResource is used when PLINTH_MCP_RESOURCE is
// unset; "" makes it required (in AWS the address clients use is known only to the
// deployment).
func ConfigFromEnv(getenv func(string) string, defaultResource string) (*Config, error) {
	issuer, jwks := getenv(EnvIssuer), getenv(EnvJWKSURL)
	if issuer == "" && jwks == "" {
		return nil, nil
	}
	if issuer == "" || jwks == "" {
		return nil, fmt.Errorf("accesstoken: set both %s and %s (or neither)", EnvIssuer, EnvJWKSURL)
	}
	cfg := &Config{Issuer: issuer, JWKSURL: jwks, Resource: getenv(EnvResource), TenantClaim: getenv(EnvTenantClaim)}
	if cfg.Resource == "" {
		cfg.Resource = defaultResource
	}
	if cfg.Resource == "" {
		return nil, fmt.Errorf("accesstoken: %s (the /mcp URL tokens name in aud) is required with %s", EnvResource, EnvIssuer)
	}
	return cfg, nil
}

// MetadataPath is where the protected resource metadata (RFC 9728) of /mcp is served,
// under the resource's base URL.
const MetadataPath = "/.well-known/oauth-protected-resource/mcp"

// Challenge is the WWW-Authenticate value of a 401 from the resource: where its
// metadata, and so its authorization server, are found.
func Challenge(resource string) string {
	return fmt.Sprintf("Bearer resource_metadata=%q", strings.TrimSuffix(strings.TrimSuffix(resource, "/"), "/mcp")+MetadataPath)
}

// Errors of Verify.
var (
	// ErrInvalid means the token is not one this resource accepts (401 invalid_token).
	ErrInvalid = errors.New("invalid access token")
	// ErrNoTenant means a valid token names no tenant (403).
	ErrNoTenant = errors.New("the access token names no tenant")
)

// Claims are what a verified token says about its caller.
type Claims struct {
	Subject string
	Tenant  string
	Expiry  time.Time
}

// Principal is who a token's caller acts as: a developer of its tenant with the
// inference scope (what /mcp needs), known by the token's subject.
func (c Claims) Principal() auth.Principal {
	return auth.Principal{TenantID: c.Tenant, KeyID: "oauth:" + c.Subject, Role: auth.RoleDeveloper, Scopes: []auth.Scope{auth.ScopeInference}}
}

// Verifier verifies tokens. It is safe for concurrent use.
type Verifier struct {
	cfg Config
	now func() time.Time

	mu      sync.Mutex
	keys    *jose.JSONWebKeySet
	fetched time.Time
}

// New returns a verifier of cfg.
func New(cfg Config) (*Verifier, error) {
	if cfg.Resource == "" || cfg.Issuer == "" || cfg.JWKSURL == "" {
		return nil, errors.New("accesstoken: a resource, an issuer and a JWKS URL are required")
	}
	if cfg.TenantClaim == "" {
		cfg.TenantClaim = "tenant"
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	return &Verifier{cfg: cfg, now: time.Now}, nil
}

// Config returns the verifier's configuration (defaults applied).
func (v *Verifier) Config() Config { return v.cfg }

// LooksLikeJWT tells a JWT (three base64url parts, a JSON header) from an API key.
func LooksLikeJWT(tok string) bool {
	return strings.Count(tok, ".") == 2 && strings.HasPrefix(tok, "ey")
}

func invalid(msg string) error { return fmt.Errorf("%w: %s", ErrInvalid, msg) }

// Verify checks a token's signature, issuer, lifetime and audience and returns its
// claims. It fails with ErrInvalid for a token this resource does not accept, ErrNoTenant
// for a valid one naming no tenant, and another error when the issuer's keys cannot be
// fetched.
func (v *Verifier) Verify(ctx context.Context, raw string) (Claims, error) {
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.PS256})
	if err != nil {
		return Claims{}, invalid("the access token is not a signed JWT")
	}
	keys, err := v.jwks(ctx, false)
	if err != nil {
		return Claims{}, err
	}
	var kid string
	if len(tok.Headers) > 0 {
		kid = tok.Headers[0].KeyID
	}
	if len(keys.Key(kid)) == 0 {
		if keys, err = v.jwks(ctx, true); err != nil {
			return Claims{}, err
		}
	}
	matches := keys.Key(kid)
	if len(matches) == 0 {
		return Claims{}, invalid("the access token's signing key is unknown")
	}
	var std jwt.Claims
	extra := map[string]any{}
	if err := tok.Claims(matches[0].Key, &std, &extra); err != nil {
		return Claims{}, invalid("the access token's signature is invalid")
	}
	if err := std.ValidateWithLeeway(jwt.Expected{Issuer: v.cfg.Issuer, Time: v.now()}, 30*time.Second); err != nil {
		return Claims{}, invalid("the access token is expired or from another issuer")
	}
	if std.Expiry == nil {
		return Claims{}, invalid("the access token has no expiry")
	}
	if !audienceMatches(std.Audience, v.cfg.Resource) {
		return Claims{}, invalid("the access token was not issued for this resource (audience mismatch)")
	}
	c := Claims{Subject: std.Subject, Expiry: std.Expiry.Time()}
	c.Tenant, _ = extra[v.cfg.TenantClaim].(string)
	if c.Tenant == "" {
		return c, fmt.Errorf("%w (claim %s)", ErrNoTenant, v.cfg.TenantClaim)
	}
	return c, nil
}

// audienceMatches reports whether aud names the resource, ignoring a trailing slash
// (RFC 8707 resource indicators are compared as URIs).
func audienceMatches(aud jwt.Audience, resource string) bool {
	want := strings.TrimSuffix(resource, "/")
	for _, a := range aud {
		if strings.TrimSuffix(a, "/") == want {
			return true
		}
	}
	return false
}

// jwks returns the issuer's keys, fetched at most once a minute unless refresh forces it
// (a token signed by a new key), and at least once an hour.
func (v *Verifier) jwks(ctx context.Context, refresh bool) (*jose.JSONWebKeySet, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	age := v.now().Sub(v.fetched)
	if v.keys != nil && (!refresh || age < time.Minute) && age < time.Hour {
		return v.keys, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.cfg.JWKSURL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := v.cfg.HTTPClient.Do(req)
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
	v.keys, v.fetched = &set, v.now()
	return v.keys, nil
}
