package platform

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestChatGroundedInKnowledgeBase uploads a document and asks a chat completion that
// names the knowledge base: the answer comes from the document and cites it.
func TestChatGroundedInKnowledgeBase(t *testing.T) {
	ctx := context.Background()
	p, err := NewLocal(ctx, Config{DataDir: t.TempDir(), AdminKey: "adm", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(ctx)
	srv := httptest.NewServer(p.Handler)
	defer srv.Close()
	do := func(method, path, key, ctype string, body io.Reader) (int, []byte) {
		req, _ := http.NewRequest(method, srv.URL+path, body)
		req.Header.Set("Authorization", "Bearer "+key)
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	if st, b := do("POST", "/admin/knowledge-bases", "adm", "application/json", strings.NewReader(`{"tenant":"demo","id":"handbook"}`)); st != 201 {
		t.Fatalf("create kb: %d %s", st, b)
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("file", "leave.md")
	_, _ = fw.Write([]byte("# Leave\n\nParental leave at Plinth lasts twenty weeks at full pay.\n\nThe office closes on public holidays."))
	mw.Close()
	if st, b := do("POST", "/v1/knowledge-bases/handbook/documents", p.DemoKey, mw.FormDataContentType(), &buf); st != 202 {
		t.Fatalf("upload: %d %s", st, b)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, b := do("GET", "/v1/knowledge-bases/handbook/documents", p.DemoKey, "", nil)
		if strings.Contains(string(b), `"indexed"`) {
			break
		}
		if time.Now().After(deadline) || strings.Contains(string(b), `"failed"`) {
			t.Fatalf("document not indexed: %s", b)
		}
		time.Sleep(20 * time.Millisecond)
	}
	st, b := do("POST", "/v1/chat/completions", p.DemoKey, "application/json", strings.NewReader(
		`{"model":"local-chat","knowledge_base":{"id":"handbook","top_k":3},"messages":[{"role":"user","content":"How long is parental leave?"}]}`))
	if st != 200 {
		t.Fatalf("grounded chat: %d %s", st, b)
	}
	var out struct {
		Choices []struct {
			Message struct{ Content string } `json:"message"`
		} `json:"choices"`
		Citations []struct {
			Document struct{ Name string } `json:"document"`
			Citation int                   `json:"citation"`
		} `json:"citations"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.Choices[0].Message.Content, "twenty weeks") {
		t.Fatalf("answer not grounded in the document: %s", b)
	}
	if len(out.Citations) == 0 || out.Citations[0].Document.Name != "leave.md" {
		t.Fatalf("answer cites nothing: %s", b)
	}
	st, b = do("POST", "/v1/chat/completions", p.DemoKey, "application/json", strings.NewReader(
		`{"model":"local-chat","knowledge_base":{"id":"nope"},"messages":[{"role":"user","content":"x?"}]}`))
	if st != 404 || !strings.Contains(string(b), `"param":"knowledge_base.id","code":"not_found"`) {
		t.Fatalf("unknown knowledge base: %d %s", st, b)
	}
}
