package tenant_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/plinth-ai/plinth/shared/auth"
	"github.com/plinth-ai/plinth/shared/store/memstore"
	"github.com/plinth-ai/plinth/shared/tenant"
	"github.com/plinth-ai/plinth/shared/tenant/sigv4"
)

func TestMiddleware(t *testing.T) {
	ctx := context.Background()
	svc := tenant.NewService(memstore.New())
	if _, err := svc.CreateTenant(ctx, tenant.Tenant{ID: "acme"}); err != nil {
		t.Fatal(err)
	}
	_, secret, _ := svc.CreateKey(ctx, "acme", tenant.KeyOptions{})
	revoked, revokedSecret, _ := svc.CreateKey(ctx, "acme", tenant.KeyOptions{})
	if _, err := svc.RevokeKey(ctx, revoked.ID); err != nil {
		t.Fatal(err)
	}
	role := "arn:aws:iam::123456789012:role/app"
	if _, err := svc.MapIAMPrincipal(ctx, "acme", role, nil); err != nil {
		t.Fatal(err)
	}
	v := sigv4.NewVerifier("us-east-1", "execute-api", []sigv4.Credential{
		{AccessKeyID: "AKIDMAPPED", SecretAccessKey: "s1", PrincipalARN: role},
		{AccessKeyID: "AKIDUNMAPPED", SecretAccessKey: "s2", PrincipalARN: "arn:aws:iam::123456789012:role/stranger"},
	})
	h := svc.Middleware(v)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.FromContext(r.Context())
		id, _ := tenant.IdentityFrom(r.Context())
		io.WriteString(w, p.TenantID+"|"+p.KeyID+"|"+id.Tenant.ID)
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()

	sign := func(akid, secret string) func(*http.Request) {
		return func(r *http.Request) {
			sum := sha256.Sum256(nil)
			_ = v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret}, r, hex.EncodeToString(sum[:]), "execute-api", "us-east-1", time.Now())
		}
	}
	bearer := func(k string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+k) }
	}
	tests := []struct {
		name string
		prep func(*http.Request)
		code int
		body string
	}{
		{"api key", bearer(secret), 200, "acme|"},
		{"no key", func(*http.Request) {}, 401, ""},
		{"revoked key", bearer(revokedSecret), 401, ""},
		{"malformed key", bearer("sk-123"), 401, ""},
		{"sigv4 mapped", sign("AKIDMAPPED", "s1"), 200, "acme|" + role + "|acme"},
		{"sigv4 bad secret", sign("AKIDMAPPED", "wrong"), 403, ""},
		{"sigv4 unmapped", sign("AKIDUNMAPPED", "s2"), 403, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", srv.URL+"/v1/models", nil)
			tc.prep(req)
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.code || (tc.body != "" && string(b)[:len(tc.body)] != tc.body) {
				t.Fatalf("%d %s", resp.StatusCode, b)
			}
		})
	}
	tn, err := svc.CachedTenant(ctx, "acme")
	if err != nil || tn.ID != "acme" {
		t.Fatal(tn, err)
	}
}
