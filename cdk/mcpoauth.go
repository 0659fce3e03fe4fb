package main

import (
	"fmt"
	"net/url"

	"github.com/aws/jsii-runtime-go"

	"github.com/plinth-ai/plinth/shared/auth/accesstoken"
)

// MCPOAuthConfig makes /mcp an OAuth 2.1 resource server: the key authorizer admits
// access tokens from Issuer, signed by a key of JWKSURL and issued for Resource (their
// audience), on /mcp only, and the gateway function checks them again and serves the
// protected resource metadata naming the issuer. API Gateway's 401s then carry a
// WWW-Authenticate header pointing to that metadata, as MCP clients expect.
type MCPOAuthConfig struct {
	// Issuer is the authorization server (the tokens' iss).
	Issuer string
	// JWKSURL serves the issuer's signing keys; the authorizer and the gateway function
	// fetch it, so a private network needs privateEgress.
	JWKSURL string
	// Resource is the /mcp URL clients use (e.g. https://api.example.com/mcp, or the
	// stage URL's /mcp), which tokens must name in aud.
	Resource string
	// TenantClaim is the claim naming the caller's tenant (default "tenant").
	TenantClaim string
}

// Enabled reports whether OAuth is configured.
func (c MCPOAuthConfig) Enabled() bool { return c.Issuer != "" || c.JWKSURL != "" || c.Resource != "" }

func (c MCPOAuthConfig) validate(cfg Config) error {
	if !c.Enabled() {
		if c.TenantClaim != "" {
			return fmt.Errorf("context mcpOAuthTenantClaim needs mcpOAuthIssuer, mcpOAuthJwksUrl and mcpResource")
		}
		return nil
	}
	for key, v := range map[string]string{"mcpOAuthIssuer": c.Issuer, "mcpOAuthJwksUrl": c.JWKSURL, "mcpResource": c.Resource} {
		u, err := url.Parse(v)
		if v == "" || err != nil || u.Scheme != "https" || u.Host == "" {
			return fmt.Errorf("context %s=%q: MCP OAuth needs mcpOAuthIssuer, mcpOAuthJwksUrl and mcpResource, each an https URL", key, v)
		}
	}
	if cfg.PrivateNetwork && !cfg.PrivateEgress {
		return fmt.Errorf("context mcpOAuthJwksUrl: the authorizer fetches the issuer's keys, which a private network without privateEgress cannot reach")
	}
	return nil
}

// environment is what the authorizer and the gateway function read (package accesstoken).
func (c MCPOAuthConfig) environment() map[string]string {
	if !c.Enabled() {
		return nil
	}
	env := map[string]string{accesstoken.EnvIssuer: c.Issuer, accesstoken.EnvJWKSURL: c.JWKSURL, accesstoken.EnvResource: c.Resource}
	if c.TenantClaim != "" {
		env[accesstoken.EnvTenantClaim] = c.TenantClaim
	}
	return env
}

// mcpOAuthEnvironment gives the functions that check access tokens their settings.
func mcpOAuthEnvironment(c MCPOAuthConfig, fns ...*Function) {
	for k, v := range c.environment() {
		for _, f := range fns {
			f.AddEnvironment(k, jsii.String(v))
		}
	}
}

// challenge is the WWW-Authenticate header value of API Gateway's 401s, as a gateway
// response parameter (a static value in single quotes), or "" when OAuth is off.
func (c MCPOAuthConfig) challenge() string {
	if !c.Enabled() {
		return ""
	}
	return "'" + accesstoken.Challenge(c.Resource) + "'"
}
