package grounding

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/plinth-ai/plinth/shared/guardrail/textnorm"
)

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

// TestGroundingWorkIsLinear holds the scorer to a bounded amount of work per answer and
// source term on repetitive inputs, where comparing every answer sentence with every
// source window would be quadratic.
func TestGroundingWorkIsLinear(t *testing.T) {
	for _, unit := range []string{"Kill the process. ", "a\n", "1. ", "The Amazon river is long.\n", "x "} {
		for _, n := range []int{1 << 10, 1 << 13} {
			text := strings.Repeat(unit, n)
			work := 0
			if _, err := grounding(context.Background(), text, []string{text}, &work, nil); err != nil {
				t.Fatal(err)
			}
			terms := len(textnorm.Terms(text))
			if work > 64*(terms+1) {
				t.Errorf("%q×%d: %d units of work for %d terms", unit, n, work, terms)
			}
		}
	}
}

func TestGroundingStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	text := strings.Repeat("The Amazon river is long. ", 1000)
	if _, err := GroundingContext(ctx, text, []string{text}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestCheckMatchesTheSeparateScores(t *testing.T) {
	src := "The backups run nightly at 02:00. The 2023 report lists 14 incidents. Alice Moreau leads the team."
	for _, c := range []struct{ answer, query string }{
		{"The backups run nightly at 02:00.", "When do the backups run?"},
		{"Bob leads the team. The report lists 15 incidents.", "Who leads the team?"},
		{"", "anything"}, {"Only stop words: it is what it is.", ""},
	} {
		g, r, err := Check(context.Background(), c.answer, []string{src}, c.query)
		if err != nil {
			t.Fatal(err)
		}
		if g != Grounding(c.answer, []string{src}) || r != Relevance(c.answer, c.query) {
			t.Errorf("%q: Check = %v, %v; separately %v, %v", c.answer, g, r, Grounding(c.answer, []string{src}), Relevance(c.answer, c.query))
		}
		if _, r2, _ := Check(context.Background(), c.answer, nil, c.query); r2 != r {
			t.Errorf("%q: relevance without sources %v, with %v", c.answer, r2, r)
		}
	}
}
