package metrics

import (
	"context"
	"errors"
	"fmt"
	"math"
)

// Embedder turns texts into vectors, in input order.
type Embedder interface {
	Embed(ctx context.Context, texts []string) ([][]float32, error)
}

// ErrDimensionMismatch means two vectors of different lengths were compared.
var ErrDimensionMismatch = errors.New("vector dimensions differ")

// CosineSimilarity returns the cosine of the angle between a and b, in [-1, 1], or 0
// when either vector is all zeros.
func CosineSimilarity(a, b []float32) (float64, error) {
	if len(a) != len(b) {
		return 0, fmt.Errorf("cosine of %d- and %d-dimensional vectors: %w", len(a), len(b), ErrDimensionMismatch)
	}
	var dot, na, nb float64
	for i := range a {
		x, y := float64(a[i]), float64(b[i])
		dot += x * y
		na += x * x
		nb += y * y
	}
	if na == 0 || nb == 0 {
		return 0, nil
	}
	c := dot / (math.Sqrt(na) * math.Sqrt(nb))
	return max(-1, min(1, c)), nil
}

// EmbeddingSimilarity embeds pred and every reference in one call and returns the best
// cosine similarity between pred and a reference (0 with no references).
func EmbeddingSimilarity(ctx context.Context, e Embedder, pred string, refs []string) (float64, error) {
	if len(refs) == 0 {
		return 0, nil
	}
	vecs, err := e.Embed(ctx, append([]string{pred}, refs...))
	if err != nil {
		return 0, fmt.Errorf("embed prediction and references: %w", err)
	}
	if len(vecs) != len(refs)+1 {
		return 0, fmt.Errorf("embedder returned %d vectors for %d texts", len(vecs), len(refs)+1)
	}
	best := math.Inf(-1)
	for _, v := range vecs[1:] {
		c, err := CosineSimilarity(vecs[0], v)
		if err != nil {
			return 0, err
		}
		best = max(best, c)
	}
	return best, nil
}

// Mean returns the arithmetic mean of xs, or 0 for none.
func Mean(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}
