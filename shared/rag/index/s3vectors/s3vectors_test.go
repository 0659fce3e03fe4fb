package s3vectors

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sort"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3vectors"

	"github.com/plinth-ai/plinth/shared/blob/fsblob"
	"github.com/plinth-ai/plinth/shared/provider"
	"github.com/plinth-ai/plinth/shared/provider/local"
	"github.com/plinth-ai/plinth/shared/rag/index"
	"github.com/plinth-ai/plinth/shared/rag/index/vectortest"
)

// fakeS3Vectors speaks S3 Vectors' REST-JSON wire protocol (POST /CreateIndex,
// /PutVectors, /QueryVectors, /DeleteVectors) over an in-memory bucket, with exact cosine
// search and the documented filter operators.
type fakeS3Vectors struct {
	mu      sync.Mutex
	indexes map[string]*fakeIndex
	filters []map[string]any
	ops     []string
}

type fakeIndex struct {
	dim     int
	vectors map[string]fakeVector
}

type fakeVector struct {
	data []float32
	md   map[string]any
}

func newFake() *fakeS3Vectors { return &fakeS3Vectors{indexes: map[string]*fakeIndex{}} }

func writeErr(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("X-Amzn-ErrorType", code)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": msg})
}

func (f *fakeS3Vectors) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || r.Method != http.MethodPost {
		writeErr(w, 400, "ValidationException", "bad request")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ops = append(f.ops, r.URL.Path)
	if body["vectorBucketName"] != "plinth-vectors" {
		writeErr(w, 404, "NotFoundException", "no such vector bucket")
		return
	}
	name, _ := body["indexName"].(string)
	ix := f.indexes[name]
	reply := func(v any) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
	switch r.URL.Path {
	case "/CreateIndex":
		if ix != nil {
			writeErr(w, 409, "ConflictException", "index exists")
			return
		}
		if body["dataType"] != "float32" || body["distanceMetric"] != "cosine" {
			writeErr(w, 400, "ValidationException", "unsupported index configuration")
			return
		}
		f.indexes[name] = &fakeIndex{dim: int(body["dimension"].(float64)), vectors: map[string]fakeVector{}}
		reply(map[string]any{})
	case "/PutVectors":
		if ix == nil {
			writeErr(w, 404, "NotFoundException", "no such index")
			return
		}
		for _, raw := range body["vectors"].([]any) {
			v := raw.(map[string]any)
			data := toFloats(v["data"].(map[string]any)["float32"].([]any))
			if len(data) != ix.dim {
				writeErr(w, 400, "ValidationException", "dimension mismatch")
				return
			}
			md, _ := v["metadata"].(map[string]any)
			ix.vectors[v["key"].(string)] = fakeVector{data, md}
		}
		reply(map[string]any{})
	case "/DeleteIndex":
		if ix == nil {
			writeErr(w, 404, "NotFoundException", "no such index")
			return
		}
		delete(f.indexes, name)
		reply(map[string]any{})
	case "/DeleteVectors":
		if ix == nil {
			writeErr(w, 404, "NotFoundException", "no such index")
			return
		}
		for _, k := range body["keys"].([]any) {
			delete(ix.vectors, k.(string))
		}
		reply(map[string]any{})
	case "/QueryVectors":
		if ix == nil {
			writeErr(w, 404, "NotFoundException", "no such index")
			return
		}
		q := toFloats(body["queryVector"].(map[string]any)["float32"].([]any))
		filter, _ := body["filter"].(map[string]any)
		f.filters = append(f.filters, filter)
		type hit struct {
			key  string
			dist float64
		}
		var hits []hit
		for k, v := range ix.vectors {
			if filter != nil && !matches(filter, v.md) {
				continue
			}
			hits = append(hits, hit{k, 1 - cosine(q, v.data)})
		}
		sort.Slice(hits, func(i, j int) bool { return hits[i].dist < hits[j].dist })
		topK := int(body["topK"].(float64))
		var out []map[string]any
		for i := 0; i < len(hits) && i < topK; i++ {
			out = append(out, map[string]any{"key": hits[i].key, "distance": hits[i].dist})
		}
		reply(map[string]any{"vectors": out, "distanceMetric": "cosine"})
	default:
		writeErr(w, 404, "UnknownOperationException", r.URL.Path)
	}
}

func toFloats(a []any) []float32 {
	out := make([]float32, len(a))
	for i, x := range a {
		out[i] = float32(x.(float64))
	}
	return out
}

func cosine(a, b []float32) float64 {
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return dot / math.Sqrt(na*nb)
}

// matches evaluates S3 Vectors' filter operators against metadata.
func matches(filter map[string]any, md map[string]any) bool {
	for k, cond := range filter {
		switch k {
		case "$and":
			for _, c := range cond.([]any) {
				if !matches(c.(map[string]any), md) {
					return false
				}
			}
			continue
		case "$or":
			ok := false
			for _, c := range cond.([]any) {
				ok = ok || matches(c.(map[string]any), md)
			}
			if !ok {
				return false
			}
			continue
		}
		v, present := md[k]
		ops, isOps := cond.(map[string]any)
		if !isOps {
			ops = map[string]any{"$eq": cond}
		}
		for op, want := range ops {
			if !present {
				return false
			}
			eq := func(w any) bool {
				if list, ok := v.([]any); ok {
					for _, e := range list {
						if reflect.DeepEqual(e, w) {
							return true
						}
					}
					return false
				}
				return reflect.DeepEqual(v, w)
			}
			num := func() (float64, float64, bool) {
				a, ok1 := v.(float64)
				b, ok2 := want.(float64)
				return a, b, ok1 && ok2
			}
			ok := false
			switch op {
			case "$eq":
				ok = eq(want)
			case "$ne":
				ok = !eq(want)
			case "$in", "$nin":
				for _, w := range want.([]any) {
					ok = ok || eq(w)
				}
				if op == "$nin" {
					ok = !ok
				}
			case "$gt", "$gte", "$lt", "$lte":
				a, b, isNum := num()
				ok = isNum && map[string]bool{"$gt": a > b, "$gte": a >= b, "$lt": a < b, "$lte": a <= b}[op]
			}
			if !ok {
				return false
			}
		}
	}
	return true
}

func newStore(t *testing.T) (*Store, *fakeS3Vectors) {
	t.Helper()
	fake := newFake()
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	client := s3vectors.New(s3vectors.Options{
		Region: "eu-west-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
	})
	return New(client, "plinth-vectors"), fake
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
	if last := fake.filters[len(fake.filters)-1]; !reflect.DeepEqual(last, map[string]any{"year": map[string]any{"$gt": 2021.0}}) {
		t.Fatalf("filter sent %v", last)
	}

	// Replacing a document deletes its old vector keys; deleting removes them.
	if err := acme.Upsert(ctx, "bread", []index.Record{{ChunkID: "bread:0", Text: "Croissants are laminated.", Vector: embed(t, "Croissants are laminated.")}}); err != nil {
		t.Fatal(err)
	}
	if err := acme.Delete(ctx, "volcano"); err != nil {
		t.Fatal(err)
	}
	name := IndexName(index.Namespace{Tenant: "acme", KB: "kb"})
	fake.mu.Lock()
	n := len(fake.indexes[name].vectors)
	fake.mu.Unlock()
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
