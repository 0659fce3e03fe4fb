package guardrailhttp

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
	"github.com/plinth-ai/plinth/shared/guardrail"
	"github.com/plinth-ai/plinth/shared/store/memstore"
)

// withPrincipal stands in for the authentication middleware: the test sends the principal
// as a header.
func withPrincipal(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Header.Get("X-Test-Principal") {
		case "admin":
			r = r.WithContext(auth.WithPrincipal(r.Context(), auth.Principal{Admin: true}))
		case "acme":
			r = r.WithContext(auth.WithPrincipal(r.Context(), auth.Principal{TenantID: "acme", KeyID: "k1", Scopes: []auth.Scope{auth.ScopeInference}}))
		case "acme-admin":
			r = r.WithContext(auth.WithPrincipal(r.Context(), auth.Principal{TenantID: "acme", KeyID: "k3", Role: auth.RoleTenantAdmin, Scopes: []auth.Scope{auth.ScopeAdmin, auth.ScopeAdminRead}}))
		case "globex-admin":
			r = r.WithContext(auth.WithPrincipal(r.Context(), auth.Principal{TenantID: "globex", KeyID: "k4", Role: auth.RoleTenantAdmin, Scopes: []auth.Scope{auth.ScopeAdmin, auth.ScopeAdminRead}}))
		case "readonly":
			r = r.WithContext(auth.WithPrincipal(r.Context(), auth.Principal{TenantID: "acme", KeyID: "k2", Scopes: []auth.Scope{auth.ScopeRetrieval}}))
		}
		next.ServeHTTP(w, r)
	})
}

func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	e, err := guardrail.New()
	if err != nil {
		t.Fatal(err)
	}
	assigned := ""
	svc := guardrail.NewService(e, guardrail.NewRepository(memstore.New()), guardrail.WithTenantPolicy(
		func(ctx context.Context, tenant string) (string, int, error) {
			if tenant == "acme" {
				return assigned, 0, nil
			}
			return "", 0, nil
		}))
	mux := http.NewServeMux()
	Routes(mux, svc)
	srv := httptest.NewServer(withPrincipal(access.Middleware(mux, access.WithOwners(access.Owners{
		access.ResourceGuardrailPolicy: func(ctx context.Context, id string) (string, error) {
			info, err := svc.Repo.Info(ctx, id)
			if err != nil {
				return "", fmt.Errorf("%w: %v", access.ErrNoOwner, err)
			}
			return info.Tenant, nil
		}}))(mux)))
	t.Cleanup(srv.Close)
	assigned = "acme-policy"
	return srv
}

func do(t *testing.T, srv *httptest.Server, method, path, who, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if who != "" {
		req.Header.Set("X-Test-Principal", who)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if len(b) > 0 {
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s %s: body %q is not a JSON object", method, path, b)
		}
	}
	return resp.StatusCode, m
}

