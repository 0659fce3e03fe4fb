package metrics

import (
	"math"
	"testing"
)

func TestNormalizeAnswer(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, want string }{
		{"The Quick, brown fox!", "quick brown fox"},
		{"an apple a day", "apple day"},
		{"theater and Athens", "theater and athens"},
		{"the_end", "theend"},
		{"A-the", "athe"},
		{"  10th   and\t11th\ncenturies ", "10th and 11th centuries"},
		{"éthe café", "éthe café"}, // é is a word character, so "the" is not a whole word
		{"the\u00a0end", "end"},
		{"ΟΔΟΣ", "οδος"},               // Python's final sigma
		{"ΣΑΣ ΣΑ", "σας σα"},           // only the word-final sigma changes
		{"İstanbul", "i\u0307stanbul"}, // Python's full lowercase mapping
		{"¿Qué?", "¿qué"},              // string.punctuation is ASCII only
		{"", ""},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			if got := NormalizeAnswer(c.in); got != c.want {
				t.Fatalf("NormalizeAnswer(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}

func TestSQuADScores(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		pred   string
		refs   []string
		em, f1 float64
	}{
		{"exact after normalisation", "the France.", []string{"France"}, 1, 1},
		{"partial overlap", "in the 10th and 11th centuries", []string{"10th and 11th centuries"}, 0, 2 * (4.0 / 5) * 1 / (4.0/5 + 1)},
		{"best of several golds", "Rollo", []string{"Norse leader", "Rollo"}, 1, 1},
		{"repeated tokens clip", "the the cat cat cat", []string{"cat sat"}, 0, 2 * (1.0 / 3) * 0.5 / (1.0/3 + 0.5)},
		{"unanswerable, abstained", "", nil, 1, 1},
		{"unanswerable, answered", "France", nil, 0, 0},
		{"unanswerable via empty gold", "", []string{""}, 1, 1},
		{"punctuation-only gold dropped", "", []string{"..."}, 1, 1},
		{"answerable, abstained", "", []string{"France"}, 0, 0},
		{"only articles predicted", "the", []string{"France"}, 0, 0},
		{"no overlap", "Germany", []string{"France"}, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := ExactMatch(c.pred, c.refs); got != c.em {
				t.Errorf("EM = %v, want %v", got, c.em)
			}
			if got := F1(c.pred, c.refs); math.Abs(got-c.f1) > 1e-12 {
				t.Errorf("F1 = %v, want %v", got, c.f1)
			}
		})
	}
}
