package rag

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/plinth-ai/plinth/shared/auth"
	"github.com/plinth-ai/plinth/shared/gateway"
	"github.com/plinth-ai/plinth/shared/provider/local"
)

// fakeAuth stands in for the platform's authentication middleware: "Bearer admin" is an
// admin, "Bearer <tenant>" a tenant key with the retrieval scope, "Bearer <tenant>:none"
// a key without it.
func fakeAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		switch {
		case tok == "":
		case tok == "admin":
			r = r.WithContext(auth.WithPrincipal(r.Context(), auth.Principal{Admin: true, KeyID: "admin"}))
		case strings.HasSuffix(tok, ":none"):
			r = r.WithContext(auth.WithPrincipal(r.Context(), auth.Principal{TenantID: strings.TrimSuffix(tok, ":none"), KeyID: "k"}))
		default:
			r = r.WithContext(auth.WithPrincipal(r.Context(), auth.Principal{TenantID: tok, KeyID: "k", Scopes: []auth.Scope{auth.ScopeRetrieval}}))
		}
		next.ServeHTTP(w, r)
	})
}

func newServer(t *testing.T) (*httptest.Server, *env) {
	t.Helper()
	chat := local.NewChat()
	e := newEnv(t, envConfig{opts: []Option{WithChat(func(ctx context.Context, _ string, req *gateway.ChatRequest) (*gateway.ChatResult, error) {
		r := req.ChatRequest
		r.Messages = req.Prompt()
		resp, err := chat.Chat(ctx, &r)
		if err != nil {
			return nil, err
		}
		return &gateway.ChatResult{Response: resp}, nil
	}, "local-chat")}})
	mux := http.NewServeMux()
	Routes(mux, e.svc)
	srv := httptest.NewServer(fakeAuth(mux))
	t.Cleanup(srv.Close)
	return srv, e
}

func call(t *testing.T, srv *httptest.Server, method, path, token string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, srv.URL+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return do(t, req)
}

func do(t *testing.T, req *http.Request) (int, map[string]any) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func uploadFile(t *testing.T, srv *httptest.Server, token, kb, name, content, metadata string) (int, map[string]any) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("file", name)
	_, _ = fw.Write([]byte(content))
	if metadata != "" {
		_ = mw.WriteField("metadata", metadata)
	}
	_ = mw.Close()
	req, _ := http.NewRequest("POST", srv.URL+"/v1/knowledge-bases/"+kb+"/documents", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	return do(t, req)
}

func TestHTTPKnowledgeBaseLifecycle(t *testing.T) {
	srv, _ := newServer(t)

	status, body := call(t, srv, "POST", "/admin/knowledge-bases", "admin", map[string]any{"tenant": "acme", "id": "docs"})
	if status != http.StatusCreated || body["id"] != "docs" || body["embedding_model"] != DefaultEmbeddingModel || body["index_backend"] != BackendEmbedded {
		t.Fatalf("create: %d %v", status, body)
	}
	if status, _ := call(t, srv, "POST", "/admin/knowledge-bases", "admin", map[string]any{"tenant": "acme", "id": "docs"}); status != http.StatusConflict {
		t.Fatalf("duplicate create: %d, want 409", status)
	}
	if status, _ := call(t, srv, "POST", "/admin/knowledge-bases", "acme", map[string]any{"tenant": "acme", "id": "x"}); status != http.StatusForbidden {
		t.Fatalf("tenant key creating a KB: %d, want 403", status)
	}
	if status, body := call(t, srv, "GET", "/admin/knowledge-bases?tenant=acme", "admin", nil); status != http.StatusOK || len(body["data"].([]any)) != 1 {
		t.Fatalf("list: %d %v", status, body)
	}

	status, body = uploadFile(t, srv, "acme", "docs", "faq.md", "# FAQ\n\nThe office opens at eight. Parking is free for cyclists.", `{"metadataAttributes":{"lang":"en"}}`)
	if status != http.StatusAccepted || body["id"] == nil || body["status"] == nil {
		t.Fatalf("upload: %d %v", status, body)
	}
	id := body["id"].(string)
	status, body = call(t, srv, "GET", "/v1/knowledge-bases/docs/documents", "acme", nil)
	data, _ := body["data"].([]any)
	if status != http.StatusOK || len(data) != 1 || data[0].(map[string]any)["status"] != StatusIndexed || data[0].(map[string]any)["name"] != "faq.md" {
		t.Fatalf("list documents: %d %v", status, body)
	}
	if status, body := call(t, srv, "GET", "/v1/knowledge-bases/docs/documents/"+id, "acme", nil); status != http.StatusOK || body["metadata"].(map[string]any)["lang"] != "en" {
		t.Fatalf("get document: %d %v", status, body)
	}

	status, body = call(t, srv, "POST", "/v1/knowledge-bases/docs/retrieve", "acme", map[string]any{"query": "when does the office open", "top_k": 3})
	results, _ := body["results"].([]any)
	if status != http.StatusOK || len(results) == 0 {
		t.Fatalf("retrieve: %d %v", status, body)
	}
	first := results[0].(map[string]any)
	doc := first["document"].(map[string]any)
	if doc["id"] != id || doc["name"] != "faq.md" || first["citation"].(float64) != 1 || first["score"] == nil || !strings.Contains(first["text"].(string), "eight") {
		t.Fatalf("retrieve result: %v", first)
	}

	status, body = call(t, srv, "POST", "/v1/knowledge-bases/docs/answer", "acme", map[string]any{"query": "When does the office open?"})
	if status != http.StatusOK || !strings.Contains(body["answer"].(string), "eight") || len(body["sources"].([]any)) == 0 {
		t.Fatalf("answer: %d %v", status, body)
	}
	cites, _ := body["citations"].([]any)
	if len(cites) == 0 || cites[0].(map[string]any)["document"].(map[string]any)["name"] != "faq.md" {
		t.Fatalf("answer cites %v, want faq.md", body["citations"])
	}

	if status, _ := call(t, srv, "DELETE", "/v1/knowledge-bases/docs/documents/"+id, "acme", nil); status != http.StatusOK {
		t.Fatalf("delete: %d", status)
	}
	if status, _ := call(t, srv, "GET", "/v1/knowledge-bases/docs/documents/"+id, "acme", nil); status != http.StatusNotFound {
		t.Fatalf("get after delete: %d, want 404", status)
	}

	if status, body := call(t, srv, "GET", "/admin/knowledge-bases/docs?tenant=acme", "admin", nil); status != http.StatusOK || body["id"] != "docs" {
		t.Fatalf("get knowledge base: %d %v", status, body)
	}
	if status, _ := call(t, srv, "DELETE", "/admin/knowledge-bases/docs?tenant=acme", "acme", nil); status != http.StatusForbidden {
		t.Fatalf("tenant deleting a knowledge base: %d, want 403", status)
	}
	if status, _ := call(t, srv, "DELETE", "/admin/knowledge-bases/docs?tenant=acme", "admin", nil); status != http.StatusOK {
		t.Fatalf("delete knowledge base: %d", status)
	}
	if status, body := call(t, srv, "GET", "/admin/knowledge-bases?tenant=acme", "admin", nil); status != http.StatusOK || len(body["data"].([]any)) != 0 {
		t.Fatalf("list after delete: %d %v", status, body)
	}
	if status, _ := call(t, srv, "POST", "/v1/knowledge-bases/docs/retrieve", "acme", map[string]any{"query": "office"}); status != http.StatusNotFound {
		t.Fatalf("retrieve from a deleted knowledge base: %d, want 404", status)
	}
}

