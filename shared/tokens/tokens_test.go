package tokens_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/plinth-ai/plinth/shared/tokens"
)

func TestCount(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want int
	}{
		{"", 0},
		{"   \n\t", 0},
		{"Hello, world!", 4},
		{"naïve café", 2},
		{"x=42;", 4},
		{"日本語 テキスト", 2},
		{"Don't stop, now!", 7},
		{"tab\tand\u00a0nbsp\u2003em", 4},
		{"e\u0301clair combining", 2},
		{"e-mail: a@b.io", 9},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := tokens.Count(tt.in); got != tt.want {
				t.Errorf("Count(%q) = %d, want %d", tt.in, got, tt.want)
			}
			var spans []string
			tokens.Each(tt.in, func(start, end int) bool { spans = append(spans, tt.in[start:end]); return true })
			if len(spans) != tt.want {
				t.Errorf("Each(%q) gave %q, want %d tokens", tt.in, spans, tt.want)
			}
		})
	}
}

func TestTruncate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, want string
		max      int
		cut      bool
	}{
		{"one two three", "one two", 2, true},
		{"one two", "one two", 2, false},
		{"a, b", "a", 1, true},
		{"", "", 3, false},
	} {
		got, cut := tokens.Truncate(tc.in, tc.max)
		if got != tc.want || cut != tc.cut {
			t.Errorf("Truncate(%q, %d) = %q %v, want %q %v", tc.in, tc.max, got, cut, tc.want, tc.cut)
		}
	}
}

func ExampleCount() {
	fmt.Println(tokens.Count("Hello, world!"))
	// Output: 4
}

var benchText = strings.Repeat("Parental leave at Plinth lasts twenty weeks at full pay; the office closes on public holidays. ", 20)

func BenchmarkCount(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchText)))
	for b.Loop() {
		tokens.Count(benchText)
	}
}
