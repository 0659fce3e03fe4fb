package mcp

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/plinth-ai/plinth/shared/mcpgw"
	"github.com/plinth-ai/plinth/shared/platform"
)

// TestOAuthResourceServer checks /mcp as an OAuth 2.1 resource server: RFC 9728 metadata,
// 401s that point to it, and access tokens admitted only when signed by the issuer, not
// expired, and issued for this resource (audience).
func TestOAuthResourceServer(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	jwk := jose.JSONWebKey{Key: key.Public(), KeyID: "k1", Algorithm: "RS256", Use: "sig"}
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{jwk}})
	}))
	defer jwks.Close()
	const issuer = "https://auth.example.com"

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	resource := "http://" + ln.Addr().String() + "/mcp"
	l, err := platform.NewLocal(context.Background(), platform.Config{DataDir: t.TempDir(), AdminKey: adminKey,
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		MCPOAuth: &mcpgw.OAuthConfig{Resource: resource, Issuer: issuer, JWKSURL: jwks.URL}})
	if err != nil {
		t.Fatal(err)
	}
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: l.Handler}}
	srv.Start()
	t.Cleanup(func() { srv.Close(); _ = l.Close(context.Background()) })
	e := &env{t: t, l: l, srv: srv}
	e.tenant("oauth-co")
	e.upstream("fixture", "")
	e.grant("oauth-co", map[string]any{"server": "fixture"})

	var md struct {
		Resource             string   `json:"resource"`
		AuthorizationServers []string `json:"authorization_servers"`
	}
	e.do("GET", mcpgw.MetadataPath, "", nil, http.StatusOK, &md)
	if md.Resource != resource || len(md.AuthorizationServers) != 1 || md.AuthorizationServers[0] != issuer {
		t.Fatalf("metadata %+v", md)
	}

	sign := func(claims jwt.Claims, tenant string, k *rsa.PrivateKey) string {
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: k}, (&jose.SignerOptions{}).WithHeader("kid", "k1"))
		if err != nil {
			t.Fatal(err)
		}
		tok, err := jwt.Signed(s).Claims(claims).Claims(map[string]any{"tenant": tenant}).Serialize()
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	now := time.Now()
	good := jwt.Claims{Issuer: issuer, Subject: "user-1", Audience: jwt.Audience{resource}, Expiry: jwt.NewNumericDate(now.Add(time.Hour)), IssuedAt: jwt.NewNumericDate(now)}
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	wrongAud, expired, wrongIss := good, good, good
	wrongAud.Audience = jwt.Audience{"https://other.example.com/mcp"}
	expired.Expiry = jwt.NewNumericDate(now.Add(-time.Hour))
	wrongIss.Issuer = "https://evil.example.com"

	list := `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}`
	post := func(token string) (*http.Response, string) {
		req, _ := http.NewRequest("POST", srv.URL+"/mcp", strings.NewReader(list))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Mcp-Protocol-Version", "2026-07-28")
		req.Header.Set("Mcp-Method", "tools/list")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	for name, tok := range map[string]string{
		"no token":         "",
		"wrong audience":   sign(wrongAud, "oauth-co", key),
		"expired":          sign(expired, "oauth-co", key),
		"another issuer":   sign(wrongIss, "oauth-co", key),
		"unknown signer":   sign(good, "oauth-co", other),
		"not a key or jwt": "pk-not-a-key",
	} {
		resp, body := post(tok)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: %d %s, want 401", name, resp.StatusCode, body)
		}
		if ch := resp.Header.Get("WWW-Authenticate"); !strings.Contains(ch, `resource_metadata="`+strings.TrimSuffix(resource, "/mcp")+mcpgw.MetadataPath+`"`) {
			t.Errorf("%s: WWW-Authenticate %q does not point to the metadata", name, ch)
		}
	}
	resp, body := post(sign(good, "oauth-co", key))
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"test_simple_text"`) {
		t.Fatalf("valid token: %d %s", resp.StatusCode, body)
	}
	if resp, body := post(sign(good, "no-such-tenant", key)); resp.StatusCode != http.StatusForbidden {
		t.Errorf("token for an unknown tenant: %d %s, want 403", resp.StatusCode, body)
	}
}
