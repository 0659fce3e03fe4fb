package authorizer_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/plinth-ai/plinth/shared/auth"
	"github.com/plinth-ai/plinth/shared/store/memstore"
	"github.com/plinth-ai/plinth/shared/tenant"
	"github.com/plinth-ai/plinth/shared/tenant/authorizer"
)

func event(t *testing.T, key string) events.APIGatewayCustomAuthorizerRequestTypeRequest {
	t.Helper()
	raw, err := os.ReadFile("testdata/request-authorizer-event.json")
	if err != nil {
		t.Fatal(err)
	}
	var ev events.APIGatewayCustomAuthorizerRequestTypeRequest
	if err := json.Unmarshal([]byte(strings.ReplaceAll(string(raw), "${API_KEY}", key)), &ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

func TestHandle(t *testing.T) {
	ctx := context.Background()
	svc := tenant.NewService(memstore.New())
	for _, id := range []string{"acme", "frozen"} {
		if _, err := svc.CreateTenant(ctx, tenant.Tenant{ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	good, goodSecret, _ := svc.CreateKey(ctx, "acme", tenant.KeyOptions{Scopes: []auth.Scope{auth.ScopeInference, auth.ScopeAdminRead}, Limits: &tenant.Limits{RequestsPerMinute: 7}})
	revoked, revokedSecret, _ := svc.CreateKey(ctx, "acme", tenant.KeyOptions{})
	if _, err := svc.RevokeKey(ctx, revoked.ID); err != nil {
		t.Fatal(err)
	}
	_, frozenSecret, _ := svc.CreateKey(ctx, "frozen", tenant.KeyOptions{})
	if _, err := svc.UpdateTenant(ctx, "frozen", func(t *tenant.Tenant) error { t.Status = tenant.StatusSuspended; return nil }); err != nil {
		t.Fatal(err)
	}
	h := authorizer.New(svc, nil)

	t.Run("allow", func(t *testing.T) {
		resp, err := h.Handle(ctx, event(t, goodSecret))
		if err != nil {
			t.Fatal(err)
		}
		st := resp.PolicyDocument.Statement[0]
		if st.Effect != "Allow" || st.Resource[0] != "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/prod/*/*" || resp.PrincipalID != good.ID {
			t.Fatalf("policy %+v", resp)
		}
		// Round-trip the context as API Gateway would deliver it to the integration.
		raw, _ := json.Marshal(resp.Context)
		var delivered map[string]any
		_ = json.Unmarshal(raw, &delivered)
		p, ok := authorizer.PrincipalFromAuthorizerContext(delivered)
		if !ok || p.TenantID != "acme" || p.KeyID != good.ID || !p.Has(auth.ScopeAdminRead) || p.Has(auth.ScopeRetrieval) {
			t.Fatalf("principal %+v %v", p, ok)
		}
		if l := authorizer.KeyLimitsFromAuthorizerContext(delivered); l == nil || l.RequestsPerMinute != 7 {
			t.Fatalf("key limits %+v", l)
		}
	})
	for name, key := range map[string]string{"revoked": revokedSecret, "malformed": "not-a-key", "missing": "", "unknown": "pk-" + strings.Repeat("x", 43)} {
		t.Run(name, func(t *testing.T) {
			if _, err := h.Handle(ctx, event(t, key)); !errors.Is(err, authorizer.ErrUnauthorized) || err.Error() != "Unauthorized" {
				t.Fatalf("err = %v", err)
			}
		})
	}
	t.Run("suspended", func(t *testing.T) {
		resp, err := h.Handle(ctx, event(t, frozenSecret))
		if err != nil || resp.PolicyDocument.Statement[0].Effect != "Deny" || resp.Context != nil {
			t.Fatalf("%+v %v", resp, err)
		}
	})
	if _, ok := authorizer.PrincipalFromAuthorizerContext(map[string]any{"principalId": "x"}); ok {
		t.Fatal("foreign context accepted")
	}
}
