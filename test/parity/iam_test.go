package parity

import (
	"net/http"
	"testing"
)

// TestIAMCallers: an application calls the tenant API as an IAM principal (SigV4) as
// well as with an API key. Its role is mapped to a tenant with the admin API; a session
// of that role is then the tenant's caller (locally its signature is verified with the
// configured credentials, in AWS the IAM API verifies it), and a principal mapped to no
// tenant is refused alike on both runtimes.
func TestIAMCallers(t *testing.T) {
	onBoth(t, func(t *testing.T, rt runtime) {
		onboard(t, rt)
		if r := rt.do(t, call{Method: "POST", Path: "/admin/tenants/acme/iam-principals", Admin: true, ContentType: "application/json",
			Body: jsonBody(map[string]any{"arn": appRole})}); r.Status != http.StatusCreated {
			t.Fatalf("map the role: %v", r)
		}
		var models struct {
			Data []struct{ ID string } `json:"data"`
		}
		r := rt.do(t, call{Method: "GET", Path: "/v1/models", IAM: appSession})
		r.decode(t, &models)
		if r.Status != 200 || len(models.Data) == 0 {
			t.Fatalf("models as %s: %v", appSession, r)
		}
		r = rt.do(t, call{Method: "POST", Path: "/v1/chat/completions", IAM: appSession, ContentType: "application/json",
			Body: jsonBody(map[string]any{"model": "local-chat", "messages": []any{map[string]any{"role": "user", "content": "Plinth is a platform. What is Plinth?"}}})})
		if r.Status != 200 || !r.contains(`"Plinth is a platform."`) {
			t.Fatalf("chat as %s: %v", appSession, r)
		}
		var usage struct {
			Tenant string `json:"tenant"`
			Total  struct {
				Requests int `json:"requests"`
			} `json:"total"`
		}
		eventually(t, "the IAM caller's request in acme's usage", func() (bool, string) {
			rt.do(t, call{Method: "GET", Path: "/v1/usage", IAM: appSession}).decode(t, &usage)
			return usage.Tenant == "acme" && usage.Total.Requests >= 1, string(jsonBody(usage))
		})
		r = rt.do(t, call{Method: "GET", Path: "/v1/models", IAM: strangerSession})
		if r.Status != http.StatusForbidden && r.Status != http.StatusUnauthorized {
			t.Fatalf("an unmapped principal: %v", r)
		}
	})
}
