package rag

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/plinth-ai/plinth/shared/blob"
)

// TestEmptyDocumentsAreRefusedAtUpload: a document with nothing to index is refused when
// uploaded, not accepted and failed later.
func TestEmptyDocumentsAreRefusedAtUpload(t *testing.T) {
	srv, e := newServer(t)
	e.createKB(t, KnowledgeBase{Tenant: "acme", ID: "docs"})
	for name, content := range map[string]string{"empty.pdf": "", "blank.txt": " \n\t\n", "blank.md": "\n\n"} {
		status, body := uploadFile(t, srv, "acme", "docs", name, content, "")
		msg, _ := body["error"].(map[string]any)["message"].(string)
		if status != http.StatusBadRequest || !(strings.Contains(msg, "empty") || strings.Contains(msg, "no text")) {
			t.Errorf("%s: %d %v, want 400 saying there is nothing to index", name, status, body)
		}
	}
	if docs, _ := e.svc.ListDocuments(context.Background(), "acme", "docs"); len(docs) != 0 {
		t.Fatalf("refused documents were recorded: %+v", docs)
	}
}

// TestUploadsHaveASizeLimit: a document over the limit is 413 with the limit in the
// message; one dropped in the bucket is failed before anything is read or embedded.
func TestUploadsHaveASizeLimit(t *testing.T) {
	srv, e := newServer(t)
	e.svc.maxDoc = 4 << 10
	e.createKB(t, KnowledgeBase{Tenant: "acme", ID: "docs"})
	big := strings.Repeat("Paragraphs about parental leave and holidays. ", 200) // ~9 KiB
	status, body := uploadFile(t, srv, "acme", "docs", "big.txt", big, "")
	msg, _ := body["error"].(map[string]any)["message"].(string)
	if status != http.StatusRequestEntityTooLarge || !strings.Contains(msg, "over the 4.0 KiB limit") {
		t.Fatalf("upload over the limit: %d %v", status, body)
	}
	if _, err := e.svc.UploadDocument(context.Background(), "acme", "docs", Upload{Name: "big.txt", Body: strings.NewReader(big)}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("UploadDocument over the limit: %v, want ErrTooLarge", err)
	}

	// Dropped in the bucket (an S3 put, or the inbox): the flow fails the document early.
	key := ObjectKey("acme", "docs", "dropped.txt")
	if _, err := e.blob.Put(context.Background(), key, bytes.NewReader([]byte(big)), blob.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	ev, _ := json.Marshal(map[string]any{"detail-type": "Object Created", "detail": map[string]any{"bucket": map[string]any{"name": "b"}, "object": map[string]any{"key": key}}})
	if _, err := e.run(context.Background(), ev); err == nil {
		t.Fatal("the flow accepted a dropped document over the limit")
	}
	doc, err := e.svc.GetDocument(context.Background(), "acme", "docs", DocumentID("acme", "docs", "dropped.txt"))
	if err != nil || doc.Status != StatusFailed || !strings.Contains(doc.Reason, "limit") {
		t.Fatalf("dropped document: %+v, %v; want failed over the limit", doc, err)
	}
	if e.entered("Embed") != 0 || len(e.usage) != 0 {
		t.Fatalf("a document over the limit reached embedding: %d Embed tasks, usage %v", e.entered("Embed"), e.usage)
	}
}
