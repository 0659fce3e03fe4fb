package main

import (
	"math"
	"testing"
)

func TestMetrics(t *testing.T) {
	rel := map[string]int{"a": 1, "b": 1}
	tests := []struct {
		name             string
		ranked           []string
		wantNDCG, wantRe float64
	}{
		{"perfect", []string{"a", "b", "c"}, 1, 1},
		{"one relevant second", []string{"x", "a"}, (1 / math.Log2(3)) / (1 + 1/math.Log2(3)), 0.5},
		{"none", []string{"x", "y"}, 0, 0},
		{"duplicates collapse", dedupe([]string{"a", "a", "b"}), 1, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ndcg(tc.ranked, rel, 10); math.Abs(got-tc.wantNDCG) > 1e-9 {
				t.Errorf("nDCG = %v, want %v", got, tc.wantNDCG)
			}
			if got := recall(tc.ranked, rel, 100); math.Abs(got-tc.wantRe) > 1e-9 {
				t.Errorf("recall = %v, want %v", got, tc.wantRe)
			}
		})
	}
}