func TestAdminPolicyLifecycle(t *testing.T) {
	srv := newServer(t)
	policy := `{"id":"acme-policy","name":"acme","sensitiveInformationPolicyConfig":{"piiEntitiesConfig":[{"type":"EMAIL","action":"ANONYMIZE"}]},
		"blockedInputMessaging":"no"}`
	steps := []struct {
		name, method, path, who, body string
		status                        int
		check                         func(t *testing.T, m map[string]any)
	}{
		{"create needs admin", "POST", "/admin/guardrail-policies", "acme", policy, 403, nil},
		{"create needs principal", "POST", "/admin/guardrail-policies", "", policy, 401, nil},
		{"invalid policy", "POST", "/admin/guardrail-policies", "admin", `{"name":"x","contentPolicyConfig":{"filtersConfig":[{"type":"GORE","inputStrength":"HIGH","outputStrength":"HIGH"}]}}`, 400,
			func(t *testing.T, m map[string]any) {
				msg := m["error"].(map[string]any)["message"].(string)
				if !strings.Contains(msg, "contentPolicyConfig.filtersConfig[0].type") {
					t.Errorf("message = %q", msg)
				}
			}},
		{"create", "POST", "/admin/guardrail-policies", "admin", policy, 201, func(t *testing.T, m map[string]any) {
			if m["id"] != "acme-policy" || m["version"] != float64(1) {
				t.Errorf("created = %v", m)
			}
		}},
		{"duplicate", "POST", "/admin/guardrail-policies", "admin", policy, 409, nil},
		{"new version", "POST", "/admin/guardrail-policies/acme-policy/versions", "admin",
			`{"name":"acme","sensitiveInformationPolicyConfig":{"piiEntitiesConfig":[{"type":"EMAIL","action":"BLOCK"}]},"blockedInputMessaging":"blocked v2"}`, 201,
			func(t *testing.T, m map[string]any) {
				if m["version"] != float64(2) {
					t.Errorf("version = %v", m["version"])
				}
			}},
		{"get", "GET", "/admin/guardrail-policies/acme-policy", "admin", "", 200, func(t *testing.T, m map[string]any) {
			if m["latestVersion"] != float64(2) || len(m["versions"].([]any)) != 2 || m["policy"].(map[string]any)["blockedInputMessaging"] != "blocked v2" {
				t.Errorf("get = %v", m)
			}
		}},
		{"get version 1", "GET", "/admin/guardrail-policies/acme-policy/versions/1", "admin", "", 200, func(t *testing.T, m map[string]any) {
			if m["blockedInputMessaging"] != "no" {
				t.Errorf("v1 = %v", m)
			}
		}},
		{"list", "GET", "/admin/guardrail-policies", "admin", "", 200, func(t *testing.T, m map[string]any) {
			if len(m["data"].([]any)) != 1 {
				t.Errorf("list = %v", m)
			}
		}},
		{"missing", "GET", "/admin/guardrail-policies/nope", "admin", "", 404, nil},
		{"apply uses the tenant's policy", "POST", "/v1/guardrails/apply", "acme",
			`{"source":"INPUT","content":[{"text":{"text":"write to jane@example.com"}}]}`, 200, func(t *testing.T, m map[string]any) {
				out := m["outputs"].([]any)[0].(map[string]any)["text"]
				if m["action"] != "GUARDRAIL_INTERVENED" || out != "blocked v2" {
					t.Errorf("apply = %v", m)
				}
				pe := m["assessments"].([]any)[0].(map[string]any)["sensitiveInformationPolicy"].(map[string]any)["piiEntities"].([]any)[0].(map[string]any)
				if pe["type"] != "EMAIL" || pe["match"] != "jane@example.com" || pe["action"] != "BLOCKED" {
					t.Errorf("finding = %v", pe)
				}
			}},
		{"apply inline policy adds rules", "POST", "/v1/guardrails/apply", "acme",
			`{"source":"OUTPUT","content":[{"text":{"text":"call +1 415-555-0132"}}],"policy":{"sensitiveInformationPolicyConfig":{"piiEntitiesConfig":[{"type":"PHONE","action":"ANONYMIZE"}]}}}`, 200,
			func(t *testing.T, m map[string]any) {
				if m["outputs"].([]any)[0].(map[string]any)["text"] != "call {PHONE}" {
					t.Errorf("apply = %v", m)
				}
			}},
		{"apply invalid inline policy", "POST", "/v1/guardrails/apply", "acme",
			`{"source":"INPUT","content":[{"text":{"text":"x"}}],"policy":{"sensitiveInformationPolicyConfig":{"piiEntitiesConfig":[{"type":"EMAIL","action":"SHRED"}]}}}`, 400, nil},
		{"apply bad source", "POST", "/v1/guardrails/apply", "acme", `{"source":"SIDEWAYS","content":[{"text":{"text":"x"}}]}`, 400, nil},
		{"apply bad json", "POST", "/v1/guardrails/apply", "acme", `{"source":`, 400, nil},
		{"apply needs key", "POST", "/v1/guardrails/apply", "", `{"source":"INPUT","content":[{"text":{"text":"x"}}]}`, 401, nil},
		{"apply needs scope", "POST", "/v1/guardrails/apply", "readonly", `{"source":"INPUT","content":[{"text":{"text":"x"}}]}`, 403, nil},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			status, m := do(t, srv, s.method, s.path, s.who, s.body)
			if status != s.status {
				t.Fatalf("status = %d, want %d; body %v", status, s.status, m)
			}
			if status >= 400 {
				if _, ok := m["error"].(map[string]any); !ok {
					t.Fatalf("error body not in OpenAI shape: %v", m)
				}
			}
			if s.check != nil {
				s.check(t, m)
			}
		})
	}
}

