package metrics

import (
	"context"
	"errors"
	"math"
	"testing"
)

type fakeEmbedder map[string][]float32

func (f fakeEmbedder) Embed(_ context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, t := range texts {
		v, ok := f[t]
		if !ok {
			return nil, errors.New("unknown text " + t)
		}
		out[i] = v
	}
	return out, nil
}

func TestCosineSimilarity(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		a, b []float32
		want float64
	}{
		{"same direction", []float32{1, 2, 3}, []float32{2, 4, 6}, 1},
		{"orthogonal", []float32{1, 0}, []float32{0, 1}, 0},
		{"opposite", []float32{1, 1}, []float32{-1, -1}, -1},
		{"45 degrees", []float32{1, 0}, []float32{1, 1}, 1 / math.Sqrt2},
		{"zero vector", []float32{0, 0}, []float32{1, 1}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := CosineSimilarity(c.a, c.b)
			if err != nil || math.Abs(got-c.want) > 1e-6 {
				t.Fatalf("cos = %v, %v; want %v", got, err, c.want)
			}
		})
	}
	if _, err := CosineSimilarity([]float32{1}, []float32{1, 2}); !errors.Is(err, ErrDimensionMismatch) {
		t.Fatalf("mismatch err = %v", err)
	}
}

func TestEmbeddingSimilarityBestReference(t *testing.T) {
	t.Parallel()
	e := fakeEmbedder{"p": {1, 0}, "r1": {0, 1}, "r2": {1, 1}}
	got, err := EmbeddingSimilarity(context.Background(), e, "p", []string{"r1", "r2"})
	if err != nil || math.Abs(got-1/math.Sqrt2) > 1e-6 {
		t.Fatalf("similarity = %v, %v", got, err)
	}
	if _, err := EmbeddingSimilarity(context.Background(), e, "p", []string{"missing"}); err == nil {
		t.Fatal("embedder error swallowed")
	}
}
