package metrics

import (
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestROUGETokenize(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		want []string
	}{
		{"Hello, World! It's 2024.", []string{"hello", "world", "it", "s", "2024"}},
		{"  café-au-lait ", []string{"caf", "au", "lait"}},
		{"", nil},
		{"...", nil},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			got := ROUGETokenize(c.in, nil)
			if len(got) == 0 && len(c.want) == 0 {
				return
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("ROUGETokenize(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// Cases from rouge-score's rouge_scorer_test.py and hand computation.
func TestROUGEScorer(t *testing.T) {
	t.Parallel()
	sc, err := NewROUGEScorer([]string{"rouge1", "rouge2", "rougeL"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, target, pred string
		typ                string
		p, r, f            float64
	}{
		{"rouge1 subset", "testing one two", "testing", "rouge1", 1, 1.0 / 3, 0.5},
		{"rouge1 identical", "testing one two", "testing one two", "rouge1", 1, 1, 1},
		{"rouge2 half", "testing one two", "testing one", "rouge2", 1, 0.5, 2.0 / 3},
		{"rouge2 none", "testing one two", "testing two", "rouge2", 0, 0, 0},
		{"rougeL non-consecutive", "testing one two", "testing two", "rougeL", 1, 2.0 / 3, 0.8},
		{"rougeL order matters", "the cat sat on the mat", "mat the on sat cat the", "rougeL", 3.0 / 6, 3.0 / 6, 3.0 / 6},
		{"rouge1 order-free", "the cat sat on the mat", "mat the on sat cat the", "rouge1", 1, 1, 1},
		{"empty prediction", "testing one two", "", "rougeL", 0, 0, 0},
		{"empty prediction rouge1", "testing one two", "", "rouge1", 0, 0, 0},
		{"case and punctuation ignored", "Testing, ONE two!", "testing one two", "rouge2", 1, 1, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := sc.Score(c.target, c.pred)[c.typ]
			if !near(got.Precision, c.p) || !near(got.Recall, c.r) || !near(got.FMeasure, c.f) {
				t.Fatalf("%s = %+v, want p=%v r=%v f=%v", c.typ, got, c.p, c.r, c.f)
			}
		})
	}
}

func TestROUGEScoreMultiTakesBestReference(t *testing.T) {
	t.Parallel()
	sc, err := NewROUGEScorer([]string{"rouge1", "rougeL"})
	if err != nil {
		t.Fatal(err)
	}
	got := sc.ScoreMulti([]string{"completely different", "the quick brown fox", "quick fox"}, "quick brown fox")
	if !near(got["rouge1"].FMeasure, 2*1*0.75/1.75) {
		t.Fatalf("rouge1 = %+v", got["rouge1"])
	}
	if !near(got["rougeL"].FMeasure, 2*1*0.75/1.75) {
		t.Fatalf("rougeL = %+v", got["rougeL"])
	}
	none := sc.ScoreMulti(nil, "anything")
	if none["rouge1"].FMeasure != 0 {
		t.Fatalf("no references should score 0, got %+v", none)
	}
}

func TestNewROUGEScorerRejectsUnknownType(t *testing.T) {
	t.Parallel()
	for _, typ := range []string{"rougeLsum", "rouge0", "bleu", "rouge10"} {
		if _, err := NewROUGEScorer([]string{typ}); err == nil {
			t.Errorf("%s accepted", typ)
		}
	}
}

func TestLCSLength(t *testing.T) {
	t.Parallel()
	cases := []struct {
		a, b string
		want int
	}{
		{"a b c d", "a c d", 3},
		{"a b c", "c b a", 1},
		{"", "a", 0},
		{"a b a b", "b a b a", 3},
	}
	for _, c := range cases {
		t.Run(c.a+"|"+c.b, func(t *testing.T) {
			if got := LCSLength(strings.Fields(c.a), strings.Fields(c.b)); got != c.want {
				t.Fatalf("LCS = %d, want %d", got, c.want)
			}
		})
	}
}
