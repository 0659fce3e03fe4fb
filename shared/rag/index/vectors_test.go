package index

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"testing"
)

func randomVector(r *rand.Rand, dim int, density float64) []float32 {
	v := make([]float32, dim)
	var norm float64
	for i := range v {
		if r.Float64() < density {
			v[i] = float32(r.NormFloat64())
			norm += float64(v[i]) * float64(v[i])
		}
	}
	if norm == 0 {
		v[0], norm = 1, 1
	}
	for i := range v {
		v[i] /= float32(math.Sqrt(norm))
	}
	return v
}

// Quantised search (dense scan or by-dimension postings) must agree with exact float
// cosine search on nearly every top-10 neighbour.
func TestSemanticMatchesExactSearch(t *testing.T) {
	for _, tc := range []struct {
		name         string
		density      float64
		queryDensity float64
		wantSparse   bool
		columns      bool
	}{
		{"dense vectors", 1, 0.3, false, false},
		{"sparse vectors", 0.05, 0.3, true, false},
		{"column-major, short queries (exact)", 1, 0.3, false, true},
		{"column-major, dense queries (two passes)", 1, 1, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.columns {
				old := columnRows
				columnRows = 500
				t.Cleanup(func() { columnRows = old })
			}
			r := rand.New(rand.NewPCG(1, 2))
			const n, dim = 600, 128
			ctx := context.Background()
			ix, err := NewManager(newBlob(t)).Open(ctx, "acme", "kb")
			if err != nil {
				t.Fatal(err)
			}
			vecs := make([][]float32, n)
			recs := make([]Record, n)
			for i := range recs {
				vecs[i] = randomVector(r, dim, tc.density)
				recs[i] = Record{ChunkID: fmt.Sprint(i), Text: "x", Vector: vecs[i]}
			}
			if err := ix.Upsert(ctx, "d", recs); err != nil {
				t.Fatal(err)
			}
			if got := ix.cur.Load().segs[0].seg.sparse(); got != tc.wantSparse {
				t.Fatalf("sparse layout = %v, want %v", got, tc.wantSparse)
			}
			if got := ix.cur.Load().segs[0].seg.cols != nil; got != tc.columns {
				t.Fatalf("column layout = %v, want %v", got, tc.columns)
			}
			overlap := 0
			const queries = 20
			for qi := 0; qi < queries; qi++ {
				q := randomVector(r, dim, tc.queryDensity)
				type scored struct {
					id string
					s  float64
				}
				exact := make([]scored, n)
				for i, v := range vecs {
					var dot float64
					for d := range v {
						dot += float64(v[d]) * float64(q[d])
					}
					exact[i] = scored{fmt.Sprint(i), dot}
				}
				sort.Slice(exact, func(a, b int) bool { return exact[a].s > exact[b].s })
				want := map[string]bool{}
				for _, e := range exact[:10] {
					want[e.id] = true
				}
				hits, err := ix.Search(ctx, Query{Vector: q, Type: Semantic, TopK: 10})
				if err != nil {
					t.Fatal(err)
				}
				for _, h := range hits {
					if want[h.ChunkID] {
						overlap++
					}
				}
			}
			if recall := float64(overlap) / (10 * queries); recall < 0.9 {
				t.Fatalf("recall@10 against exact search = %.2f, want >= 0.9", recall)
			}
		})
	}
}
