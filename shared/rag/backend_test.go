package rag

import (
	"context"
	"errors"
	"math"
	"sort"
	"sync"
	"testing"

	"github.com/plinth-ai/plinth/shared/rag/index"
)

// memVectors is an in-memory index.VectorStore standing in for S3 Vectors.
type memVectors struct {
	mu   sync.Mutex
	vecs map[index.Namespace]map[string][]float32
}

func (m *memVectors) PutVectors(_ context.Context, ns index.Namespace, vecs []index.Vector) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.vecs[ns] == nil {
		m.vecs[ns] = map[string][]float32{}
	}
	for _, v := range vecs {
		m.vecs[ns][v.Key] = v.Data
	}
	return nil
}

func (m *memVectors) DeleteVectors(_ context.Context, ns index.Namespace, keys []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range keys {
		delete(m.vecs[ns], k)
	}
	return nil
}

func (m *memVectors) DropNamespace(_ context.Context, ns index.Namespace) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.vecs, ns)
	return nil
}

func (m *memVectors) QueryVectors(_ context.Context, ns index.Namespace, q []float32, topK int, _ *index.Filter) ([]index.VectorMatch, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []index.VectorMatch
	for k, v := range m.vecs[ns] {
		var dot, nq, nv float64
		for i := range v {
			dot += float64(v[i]) * float64(q[i])
			nq += float64(q[i]) * float64(q[i])
			nv += float64(v[i]) * float64(v[i])
		}
		out = append(out, index.VectorMatch{Key: k, Score: dot / math.Sqrt(nq*nv)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Score > out[j].Score })
	return out[:min(topK, len(out))], nil
}

func TestKnowledgeBaseOnVectorStoreBackend(t *testing.T) {
	vs := &memVectors{vecs: map[index.Namespace]map[string][]float32{}}
	e := newEnv(t, envConfig{opts: []Option{func(s *Service) {
		s.vectorIndexes = index.NewManager(s.blob, index.WithVectorStore(vs), index.WithRefreshInterval(-1))
	}}})
	e.createKB(t, KnowledgeBase{Tenant: "acme", ID: "vec", IndexBackend: BackendS3Vectors})
	for name, body := range handbook {
		if d := e.upload(t, "acme", "vec", name, body, nil); d.Status != StatusIndexed {
			t.Fatalf("%s: %s %s", name, d.Status, d.Reason)
		}
	}
	if n := len(vs.vecs[index.Namespace{Tenant: "acme", KB: "vec"}]); n != len(handbook) {
		t.Fatalf("%d vectors in the vector store, want %d", n, len(handbook))
	}
	res := e.retrieve(t, "acme", "vec", RetrieveRequest{Query: "vegetarian lunch in the canteen", SearchType: "SEMANTIC"})
	if len(res) == 0 || res[0].Document.Name != "canteen.txt" || res[0].Text == "" {
		t.Fatalf("results %+v", res)
	}
	if _, err := e.svc.CreateKnowledgeBase(context.Background(), KnowledgeBase{Tenant: "acme", ID: "bad", IndexBackend: "faiss"}); err == nil {
		t.Fatal("unknown backend accepted")
	}
	if err := e.svc.DeleteKnowledgeBase(context.Background(), "acme", "vec"); err != nil {
		t.Fatal(err)
	}
	if n := len(vs.vecs[index.Namespace{Tenant: "acme", KB: "vec"}]); n != 0 {
		t.Fatalf("%d vectors left after deleting the knowledge base", n)
	}
	for _, prefix := range []string{index.Prefix("acme", "vec"), "tenants/acme/kb/vec/"} {
		if objs, _ := e.blob.List(context.Background(), prefix); len(objs) != 0 {
			t.Fatalf("%d objects left under %s", len(objs), prefix)
		}
	}
	if _, err := e.svc.GetKnowledgeBase(context.Background(), "acme", "vec"); err == nil {
		t.Fatal("knowledge base still there")
	}
}

// TestDefaultIndexBackend: with a default backend, knowledge bases created without one
// use it; one that names a backend keeps it; s3vectors as the default needs a vector store.
func TestDefaultIndexBackend(t *testing.T) {
	ctx := context.Background()
	vs := &memVectors{vecs: map[index.Namespace]map[string][]float32{}}
	e := newEnv(t, envConfig{opts: []Option{WithDefaultIndexBackend(BackendS3Vectors), func(s *Service) {
		s.vectorIndexes = index.NewManager(s.blob, index.WithVectorStore(vs), index.WithRefreshInterval(-1))
	}}})
	kb, err := e.svc.CreateKnowledgeBase(ctx, KnowledgeBase{Tenant: "acme", ID: "by-default"})
	if err != nil || kb.IndexBackend != BackendS3Vectors {
		t.Fatalf("created %+v %v, want the s3vectors default", kb, err)
	}
	if kb, err := e.svc.CreateKnowledgeBase(ctx, KnowledgeBase{Tenant: "acme", ID: "named", IndexBackend: BackendEmbedded}); err != nil || kb.IndexBackend != BackendEmbedded {
		t.Fatalf("created %+v %v, want the embedded backend it named", kb, err)
	}
	bare := newEnv(t, envConfig{opts: []Option{WithDefaultIndexBackend(BackendS3Vectors)}})
	if _, err := bare.svc.CreateKnowledgeBase(ctx, KnowledgeBase{Tenant: "acme", ID: "kb"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("s3vectors default without a vector store: %v", err)
	}
}