// TestTenantAdminsTightenTheBaseline: a tenant admin manages its own tenant's policies
// only, the platform admin sets the floor, and the floor applies under every tenant's
// policy, whatever the tenant's policy says.
func TestTenantAdminsTightenTheBaseline(t *testing.T) {
	srv := newServer(t) // acme is assigned "acme-policy"; globex has no policy
	floor := `{"id":"floor","name":"floor","sensitiveInformationPolicyConfig":{"piiEntitiesConfig":[{"type":"EMAIL","action":"BLOCK"}]},"blockedInputMessaging":"blocked by the floor"}`
	mine := `{"id":"acme-policy","tenant":"acme","name":"acme","sensitiveInformationPolicyConfig":{"piiEntitiesConfig":[{"type":"EMAIL","action":"ANONYMIZE"},{"type":"PHONE","action":"ANONYMIZE"}]}}`
	apply := func(text string) string {
		return `{"source":"INPUT","content":[{"text":{"text":"` + text + `"}}]}`
	}
	steps := []struct {
		name, method, path, who, body string
		status                        int
		check                         func(t *testing.T, m map[string]any)
	}{
		{"platform policy", "POST", "/admin/guardrail-policies", "admin", floor, 201, nil},
		{"tenant admin may not set the floor", "PUT", "/admin/guardrail-baseline", "acme-admin", `{"policy":"floor"}`, 403, nil},
		{"a tenant's policy cannot be the floor", "POST", "/admin/guardrail-policies", "globex-admin",
			`{"id":"globex-policy","tenant":"globex","name":"g","wordPolicyConfig":{"wordsConfig":[{"text":"secret"}]}}`, 201, nil},
		{"floor must be shared", "PUT", "/admin/guardrail-baseline", "admin", `{"policy":"globex-policy"}`, 400, nil},
		{"set the floor", "PUT", "/admin/guardrail-baseline", "admin", `{"policy":"floor"}`, 200, func(t *testing.T, m map[string]any) {
			if m["policy"] != "floor" {
				t.Errorf("baseline = %v", m)
			}
		}},
		{"tenants read the floor", "GET", "/admin/guardrail-baseline", "acme-admin", "", 200, nil},
		{"own tenant's policy", "POST", "/admin/guardrail-policies", "acme-admin", mine, 201, nil},
		{"another tenant's policy", "POST", "/admin/guardrail-policies", "acme-admin", strings.Replace(mine, `"tenant":"acme"`, `"tenant":"globex"`, 1), 403, nil},
		{"a platform-shared policy", "POST", "/admin/guardrail-policies", "acme-admin", strings.Replace(mine, `"tenant":"acme",`, ``, 1), 400, nil},
		{"the floor itself", "PUT", "/admin/guardrail-policies/floor", "acme-admin", floor, 403, nil},
		{"another tenant's policy version", "POST", "/admin/guardrail-policies/globex-policy/versions", "acme-admin", `{"name":"g"}`, 403, nil},
		{"read the floor policy", "GET", "/admin/guardrail-policies/floor", "acme-admin", "", 200, nil},
		{"read another tenant's policy", "GET", "/admin/guardrail-policies/globex-policy", "acme-admin", "", 403, nil},
		{"list shows own and shared", "GET", "/admin/guardrail-policies", "acme-admin", "", 200, func(t *testing.T, m map[string]any) {
			var ids []string
			for _, d := range m["data"].([]any) {
				ids = append(ids, d.(map[string]any)["id"].(string))
			}
			if strings.Join(ids, ",") != "acme-policy,floor" {
				t.Errorf("listed %v, want acme-policy and floor", ids)
			}
		}},
		{"the floor blocks what the tenant only anonymizes", "POST", "/v1/guardrails/apply", "acme", apply("mail jane@example.com or call +1 415-555-0132"), 200, func(t *testing.T, m map[string]any) {
			if m["action"] != "GUARDRAIL_INTERVENED" || m["outputs"].([]any)[0].(map[string]any)["text"] != "blocked by the floor" {
				t.Errorf("apply = %v", m)
			}
		}},
		{"the tenant's own rules still apply", "POST", "/v1/guardrails/apply", "acme", apply("call +1 415-555-0132"), 200, func(t *testing.T, m map[string]any) {
			if m["outputs"].([]any)[0].(map[string]any)["text"] != "call {PHONE}" {
				t.Errorf("apply = %v", m)
			}
		}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			status, m := do(t, srv, s.method, s.path, s.who, s.body)
			if status != s.status {
				t.Fatalf("status = %d, want %d; body %v", status, s.status, m)
			}
			if s.check != nil {
				s.check(t, m)
			}
		})
	}
}
