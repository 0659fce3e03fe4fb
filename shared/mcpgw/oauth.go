package mcpgw

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/plinth-ai/plinth/shared/auth/accesstoken"
	"github.com/plinth-ai/plinth/shared/httpapi"
	"github.com/plinth-ai/plinth/shared/tenant"
	"github.com/plinth-ai/plinth/shared/toolhub"
)

// OAuthConfig makes /mcp an OAuth 2.1 resource server: which access tokens it accepts.
type OAuthConfig = accesstoken.Config

// OAuth verifies access tokens and serves RFC 9728 protected resource metadata.
type OAuth struct {
	cfg     OAuthConfig
	v       *accesstoken.Verifier
	tenants func(ctx context.Context, id string) (*tenant.Tenant, error)
}

// NewOAuth returns a verifier; tenants looks a token's tenant up (active tenants only
// are admitted).
func NewOAuth(cfg OAuthConfig, tenants func(ctx context.Context, id string) (*tenant.Tenant, error)) (*OAuth, error) {
	if tenants == nil {
		return nil, errors.New("mcpgw: OAuth needs a tenant lookup")
	}
	v, err := accesstoken.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("mcpgw: %w", err)
	}
	return &OAuth{cfg: v.Config(), v: v, tenants: tenants}, nil
}

// MetadataPath is where the protected resource metadata of /mcp is served.
const MetadataPath = accesstoken.MetadataPath

// challenge is the WWW-Authenticate value of a 401: where to find the metadata.
func (o *OAuth) challenge(r *http.Request, err error) string {
	c := accesstoken.Challenge(o.cfg.Resource)
	if _, ok := bearer(r); ok && errors.Is(err, errInvalidToken) {
		c += `, error="invalid_token"`
	}
	return c
}

var errInvalidToken = accesstoken.ErrInvalid

func unauthorized(msg string) error {
	return fmt.Errorf("%w: %w", errInvalidToken, &httpapi.Error{Status: http.StatusUnauthorized, Code: httpapi.CodeInvalidAPIKey, Message: msg})
}

// verify checks a token's signature, issuer, audience and lifetime and returns its caller.
// The token is used for this gateway only and never forwarded.
func (o *OAuth) verify(ctx context.Context, raw string) (*toolhub.Caller, error) {
	claims, err := o.v.Verify(ctx, raw)
	switch {
	case errors.Is(err, accesstoken.ErrInvalid):
		return nil, unauthorized(strings.TrimPrefix(err.Error(), accesstoken.ErrInvalid.Error()+": "))
	case errors.Is(err, accesstoken.ErrNoTenant):
		return nil, &httpapi.Error{Status: http.StatusForbidden, Code: httpapi.CodePermissionDenied, Message: "the access token names no tenant (claim " + o.cfg.TenantClaim + ")"}
	case err != nil:
		return nil, err
	}
	t, err := o.tenants(ctx, claims.Tenant)
	if errors.Is(err, tenant.ErrNotFound) {
		return nil, &httpapi.Error{Status: http.StatusForbidden, Code: httpapi.CodePermissionDenied, Message: "the access token's tenant is unknown"}
	}
	if err != nil {
		return nil, err
	}
	if t.Status != tenant.StatusActive {
		return nil, &httpapi.Error{Status: http.StatusForbidden, Code: httpapi.CodeTenantSuspended, Message: "tenant is suspended"}
	}
	claims.Tenant = t.ID
	return &toolhub.Caller{Principal: claims.Principal(), Tenant: t}, nil
}
