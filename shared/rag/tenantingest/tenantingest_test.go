package tenantingest

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/plinth-ai/plinth/shared/blob"
	"github.com/plinth-ai/plinth/shared/blob/fsblob"
	"github.com/plinth-ai/plinth/shared/provider"
	"github.com/plinth-ai/plinth/shared/provider/local"
	"github.com/plinth-ai/plinth/shared/rag"
	"github.com/plinth-ai/plinth/shared/rag/index"
)

// racing is a documents bucket in which, right after the first read of a key, another
// upload replaces the object: what an invocation of an older version sees when a newer
// version's invocation runs alongside it.
type racing struct {
	blob.Store
	mu    sync.Mutex
	key   string
	next  string
	fired bool
}

func (r *racing) Get(ctx context.Context, key string) (io.ReadCloser, blob.Object, error) {
	rc, obj, err := r.Store.Get(ctx, key)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil && key == r.key && !r.fired {
		r.fired = true
		if _, perr := r.Store.Put(ctx, key, strings.NewReader(r.next), blob.PutOptions{ContentType: "text/markdown"}); perr != nil {
			return nil, blob.Object{}, perr
		}
	}
	return rc, obj, err
}

type fixture struct {
	h       *Handler
	docs    blob.Store
	records blob.Store
	indexes *index.Manager
	embeds  int
}

func newFixture(t *testing.T, wrap func(blob.Store) blob.Store) *fixture {
	t.Helper()
	docs, err := fsblob.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	idx, err := fsblob.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{docs: docs, records: idx, indexes: index.NewManager(idx)}
	model := local.NewEmbed(64)
	emb := rag.EmbedderFunc(func(ctx context.Context, texts []string, _ string) ([][]float32, error) {
		f.embeds++
		resp, err := model.Embed(ctx, &provider.EmbeddingRequest{Input: texts})
		if err != nil {
			return nil, err
		}
		out := make([][]float32, len(resp.Data))
		for i, d := range resp.Data {
			out[i] = d.Embedding
		}
		return out, nil
	})
	store := blob.Store(docs)
	if wrap != nil {
		store = wrap(docs)
	}
	f.h, err = New(Config{Tenant: "acme", Bucket: "docs", Documents: store, Records: idx, Indexes: f.indexes, Embedder: emb, Model: "local-embed"})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) put(t *testing.T, key, body string) {
	t.Helper()
	if _, err := f.docs.Put(context.Background(), key, strings.NewReader(body), blob.PutOptions{ContentType: "text/markdown"}); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) search(t *testing.T, text string) []index.Hit {
	t.Helper()
	ix, err := f.indexes.Open(context.Background(), "acme", "kb1")
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	hits, err := ix.Search(context.Background(), index.Query{Text: text, TopK: 5})
	if err != nil {
		t.Fatal(err)
	}
	return hits
}

func notification(name, key string) events.S3Event {
	var ev events.S3Event
	raw := `{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","eventName":"` + name + `","s3":{"bucket":{"name":"docs"},"object":{"key":"` + key + `"}}}]}`
	if err := json.Unmarshal([]byte(raw), &ev); err != nil {
		panic(err)
	}
	return ev
}

// TestReconcileConvergesOnTheNewestVersion: a version uploaded while an older one is being
// indexed is what the index ends up holding, whichever invocation writes last.
func TestReconcileConvergesOnTheNewestVersion(t *testing.T) {
	const key = "tenants/acme/kb/kb1/policy.md"
	f := newFixture(t, func(s blob.Store) blob.Store {
		return &racing{Store: s, key: key, next: "# Policy\n\nTrains are required for journeys under four hours.\n"}
	})
	f.put(t, key, "# Policy\n\nHotels are reimbursed up to 180 euros a night.\n")
	out, err := f.h.Handle(context.Background(), notification("ObjectCreated:Put", "tenants/acme/kb/kb1/policy.md"))
	if err != nil || len(out) != 1 || out[0].Action != "indexed" {
		t.Fatalf("%+v %v", out, err)
	}
	if f.embeds != 2 {
		t.Errorf("%d embedding calls, want 2 (the stale version, then the newest)", f.embeds)
	}
	if hits := f.search(t, "hotels euros night"); len(hits) != 0 {
		t.Errorf("the stale version is indexed: %+v", hits)
	}
	if hits := f.search(t, "trains journeys"); len(hits) != 1 {
		t.Errorf("the newest version is not indexed: %+v", hits)
	}
}

// TestLateRemovalOfARecreatedDocument: S3 may deliver a removal after the re-upload that
// followed it; the document in the bucket stays indexed. A sidecar names its document's
// metadata, and one left without its document removes nothing else.
func TestLateRemovalOfARecreatedDocument(t *testing.T) {
	const key = "tenants/acme/kb/kb1/faq.md"
	f := newFixture(t, nil)
	ctx := context.Background()
	f.put(t, key, "# FAQ\n\nExpense reports are due within thirty days.\n")
	f.put(t, key+rag.SidecarSuffix, `{"metadataAttributes":{"year":2026}}`)
	if out, err := f.h.Handle(ctx, notification("ObjectCreated:Put", key+rag.SidecarSuffix)); err != nil || out[0].Action != "indexed" {
		t.Fatalf("sidecar event: %+v %v", out, err)
	}
	hits := f.search(t, "expense reports")
	if len(hits) != 1 || hits[0].Metadata["year"] != 2026.0 {
		t.Fatalf("hits %+v, want the FAQ with its sidecar's metadata", hits)
	}
	out, err := f.h.Handle(ctx, notification("ObjectRemoved:Delete", key))
	if err != nil || out[0].Action != "unchanged" || len(f.search(t, "expense reports")) != 1 {
		t.Fatalf("a late removal of a document still there: %+v %v", out, err)
	}
	if err := f.docs.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	out, err = f.h.Handle(ctx, notification("ObjectRemoved:Delete", key))
	if err != nil || out[0].Action != "removed" || len(f.search(t, "expense reports")) != 0 {
		t.Fatalf("removal with the sidecar left behind: %+v %v", out, err)
	}
	if r, err := f.h.Record(ctx, "kb1", "faq.md"); err != nil || r != nil {
		t.Fatalf("record %+v %v after removal", r, err)
	}
}
