package index

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/plinth-ai/plinth/shared/blob"
	"github.com/plinth-ai/plinth/shared/blob/fsblob"
	"github.com/plinth-ai/plinth/shared/provider"
	"github.com/plinth-ai/plinth/shared/provider/local"
)

func newBlob(t testing.TB) blob.Store {
	t.Helper()
	b, err := fsblob.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var embedder = local.NewEmbed(256)

func embed(t testing.TB, texts ...string) [][]float32 {
	t.Helper()
	resp, err := embedder.Embed(context.Background(), &provider.EmbeddingRequest{Input: texts})
	if err != nil {
		t.Fatal(err)
	}
	out := make([][]float32, len(texts))
	for i, d := range resp.Data {
		out[i] = d.Embedding
	}
	return out
}

type doc struct {
	id, text string
	md       map[string]any
}

var corpus = []doc{
	{"lighthouse", "Lighthouses guide ships along rocky coasts with rotating lamps.", map[string]any{"topic": "sea", "year": float64(2019), "tags": []any{"coast", "light"}}},
	{"volcano", "Volcanoes erupt molten lava and ash when magma pressure builds.", map[string]any{"topic": "geology", "year": float64(2021)}},
	{"bread", "Sourdough bread rises slowly thanks to wild yeast and bacteria.", map[string]any{"topic": "food", "year": float64(2023)}},
	{"glacier", "Glaciers carve valleys as compacted ice flows downhill over centuries.", map[string]any{"topic": "geology", "year": float64(2020)}},
	{"tides", "Ocean tides follow the gravitational pull of the moon and the sun.", map[string]any{"topic": "sea", "year": float64(2022), "team": "oceanography"}},
}

func records(t testing.TB, d doc) []Record {
	return []Record{{ChunkID: d.id + ":0", DocName: d.id + ".txt", Source: "s3://b/" + d.id, Page: 1, Text: d.text, Metadata: d.md, Vector: embed(t, d.text)[0]}}
}

func seed(t *testing.T, m *Manager, tenant, kb string) *Index {
	t.Helper()
	ix, err := m.Open(context.Background(), tenant, kb)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range corpus {
		if err := ix.Upsert(context.Background(), d.id, records(t, d)); err != nil {
			t.Fatal(err)
		}
	}
	return ix
}

func search(t *testing.T, ix *Index, q Query) []string {
	t.Helper()
	if q.Type != Lexical && q.Vector == nil {
		q.Vector = embed(t, q.Text)[0]
	}
	hits, err := ix.Search(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(hits))
	for i, h := range hits {
		ids[i] = h.DocID
	}
	return ids
}

func TestSearchTypesRankTheRightDocumentFirst(t *testing.T) {
	ix := seed(t, NewManager(newBlob(t)), "acme", "kb")
	queries := map[string]string{
		"how do ships find their way near rocky coasts": "lighthouse",
		"lava and magma eruptions":                      "volcano",
		"why does sourdough rise":                       "bread",
		"moon gravity and ocean tides":                  "tides",
	}
	for _, st := range []SearchType{Lexical, Semantic, Hybrid} {
		for q, want := range queries {
			t.Run(string(st)+"/"+q, func(t *testing.T) {
				got := search(t, ix, Query{Text: q, Type: st, TopK: 3})
				if len(got) == 0 || got[0] != want {
					t.Fatalf("top = %v, want %s first", got, want)
				}
			})
		}
	}
}

func TestFilters(t *testing.T) {
	ix := seed(t, NewManager(newBlob(t)), "acme", "kb")
	tests := []struct {
		name   string
		filter *Filter
		want   []string
	}{
		{"equals", &Filter{Equals: &Condition{"topic", "geology"}}, []string{"glacier", "volcano"}},
		{"notEquals", &Filter{NotEquals: &Condition{"topic", "geology"}}, []string{"bread", "lighthouse", "tides"}},
		{"in", &Filter{In: &Condition{"topic", []any{"food", "sea"}}}, []string{"bread", "lighthouse", "tides"}},
		{"greaterThan", &Filter{GreaterThan: &Condition{"year", 2021.0}}, []string{"bread", "tides"}},
		{"greaterThanOrEquals", &Filter{GreaterThanOrEquals: &Condition{"year", 2021.0}}, []string{"bread", "tides", "volcano"}},
		{"lessThan", &Filter{LessThan: &Condition{"year", 2020.0}}, []string{"lighthouse"}},
		{"lessThanOrEquals", &Filter{LessThanOrEquals: &Condition{"year", 2020.0}}, []string{"glacier", "lighthouse"}},
		{"startsWith", &Filter{StartsWith: &Condition{"team", "ocean"}}, []string{"tides"}},
		{"listContains", &Filter{ListContains: &Condition{"tags", "coast"}}, []string{"lighthouse"}},
		{"andAll", &Filter{AndAll: []Filter{{Equals: &Condition{"topic", "sea"}}, {GreaterThan: &Condition{"year", 2020.0}}}}, []string{"tides"}},
		{"orAll", &Filter{OrAll: []Filter{{Equals: &Condition{"topic", "food"}}, {LessThan: &Condition{"year", 2020.0}}}}, []string{"bread", "lighthouse"}},
		{"source uri", &Filter{Equals: &Condition{KeySourceURI, "s3://b/bread"}}, []string{"bread"}},
	}
	for _, st := range []SearchType{Lexical, Semantic, Hybrid} {
		for _, tc := range tests {
			t.Run(string(st)+"/"+tc.name, func(t *testing.T) {
				// A query matching every document lexically: the filter alone decides.
				got := search(t, ix, Query{Text: "lighthouses volcanoes sourdough glaciers tides", Type: st, TopK: 10, Filter: tc.filter})
				set := map[string]bool{}
				for _, id := range got {
					set[id] = true
				}
				if len(set) != len(tc.want) {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
				for _, w := range tc.want {
					if !set[w] {
						t.Fatalf("got %v, want %v", got, tc.want)
					}
				}
			})
		}
	}
}

func TestInvalidQueries(t *testing.T) {
	ix := seed(t, NewManager(newBlob(t)), "acme", "kb")
	tests := []struct {
		name string
		q    Query
		want error
	}{
		{"top_k too big", Query{Text: "x", TopK: 101}, ErrInvalidQuery},
		{"top_k negative", Query{Text: "x", TopK: -1}, ErrInvalidQuery},
		{"unknown type", Query{Text: "x", Type: "FUZZY"}, ErrInvalidQuery},
		{"semantic without vector", Query{Text: "x", Type: Semantic}, ErrInvalidQuery},
		{"two operators", Query{Text: "x", Filter: &Filter{Equals: &Condition{"a", "b"}, NotEquals: &Condition{"a", "c"}}}, ErrInvalidFilter},
		{"in without array", Query{Text: "x", Filter: &Filter{In: &Condition{"a", "b"}}}, ErrInvalidFilter},
		{"wrong dimension", Query{Text: "x", Type: Semantic, Vector: []float32{1, 2}}, ErrDimension},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ix.Search(context.Background(), tc.q); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestTenantIsolation(t *testing.T) {
	m := NewManager(newBlob(t))
	seed(t, m, "acme", "kb")
	other, err := m.Open(context.Background(), "globex", "kb")
	if err != nil {
		t.Fatal(err)
	}
	if got := search(t, other, Query{Text: "lighthouse ships", Type: Lexical}); len(got) != 0 {
		t.Fatalf("globex sees acme's documents: %v", got)
	}
	for _, bad := range [][2]string{{"acme/../globex", "kb"}, {"acme", "kb/../../x"}, {"", "kb"}, {"acme", ""}} {
		if _, err := m.Open(context.Background(), bad[0], bad[1]); !errors.Is(err, ErrInvalidName) {
			t.Errorf("Open(%q,%q) err = %v, want ErrInvalidName", bad[0], bad[1], err)
		}
	}
}

func TestUpsertReplacesAndDeleteRemoves(t *testing.T) {
	ctx := context.Background()
	ix := seed(t, NewManager(newBlob(t)), "acme", "kb")
	d := doc{"bread", "Croissants need laminated butter dough folded many times.", map[string]any{"topic": "food"}}
	if err := ix.Upsert(ctx, d.id, records(t, d)); err != nil {
		t.Fatal(err)
	}
	if got := search(t, ix, Query{Text: "sourdough wild yeast", Type: Lexical}); len(got) != 0 {
		t.Fatalf("old version still found: %v", got)
	}
	if got := search(t, ix, Query{Text: "laminated butter croissants", Type: Lexical}); len(got) != 1 || got[0] != "bread" {
		t.Fatalf("new version not found: %v", got)
	}
	if err := ix.Delete(ctx, "bread"); err != nil {
		t.Fatal(err)
	}
	for _, st := range []SearchType{Lexical, Semantic, Hybrid} {
		for _, id := range search(t, ix, Query{Text: "laminated butter croissants", Type: st, TopK: 10}) {
			if id == "bread" {
				t.Fatalf("%s search still finds the deleted document", st)
			}
		}
	}
	if err := ix.Delete(ctx, "never-indexed"); err != nil {
		t.Fatalf("deleting an unknown document: %v", err)
	}
	if s := ix.Stats(); s.LiveRows != len(corpus)-1 {
		t.Fatalf("live rows = %d, want %d", s.LiveRows, len(corpus)-1)
	}
}

func TestPersistedSegmentsReloadAndCompact(t *testing.T) {
	ctx := context.Background()
	b := newBlob(t)
	ix := seed(t, NewManager(b, WithMergeFactor(100)), "acme", "kb")
	if err := ix.Delete(ctx, "volcano"); err != nil {
		t.Fatal(err)
	}
	want := search(t, ix, Query{Text: "ice valleys and ocean tides", TopK: 5})

	// A new process (fresh manager, local cache directory) loads the same state.
	cold, err := NewManager(b, WithCacheDir(t.TempDir()), WithGarbageGrace(0)).Open(ctx, "acme", "kb")
	if err != nil {
		t.Fatal(err)
	}
	if got := search(t, cold, Query{Text: "ice valleys and ocean tides", TopK: 5}); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("reloaded index answers %v, want %v", got, want)
	}
	if err := cold.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	if s := cold.Stats(); s.Segments != 1 || s.Rows != len(corpus)-1 {
		t.Fatalf("after compaction: %+v, want 1 segment of %d rows", s, len(corpus)-1)
	}
	if got := search(t, cold, Query{Text: "ice valleys and ocean tides", TopK: 5}); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("compacted index answers %v, want %v", got, want)
	}
	// The first process sees the compacted manifest and still answers the same.
	if err := ix.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if s := ix.Stats(); s.Segments != 1 {
		t.Fatalf("first process did not pick up the compaction: %+v", s)
	}
	if got := search(t, ix, Query{Text: "ice valleys and ocean tides", TopK: 5}); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("refreshed index answers %v, want %v", got, want)
	}
	objs, err := b.List(ctx, Prefix("acme", "kb")+"segments/")
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 1 {
		t.Fatalf("%d segment files left after compaction, want 1", len(objs))
	}
}

func TestTieredMergeKeepsEveryDocument(t *testing.T) {
	ctx := context.Background()
	ix, err := NewManager(newBlob(t), WithMergeFactor(3)).Open(ctx, "acme", "kb")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		text := fmt.Sprintf("document number w%d about topic%d", i, i%4)
		if err := ix.Upsert(ctx, fmt.Sprint(i), []Record{{ChunkID: fmt.Sprintf("%d:0", i), Text: text, Vector: embed(t, text)[0]}}); err != nil {
			t.Fatal(err)
		}
	}
	if s := ix.Stats(); s.Segments >= 20 || s.LiveRows != 20 {
		t.Fatalf("stats %+v: want fewer than 20 segments and 20 live rows", s)
	}
	for i := 0; i < 20; i++ {
		got := search(t, ix, Query{Text: fmt.Sprintf("w%d", i), Type: Lexical, TopK: 1})
		if len(got) != 1 || got[0] != fmt.Sprint(i) {
			t.Fatalf("w%d → %v", i, got)
		}
	}
}

