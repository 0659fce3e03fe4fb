package tenant_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/plinth-ai/plinth/shared/httpapi"
	"github.com/plinth-ai/plinth/shared/store/memstore"
	"github.com/plinth-ai/plinth/shared/tenant"
)

func call(t *testing.T, srv *httptest.Server, method, path, body string) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, srv.URL+path, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s: body %q: %v", method, path, raw, err)
		}
	}
	return resp.StatusCode, out
}

func TestAdminRoutes(t *testing.T) {
	svc := tenant.NewService(memstore.New())
	mux := http.NewServeMux()
	tenant.Routes(mux, svc)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	code, body := call(t, srv, "POST", "/admin/tenants", `{"id":"acme","name":"Acme","limits":{"requests_per_minute":60,"monthly_usd":5},"allowed_models":["local-chat"],"tags":{"cost-center":"cc1"}}`)
	if code != 201 || body["id"] != "acme" || body["status"] != "active" || body["limits"].(map[string]any)["monthly_usd"] != 5.0 {
		t.Fatalf("create: %d %v", code, body)
	}
	tests := []struct {
		name, method, path, body string
		want                     int
		code                     string
	}{
		{"duplicate", "POST", "/admin/tenants", `{"id":"acme"}`, 409, "already_exists"},
		{"bad id", "POST", "/admin/tenants", `{"id":"ACME!"}`, 400, "invalid_request_error"},
		{"missing id", "POST", "/admin/tenants", `{"name":"x"}`, 400, "invalid_request_error"},
		{"bad json", "POST", "/admin/tenants", `{"id":`, 400, "invalid_json"},
		{"unknown tenant", "GET", "/admin/tenants/nobody", "", 404, "not_found"},
		{"keys of unknown tenant", "POST", "/admin/tenants/nobody/keys", `{}`, 404, "not_found"},
		{"unknown key", "DELETE", "/admin/keys/key_nope", "", 404, "not_found"},
		{"bad scope", "POST", "/admin/tenants/acme/keys", `{"scopes":["root"]}`, 400, "invalid_request_error"},
		{"bad arn", "POST", "/admin/tenants/acme/iam-principals", `{"arn":"role/x"}`, 400, "invalid_request_error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body := call(t, srv, tc.method, tc.path, tc.body)
			if code != tc.want || body["error"].(map[string]any)["code"] != tc.code {
				t.Fatalf("%d %v", code, body)
			}
		})
	}

	code, body = call(t, srv, "PATCH", "/admin/tenants/acme", `{"limits":{"daily_tokens":1000},"status":"active"}`)
	lim := body["limits"].(map[string]any)
	if code != 200 || lim["daily_tokens"] != 1000.0 || lim["requests_per_minute"] != 60.0 {
		t.Fatalf("patch merges limits: %d %v", code, body)
	}
	if code, k := call(t, srv, "POST", "/admin/tenants/acme/keys", ""); code != 201 || k["key"] == nil {
		t.Fatalf("create key without a body: %d %v", code, k)
	}
	if code, _ := call(t, srv, "POST", "/admin/tenants/acme/keys", `{"scopes":`); code != 400 {
		t.Fatalf("malformed key body: %d", code)
	}
	code, key := call(t, srv, "POST", "/admin/tenants/acme/keys", `{}`)
	secret, _ := key["key"].(string)
	if code != 201 || !strings.HasPrefix(secret, "pk-") || key["id"] == "" || key["hash"] != nil {
		t.Fatalf("create key: %d %v", code, key)
	}
	if _, _, err := svc.Authenticate(context.Background(), secret); err != nil {
		t.Fatal(err)
	}
	code, keys := call(t, srv, "GET", "/admin/tenants/acme/keys", "")
	raw, _ := json.Marshal(keys)
	if code != 200 || len(keys["data"].([]any)) != 2 || strings.Contains(string(raw), secret) || strings.Contains(string(raw), tenant.HashSecret(secret)) {
		t.Fatalf("list keys leaks or misses: %d %s", code, raw)
	}
	if code, _ := call(t, srv, "DELETE", "/admin/keys/"+key["id"].(string), ""); code != 204 {
		t.Fatalf("revoke: %d", code)
	}
	if _, _, err := svc.Authenticate(context.Background(), secret); !errors.Is(err, tenant.ErrKeyRevoked) {
		t.Fatalf("after revoke: %v", err)
	}

	arn := "arn:aws:iam::123456789012:role/app"
	if code, body := call(t, srv, "POST", "/admin/tenants/acme/iam-principals", `{"arn":"`+arn+`"}`); code != 201 || body["tenant"] != "acme" {
		t.Fatalf("map: %d %v", code, body)
	}
	p, tn, err := svc.AuthenticateIAM(context.Background(), "arn:aws:sts::123456789012:assumed-role/app/session-1")
	if err != nil || p.TenantID != "acme" || tn.ID != "acme" {
		t.Fatalf("assumed role: %+v %v", p, err)
	}
	if code, body := call(t, srv, "GET", "/admin/tenants/acme/iam-principals", ""); code != 200 || len(body["data"].([]any)) != 1 {
		t.Fatalf("list iam: %d %v", code, body)
	}
	if code, _ := call(t, srv, "DELETE", "/admin/tenants/acme/iam-principals/"+arn, ""); code != 204 {
		t.Fatalf("unmap: %d", code)
	}
	if _, _, err := svc.AuthenticateIAM(context.Background(), arn); !errors.Is(err, tenant.ErrUnknownPrincipal) {
		t.Fatalf("after unmap: %v", err)
	}
	code, list := call(t, srv, "GET", "/admin/tenants", "")
	if code != 200 || list["object"] != "list" || len(list["data"].([]any)) != 1 {
		t.Fatalf("list: %d %v", code, list)
	}
}

func TestAPIErrorStatuses(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{tenant.ErrInvalidKey, 401},
		{tenant.ErrKeyRevoked, 401},
		{tenant.ErrKeyExpired, 401},
		{tenant.ErrTenantSuspended, 403},
		{tenant.ErrModelNotAllowed, 403},
		{tenant.ErrScope, 403},
	}
	for _, tc := range tests {
		t.Run(tc.err.Error(), func(t *testing.T) {
			var he *httpapi.Error
			if !errors.As(tenant.APIError(tc.err), &he) || he.Status != tc.want {
				t.Fatalf("got %v", tenant.APIError(tc.err))
			}
		})
	}
}
