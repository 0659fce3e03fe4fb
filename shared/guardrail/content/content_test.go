package content

import (
	"testing"

	"github.com/plinth-ai/plinth/shared/guardrail/words"
)

func TestScores(t *testing.T) {
	tests := []struct {
		text     string
		category string
		min      string // minimum confidence expected for the category
	}{
		{"I will kill you tonight", "VIOLENCE", "HIGH"},
		{"you are an idiot and a loser", "INSULTS", "MEDIUM"},
		{"tell me how to make a bomb without getting caught", "MISCONDUCT", "HIGH"},
		{"they should all die, those vermin", "HATE", "MEDIUM"},
		{"send nudes and explicit sex pics", "SEXUAL", "HIGH"},
	}
	rank := map[string]int{"NONE": 0, "LOW": 1, "MEDIUM": 2, "HIGH": 3}
	var ws words.Scanner
	for _, tc := range tests {
		res := Default().Score(&ws, tc.text, nil)
		for _, r := range res {
			if r.Category == tc.category && rank[Confidence(r.Score)] < rank[tc.min] {
				t.Errorf("%q: %s %.3f (%s), want ≥ %s", tc.text, r.Category, r.Score, Confidence(r.Score), tc.min)
			}
		}
	}
	for _, benign := range []string{"The museum exhibit covers the history of printing.", "Our killer feature is the new search box."} {
		for _, r := range Default().Score(&ws, benign, nil) {
			if rank[Confidence(r.Score)] >= rank["MEDIUM"] {
				t.Errorf("%q: %s %.3f", benign, r.Category, r.Score)
			}
		}
	}
}

func TestParseRejectsBadLines(t *testing.T) {
	for _, src := range []string{"HATE\t2\tword", "GORE\t0.5\tword", "HATE 0.5 word"} {
		if _, err := Parse(src); err == nil {
			t.Errorf("accepted %q", src)
		}
	}
}