// Two processes writing the same index concurrently both land every document: the
// manifest's If-None-Match versions make one writer retry instead of overwriting.
func TestConcurrentWritersFromTwoProcesses(t *testing.T) {
	ctx := context.Background()
	b := newBlob(t)
	a, err := NewManager(b, WithRefreshInterval(0)).Open(ctx, "acme", "kb")
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewManager(b, WithRefreshInterval(0)).Open(ctx, "acme", "kb")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for w, ix := range []*Index{a, c} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				id := fmt.Sprintf("p%d-%d", w, i)
				errs <- ix.Upsert(ctx, id, []Record{{ChunkID: id + ":0", Text: "shared words " + id}})
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, ix := range []*Index{a, c} {
		if err := ix.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		if got := search(t, ix, Query{Text: "shared words", Type: Lexical, TopK: 100}); len(got) != 40 {
			t.Fatalf("found %d documents, want 40", len(got))
		}
	}
}

func TestMaxOpenEvictsLeastRecentlyUsed(t *testing.T) {
	ctx := context.Background()
	m := NewManager(newBlob(t), WithMaxOpen(2))
	a := seed(t, m, "acme", "a")
	if _, err := m.Open(ctx, "acme", "b"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Open(ctx, "acme", "a"); err != nil { // a is now the most recent
		t.Fatal(err)
	}
	if _, err := m.Open(ctx, "acme", "c"); err != nil {
		t.Fatal(err)
	}
	m.mu.Lock()
	_, hasA := m.open["acme/a"]
	_, hasB := m.open["acme/b"]
	n := len(m.open)
	m.mu.Unlock()
	if n != 2 || !hasA || hasB {
		t.Fatalf("open = %d, a=%v b=%v; want a and c kept", n, hasA, hasB)
	}
	// An evicted index reloads from the blob store with its documents.
	if _, err := m.Open(ctx, "acme", "b"); err != nil {
		t.Fatal(err)
	}
	if got := search(t, a, Query{Text: "lighthouses", Type: Lexical}); len(got) != 1 {
		t.Fatalf("held index stopped working: %v", got)
	}
	reopened, err := m.Open(ctx, "acme", "a")
	if err != nil {
		t.Fatal(err)
	}
	if got := search(t, reopened, Query{Text: "lighthouses", Type: Lexical}); len(got) != 1 {
		t.Fatalf("reloaded index: %v", got)
	}
}

func TestTombstonesArePrunedByMerges(t *testing.T) {
	ctx := context.Background()
	ix, err := NewManager(newBlob(t), WithMergeFactor(3)).Open(ctx, "acme", "kb")
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.Upsert(ctx, "keep", []Record{{ChunkID: "keep:0", Text: "a document that stays"}}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 60; i++ {
		id := fmt.Sprint(i)
		if err := ix.Upsert(ctx, id, []Record{{ChunkID: id + ":0", Text: "short lived document " + id}}); err != nil {
			t.Fatal(err)
		}
		if err := ix.Delete(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	v := ix.cur.Load()
	if n := len(v.man.Tombstones); n > 20 {
		t.Fatalf("%d tombstones kept after 60 deletions and merges", n)
	}
	if got := search(t, ix, Query{Text: "document", Type: Lexical, TopK: 100}); len(got) != 1 || got[0] != "keep" {
		t.Fatalf("live documents %v, want only keep", got)
	}
}

// A reader with a refresh interval picks up another process's writes in the background.
func TestBackgroundRefreshSeesOtherWriters(t *testing.T) {
	ctx := context.Background()
	b := newBlob(t)
	now := time.Unix(0, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	reader, err := NewManager(b, WithRefreshInterval(time.Second), func(o *options) { o.now = clock }).Open(ctx, "acme", "kb")
	if err != nil {
		t.Fatal(err)
	}
	writer, err := NewManager(b).Open(ctx, "acme", "kb")
	if err != nil {
		t.Fatal(err)
	}
	if err := writer.Upsert(ctx, "d", []Record{{ChunkID: "d:0", Text: "fresh words"}}); err != nil {
		t.Fatal(err)
	}
	if got := search(t, reader, Query{Text: "fresh", Type: Lexical}); len(got) != 0 {
		t.Fatalf("reader saw the write before its interval: %v", got)
	}
	mu.Lock()
	now = now.Add(2 * time.Second)
	mu.Unlock()
	search(t, reader, Query{Text: "fresh", Type: Lexical}) // starts the background check
	reader.wmu.Lock()                                      // waits for the check to finish
	version := reader.cur.Load().man.Version
	reader.wmu.Unlock()
	if version == 0 {
		t.Fatal("the background check installed no newer manifest")
	}
	if got := search(t, reader, Query{Text: "fresh", Type: Lexical}); len(got) != 1 {
		t.Fatalf("reader did not pick up the write: %v", got)
	}
}

func TestPerQueryFusion(t *testing.T) {
	ix := seed(t, NewManager(newBlob(t)), "acme", "kb")
	for _, q := range []Query{
		{Text: "moon gravity and ocean tides", Type: Hybrid, Fusion: FusionRRF},
		{Text: "moon gravity and ocean tides", Type: Hybrid, Fusion: FusionConvex, LexicalWeight: 0.5},
	} {
		if got := search(t, ix, q); len(got) == 0 || got[0] != "tides" {
			t.Fatalf("%s: %v", q.Fusion, got)
		}
	}
	for _, q := range []Query{{Text: "x", Fusion: "max"}, {Text: "x", LexicalWeight: 1.5}} {
		if _, err := ix.Search(context.Background(), q); !errors.Is(err, ErrInvalidQuery) {
			t.Fatalf("%+v: err %v", q, err)
		}
	}
}
