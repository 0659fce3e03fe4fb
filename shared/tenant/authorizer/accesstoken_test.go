package authorizer_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/plinth-ai/plinth/shared/auth"
	"github.com/plinth-ai/plinth/shared/auth/accesstoken"
	"github.com/plinth-ai/plinth/shared/store/memstore"
	"github.com/plinth-ai/plinth/shared/tenant"
	"github.com/plinth-ai/plinth/shared/tenant/authorizer"
)

// TestAccessTokensAreGoodForMCPOnly: with access tokens configured, a valid token of an
// active tenant is allowed on /mcp and on nothing else of the stage; invalid tokens are
// 401, and tokens of unknown, suspended or missing tenants are denied. API keys work as
// before.
func TestAccessTokensAreGoodForMCPOnly(t *testing.T) {
	ctx := context.Background()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	}))
	defer jwks.Close()
	const (
		issuer   = "https://auth.example.com"
		resource = "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/prod/mcp"
	)
	v, err := accesstoken.New(accesstoken.Config{Resource: resource, Issuer: issuer, JWKSURL: jwks.URL})
	if err != nil {
		t.Fatal(err)
	}
	svc := tenant.NewService(memstore.New())
	for _, id := range []string{"acme", "frozen"} {
		if _, err := svc.CreateTenant(ctx, tenant.Tenant{ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := svc.UpdateTenant(ctx, "frozen", func(t *tenant.Tenant) error { t.Status = tenant.StatusSuspended; return nil }); err != nil {
		t.Fatal(err)
	}
	_, apiKey, err := svc.CreateKey(ctx, "acme", tenant.KeyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h := authorizer.New(svc, nil, authorizer.WithAccessTokens(v, svc.CachedTenant))

	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", "k1"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	token := func(aud, tenantID string) string {
		c := jwt.Claims{Issuer: issuer, Subject: "user-7", Audience: jwt.Audience{aud}, Expiry: jwt.NewNumericDate(now.Add(time.Hour)), IssuedAt: jwt.NewNumericDate(now)}
		extra := map[string]any{}
		if tenantID != "" {
			extra["tenant"] = tenantID
		}
		tok, err := jwt.Signed(s).Claims(c).Claims(extra).Serialize()
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	onMCP := func(secret string) events.APIGatewayCustomAuthorizerRequestTypeRequest {
		ev := event(t, secret)
		ev.MethodArn, ev.Resource, ev.Path = "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/prod/POST/mcp", "/mcp", "/mcp"
		return ev
	}

	resp, err := h.Handle(ctx, onMCP(token(resource, "acme")))
	if err != nil {
		t.Fatal(err)
	}
	st := resp.PolicyDocument.Statement[0]
	if st.Effect != "Allow" || len(st.Resource) != 1 || st.Resource[0] != "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/prod/*/mcp" {
		t.Fatalf("a valid token: %+v, want Allow on every method of /mcp only", resp.PolicyDocument)
	}
	raw, _ := json.Marshal(resp.Context)
	var delivered map[string]any
	_ = json.Unmarshal(raw, &delivered)
	p, ok := authorizer.PrincipalFromAuthorizerContext(delivered)
	if !ok || p.TenantID != "acme" || p.KeyID != "oauth:user-7" || !p.Has(auth.ScopeInference) || p.Has(auth.ScopeAdminRead) || p.Admin {
		t.Fatalf("principal %+v %v", p, ok)
	}

	for name, tok := range map[string]string{
		"another audience": token("https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/prod/v1", "acme"),
		"garbage":          "eyJhbGciOiJSUzI1NiJ9.e30.c2ln",
	} {
		if _, err := h.Handle(ctx, onMCP(tok)); !errors.Is(err, authorizer.ErrUnauthorized) {
			t.Errorf("%s: %v, want Unauthorized", name, err)
		}
	}
	for name, tok := range map[string]string{
		"unknown tenant":   token(resource, "nobody"),
		"suspended tenant": token(resource, "frozen"),
		"no tenant":        token(resource, ""),
	} {
		resp, err := h.Handle(ctx, onMCP(tok))
		if err != nil || resp.PolicyDocument.Statement[0].Effect != "Deny" || resp.Context != nil {
			t.Errorf("%s: %+v %v, want Deny", name, resp, err)
		}
	}
	// An API key still gets the whole stage.
	resp, err = h.Handle(ctx, event(t, apiKey))
	if err != nil || resp.PolicyDocument.Statement[0].Resource[0] != "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/prod/*/*" {
		t.Fatalf("an API key: %+v %v", resp, err)
	}
	// Without access tokens configured, a token is just an unknown key.
	if _, err := authorizer.New(svc, nil).Handle(ctx, onMCP(token(resource, "acme"))); !errors.Is(err, authorizer.ErrUnauthorized) {
		t.Errorf("a token when none are accepted: %v, want Unauthorized", err)
	}
}
