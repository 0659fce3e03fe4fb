package console_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/plinth-ai/plinth/shared/auth"
	"github.com/plinth-ai/plinth/shared/console"
)

func TestHandlerServesFilesAndThePage(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle("GET /console/{path...}", console.Handler())
	srv := httptest.NewServer(mux)
	defer srv.Close()
	get := func(path string, hdr ...string) *http.Response {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	cases := []struct {
		path, wantType string
		want           int
	}{
		{"/console/", "text/html; charset=utf-8", 200},
		{"/console/tenants", "text/html; charset=utf-8", 200}, // deep links get the page
		{"/console/js/app.js", "text/javascript; charset=utf-8", 200},
		{"/console/app.css", "text/css; charset=utf-8", 200},
		{"/console/js/missing.js", "application/json", 404},
	}
	for _, c := range cases {
		resp := get(c.path)
		if resp.StatusCode != c.want || resp.Header.Get("Content-Type") != c.wantType {
			t.Errorf("%s: %d %s, want %d %s", c.path, resp.StatusCode, resp.Header.Get("Content-Type"), c.want, c.wantType)
		}
		if c.want == 200 {
			csp := resp.Header.Get("Content-Security-Policy")
			if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "frame-ancestors 'none'") {
				t.Errorf("%s: CSP %q", c.path, csp)
			}
			if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("%s: no nosniff", c.path)
			}
		}
	}
	first := get("/console/js/app.js")
	if again := get("/console/js/app.js", "If-None-Match", first.Header.Get("ETag")); again.StatusCode != http.StatusNotModified {
		t.Errorf("revalidation: %d, want 304", again.StatusCode)
	}
}

// The console's assets reference nothing outside the platform.
func TestAssetsStayOnTheOrigin(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle("GET /console/{path...}", console.Handler())
	for _, p := range []string{"/console/", "/console/js/app.js", "/console/app.css"} {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest("GET", p, nil))
		body := w.Body.String()
		for _, bad := range []string{"http://", "https://", "//cdn", "localStorage.setItem"} {
			if strings.Contains(body, bad) {
				t.Errorf("%s contains %q", p, bad)
			}
		}
	}
}

func TestSession(t *testing.T) {
	admin, v1 := http.NewServeMux(), http.NewServeMux()
	console.SessionRoutes(admin, v1)
	cases := []struct {
		mux  *http.ServeMux
		path string
		p    *auth.Principal
		want console.Session
		// may and mayNot are routes the session must and must not list as allowed.
		may, mayNot string
	}{
		{admin, "/admin/session", &auth.Principal{Admin: true, KeyID: "admin"},
			console.Session{Role: auth.RolePlatformAdmin, Platform: true, KeyID: "admin"}, "POST /admin/tenants", "POST /v1/chat/completions"},
		{admin, "/admin/session", &auth.Principal{KeyID: "key_9", Role: auth.RoleAuditor, Scopes: []auth.Scope{auth.ScopeAdminRead}},
			console.Session{Role: auth.RoleAuditor, Platform: true, KeyID: "key_9"}, "GET /admin/audit", "POST /admin/tenants"},
		{admin, "/admin/session", &auth.Principal{TenantID: "acme", KeyID: "key_2", Role: auth.RoleTenantAdmin, Scopes: []auth.Scope{auth.ScopeAdmin, auth.ScopeAdminRead, auth.ScopeInference}},
			console.Session{Role: auth.RoleTenantAdmin, Tenant: "acme", KeyID: "key_2"}, "POST /admin/tenants/{id}/keys", "GET /admin/tenants"},
		{v1, "/v1/session", &auth.Principal{TenantID: "acme", KeyID: "key_1", Scopes: []auth.Scope{auth.ScopeRetrieval}},
			console.Session{Role: auth.RoleDeveloper, Tenant: "acme", KeyID: "key_1"}, "POST /v1/knowledge-bases/{kb}/retrieve", "POST /v1/chat/completions"},
		{v1, "/v1/session", &auth.Principal{TenantID: "acme", KeyID: "key_3", Role: auth.RoleViewer, Scopes: []auth.Scope{auth.ScopeAdminRead}},
			console.Session{Role: auth.RoleViewer, Tenant: "acme", KeyID: "key_3"}, "GET /admin/knowledge-bases", "POST /admin/knowledge-bases"},
	}
	for _, c := range cases {
		r := httptest.NewRequest("GET", c.path, nil)
		r = r.WithContext(auth.WithPrincipal(r.Context(), *c.p))
		w := httptest.NewRecorder()
		c.mux.ServeHTTP(w, r)
		var got console.Session
		if err := json.NewDecoder(w.Body).Decode(&got); err != nil || w.Code != 200 {
			t.Fatalf("%s: %d %v", c.path, w.Code, err)
		}
		if got.Role != c.want.Role || got.Platform != c.want.Platform || got.Tenant != c.want.Tenant || got.KeyID != c.want.KeyID || len(got.Scopes) == 0 {
			t.Errorf("%s: %+v, want %+v", c.path, got, c.want)
		}
		if !slices.Contains(got.Allowed, c.may) || slices.Contains(got.Allowed, c.mayNot) {
			t.Errorf("%s as %s: allowed %v, want %q and not %q", c.path, c.want.Role, got.Allowed, c.may, c.mayNot)
		}
	}
	w := httptest.NewRecorder()
	v1.ServeHTTP(w, httptest.NewRequest("GET", "/v1/session", nil))
	if w.Code != http.StatusUnauthorized {
		t.Errorf("no principal: %d, want 401", w.Code)
	}
}
