package accesstoken

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/plinth-ai/plinth/shared/auth"
)

const (
	issuer   = "https://auth.example.com"
	resource = "https://api.example.com/prod/mcp"
)

// issuerKeys is an authorization server's JWKS endpoint whose keys a test can rotate.
type issuerKeys struct {
	srv     *httptest.Server
	keys    atomic.Pointer[jose.JSONWebKeySet]
	fetches atomic.Int64
	down    atomic.Bool
}

func newIssuer(t *testing.T, keys ...jose.JSONWebKey) *issuerKeys {
	t.Helper()
	ik := &issuerKeys{}
	ik.keys.Store(&jose.JSONWebKeySet{Keys: keys})
	ik.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		ik.fetches.Add(1)
		if ik.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		_ = json.NewEncoder(w).Encode(ik.keys.Load())
	}))
	t.Cleanup(ik.srv.Close)
	return ik
}

func rsaKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func public(k *rsa.PrivateKey, kid string) jose.JSONWebKey {
	return jose.JSONWebKey{Key: k.Public(), KeyID: kid, Algorithm: "RS256", Use: "sig"}
}

func sign(t *testing.T, k *rsa.PrivateKey, kid string, claims jwt.Claims, extra map[string]any) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: k}, (&jose.SignerOptions{}).WithHeader("kid", kid))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(s).Claims(claims).Claims(extra).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// clock is the verifier's fixed "now".
var clock = time.Date(2031, 3, 4, 12, 0, 0, 0, time.UTC)

func verifier(t *testing.T, jwksURL string) *Verifier {
	t.Helper()
	v, err := New(Config{Resource: resource, Issuer: issuer, JWKSURL: jwksURL})
	if err != nil {
		t.Fatal(err)
	}
	v.now = func() time.Time { return clock }
	return v
}

