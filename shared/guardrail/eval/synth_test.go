package eval

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestGrammarExpandsAndBinds(t *testing.T) {
	g := grammar{"s": {"{name} met {name} at {place}."}, "name": {"Ada", "Bo", "Cy"}, "place": {"home", "work"}}
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 20; i++ {
		s := g.expandBound(r, "{s}", "name")
		n, ok := strings.CutSuffix(s, ".")
		f := strings.Fields(n)
		if !ok || len(f) != 5 {
			t.Fatalf("expanded %q", s)
		}
		a, b, p := f[0], f[2], f[4]
		if a != b || !slices.Contains(g["name"], a) || !slices.Contains(g["place"], p) {
			t.Fatalf("bound name not kept or unknown words: %q", s)
		}
	}
	if got := g.expand(r, "{unknown} stays"); got != "{unknown} stays" {
		t.Errorf("unknown key: %q", got)
	}
}

func TestSyntheticRowsAreDeterministicAndMixed(t *testing.T) {
	for _, gen := range []func(int, uint64) []Row{SyntheticAttackRows, SyntheticContentRows, SyntheticHateRows} {
		a, b := gen(500, 7), gen(500, 7)
		if !slices.EqualFunc(a, b, func(x, y Row) bool { return x.Text == y.Text && x.Source == y.Source && x.Category == y.Category }) {
			t.Fatal("same seed gave different rows")
		}
		pos, seen := 0, map[string]bool{}
		for _, r := range a {
			if seen[r.Text] || strings.Contains(r.Text, "{") {
				t.Fatalf("duplicate or unexpanded row %q", r.Text)
			}
			seen[r.Text] = true
			if !r.Benign() {
				pos++
			}
		}
		if len(a) < 450 || pos < len(a)/4 || pos > 3*len(a)/4 {
			t.Errorf("%d rows, %d harmful: want about 500, both classes well represented", len(a), pos)
		}
	}
}

func TestDisputedVotes(t *testing.T) {
	for label, want := range map[string][]string{
		"neither (votes h/o/n=0/0/3)": nil, "neither (votes h/o/n=1/0/2)": {"HATE"},
		"neither (votes h/o/n=0/1/2)": nil, "neither (votes h/o/n=1/1/4)": {"HATE"}, "SH": nil,
	} {
		if got := disputed(label); !slices.Equal(got, want) {
			t.Errorf("disputed(%q) = %v, want %v", label, got, want)
		}
	}
}
