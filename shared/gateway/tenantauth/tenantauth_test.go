package tenantauth_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/plinth-ai/plinth/shared/gateway/tenantauth"
	"github.com/plinth-ai/plinth/shared/httpapi"
	"github.com/plinth-ai/plinth/shared/store/memstore"
	"github.com/plinth-ai/plinth/shared/tenant"
	"github.com/plinth-ai/plinth/shared/tenant/authorizer"
)

// TestAuthenticateSources covers each way a caller is admitted: the authorizer context
// and IAM identity API Gateway hands over in AWS, and API keys.
func TestAuthenticateSources(t *testing.T) {
	ctx := context.Background()
	svc := tenant.NewService(memstore.New())
	for _, id := range []string{"acme", "frozen"} {
		if _, err := svc.CreateTenant(ctx, tenant.Tenant{ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := svc.UpdateTenant(ctx, "frozen", func(t *tenant.Tenant) error { t.Status = tenant.StatusSuspended; return nil }); err != nil {
		t.Fatal(err)
	}
	role := "arn:aws:iam::123456789012:role/app"
	if _, err := svc.MapIAMPrincipal(ctx, "acme", role, nil); err != nil {
		t.Fatal(err)
	}
	_, secret, _ := svc.CreateKey(ctx, "acme", tenant.KeyOptions{Limits: &tenant.Limits{RequestsPerMinute: 3}})

	const hdrCtx, hdrARN = "X-Test-Authorizer-Tenant", "X-Test-User-Arn"
	a := tenantauth.New(svc,
		tenantauth.WithAuthorizerContext(func(r *http.Request) (map[string]any, bool) {
			tn := r.Header.Get(hdrCtx)
			if tn == "" {
				return nil, false
			}
			return map[string]any{authorizer.ContextTenant: tn, authorizer.ContextKeyID: "key_x", authorizer.ContextScopes: "inference", authorizer.ContextKeyLimits: `{"requests_per_minute":9}`}, true
		}),
		tenantauth.WithIAMIdentity(func(r *http.Request) (string, bool) { return r.Header.Get(hdrARN), true }))

	tests := []struct {
		name, header, value string
		status              int
		tenant, keyID       string
		keyRPM              int64
	}{
		{"authorizer context", hdrCtx, "acme", 0, "acme", "key_x", 9},
		{"authorizer context of suspended tenant", hdrCtx, "frozen", 403, "", "", 0},
		{"authorizer context of unknown tenant", hdrCtx, "nobody", 404, "", "", 0},
		{"IAM identity", hdrARN, "arn:aws:sts::123456789012:assumed-role/app/s1", 0, "acme", "arn:aws:sts::123456789012:assumed-role/app/s1", 0},
		{"unmapped IAM identity", hdrARN, "arn:aws:iam::123456789012:role/other", 403, "", "", 0},
		{"API key", "Authorization", "Bearer " + secret, 0, "acme", "", 3},
		{"no credentials", "X-None", "", 401, "", "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/v1/models", nil)
			r.Header.Set(tc.header, tc.value)
			c, err := a.Authenticate(r)
			if tc.status != 0 {
				var he *httpapi.Error
				if !errors.As(err, &he) || he.Status != tc.status {
					t.Fatalf("err = %v, want status %d", err, tc.status)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Tenant.ID != tc.tenant || (tc.keyID != "" && c.Principal.KeyID != tc.keyID) {
				t.Fatalf("caller %+v", c.Principal)
			}
			if (tc.keyRPM == 0) != (c.KeyLimits == nil) || (c.KeyLimits != nil && c.KeyLimits.RequestsPerMinute != tc.keyRPM) {
				t.Fatalf("key limits %+v", c.KeyLimits)
			}
		})
	}
}
