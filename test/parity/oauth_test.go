package parity

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/plinth-ai/plinth/shared/auth/accesstoken"
	"github.com/plinth-ai/plinth/test/mcpfixture"
)

// TestMCPOAuthOnBothRuntimes configures /mcp as an OAuth 2.1 resource server with the
// same settings on both runtimes (locally the platform checks tokens; in AWS the key
// authorizer does, for /mcp only, and the gateway function again) and requires the same
// behaviour: a token issued for the resource lists and calls the tenant's granted tools,
// the upstream sees its own credential and never the token, tokens for another audience
// are refused with a pointer to the metadata, the metadata names the issuer, a token
// reaches no other route, and a token of an unknown tenant is refused.
func TestMCPOAuthOnBothRuntimes(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	}))
	t.Cleanup(jwks.Close)
	const (
		issuer   = "https://auth.example.com"
		resource = "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/prod/mcp"
	)
	settings := map[string]string{accesstoken.EnvIssuer: issuer, accesstoken.EnvJWKSURL: jwks.URL, accesstoken.EnvResource: resource}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", "k1"))
	if err != nil {
		t.Fatal(err)
	}
	token := func(aud, tenantID string) string {
		now := time.Now()
		tok, err := jwt.Signed(signer).Claims(jwt.Claims{Issuer: issuer, Subject: "user-1", Audience: jwt.Audience{aud},
			Expiry: jwt.NewNumericDate(now.Add(time.Hour)), IssuedAt: jwt.NewNumericDate(now)}).Claims(map[string]any{"tenant": tenantID}).Serialize()
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}

	for _, mk := range []func(t *testing.T, e *env) runtime{
		func(t *testing.T, e *env) runtime { return newLocal(t, e) },
		func(t *testing.T, e *env) runtime { return newAWS(t, e) },
	} {
		e := newEnv(t)
		e.settings = settings
		rt := mk(t, e)
		t.Run(rt.name(), func(t *testing.T) {
			onboard(t, rt)
			f := mcpfixture.New()
			up := httptest.NewServer(f.Handler())
			t.Cleanup(up.Close)
			admin := func(method, path string, body any, want int) {
				t.Helper()
				if r := rt.do(t, call{Method: method, Path: path, Admin: true, ContentType: "application/json", Body: jsonBody(body)}); r.Status != want {
					t.Fatalf("%s %s: %v, want %d", method, path, r, want)
				}
			}
			admin("POST", "/admin/tool-servers", map[string]any{"id": "fixture", "kind": "mcp", "url": up.URL,
				"credential": map[string]string{"value": "upstream-secret"}}, http.StatusCreated)
			admin("POST", "/admin/tool-servers/fixture/review", map[string]any{"decision": "approve", "reviewer": "alice"}, http.StatusOK)
			admin("POST", "/admin/tenants/acme/tool-grants", map[string]any{"server": "fixture", "tools": []string{"test_simple_text"}}, http.StatusCreated)

			mcp := func(tok, method string, params map[string]any) reply {
				t.Helper()
				body := map[string]any{"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
				h := http.Header{"Authorization": {"Bearer " + tok}, "Accept": {"application/json, text/event-stream"},
					"Mcp-Protocol-Version": {"2026-07-28"}, "Mcp-Method": {method}}
				if name, ok := params["name"].(string); ok {
					h.Set("Mcp-Name", name)
				}
				return rt.do(t, call{Method: "POST", Path: "/mcp", ContentType: "application/json", Body: jsonBody(body), Header: h})
			}
			meta := map[string]any{"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": map[string]any{}}
			good := token(resource, "acme")

			if r := mcp(good, "tools/list", map[string]any{"_meta": meta}); r.Status != http.StatusOK || !r.contains(`"test_simple_text"`) || r.contains(`"test_error_handling"`) {
				t.Fatalf("tools/list with a token for the resource: %v", r)
			}
			r := mcp(good, "tools/call", map[string]any{"_meta": meta, "name": "test_simple_text", "arguments": map[string]any{}})
			if r.Status != http.StatusOK || !r.contains("This is a simple text response for testing.") {
				t.Fatalf("tools/call with a token: %v", r)
			}
			if got := f.LastHeader().Values("Authorization"); len(got) != 1 || got[0] != "Bearer upstream-secret" {
				t.Fatalf("the upstream saw Authorization %q, want only its own credential", got)
			}

			for name, tok := range map[string]string{"another audience": token("https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/prod/v1", "acme"), "no token": ""} {
				r := mcp(tok, "tools/list", map[string]any{"_meta": meta})
				if name == "no token" {
					r = rt.do(t, call{Method: "POST", Path: "/mcp", ContentType: "application/json", Body: []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`),
						Header: http.Header{"Accept": {"application/json, text/event-stream"}}})
				}
				if r.Status != http.StatusUnauthorized || !strings.Contains(r.Header.Get("WWW-Authenticate"), accesstoken.Challenge(resource)) {
					t.Errorf("%s: %d WWW-Authenticate %q, want 401 pointing to %s", name, r.Status, r.Header.Get("WWW-Authenticate"), accesstoken.Challenge(resource))
				}
			}
			var md struct {
				Resource             string   `json:"resource"`
				AuthorizationServers []string `json:"authorization_servers"`
			}
			rt.do(t, call{Method: "GET", Path: accesstoken.MetadataPath}).decode(t, &md)
			if md.Resource != resource || len(md.AuthorizationServers) != 1 || md.AuthorizationServers[0] != issuer {
				t.Errorf("metadata %+v", md)
			}
			// A token for /mcp is no key to the rest of the API.
			if r := rt.do(t, call{Method: "GET", Path: "/v1/models", Header: http.Header{"Authorization": {"Bearer " + good}}}); r.Status != http.StatusUnauthorized && r.Status != http.StatusForbidden {
				t.Errorf("GET /v1/models with an MCP access token: %v, want it refused", r)
			}
			if r := mcp(token(resource, "nobody"), "tools/list", map[string]any{"_meta": meta}); r.Status != http.StatusForbidden {
				t.Errorf("a token of an unknown tenant: %v, want 403", r)
			}
		})
	}
}