func TestHTTPErrors(t *testing.T) {
	srv, _ := newServer(t)
	call(t, srv, "POST", "/admin/knowledge-bases", "admin", map[string]any{"tenant": "acme", "id": "docs"})
	tests := []struct {
		name, method, path, token string
		body                      any
		want                      int
	}{
		{"no credentials", "POST", "/v1/knowledge-bases/docs/retrieve", "", map[string]any{"query": "x"}, http.StatusUnauthorized},
		{"no retrieval scope", "POST", "/v1/knowledge-bases/docs/retrieve", "acme:none", map[string]any{"query": "x"}, http.StatusForbidden},
		{"other tenant's kb", "POST", "/v1/knowledge-bases/docs/retrieve", "globex", map[string]any{"query": "x"}, http.StatusNotFound},
		{"tenant in body is ignored", "POST", "/v1/knowledge-bases/docs/retrieve", "globex", map[string]any{"query": "x", "tenant": "acme"}, http.StatusNotFound},
		{"top_k too large", "POST", "/v1/knowledge-bases/docs/retrieve", "acme", map[string]any{"query": "x", "top_k": 500}, http.StatusBadRequest},
		{"bad search type", "POST", "/v1/knowledge-bases/docs/retrieve", "acme", map[string]any{"query": "x", "search_type": "FUZZY"}, http.StatusBadRequest},
		{"bad filter", "POST", "/v1/knowledge-bases/docs/retrieve", "acme", map[string]any{"query": "x", "filter": map[string]any{"in": map[string]any{"key": "a", "value": "b"}}}, http.StatusBadRequest},
		{"missing query", "POST", "/v1/knowledge-bases/docs/retrieve", "acme", map[string]any{}, http.StatusBadRequest},
		{"unknown document", "GET", "/v1/knowledge-bases/docs/documents/doc_nope", "acme", nil, http.StatusNotFound},
		{"bad chunking", "POST", "/admin/knowledge-bases", "admin", map[string]any{"tenant": "acme", "id": "k2", "chunking": map[string]any{"strategy": "magic"}}, http.StatusBadRequest},
		{"bad kb id", "POST", "/admin/knowledge-bases", "admin", map[string]any{"tenant": "acme", "id": "a/b"}, http.StatusBadRequest},
		{"bad hybrid fusion", "POST", "/admin/knowledge-bases", "admin", map[string]any{"tenant": "acme", "id": "k3", "hybrid": map[string]any{"fusion": "max"}}, http.StatusBadRequest},
		{"bad lexical weight", "POST", "/admin/knowledge-bases", "admin", map[string]any{"tenant": "acme", "id": "k4", "hybrid": map[string]any{"lexical_weight": 2}}, http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := call(t, srv, tc.method, tc.path, tc.token, tc.body)
			if status != tc.want {
				t.Fatalf("status %d %v, want %d", status, body, tc.want)
			}
			if e, ok := body["error"].(map[string]any); !ok || e["message"] == "" || e["type"] == "" {
				t.Fatalf("error body not in the API's shape: %v", body)
			}
		})
	}
	if status, _ := uploadFile(t, srv, "acme", "docs", "slides.pptx", "x", ""); status != http.StatusBadRequest {
		t.Fatalf("unsupported upload: %d, want 400", status)
	}
	if status, _ := uploadFile(t, srv, "acme", "docs", "a.txt", "x", "not json"); status != http.StatusBadRequest {
		t.Fatalf("bad metadata: %d, want 400", status)
	}
}
