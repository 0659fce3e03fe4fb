package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/plinth-ai/plinth/test/e2e/platformtest"
)

// TestHealthAndOpenAPIDocument: /healthz answers without credentials and /openapi.json
// documents the public routes.
func TestHealthAndOpenAPIDocument(t *testing.T) {
	e := sharedEnv(t)
	ctx := ctxFor(t)
	r, err := e.p.Do(ctx, http.MethodGet, "/healthz", "", nil)
	if err != nil || r.Status != http.StatusOK {
		t.Fatalf("GET /healthz without a key: %v %v", err, r)
	}
	r, err = e.p.Do(ctx, http.MethodGet, "/openapi.json", "", nil)
	if err != nil || r.Status != http.StatusOK {
		t.Fatalf("GET /openapi.json: %v %v", err, r)
	}
	var doc struct {
		OpenAPI string                     `json:"openapi"`
		Paths   map[string]json.RawMessage `json:"paths"`
	}
	if err := r.JSON(&doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi = %q, want 3.x", doc.OpenAPI)
	}
	for _, path := range []string{"/v1/chat/completions", "/v1/embeddings", "/v1/models", "/admin/tenants", "/admin/models"} {
		if _, ok := doc.Paths[path]; !ok {
			t.Errorf("/openapi.json does not document %s", path)
		}
	}
}

// TestRequestIDIsEchoed: a well-formed caller request ID comes back unchanged; every
// other response gets a fresh one.
func TestRequestIDIsEchoed(t *testing.T) {
	e := sharedEnv(t)
	req, _ := http.NewRequestWithContext(ctxFor(t), http.MethodGet, e.p.URL+"/v1/models", nil)
	req.Header.Set("Authorization", "Bearer "+e.open.Key)
	req.Header.Set("X-Request-Id", "e2e-trace-0001")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("X-Request-Id"); got != "e2e-trace-0001" {
		t.Errorf("X-Request-Id = %q, want the caller's e2e-trace-0001", got)
	}
	a, _ := e.p.Do(ctxFor(t), http.MethodGet, "/v1/models", e.open.Key, nil)
	b, _ := e.p.Do(ctxFor(t), http.MethodGet, "/v1/models", e.open.Key, nil)
	if a == nil || b == nil || a.Header.Get("X-Request-Id") == "" || a.Header.Get("X-Request-Id") == b.Header.Get("X-Request-Id") {
		t.Errorf("two requests without an ID got %v and %v, want two different IDs", a, b)
	}
}

// TestRejectedModelStaysUncallable: a model rejected at review is never served.
func TestRejectedModelStaysUncallable(t *testing.T) {
	e := sharedEnv(t)
	ctx := ctxFor(t)
	up := newUpstream(t)
	if _, err := e.p.RegisterModel(ctx, platformtest.OpenAIModel("e2e-rejected", "chat", up.BaseURL(), "r")); err != nil {
		t.Fatal(err)
	}
	status, err := e.p.Review(ctx, "e2e-rejected", "reject")
	if err != nil {
		t.Fatal(err)
	}
	if status == "approved" {
		t.Fatalf("status after rejection = %q", status)
	}
	r, err := e.p.Do(ctx, http.MethodPost, "/v1/chat/completions", e.open.Key, `{"model":"e2e-rejected","messages":[{"role":"user","content":"hi"}]}`)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != http.StatusForbidden && r.Status != http.StatusNotFound {
		t.Errorf("calling a rejected model: %v, want 403 or 404", r)
	}
	checkErrorShape(t, r)
	if up.Requests() != 0 {
		t.Errorf("a rejected model's upstream received %d requests", up.Requests())
	}
}
