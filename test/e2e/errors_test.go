package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/plinth-ai/plinth/test/e2e/platformtest"
)

// TestBadInput sends malformed, unauthorised and oversized requests over raw HTTP and
// expects the documented status in OpenAI's error shape, with a request ID, every time.
func TestBadInput(t *testing.T) {
	e := sharedEnv(t)
	const chat, embed, models = "/v1/chat/completions", "/v1/embeddings", "/v1/models"
	hello := `[{"role":"user","content":"hello"}]`
	big := fmt.Sprintf(`{"model":"local-chat","messages":[{"role":"user","content":%q}]}`, strings.Repeat("lorem ipsum ", 5<<20/12+1))

	revoked, err := e.p.CreateKey(ctxFor(t), "e2e-open")
	if err != nil {
		t.Fatal(err)
	}
	if r, err := e.p.Do(ctxFor(t), http.MethodGet, models, revoked.Key, nil); err != nil || r.Status != http.StatusOK {
		t.Fatalf("a new key cannot list models: %v %v", err, r)
	}
	if r, err := e.p.Admin(ctxFor(t), http.MethodDelete, "/admin/keys/"+revoked.ID, nil); err != nil || r.Status >= 300 {
		t.Fatalf("DELETE /admin/keys/%s: %v %v", revoked.ID, err, r)
	}

	cases := []struct {
		name   string
		key    string
		method string
		path   string
		body   string
		status int
		code   string // checked when set
	}{
		{"invalid JSON", e.open.Key, "POST", chat, `{"model":"local-chat","messages":[`, 400, ""},
		{"body is not an object", e.open.Key, "POST", chat, `["local-chat"]`, 400, ""},
		{"missing model", e.open.Key, "POST", chat, `{"messages":` + hello + `}`, 400, ""},
		{"missing messages", e.open.Key, "POST", chat, `{"model":"local-chat"}`, 400, ""},
		{"empty messages", e.open.Key, "POST", chat, `{"model":"local-chat","messages":[]}`, 400, ""},
		{"messages of the wrong type", e.open.Key, "POST", chat, `{"model":"local-chat","messages":"hello"}`, 400, ""},
		{"embeddings without input", e.open.Key, "POST", embed, `{"model":"local-embed"}`, 400, ""},
		{"embeddings invalid JSON", e.open.Key, "POST", embed, `{"model":`, 400, ""},
		{"unknown chat model", e.open.Key, "POST", chat, `{"model":"no-such-model","messages":` + hello + `}`, 404, "model_not_found"},
		{"unknown embedding model", e.open.Key, "POST", embed, `{"model":"no-such-model","input":"x"}`, 404, "model_not_found"},
		{"no key: models", "", "GET", models, "", 401, ""},
		{"no key: chat", "", "POST", chat, `{"model":"local-chat","messages":` + hello + `}`, 401, ""},
		{"no key: embeddings", "", "POST", embed, `{"model":"local-embed","input":"x"}`, 401, ""},
		{"bad key: models", "sk-plinth-not-a-real-key", "GET", models, "", 401, ""},
		{"bad key: chat", "sk-plinth-not-a-real-key", "POST", chat, `{"model":"local-chat","messages":` + hello + `}`, 401, ""},
		{"revoked key", revoked.Key, "GET", models, "", 401, ""},
		{"model not allowed: embeddings", e.restricted.Key, "POST", embed, `{"model":"local-embed","input":"x"}`, 403, ""},
		{"oversized body", e.open.Key, "POST", chat, big, 413, ""},
		{"max_tokens at the int64 limit", e.open.Key, "POST", chat, `{"model":"local-chat","max_tokens":9223372036854775807,"messages":` + hello + `}`, 400, ""},
		{"max_completion_tokens at the int64 limit", e.open.Key, "POST", chat, `{"model":"local-chat","max_completion_tokens":9223372036854775807,"messages":` + hello + `}`, 400, ""},
		{"max_tokens beyond int64", e.open.Key, "POST", chat, `{"model":"local-chat","max_tokens":92233720368547758070,"messages":` + hello + `}`, 400, ""},
		{"streamed max_tokens at the int64 limit", e.open.Key, "POST", chat, `{"model":"local-chat","stream":true,"max_tokens":9223372036854775807,"messages":` + hello + `}`, 400, ""},
		{"unknown route", e.open.Key, "GET", "/v1/no-such-route", "", 404, ""},
	}
	var items []schemaItem
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var body any
			if tc.body != "" {
				body = tc.body
			}
			resp, err := e.p.Do(ctxFor(t), tc.method, tc.path, tc.key, body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Status != tc.status {
				t.Fatalf("status = %d, want %d; body %.300s", resp.Status, tc.status, resp.Body)
			}
			got := checkErrorShape(t, resp)
			if tc.code != "" && got.Error.Code != tc.code {
				t.Errorf("error.code = %v, want %s", got.Error.Code, tc.code)
			}
			items = append(items, schemaItem{Name: tc.name, Schema: "ErrorResponse", Body: resp.Body})
		})
	}
	if len(items) == 0 {
		t.Fatal("no error body to validate")
	}
	validateOpenAI(t, items)
}

// TestModelNotAllowedChat checks the 403 for chat, through a model the restricted
// tenant may not call but which exists and is approved.
func TestModelNotAllowedChat(t *testing.T) {
	e := sharedEnv(t)
	ctx := ctxFor(t)
	// A chat model other than local-chat, approved, so that only the tenant's list
	// stands between the caller and the model.
	up := newUpstream(t)
	registerApproved(t, e.p, platformtest.OpenAIModel("e2e-other-chat", "chat", up.BaseURL(), "other"))
	resp, err := e.p.Do(ctx, http.MethodPost, "/v1/chat/completions", e.restricted.Key,
		`{"model":"e2e-other-chat","messages":[{"role":"user","content":"hi"}]}`)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != http.StatusForbidden {
		t.Fatalf("status = %d, want 403; body %s", resp.Status, resp.Body)
	}
	checkErrorShape(t, resp)
	if up.Requests() != 0 {
		t.Errorf("the upstream received %d requests for a refused call", up.Requests())
	}
	// The same model works for a tenant without a list.
	resp, err = e.p.Do(ctx, http.MethodPost, "/v1/chat/completions", e.open.Key,
		`{"model":"e2e-other-chat","messages":[{"role":"user","content":"hi"}]}`)
	if err != nil || resp.Status != http.StatusOK {
		t.Fatalf("open tenant calling e2e-other-chat: %v %v", err, resp)
	}
}
