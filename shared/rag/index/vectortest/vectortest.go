// Package vectortest is the contract suite of index.VectorStore: every dense-vector
// backend (Amazon S3 Vectors, in-memory fakes) must pass it.
package vectortest

import (
	"context"
	"math"
	"testing"

	"github.com/plinth-ai/plinth/shared/rag/index"
)

func unit(v ...float32) []float32 {
	var n float64
	for _, x := range v {
		n += float64(x) * float64(x)
	}
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(float64(x) / math.Sqrt(n))
	}
	return out
}

// Run checks a VectorStore: nearest-neighbour order, overwrite by key, deletion, namespace
// isolation and dropping, an unknown namespace, and exactly-translatable metadata filters.
func Run(t *testing.T, newStore func(t *testing.T) index.VectorStore) {
	ctx := context.Background()
	acme := index.Namespace{Tenant: "acme", KB: "kb"}
	globex := index.Namespace{Tenant: "globex", KB: "kb"}
	seed := func(t *testing.T, vs index.VectorStore) {
		t.Helper()
		err := vs.PutVectors(ctx, acme, []index.Vector{
			{Key: "north", Data: unit(0, 1, 0), Metadata: map[string]any{"year": 2020.0, "team": "geo"}},
			{Key: "east", Data: unit(1, 0, 0), Metadata: map[string]any{"year": 2022.0, "team": "geo"}},
			{Key: "northeast", Data: unit(1, 1, 0), Metadata: map[string]any{"year": 2024.0, "team": "ops"}},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	keys := func(t *testing.T, ms []index.VectorMatch) []string {
		t.Helper()
		out := make([]string, len(ms))
		for i, m := range ms {
			out[i] = m.Key
			if i > 0 && ms[i].Score > ms[i-1].Score {
				t.Fatalf("matches not ordered by score: %+v", ms)
			}
		}
		return out
	}
	t.Run("nearest first", func(t *testing.T) {
		vs := newStore(t)
		seed(t, vs)
		got, err := vs.QueryVectors(ctx, acme, unit(1, 0.1, 0), 2, nil)
		if err != nil {
			t.Fatal(err)
		}
		if k := keys(t, got); len(k) != 2 || k[0] != "east" || k[1] != "northeast" {
			t.Fatalf("got %v, want [east northeast]", k)
		}
		if got[0].Score < 0.9 || got[0].Score > 1.0001 {
			t.Fatalf("cosine score of a near match = %v", got[0].Score)
		}
	})
	t.Run("put overwrites by key and delete removes", func(t *testing.T) {
		vs := newStore(t)
		seed(t, vs)
		if err := vs.PutVectors(ctx, acme, []index.Vector{{Key: "east", Data: unit(0, 0, 1)}}); err != nil {
			t.Fatal(err)
		}
		if err := vs.DeleteVectors(ctx, acme, []string{"north", "never-there"}); err != nil {
			t.Fatal(err)
		}
		got, err := vs.QueryVectors(ctx, acme, unit(0, 0, 1), 10, nil)
		if err != nil {
			t.Fatal(err)
		}
		if k := keys(t, got); len(k) != 2 || k[0] != "east" {
			t.Fatalf("got %v, want east first of 2", k)
		}
	})
	t.Run("namespaces are isolated", func(t *testing.T) {
		vs := newStore(t)
		seed(t, vs)
		got, err := vs.QueryVectors(ctx, globex, unit(1, 0, 0), 10, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 0 {
			t.Fatalf("globex sees %v", keys(t, got))
		}
		if err := vs.DeleteVectors(ctx, globex, []string{"east"}); err != nil {
			t.Fatal(err)
		}
		if got, _ := vs.QueryVectors(ctx, acme, unit(1, 0, 0), 1, nil); len(got) != 1 || got[0].Key != "east" {
			t.Fatalf("a delete in globex reached acme: %v", got)
		}
	})
	t.Run("drop namespace", func(t *testing.T) {
		vs := newStore(t)
		seed(t, vs)
		if err := vs.DropNamespace(ctx, acme); err != nil {
			t.Fatal(err)
		}
		if got, err := vs.QueryVectors(ctx, acme, unit(1, 0, 0), 10, nil); err != nil || len(got) != 0 {
			t.Fatalf("after drop: %v, %v", keys(t, got), err)
		}
		if err := vs.DropNamespace(ctx, globex); err != nil {
			t.Fatalf("dropping an unknown namespace: %v", err)
		}
		// The namespace can be written again.
		seed(t, vs)
		if got, _ := vs.QueryVectors(ctx, acme, unit(1, 0, 0), 1, nil); len(got) != 1 {
			t.Fatal("namespace not usable after drop")
		}
	})
	t.Run("filters", func(t *testing.T) {
		vs := newStore(t)
		seed(t, vs)
		tests := []struct {
			name   string
			filter *index.Filter
			want   int
		}{
			{"equals", &index.Filter{Equals: &index.Condition{Key: "team", Value: "geo"}}, 2},
			{"greaterThan", &index.Filter{GreaterThan: &index.Condition{Key: "year", Value: 2021.0}}, 2},
			{"andAll", &index.Filter{AndAll: []index.Filter{{Equals: &index.Condition{Key: "team", Value: "geo"}}, {LessThan: &index.Condition{Key: "year", Value: 2021.0}}}}, 1},
			{"in", &index.Filter{In: &index.Condition{Key: "team", Value: []any{"ops"}}}, 1},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				got, err := vs.QueryVectors(ctx, acme, unit(1, 1, 1), 10, tc.filter)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != tc.want {
					t.Fatalf("got %v, want %d matches", keys(t, got), tc.want)
				}
			})
		}
	})
}
