package grounding

import "testing"

func TestGrounding(t *testing.T) {
	src := []string{"The Amazon river is about 6,400 km long. It flows through Brazil, Peru and Colombia. Its basin covers seven million square kilometres."}
	tests := []struct {
		answer string
		lo, hi float64
	}{
		{"The Amazon flows through Brazil, Peru and Colombia.", 0.8, 1},
		{"The Amazon river flows through Brazil and its basin covers seven million square kilometres.", 0.7, 1},
		{"The Amazon is 9,000 km long.", 0, 0.5},
		{"Penguins live in Antarctica and eat krill.", 0, 0.3},
	}
	for _, tc := range tests {
		if g := Grounding(tc.answer, src); g < tc.lo || g > tc.hi {
			t.Errorf("Grounding(%q) = %.3f, want in [%.2f, %.2f]", tc.answer, g, tc.lo, tc.hi)
		}
	}
}

func TestRelevance(t *testing.T) {
	q := "Which countries does the Amazon river flow through?"
	if r := Relevance("The Amazon river flows through Brazil, Peru and Colombia.", q); r < 0.7 {
		t.Errorf("relevant answer scored %.3f", r)
	}
	if r := Relevance("I like turtles.", q); r > 0.3 {
		t.Errorf("irrelevant answer scored %.3f", r)
	}
	if r := Relevance("", q); r != 0 {
		t.Errorf("empty answer scored %.3f", r)
	}
}
