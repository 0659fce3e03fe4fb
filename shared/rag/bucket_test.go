package rag

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
)

// A document's source URI names the bucket it lives in: the pool's for a pool tenant, a
// silo tenant's own, also for a record written before its tenant moved there; and the
// ingestion event of an upload names that bucket too.
func TestSourceURINamesTheTenantsBucket(t *testing.T) {
	var mu sync.Mutex
	own := map[string]string{}
	bucketOf := func(_ context.Context, tenant string) string {
		mu.Lock()
		defer mu.Unlock()
		return own[tenant]
	}
	e := newEnv(t, envConfig{opts: []Option{WithBucket("pool-docs"), WithBucketOf(bucketOf)}})
	ctx := context.Background()
	for _, tn := range []string{"acme", "globex"} {
		e.createKB(t, KnowledgeBase{Tenant: tn, ID: "handbook"})
	}
	before := e.upload(t, "acme", "handbook", "leave.md", handbook["leave.md"], nil)
	if want := "s3://pool-docs/tenants/acme/kb/handbook/leave.md"; before.SourceURI != want {
		t.Fatalf("a pool tenant's document: %q, want %q", before.SourceURI, want)
	}
	e.upload(t, "globex", "handbook", "leave.md", handbook["leave.md"], nil)

	// acme moves into a cell of its own; its record still says where it was written.
	mu.Lock()
	own["acme"] = "acme-docs"
	mu.Unlock()
	want := "s3://acme-docs/tenants/acme/kb/handbook/leave.md"
	if got, err := e.svc.GetDocument(ctx, "acme", "handbook", before.ID); err != nil || got.SourceURI != want {
		t.Fatalf("the moved tenant's document: %q %v, want %q", got.SourceURI, err, want)
	}
	docs, err := e.svc.ListDocuments(ctx, "acme", "handbook")
	if err != nil || len(docs) != 1 || docs[0].SourceURI != want {
		t.Fatalf("the moved tenant's documents: %+v %v", docs, err)
	}
	res := e.retrieve(t, "acme", "handbook", RetrieveRequest{Query: "parental leave weeks", TopK: 3, SearchType: "LEXICAL"})
	if len(res) == 0 {
		t.Fatal("nothing retrieved")
	}
	for _, r := range res {
		if r.Source != want {
			t.Errorf("a retrieved passage's source: %q, want %q", r.Source, want)
		}
	}
	// Uploaded after the move: recorded with its own bucket, and so is its event.
	d := e.upload(t, "acme", "handbook", "laptops.html", handbook["laptops.html"], nil)
	if want := "s3://acme-docs/tenants/acme/kb/handbook/laptops.html"; d.SourceURI != want {
		t.Fatalf("uploaded to the moved tenant: %q, want %q", d.SourceURI, want)
	}
	var ev ObjectEvent
	if err := json.Unmarshal(e.svc.objectEvent(ctx, "Object Created", "tenants/acme/kb/handbook/laptops.html", 1), &ev); err != nil || ev.Detail.Bucket.Name != "acme-docs" {
		t.Fatalf("the upload's event names bucket %q (%v)", ev.Detail.Bucket.Name, err)
	}
	// The pool tenant is untouched.
	g, err := e.svc.ListDocuments(ctx, "globex", "handbook")
	if err != nil || len(g) != 1 || !strings.HasPrefix(g[0].SourceURI, "s3://pool-docs/tenants/globex/") {
		t.Fatalf("the pool tenant's documents: %+v %v", g, err)
	}
	for _, r := range e.retrieve(t, "globex", "handbook", RetrieveRequest{Query: "parental leave weeks", TopK: 3, SearchType: "LEXICAL"}) {
		if !strings.HasPrefix(r.Source, "s3://pool-docs/") {
			t.Errorf("the pool tenant's passage: %q", r.Source)
		}
	}
}
