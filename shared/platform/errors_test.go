package platform

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/plinth-ai/plinth/shared/httpapi"
)

// apiClient calls a running local platform over HTTP, as an outside client does.
type apiClient struct {
	t     *testing.T
	base  string
	admin string
}

func newAPIClient(t *testing.T) (*apiClient, *Local) {
	t.Helper()
	l := newProbePlatform(t)
	srv := httptest.NewServer(l.Handler)
	t.Cleanup(srv.Close)
	return &apiClient{t: t, base: srv.URL, admin: l.AdminKey}, l
}

// do sends body (JSON text, or nothing when empty) with key and returns the status and
// the decoded error, if the answer is one.
func (c *apiClient) do(method, path, key, body string) (int, *httpapi.ErrorBody, string) {
	c.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var env struct {
		Error *httpapi.ErrorBody `json:"error"`
	}
	_ = json.Unmarshal(raw, &env)
	return resp.StatusCode, env.Error, string(raw)
}

// mustDo is do that fails the test unless the status is want.
func (c *apiClient) mustDo(method, path, key, body string, want int) string {
	c.t.Helper()
	st, _, raw := c.do(method, path, key, body)
	if st != want {
		c.t.Fatalf("%s %s = %d, want %d: %s", method, path, st, want, raw)
	}
	return raw
}

func strOr(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// expectError checks one failing call: its status, its code, its param (when want.param
// is set) and that its message names what it must and leaks no internal key.
func (c *apiClient) expectError(method, path, key, body string, status int, code, param string, mentions ...string) {
	c.t.Helper()
	st, e, raw := c.do(method, path, key, body)
	if st != status || e == nil || strOr(e.Code) != code {
		c.t.Errorf("%s %s = %d %s; want %d %s", method, path, st, raw, status, code)
		return
	}
	if param != "" && strOr(e.Param) != param {
		c.t.Errorf("%s %s: param %q, want %q (%s)", method, path, strOr(e.Param), param, raw)
	}
	for _, m := range mentions {
		if !strings.Contains(e.Message, m) {
			c.t.Errorf("%s %s: message %q does not mention %q", method, path, e.Message, m)
		}
	}
	for _, leak := range []string{"#", "rag:", "eval:", "guardrail:", "tenant:", "flow:", "toolhub:"} {
		if strings.Contains(e.Message, leak) {
			c.t.Errorf("%s %s: message %q leaks %q", method, path, e.Message, leak)
		}
	}
}

const suiteBody = `{"tenant":"%s","id":"%s","dataset":{"items":[{"id":"1","input":"Paris is in France. Where is Paris?","references":["France"]}]},"target":{"model":"local-chat"}}`

func suite(tenant, id string) string {
	return strings.Replace(strings.Replace(suiteBody, "%s", tenant, 1), "%s", id, 1)
}

// TestOneWordForDuplicates creates each kind of resource twice: every second attempt is
// 409 already_exists naming the ID.
func TestOneWordForDuplicates(t *testing.T) {
	c, _ := newAPIClient(t)
	for _, r := range []struct{ path, body, id string }{
		{"/admin/tenants", `{"id":"acme"}`, "acme"},
		{"/admin/models", `{"id":"m1","kind":"chat","deployments":[{"provider":"local","model":"echo"}]}`, "m1"},
		{"/admin/guardrail-policies", `{"id":"gr-one","name":"one","wordPolicyConfig":{"wordsConfig":[{"text":"darn"}]}}`, "gr-one"},
		{"/admin/knowledge-bases", `{"tenant":"acme","id":"docs"}`, "docs"},
		{"/admin/eval-suites", suite("acme", "qa"), "qa"},
	} {
		c.mustDo("POST", r.path, c.admin, r.body, http.StatusCreated)
		c.expectError("POST", r.path, c.admin, r.body, http.StatusConflict, httpapi.CodeAlreadyExists, "id", r.id)
	}
}

// TestNotFoundNamesTheResourceAndLeaksNoKeys asks for each kind of resource that does not
// exist.
func TestNotFoundNamesTheResourceAndLeaksNoKeys(t *testing.T) {
	c, l := newAPIClient(t)
	for _, r := range []struct{ method, path, key, code, mention string }{
		{"GET", "/admin/tenants/zzz", c.admin, httpapi.CodeNotFound, "zzz"},
		{"GET", "/admin/models/zzz", c.admin, httpapi.CodeModelNotFound, "zzz"},
		{"GET", "/admin/guardrail-policies/gr-zzz", c.admin, httpapi.CodeNotFound, "gr-zzz"},
		{"GET", "/admin/knowledge-bases/zzz?tenant=demo", c.admin, httpapi.CodeNotFound, "zzz"},
		{"GET", "/admin/eval-suites/zzz", c.admin, httpapi.CodeNotFound, "zzz"},
		{"GET", "/admin/eval-runs/run-zzz", c.admin, httpapi.CodeNotFound, "run-zzz"},
		{"GET", "/admin/executions/zzz", c.admin, httpapi.CodeNotFound, "zzz"},
		{"GET", "/admin/prompts/zzz", c.admin, httpapi.CodeNotFound, "zzz"},
		{"DELETE", "/admin/keys/key_zzz", c.admin, httpapi.CodeNotFound, "key_zzz"},
		{"POST", "/v1/knowledge-bases/zzz/retrieve", l.DemoKey, httpapi.CodeNotFound, "zzz"},
	} {
		body := ""
		if r.method == "POST" {
			body = `{"query":"anything"}`
		}
		c.expectError(r.method, r.path, r.key, body, http.StatusNotFound, r.code, "", r.mention)
	}
}

// TestModelKindsReadAsEnglish checks the grammar of the wrong-kind refusal.
func TestModelKindsReadAsEnglish(t *testing.T) {
	c, l := newAPIClient(t)
	c.expectError("POST", "/v1/embeddings", l.DemoKey, `{"model":"local-chat","input":"x"}`,
		http.StatusBadRequest, httpapi.CodeInvalidModelKind, "model", "is a chat model", "needs an embedding model")
	c.expectError("POST", "/v1/chat/completions", l.DemoKey, `{"model":"local-embed","messages":[{"role":"user","content":"x"}]}`,
		http.StatusBadRequest, httpapi.CodeInvalidModelKind, "model", "is an embedding model", "needs a chat model")
}
