package metrics

import (
	"math"
	"reflect"
	"testing"
)

func TestSplitSentences(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		want []string
	}{
		{"Paris is the capital. It has 2.1 million people! Really?", []string{"Paris is the capital.", "It has 2.1 million people!", "Really?"}},
		{"Rollo [1]. He was Norse. [2][3] Done", []string{"Rollo [1].", "He was Norse. [2][3]", "Done"}},
		{"J. R. Tolkien wrote it, e.g. The Hobbit.", []string{"J. R. Tolkien wrote it, e.g. The Hobbit."}},
		{"line one\nline two", []string{"line one", "line two"}},
		{"", nil},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			if got := SplitSentences(c.in); !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %q, want %q", got, c.want)
			}
		})
	}
}

var ragContexts = []string{
	"The Normans were the people who in the 10th and 11th centuries gave their name to Normandy, a region in France.",
	"Rollo was a Viking leader who became the first ruler of Normandy.",
	"Bananas are rich in potassium.",
}

func TestContextPrecisionAndRecall(t *testing.T) {
	t.Parallel()
	reference := []string{
		"Normandy is a region in France named after the Normans.",
		"Rollo was the first ruler of Normandy.",
	}
	cases := []struct {
		name              string
		retrieved         []string
		precision, recall float64
	}{
		{"relevant first", ragContexts, 1, 1},
		// Relevant at ranks 2 and 3: (1/2 + 2/3) / 2.
		{"irrelevant first", []string{ragContexts[2], ragContexts[0], ragContexts[1]}, (0.5 + 2.0/3) / 2, 1},
		{"one of two found", []string{ragContexts[2], ragContexts[1]}, 0.5, 0.5},
		{"nothing relevant", []string{ragContexts[2]}, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, ok := ContextPrecision(c.retrieved, reference, RAGOptions{})
			if !ok || math.Abs(p-c.precision) > 1e-12 {
				t.Errorf("precision = %v (%v), want %v", p, ok, c.precision)
			}
			r, ok := ContextRecall(c.retrieved, reference, RAGOptions{})
			if !ok || math.Abs(r-c.recall) > 1e-12 {
				t.Errorf("recall = %v (%v), want %v", r, ok, c.recall)
			}
		})
	}
	if _, ok := ContextPrecision(nil, reference, RAGOptions{}); ok {
		t.Error("precision defined with nothing retrieved")
	}
	if _, ok := ContextRecall(ragContexts, nil, RAGOptions{}); ok {
		t.Error("recall defined without references")
	}
}

func TestFaithfulnessAndCitationPrecision(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name                 string
		answer               string
		faithful, citePrec   float64
		faithOK, citationsOK bool
	}{
		{"supported and well cited", "Normandy is a region in France [1]. Rollo was the first ruler of Normandy [2].", 1, 1, true, true},
		{"one unsupported claim", "Normandy is a region in France [1]. The Normans invented the croissant in Paris [1].", 0.5, 0.5, true, true},
		{"wrong citation number", "Rollo was the first ruler of Normandy [3].", 1, 0, true, true},
		{"citation out of range", "Rollo was the first ruler of Normandy [9].", 1, 0, true, true},
		{"multi citation", "Rollo was the first ruler of Normandy [1, 2].", 1, 0.5, true, true},
		{"no citations", "Bananas are rich in potassium.", 1, 0, true, false},
		{"empty answer", "", 0, 0, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, ok := Faithfulness(c.answer, ragContexts, RAGOptions{})
			if ok != c.faithOK || math.Abs(f-c.faithful) > 1e-12 {
				t.Errorf("faithfulness = %v (%v), want %v (%v)", f, ok, c.faithful, c.faithOK)
			}
			p, ok := CitationPrecision(c.answer, ragContexts, RAGOptions{})
			if ok != c.citationsOK || math.Abs(p-c.citePrec) > 1e-12 {
				t.Errorf("citation precision = %v (%v), want %v (%v)", p, ok, c.citePrec, c.citationsOK)
			}
		})
	}
}
