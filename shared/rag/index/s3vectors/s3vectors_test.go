package s3vectors

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"testing"

	"github.com/plinth-ai/plinth/shared/blob/fsblob"
	"github.com/plinth-ai/plinth/shared/provider"
	"github.com/plinth-ai/plinth/shared/provider/local"
	"github.com/plinth-ai/plinth/shared/rag/index"
	"github.com/plinth-ai/plinth/shared/rag/index/s3vectors/s3vectorstest"
	"github.com/plinth-ai/plinth/shared/rag/index/vectortest"
)

func newStore(t *testing.T) (*Store, *s3vectorstest.Fake) {
	t.Helper()
	fake := s3vectorstest.New("plinth-vectors")
	t.Cleanup(fake.Close)
	return New(fake.Client(), "plinth-vectors"), fake
}

var embedder = local.NewEmbed(128)

func embed(t *testing.T, text string) []float32 {
	t.Helper()
	resp, err := embedder.Embed(context.Background(), &provider.EmbeddingRequest{Input: []string{text}})
	if err != nil {
		t.Fatal(err)
	}
	return resp.Data[0].Embedding
}

// The embedded index keeps text and BM25 and sends vectors to S3 Vectors: semantic and
// hybrid search, filters, replacement and deletion all go through the wire protocol.
func TestIndexWithS3VectorsBackend(t *testing.T) {
	ctx := context.Background()
	store, fake := newStore(t)
	bs, err := fsblob.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	m := index.NewManager(bs, index.WithVectorStore(store))
	docs := map[string]struct {
		text string
		year float64
	}{
		"tides":   {"Ocean tides follow the moon's gravity.", 2020},
		"volcano": {"Volcanoes erupt lava when magma rises.", 2022},
		"bread":   {"Sourdough bread rises with wild yeast.", 2024},
	}
	acme, err := m.Open(ctx, "acme", "kb")
	if err != nil {
		t.Fatal(err)
	}
	for id, d := range docs {
		rec := index.Record{ChunkID: id + ":0", Text: d.text, Source: "s3://b/" + id, Metadata: map[string]any{"year": d.year}, Vector: embed(t, d.text)}
		if err := acme.Upsert(ctx, id, []index.Record{rec}); err != nil {
			t.Fatal(err)
		}
	}
	search := func(ix *index.Index, q string, st index.SearchType, f *index.Filter) []string {
		t.Helper()
		hits, err := ix.Search(ctx, index.Query{Text: q, Vector: embed(t, q), Type: st, TopK: 3, Filter: f})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, h := range hits {
			ids = append(ids, h.DocID)
		}
		return ids
	}
	for _, st := range []index.SearchType{index.Semantic, index.Hybrid} {
		if got := search(acme, "magma and lava", st, nil); len(got) == 0 || got[0] != "volcano" {
			t.Fatalf("%s: %v, want volcano first", st, got)
		}
	}
	got := search(acme, "rises", index.Semantic, &index.Filter{GreaterThan: &index.Condition{Key: "year", Value: 2021.0}})
	sort.Strings(got)
	if fmt.Sprint(got) != "[bread volcano]" {
		t.Fatalf("filtered: %v", got)
	}
	if filters := fake.Filters(); !reflect.DeepEqual(filters[len(filters)-1], map[string]any{"year": map[string]any{"$gt": 2021.0}}) {
		t.Fatalf("filter sent %v", filters[len(filters)-1])
	}

	// Replacing a document deletes its old vector keys; deleting removes them.
	if err := acme.Upsert(ctx, "bread", []index.Record{{ChunkID: "bread:0", Text: "Croissants are laminated.", Vector: embed(t, "Croissants are laminated.")}}); err != nil {
		t.Fatal(err)
	}
	if err := acme.Delete(ctx, "volcano"); err != nil {
		t.Fatal(err)
	}
	name := IndexName(index.Namespace{Tenant: "acme", KB: "kb"})
	n := len(fake.Keys("plinth-vectors", name))
	if n != 2 {
		t.Fatalf("%d vectors stored, want 2", n)
	}
	for _, id := range search(acme, "magma and lava", index.Semantic, nil) {
		if id == "volcano" {
			t.Fatal("deleted document still returned")
		}
	}

	// Another tenant's knowledge base is another vector index and sees nothing of acme's.
	other, err := m.Open(ctx, "globex", "kb")
	if err != nil {
		t.Fatal(err)
	}
	if got := search(other, "ocean tides", index.Semantic, nil); len(got) != 0 {
		t.Fatalf("globex sees %v", got)
	}
	if IndexName(index.Namespace{Tenant: "globex", KB: "kb"}) == name {
		t.Fatal("tenants share a vector index name")
	}
}

func TestTranslateFilter(t *testing.T) {
	tests := []struct {
		name  string
		in    *index.Filter
		want  map[string]any
		exact bool
	}{
		{"equals", &index.Filter{Equals: &index.Condition{Key: "a", Value: "x"}}, map[string]any{"a": map[string]any{"$eq": "x"}}, true},
		{"notIn", &index.Filter{NotIn: &index.Condition{Key: "a", Value: []any{"x"}}}, map[string]any{"a": map[string]any{"$nin": []any{"x"}}}, true},
		{"andAll drops startsWith", &index.Filter{AndAll: []index.Filter{{LessThanOrEquals: &index.Condition{Key: "n", Value: 3.0}}, {StartsWith: &index.Condition{Key: "s", Value: "p"}}}},
			map[string]any{"n": map[string]any{"$lte": 3.0}}, false},
		{"orAll", &index.Filter{OrAll: []index.Filter{{Equals: &index.Condition{Key: "a", Value: 1.0}}, {ListContains: &index.Condition{Key: "tags", Value: "t"}}}},
			map[string]any{"$or": []any{map[string]any{"a": map[string]any{"$eq": 1.0}}, map[string]any{"tags": map[string]any{"$eq": "t"}}}}, true},
		{"orAll with startsWith is dropped", &index.Filter{OrAll: []index.Filter{{Equals: &index.Condition{Key: "a", Value: 1.0}}, {StartsWith: &index.Condition{Key: "s", Value: "p"}}}}, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, exact := TranslateFilter(tc.in)
			if !reflect.DeepEqual(got, tc.want) || exact != tc.exact {
				t.Fatalf("got %v exact=%v, want %v exact=%v", got, exact, tc.want, tc.exact)
			}
		})
	}
}

func TestIndexName(t *testing.T) {
	for _, ns := range []index.Namespace{{Tenant: "acme", KB: "docs"}, {Tenant: "A.very_long-tenant.name.that-goes-on", KB: "Knowledge.Base_With-Many.Characters-and-more"}} {
		n := IndexName(ns)
		if len(n) < 3 || len(n) > 63 {
			t.Fatalf("%q has %d characters", n, len(n))
		}
		for _, r := range n {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				t.Fatalf("%q has %q", n, r)
			}
		}
	}
	if IndexName(index.Namespace{Tenant: "a-b", KB: "c"}) == IndexName(index.Namespace{Tenant: "a", KB: "b-c"}) {
		t.Fatal("distinct namespaces share an index name")
	}
}

func TestVectorStoreContract(t *testing.T) {
	vectortest.Run(t, func(t *testing.T) index.VectorStore {
		s, _ := newStore(t)
		return s
	})
}
