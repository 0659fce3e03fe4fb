package index

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
)

// BenchmarkSemanticDense50k searches 50,000 structured dense 1024-d vectors (latent topics
// plus noise, like neural embeddings) with dense queries, the two-pass column path, and
// reports recall@10 against exact search.
func BenchmarkSemanticDense50k(b *testing.B) {
	t := b
	r := rand.New(rand.NewPCG(3, 4))
	const n, dim = 50000, 1024
	ctx := context.Background()
	ix, _ := NewManager(newBlob(t)).Open(ctx, "acme", "kb")
	vecs := make([][]float32, n)
	recs := make([]Record, n)
	// Structured vectors: a few latent topics plus noise, like real embeddings.
	topics := make([][]float32, 50)
	for i := range topics {
		topics[i] = randomVector(r, dim, 1)
	}
	mix := func() []float32 {
		v := make([]float32, dim)
		a, b := topics[r.IntN(50)], topics[r.IntN(50)]
		noise := randomVector(r, dim, 1)
		for d := range v {
			v[d] = 0.6*a[d] + 0.3*b[d] + 0.5*noise[d]
		}
		return v
	}
	for i := range recs {
		vecs[i] = mix()
		recs[i] = Record{ChunkID: fmt.Sprint(i), Text: "x", Vector: vecs[i]}
	}
	if err := ix.Upsert(ctx, "d", recs); err != nil {
		t.Fatal(err)
	}
	if ix.cur.Load().segs[0].seg.cols == nil {
		b.Fatal("segment is not column-major")
	}
	overlap := 0
	queries := 0
	b.ResetTimer()
	for qi := 0; qi < b.N; qi++ {
		b.StopTimer()
		queries++
		q := mix()
		type sc struct {
			i int
			s float64
		}
		ex := make([]sc, n)
		for i, v := range vecs {
			var dot float64
			for d := range v {
				dot += float64(v[d]) * float64(q[d])
			}
			ex[i] = sc{i, dot}
		}
		sort.Slice(ex, func(a, b int) bool { return ex[a].s > ex[b].s })
		want := map[string]bool{}
		for _, e := range ex[:10] {
			want[fmt.Sprint(e.i)] = true
		}
		b.StartTimer()
		hits, _ := ix.Search(ctx, Query{Vector: q, Type: Semantic, TopK: 10})
		b.StopTimer()
		for _, h := range hits {
			if want[h.ChunkID] {
				overlap++
			}
		}
	}
	b.ReportMetric(float64(overlap)/float64(10*queries), "recall@10")
}

// BenchmarkDecodeSegment decodes a 20,000-row segment (≈800 bytes of text and a dense
// 384-d vector per row): the work of a cold load once the file is local.
func BenchmarkDecodeSegment(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	words := []string{"protein", "cell", "expression", "tumour", "gene", "receptor", "binding", "patients", "increased", "signalling", "mouse", "levels"}
	recs := make([]Record, 20000)
	for i := range recs {
		text := make([]byte, 0, 800)
		for len(text) < 800 {
			text = append(text, words[r.IntN(len(words))]...)
			text = append(text, ' ')
		}
		recs[i] = Record{ChunkID: fmt.Sprint(i), DocID: fmt.Sprint(i / 3), DocName: "doc.md", Source: "s3://b/doc.md", Text: string(text), Vector: randomVector(r, 384, 1)}
	}
	s, err := buildSegment(recs, 384)
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	if err := s.encode(&buf); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(buf.Len()))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := decodeSegment(buf.Bytes()); err != nil {
			b.Fatal(err)
		}
	}
}
