package access

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/plinth-ai/plinth/shared/platform"
)

// documented is one operation of the OpenAPI document with its x-plinth-access.
type documented struct {
	method, path string
	route        string // the server's route pattern
	access       struct {
		Roles      []string `json:"roles"`
		Scopes     []string `json:"scopes"`
		Tenant     string   `json:"tenant"`
		SharedRead bool     `json:"shared_read"`
	}
	example any
}

// operations lists the document's operations that carry x-plinth-access, in path order.
func operations(t *testing.T) []documented {
	t.Helper()
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(platform.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	var out []documented
	for path, item := range doc.Paths {
		for method, raw := range item {
			var op struct {
				Route       string          `json:"x-plinth-route"`
				Access      json.RawMessage `json:"x-plinth-access"`
				RequestBody struct {
					Content map[string]struct {
						Example any `json:"example"`
					} `json:"content"`
				} `json:"requestBody"`
			}
			if json.Unmarshal(raw, &op) != nil || op.Access == nil {
				continue
			}
			d := documented{method: strings.ToUpper(method), path: path, route: op.Route}
			if d.route == "" {
				d.route = d.method + " " + path
			}
			if err := json.Unmarshal(op.Access, &d.access); err != nil {
				t.Fatalf("%s %s: x-plinth-access: %v", d.method, path, err)
			}
			d.example = op.RequestBody.Content["application/json"].Example
			out = append(out, d)
		}
	}
	order := map[string]int{"GET": 0, "POST": 1, "PUT": 2, "PATCH": 3, "DELETE": 4}
	sort.Slice(out, func(i, j int) bool {
		if out[i].path != out[j].path {
			return out[i].path < out[j].path
		}
		return order[out[i].method] < order[out[j].method]
	})
	return out
}

// request builds the call of op about tenant r's resources.
func request(op documented, r map[string]string) (path string, body any) {
	params := map[string]string{
		"arn": "arn:aws:iam::123456789012:role/matrix", "grant": "no-grant", "name": "no-such-thing", "version": "1",
		"model": "local-chat", "kb": r["kb"], "path": "index.html",
	}
	id := "no-such-id"
	switch {
	case strings.HasPrefix(op.path, "/admin/tenants/{id}"):
		id = r["tenant"]
	case strings.HasPrefix(op.path, "/admin/keys/"):
		id = r["key"]
	case strings.HasPrefix(op.path, "/admin/eval-suites/"):
		id = r["suite"]
	case strings.HasPrefix(op.path, "/admin/eval-runs/"):
		id = r["run"]
	case strings.Contains(op.path, "/review-queues/"):
		id = r["queue"]
	case strings.HasPrefix(op.path, "/admin/prompts/"):
		id = r["prompt"]
	case strings.HasPrefix(op.path, "/admin/guardrail-policies/"):
		id = r["policy"]
	case strings.HasPrefix(op.path, "/admin/agents/"):
		id = r["agent"]
	case strings.HasPrefix(op.path, "/admin/fine_tuning/jobs/"):
		id = r["job"]
	}
	params["id"] = id
	path = op.path
	for k, v := range params {
		path = strings.ReplaceAll(path, "{"+k+"}", url.PathEscape(v))
	}
	if op.access.Tenant == "query" {
		path += "?tenant=" + r["tenant"]
	}
	if op.method == "GET" || op.method == "DELETE" {
		return path, nil
	}
	m := map[string]any{}
	if ex, ok := op.example.(map[string]any); ok {
		b, _ := json.Marshal(ex)
		_ = json.Unmarshal(b, &m)
	}
	switch op.method + " " + op.path {
	case "PATCH /admin/tenants/{id}", "POST /admin/tool-servers":
		m = map[string]any{} // no change to the fixture; no outbound call
	case "POST /admin/tenants/{id}/migration":
		m = map[string]any{"isolation_tier": "pool"} // refused as invalid: the fixture stays where it is
	case "PUT /admin/guardrail-baseline":
		m = map[string]any{"policy": ""}
	}
	if strings.Contains(op.access.Tenant, "body") {
		m["tenant"] = r["tenant"]
	}
	return path, m
}

// expect says whether cred may call op for its own tenant, as documented.
func expect(op documented, cred credential) bool {
	if !slices.Contains(op.access.Roles, cred.role) {
		return false
	}
	switch op.access.Tenant {
	case "own":
		return !cred.platform // the tenant API takes tenants' credentials only
	case "platform":
		return cred.platform
	}
	return true
}

// refused reports whether the answer is the access policy's refusal.
func refused(status int, body []byte) bool {
	if status == 401 {
		return true
	}
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	_ = json.Unmarshal(body, &e)
	return status == 403 && (e.Error.Code == "permission_denied" || e.Error.Code == "insufficient_scope")
}

// TestRoleMatrix calls every documented route with every role, for the caller's own
// tenant, and, for a tenant's credentials, for another tenant: each is admitted or
// refused exactly as x-plinth-access documents, no other tenant is ever reachable, and no
// answer to a tenant's credential holds the other tenant's secret. It runs with the two
// tenants in the pool, both in silos, and one in each.
func TestRoleMatrix(t *testing.T) {
	for _, tiers := range [][]string{{"pool", "pool"}, {"silo", "silo"}, {"silo", "pool"}} {
		t.Run("acme "+tiers[0]+" globex "+tiers[1], func(t *testing.T) { roleMatrix(t, newWorld(t, tiers...)) })
	}
}

func roleMatrix(t *testing.T, w *world) {
	ops := operations(t)
	if len(ops) < 100 {
		t.Fatalf("only %d documented operations carry x-plinth-access", len(ops))
	}
	foreign := w.res["globex"]["secret"]
	calls, allowed, denied, leaks := 0, 0, 0, 0
	leaked := func(cred credential, method, path string, b []byte) {
		if !cred.platform && strings.Contains(string(b), foreign) {
			leaks++
			t.Errorf("%s %s as acme's %s answered globex's secret: %.300s", method, path, cred.name, b)
		}
	}
	for _, op := range ops {
		for _, cred := range credentials {
			path, body := request(op, w.res["acme"])
			status, b := w.call(t, op.method, path, w.keys[cred.name], body)
			calls++
			leaked(cred, op.method, path, b)
			want := expect(op, cred)
			if got := !refused(status, b); got != want {
				t.Errorf("%s %s as %s: %d %.200s; documented allowed=%v", op.method, path, cred.name, status, b, want)
			}
			if want {
				allowed++
			} else {
				denied++
			}
			// Another tenant's resources are never reachable with a tenant's credential.
			if cred.platform || op.access.Tenant == "own" || op.access.Tenant == "global" || op.access.Tenant == "platform" {
				continue
			}
			path, body = request(op, w.res["globex"])
			status, b = w.call(t, op.method, path, w.keys[cred.name], body)
			calls++
			denied++
			leaked(cred, op.method, path, b)
			if !refused(status, b) {
				t.Errorf("%s %s as acme's %s reached globex: %d %.200s", op.method, path, cred.name, status, b)
			}
		}
	}
	t.Logf("role matrix (acme %s, globex %s): %d routes × %d credentials, %d calls (%d admitted, %d refused as documented), %d leaks of the other tenant's data",
		w.res["acme"]["tier"], w.res["globex"]["tier"], len(ops), len(credentials), calls, allowed, denied, leaks)
}

// TestScopesNarrowRoles: a credential's scopes narrow what its role may do.
func TestScopesNarrowRoles(t *testing.T) {
	w := newWorld(t)
	mk := func(role string, scopes ...string) string {
		return w.must(t, "POST", "/admin/tenants/acme/keys", map[string]any{"role": role, "scopes": scopes}, 201)["key"].(string)
	}
	cases := []struct {
		name, key, method, path string
		body                    any
		allowed                 bool
	}{
		{"a developer's default key reads no admin data", mk("developer"), "GET", "/admin/tenants/acme", nil, false},
		{"with admin-read it does", mk("developer", "admin-read"), "GET", "/admin/tenants/acme", nil, true},
		{"a retrieval-only key calls no model", mk("developer", "retrieval"), "POST", "/v1/chat/completions",
			map[string]any{"model": "local-chat", "messages": []map[string]string{{"role": "user", "content": "hi"}}}, false},
		{"a read-only tenant admin issues no key", mk("tenant-admin", "admin-read"), "POST", "/admin/tenants/acme/keys", map[string]any{}, false},
		{"a tenant admin without inference calls no model", mk("tenant-admin", "admin", "admin-read"), "POST", "/v1/chat/completions",
			map[string]any{"model": "local-chat", "messages": []map[string]string{{"role": "user", "content": "hi"}}}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, b := w.call(t, c.method, c.path, c.key, c.body)
			if refused(status, b) == c.allowed {
				t.Fatalf("%d %s, want allowed=%v", status, b, c.allowed)
			}
		})
	}
}