func TestVerify(t *testing.T) {
	key, other := rsaKey(t), rsaKey(t)
	ik := newIssuer(t, public(key, "k1"))
	v := verifier(t, ik.srv.URL)
	good := jwt.Claims{Issuer: issuer, Subject: "user-1", Audience: jwt.Audience{resource}, Expiry: jwt.NewNumericDate(clock.Add(time.Hour)), IssuedAt: jwt.NewNumericDate(clock)}
	tenant := map[string]any{"tenant": "acme"}

	c, err := v.Verify(context.Background(), sign(t, key, "k1", good, tenant))
	if err != nil || c.Tenant != "acme" || c.Subject != "user-1" || !c.Expiry.Equal(clock.Add(time.Hour)) {
		t.Fatalf("a good token: %+v %v", c, err)
	}
	if p := c.Principal(); p.TenantID != "acme" || p.KeyID != "oauth:user-1" || !p.Has(auth.ScopeInference) || p.Has(auth.ScopeRetrieval) || p.Admin {
		t.Errorf("principal %+v: want acme's developer with the inference scope only", p)
	}
	slash := good
	slash.Audience = jwt.Audience{"https://other.example.com/mcp", resource + "/"}
	if _, err := v.Verify(context.Background(), sign(t, key, "k1", slash, tenant)); err != nil {
		t.Errorf("an audience list naming the resource (trailing slash): %v", err)
	}

	wrongAud, expired, wrongIss, noExp, notYet := good, good, good, good, good
	wrongAud.Audience = jwt.Audience{"https://api.example.com/prod/v1"}
	expired.Expiry = jwt.NewNumericDate(clock.Add(-time.Minute))
	wrongIss.Issuer = "https://evil.example.com"
	noExp.Expiry = nil
	notYet.NotBefore = jwt.NewNumericDate(clock.Add(time.Hour))
	for name, tok := range map[string]string{
		"another audience": sign(t, key, "k1", wrongAud, tenant),
		"expired":          sign(t, key, "k1", expired, tenant),
		"another issuer":   sign(t, key, "k1", wrongIss, tenant),
		"no expiry":        sign(t, key, "k1", noExp, tenant),
		"not yet valid":    sign(t, key, "k1", notYet, tenant),
		"unknown signer":   sign(t, other, "k1", good, tenant),
		"unknown key id":   sign(t, other, "k9", good, tenant),
		"not a JWT":        "eyJhbGciOiJub25lIn0.e30.",
		"an API key":       "pk-abcdef",
	} {
		if _, err := v.Verify(context.Background(), tok); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if _, err := v.Verify(context.Background(), sign(t, key, "k1", good, nil)); !errors.Is(err, ErrNoTenant) {
		t.Errorf("a token naming no tenant: %v, want ErrNoTenant", err)
	}
}

func TestKeysAreRefetchedForANewKeyOnly(t *testing.T) {
	old, rotated := rsaKey(t), rsaKey(t)
	ik := newIssuer(t, public(old, "k1"))
	v := verifier(t, ik.srv.URL)
	claims := jwt.Claims{Issuer: issuer, Audience: jwt.Audience{resource}, Expiry: jwt.NewNumericDate(clock.Add(time.Hour))}
	tenant := map[string]any{"tenant": "acme"}
	for range 3 {
		if _, err := v.Verify(context.Background(), sign(t, old, "k1", claims, tenant)); err != nil {
			t.Fatal(err)
		}
	}
	if n := ik.fetches.Load(); n != 1 {
		t.Fatalf("%d JWKS fetches for three tokens of one key, want 1", n)
	}
	// The issuer rotates: a token of the new key makes the verifier look again (once a
	// minute at most).
	ik.keys.Store(&jose.JSONWebKeySet{Keys: []jose.JSONWebKey{public(old, "k1"), public(rotated, "k2")}})
	v.now = func() time.Time { return clock.Add(2 * time.Minute) }
	if _, err := v.Verify(context.Background(), sign(t, rotated, "k2", claims, tenant)); err != nil {
		t.Fatalf("a token of the rotated key: %v", err)
	}
	if n := ik.fetches.Load(); n != 2 {
		t.Fatalf("%d JWKS fetches after the rotation, want 2", n)
	}
	// The issuer cannot be reached: that is not the caller's fault, and says so.
	ik.down.Store(true)
	v.now = func() time.Time { return clock.Add(2 * time.Hour) }
	if _, err := v.Verify(context.Background(), sign(t, old, "k1", jwt.Claims{Issuer: issuer, Audience: jwt.Audience{resource}, Expiry: jwt.NewNumericDate(clock.Add(3 * time.Hour))}, tenant)); err == nil || errors.Is(err, ErrInvalid) {
		t.Fatalf("the issuer's keys unavailable: %v, want an error that is not ErrInvalid", err)
	}
}

func TestConfigFromEnv(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	if c, err := ConfigFromEnv(env(nil), "http://127.0.0.1:8080/mcp"); c != nil || err != nil {
		t.Errorf("nothing set: %+v %v, want OAuth off", c, err)
	}
	if _, err := ConfigFromEnv(env(map[string]string{EnvIssuer: issuer}), "http://x/mcp"); err == nil {
		t.Error("an issuer without a JWKS URL was accepted")
	}
	both := map[string]string{EnvIssuer: issuer, EnvJWKSURL: "https://auth.example.com/jwks"}
	if _, err := ConfigFromEnv(env(both), ""); err == nil {
		t.Error("no resource and no default was accepted")
	}
	c, err := ConfigFromEnv(env(both), "http://127.0.0.1:9/mcp")
	if err != nil || c.Resource != "http://127.0.0.1:9/mcp" || c.Issuer != issuer {
		t.Errorf("default resource: %+v %v", c, err)
	}
	both[EnvResource], both[EnvTenantClaim] = resource, "org"
	if c, err = ConfigFromEnv(env(both), "http://127.0.0.1:9/mcp"); err != nil || c.Resource != resource || c.TenantClaim != "org" {
		t.Errorf("explicit resource and claim: %+v %v", c, err)
	}
}

func TestChallengePointsToTheMetadata(t *testing.T) {
	for res, want := range map[string]string{
		resource:                    `Bearer resource_metadata="https://api.example.com/prod/.well-known/oauth-protected-resource/mcp"`,
		"http://127.0.0.1:8080/mcp": `Bearer resource_metadata="http://127.0.0.1:8080/.well-known/oauth-protected-resource/mcp"`,
	} {
		if got := Challenge(res); got != want {
			t.Errorf("Challenge(%s) = %s, want %s", res, got, want)
		}
	}
}
