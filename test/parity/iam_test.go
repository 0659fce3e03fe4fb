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

// TestIAMCallersOnMCP: an IAM principal mapped to a tenant uses /mcp as an API key of the
// tenant would: it lists the tools granted to its tenant and calls them, on both runtimes.
func TestIAMCallersOnMCP(t *testing.T) {
	onBoth(t, func(t *testing.T, rt runtime) {
		onboard(t, rt)
		for _, c := range []struct {
			path string
			body any
			want int
		}{
			{"/admin/tenants/acme/iam-principals", map[string]any{"arn": appRole}, http.StatusCreated},
			{"/admin/tool-servers", map[string]any{"id": "guard", "kind": "builtin", "builtin": "guardrail"}, http.StatusCreated},
			{"/admin/tool-servers/guard/review", map[string]any{"decision": "approve", "reviewer": "alice"}, http.StatusOK},
			{"/admin/tenants/acme/tool-grants", map[string]any{"server": "guard"}, http.StatusCreated},
		} {
			if r := rt.do(t, call{Method: "POST", Path: c.path, Admin: true, ContentType: "application/json", Body: jsonBody(c.body)}); r.Status != c.want {
				t.Fatalf("POST %s: %v", c.path, r)
			}
		}
		meta := map[string]any{"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": map[string]any{}}
		mcp := func(who, method string, params map[string]any) reply {
			h := http.Header{"Accept": {"application/json, text/event-stream"}, "Mcp-Protocol-Version": {"2026-07-28"}, "Mcp-Method": {method}}
			if name, ok := params["name"].(string); ok {
				h.Set("Mcp-Name", name)
			}
			return rt.do(t, call{Method: "POST", Path: "/mcp", IAM: who, ContentType: "application/json", Header: h,
				Body: jsonBody(map[string]any{"jsonrpc": "2.0", "id": 1, "method": method, "params": params})})
		}
		if r := mcp(appSession, "tools/list", map[string]any{"_meta": meta}); r.Status != http.StatusOK || !r.contains(`"guardrail_check"`) {
			t.Fatalf("tools/list as %s: %v", appSession, r)
		}
		r := mcp(appSession, "tools/call", map[string]any{"_meta": meta, "name": "guardrail_check", "arguments": map[string]any{"text": "hello"}})
		if r.Status != http.StatusOK || !r.contains(`\"action\":\"NONE\"`) {
			t.Fatalf("tools/call as %s: %v", appSession, r)
		}
		if r := mcp(strangerSession, "tools/list", map[string]any{"_meta": meta}); r.Status != http.StatusForbidden && r.Status != http.StatusUnauthorized {
			t.Fatalf("an unmapped principal on /mcp: %v", r)
		}
	})
}