// TestDocumentedAsEnforced: the OpenAPI document's x-plinth-access of every operation is
// what the access policy enforces, and every rule is documented.
func TestDocumentedAsEnforced(t *testing.T) {
	seen := map[string]bool{}
	for _, op := range operations(t) {
		seen[op.route] = true
		rule, ok := ruleFor(op.route)
		if !ok {
			t.Errorf("%s %s (route %s) is documented but has no access rule", op.method, op.path, op.route)
			continue
		}
		if got, want := strings.Join(op.access.Roles, ","), rule.roles; got != want {
			t.Errorf("%s %s: documented roles %s, enforced %s", op.method, op.path, got, want)
		}
		if got, want := strings.Join(op.access.Scopes, ","), rule.scopes; got != want {
			t.Errorf("%s %s: documented scopes %s, enforced %s", op.method, op.path, got, want)
		}
		if op.access.Tenant != rule.tenant || op.access.SharedRead != rule.sharedRead {
			t.Errorf("%s %s: documented tenant %s (shared reads %v), enforced %s (%v)", op.method, op.path, op.access.Tenant, op.access.SharedRead, rule.tenant, rule.sharedRead)
		}
	}
	for _, p := range allPatterns() {
		if !seen[p] {
			t.Errorf("rule %s documents no operation: document it in the OpenAPI fragment with x-plinth-access", p)
		}
	}
}

func (d documented) String() string { return fmt.Sprintf("%s %s", d.method, d.path) }
