package access_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/plinth-ai/plinth/shared/access"
	"github.com/plinth-ai/plinth/shared/auth"
)

// echo answers what reached it: the path value, the tenant query and the body.
func echo(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	_ = json.NewEncoder(w).Encode(map[string]string{"id": r.PathValue("id"), "tenant": r.URL.Query().Get("tenant"), "body": string(b)})
}

func server(t *testing.T, p *auth.Principal) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	for _, pat := range []string{"GET /admin/tenants/{id}/keys", "POST /admin/tenants/{id}/keys", "GET /admin/knowledge-bases",
		"POST /admin/knowledge-bases", "GET /admin/eval-runs/{id}", "PUT /admin/eval-suites/{id}", "DELETE /admin/keys/{id}",
		"POST /admin/tenants", "GET /admin/not-in-the-table"} {
		mux.HandleFunc(pat, echo)
	}
	owners := access.Owners{
		access.ResourceEvalRun: func(_ context.Context, id string) (string, error) {
			switch id {
			case "acme-run":
				return "acme", nil
			case "globex-run":
				return "globex", nil
			}
			return "", fmt.Errorf("run %s: %w", id, access.ErrNoOwner)
		},
		access.ResourceKey: func(context.Context, string) (string, error) { return "", fmt.Errorf("store down") },
	}
	h := access.Middleware(mux, access.WithOwners(owners))(mux)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p != nil {
			r = r.WithContext(auth.WithPrincipal(r.Context(), *p))
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestMiddlewareFindsTheTenant(t *testing.T) {
	acmeAdmin := &auth.Principal{TenantID: "acme", KeyID: "key_1", Role: auth.RoleTenantAdmin, Scopes: []auth.Scope{auth.ScopeAdmin, auth.ScopeAdminRead}}
	cases := []struct {
		name         string
		p            *auth.Principal
		method, path string
		body         string
		status       int
		reached      string // what the handler saw (a substring of its answer)
	}{
		{"own tenant in the path", acmeAdmin, "POST", "/admin/tenants/acme/keys", `{}`, 200, `"id":"acme"`},
		{"another tenant in the path", acmeAdmin, "POST", "/admin/tenants/globex/keys", `{}`, 403, "permission_denied"},
		{"a list is narrowed to the caller's tenant", acmeAdmin, "GET", "/admin/knowledge-bases", "", 200, `"tenant":"acme"`},
		{"another tenant in the query", acmeAdmin, "GET", "/admin/knowledge-bases?tenant=globex", "", 403, "permission_denied"},
		{"own tenant in the body, handed on whole", acmeAdmin, "POST", "/admin/knowledge-bases", `{"tenant":"acme","id":"docs"}`, 200, `{\"tenant\":\"acme\",\"id\":\"docs\"}`},
		{"another tenant in the body", acmeAdmin, "POST", "/admin/knowledge-bases", `{"tenant":"globex","id":"docs"}`, 403, "permission_denied"},
		{"no tenant in the body", acmeAdmin, "POST", "/admin/knowledge-bases", `{"id":"docs"}`, 400, `"param":"tenant"`},
		{"a body that is not JSON", acmeAdmin, "POST", "/admin/knowledge-bases", `{"tenant":`, 400, "invalid_json"},
		{"own resource", acmeAdmin, "GET", "/admin/eval-runs/acme-run", "", 200, `"id":"acme-run"`},
		{"another tenant's resource", acmeAdmin, "GET", "/admin/eval-runs/globex-run", "", 403, "permission_denied"},
		{"a missing resource", acmeAdmin, "GET", "/admin/eval-runs/nope", "", 404, "not_found"},
		{"own resource moved to another tenant", acmeAdmin, "PUT", "/admin/eval-suites/acme-qa", `{"tenant":"globex"}`, 403, "permission_denied"},
		{"own resource kept in its tenant", acmeAdmin, "PUT", "/admin/eval-suites/acme-qa", `{"tenant":"acme"}`, 200, `"tenant":"acme"`},
		{"an owner lookup that fails", acmeAdmin, "DELETE", "/admin/keys/key_9", "", 503, "service_unavailable"},
		{"a platform-wide route", acmeAdmin, "POST", "/admin/tenants", `{}`, 403, "platform-wide"},
		{"a route with no rule", acmeAdmin, "GET", "/admin/not-in-the-table", "", 403, "permission_denied"},
		{"no route at all passes to the mux", acmeAdmin, "GET", "/admin/nothing-here", "", 404, ""},
		{"no principal", nil, "GET", "/admin/knowledge-bases", "", 401, "invalid_api_key"},
		{"platform admins are not narrowed", &auth.Principal{Admin: true}, "GET", "/admin/knowledge-bases", "", 200, `"tenant":""`},
		{"platform admins skip owner lookups", &auth.Principal{Admin: true}, "DELETE", "/admin/keys/key_9", "", 200, `"id":"key_9"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := server(t, c.p)
			req, _ := http.NewRequest(c.method, srv.URL+c.path, strings.NewReader(c.body))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.status || !strings.Contains(string(b), c.reached) {
				t.Fatalf("%d %s, want %d with %s", resp.StatusCode, b, c.status, c.reached)
			}
		})
	}
}
