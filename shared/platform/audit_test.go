package platform

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/plinth-ai/plinth/shared/audit"
)

// TestAuditTrail drives every kind of admin action and tenant data operation through the
// local platform and reads the trail back through GET /admin/audit: each left one event
// naming who, what, the tenant, the outcome and the request ID, and no event holds a
// secret or prompt text.
func TestAuditTrail(t *testing.T) {
	l, err := NewLocal(context.Background(), Config{DataDir: t.TempDir(), AdminKey: "adm-test",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close(context.Background()) })

	call := func(key, method, path, contentType string, body []byte) (int, []byte, string) {
		t.Helper()
		r := httptest.NewRequest(method, path, bytes.NewReader(body))
		r.Header.Set("Authorization", "Bearer "+key)
		if contentType != "" {
			r.Header.Set("Content-Type", contentType)
		}
		w := httptest.NewRecorder()
		l.Handler.ServeHTTP(w, r)
		return w.Code, w.Body.Bytes(), w.Header().Get("X-Request-Id")
	}
	js := func(key, method, path string, body any, want int) ([]byte, string) {
		t.Helper()
		var raw []byte
		if body != nil {
			raw, _ = json.Marshal(body)
		}
		status, out, id := call(key, method, path, "application/json", raw)
		if status != want {
			t.Fatalf("%s %s = %d %s, want %d", method, path, status, out, want)
		}
		return out, id
	}
	field := func(raw []byte, name string) string {
		var m map[string]any
		_ = json.Unmarshal(raw, &m)
		s, _ := m[name].(string)
		return s
	}

	const admin = "adm-test"
	const providerSecret = "sk-provider-SECRET-1234"
	const prompt = "my confidential question about zebra"
	js(admin, "POST", "/admin/tenants", map[string]any{"id": "acme", "name": "Acme"}, 201)
	js(admin, "POST", "/admin/tenants", map[string]any{"id": "acme"}, 409)
	created, _ := js(admin, "POST", "/admin/tenants/acme/keys", map[string]any{"name": "app", "scopes": []string{"inference", "retrieval"}}, 201)
	keyID, secret := field(created, "id"), field(created, "key")
	js(admin, "POST", "/admin/models", map[string]any{"id": "team-chat", "kind": "chat",
		"deployments": []map[string]any{{"provider": "openai", "base_url": "http://127.0.0.1:1/v1", "model": "x", "api_key": providerSecret}},
		"prices":      map[string]any{"input_per_million": 1, "output_per_million": 2}}, 201)
	js(admin, "POST", "/admin/models/team-chat/review", map[string]any{"decision": "approve", "reviewer": "jane"}, 200)
	policy, _ := js(admin, "POST", "/admin/guardrail-policies", map[string]any{"name": "pii", "blockedInputMessaging": "no",
		"sensitiveInformationPolicyConfig": map[string]any{"piiEntitiesConfig": []map[string]any{{"type": "EMAIL", "action": "ANONYMIZE"}}}}, 201)
	js(admin, "PATCH", "/admin/tenants/acme", map[string]any{"guardrail_policy": field(policy, "id")}, 200)
	js(admin, "POST", "/admin/knowledge-bases", map[string]any{"tenant": "acme", "id": "docs"}, 201)
	suite := map[string]any{"tenant": "acme", "id": "qa", "schedule": "rate(1 day)",
		"dataset": map[string]any{"items": []map[string]any{{"id": "1", "input": "Capital?", "references": []string{"Paris"}, "output": "Paris"}}},
		"target":  map[string]any{"model": "local-chat"}, "metrics": []string{"exact_match"}}
	js(admin, "POST", "/admin/eval-suites", suite, 201)
	suite["schedule"] = "rate(2 days)"
	js(admin, "PUT", "/admin/eval-suites/qa", suite, 200)

	var form bytes.Buffer
	ct := multipartWriter(t, &form, "refunds.md", "# Refunds\nRefunds are paid within 14 days.\n", `{"team":"support"}`)
	status, up, uploadReq := call(secret, "POST", "/v1/knowledge-bases/docs/documents", ct, form.Bytes())
	if status != 202 {
		t.Fatalf("upload = %d %s", status, up)
	}
	js(secret, "POST", "/v1/knowledge-bases/docs/retrieve", map[string]any{"query": prompt}, 200)
	js(secret, "POST", "/v1/guardrails/apply", map[string]any{"source": "INPUT", "content": []map[string]any{{"text": map[string]any{"text": prompt + " jane@example.com"}}}}, 200)
	js(secret, "POST", "/v1/chat/completions", map[string]any{"model": "local-chat", "messages": []map[string]any{{"role": "user", "content": prompt}}}, 200)
	js(secret, "DELETE", "/v1/knowledge-bases/docs/documents/"+field(up, "id"), nil, 200)
	js(admin, "DELETE", "/admin/keys/"+keyID, nil, 204)
	js(secret, "POST", "/v1/knowledge-bases/docs/retrieve", map[string]any{"query": prompt}, 401)

	if err := l.Audit.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	query := func(q url.Values) []audit.Event {
		t.Helper()
		raw, _ := js(admin, "GET", "/admin/audit?"+q.Encode(), nil, 200)
		var page struct {
			Data []audit.Event `json:"data"`
		}
		if err := json.Unmarshal(raw, &page); err != nil {
			t.Fatal(err)
		}
		return page.Data
	}
	trail := query(url.Values{"tenant": {"acme"}})
	var actions []string
	for i := len(trail) - 1; i >= 0; i-- {
		e := trail[i]
		if e.ActorType == audit.ActorPlatform {
			continue // what the platform did on its own: TestPlatformActionsAreAudited
		}
		actions = append(actions, e.Action+":"+string(e.Outcome))
		if e.RequestID == "" || e.SourceIP == "" || e.Actor == "" || e.Time.IsZero() {
			t.Errorf("event lacks who/where/when/request: %+v", e)
		}
	}
	want := []string{"createTenant:success", "createTenant:rejected", "createKey:success", "updateTenant:success",
		"createKnowledgeBase:success", "createEvalSuite:success", "replaceEvalSuite:success",
		"uploadDocument:success", "retrieve:success", "applyGuardrail:success", "deleteDocument:success", "revokeKey:success"}
	if strings.Join(actions, " ") != strings.Join(want, " ") {
		t.Fatalf("acme's trail, oldest first:\n got %v\nwant %v", actions, want)
	}
	for _, e := range trail {
		if e.Action == "uploadDocument" && (e.RequestID != uploadReq || e.Actor != keyID || e.ActorType != audit.ActorAPIKey) {
			t.Errorf("upload event %+v: want request %s by key %s", e, uploadReq, keyID)
		}
	}

	// Platform-wide actions (no tenant) and filters.
	byAction := func(action string) []audit.Event { return query(url.Values{"action": {action}}) }
	for _, a := range []string{"createModel", "reviewRegistryModel", "createGuardrailPolicy"} {
		if got := byAction(a); len(got) != 1 || got[0].Actor != "admin" || got[0].Outcome != audit.OutcomeSuccess {
			t.Errorf("action %s: %+v", a, got)
		}
	}
	if got := query(url.Values{"actor": {keyID}}); len(got) != 4 {
		t.Errorf("events by %s: %d, want 4 (upload, retrieve, apply, delete)", keyID, len(got))
	}
	if got := byAction("createChatCompletion"); len(got) != 0 {
		t.Errorf("chat completions are the usage ledger's, not the trail's: %+v", got)
	}

	// Reading the trail is recorded too; nothing secret is anywhere in it.
	if err := l.Audit.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	all, _ := js(admin, "GET", "/admin/audit?limit=1000", nil, 200)
	if !strings.Contains(string(all), `"action":"listAuditEvents"`) {
		t.Error("reading the trail left no event")
	}
	for _, s := range []string{secret, providerSecret, prompt, "jane@example.com", "Refunds are paid", admin} {
		if strings.Contains(string(all), s) {
			t.Errorf("the trail holds %q", s)
		}
	}
}
