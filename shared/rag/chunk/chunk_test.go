package chunk

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/plinth-ai/plinth/shared/rag/extract"
	"github.com/plinth-ai/plinth/shared/tokens"
)

func words(prefix string, n int) string {
	w := make([]string, n)
	for i := range w {
		w[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return strings.Join(w, " ")
}

// TestTokensAgreeWithCount: the chunker's token spans are the platform's tokens.
func TestTokensAgreeWithCount(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{"", 0},
		{"hello world", 2},
		{"Don't stop, now!", 7},
		{"tab\tand\u00a0nbsp\u2003em", 4},
		{"e\u0301clair combining", 2},
		{"e-mail: a@b.io", 9},
		{"naïve café 42", 3},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			if got := tokens.Count(tc.in); got != tc.want {
				t.Errorf("tokens.Count(%q) = %d, want %d", tc.in, got, tc.want)
			}
			if got := len(Tokens(tc.in)); got != tc.want {
				t.Errorf("len(Tokens(%q)) = %d, want %d", tc.in, got, tc.want)
			}
		})
	}
}

func TestFixed(t *testing.T) {
	secs := []extract.Section{{Text: words("a", 500), Page: 1}, {Text: words("b", 500), Page: 2}}
	got, err := Split(secs, Config{})
	if err != nil {
		t.Fatal(err)
	}
	// 1000 tokens, windows of 300 advancing by 240: starts 0,240,480,720 (the last reaches the end).
	if len(got) != 4 {
		t.Fatalf("got %d chunks, want 4", len(got))
	}
	for i, c := range got {
		if c.Index != i {
			t.Errorf("chunk %d has index %d", i, c.Index)
		}
		if c.Tokens > DefaultMaxTokens {
			t.Errorf("chunk %d has %d tokens, over %d", i, c.Tokens, DefaultMaxTokens)
		}
	}
	// 20% overlap: the last 60 tokens of a chunk open the next one.
	first, second := strings.Fields(got[0].Text), strings.Fields(got[1].Text)
	if strings.Join(first[240:], " ") != strings.Join(second[:60], " ") {
		t.Errorf("chunks 0 and 1 do not overlap by 60 tokens")
	}
	if got[0].Page != 1 || got[2].Page != 1 || got[3].Page != 2 {
		t.Errorf("pages = %d %d %d %d, want 1 1 1 2", got[0].Page, got[1].Page, got[2].Page, got[3].Page)
	}
}

func TestRecursiveKeepsStructure(t *testing.T) {
	para1 := "Alpha one. " + words("x", 40) + "."
	para2 := "Beta two. " + words("y", 40) + "."
	long := strings.Repeat("A sentence of eight tokens right here. ", 20)
	secs := []extract.Section{
		{Text: para1 + "\n\n" + para2, Heading: "Intro"},
		{Text: long, Heading: "Body", Page: 3},
	}
	got, err := Split(secs, Config{Strategy: Recursive, MaxTokens: 50, OverlapPercent: Percent(0)})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) < 4 {
		t.Fatalf("got %d chunks, want the two paragraphs apart and the long section split", len(got))
	}
	if !strings.HasPrefix(got[0].Text, "Alpha one.") || !strings.HasPrefix(got[1].Text, "Beta two.") {
		t.Errorf("paragraphs not kept apart: %q | %q", got[0].Text, got[1].Text)
	}
	for _, c := range got[2:] {
		if c.Heading != "Body" || c.Page != 3 {
			t.Errorf("chunk %d heading/page = %q/%d", c.Index, c.Heading, c.Page)
		}
		if !strings.HasSuffix(c.Text, ".") {
			t.Errorf("chunk %d does not end at a sentence: %q", c.Index, c.Text)
		}
		if c.Tokens > 50 {
			t.Errorf("chunk %d has %d tokens", c.Index, c.Tokens)
		}
	}
}

func TestHierarchical(t *testing.T) {
	secs := []extract.Section{{Text: words("w", 2000)}}
	got, err := Split(secs, Config{Strategy: Hierarchical})
	if err != nil {
		t.Fatal(err)
	}
	parents := map[int]string{}
	for _, c := range got {
		if !strings.Contains(c.Parent, c.Text) {
			t.Fatalf("child %d is not inside its parent", c.Index)
		}
		parents[c.ParentIndex] = c.Parent
	}
	if len(parents) != 2 {
		t.Fatalf("got %d parents, want 2 (1500 + 500 tokens)", len(parents))
	}
	if n := tokens.Count(parents[0]); n != 1500 {
		t.Errorf("parent 0 has %d tokens, want 1500", n)
	}
}

func TestInvalidConfig(t *testing.T) {
	for _, c := range []Config{{Strategy: "magic"}, {MaxTokens: -1}, {OverlapPercent: Percent(90)}, {OverlapPercent: Percent(-1)}, {Strategy: Hierarchical, MaxTokens: 500, ParentMaxTokens: 400}} {
		if _, err := Split([]extract.Section{{Text: "x"}}, c); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("Split(%+v) err = %v, want ErrInvalidConfig", c, err)
		}
	}
}

func TestZeroOverlap(t *testing.T) {
	got, err := Split([]extract.Section{{Text: words("w", 600)}}, Config{MaxTokens: 300, OverlapPercent: Percent(0)})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Tokens != 300 || got[1].Tokens != 300 {
		t.Fatalf("got %d chunks, want two disjoint windows of 300", len(got))
	}
}
