package idpattern

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

var exprs = []string{
	`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`,
	`^[^\x00-\x1f#]{1,256}$`,
	`^[a-z0-9][a-z0-9-]{1,62}$`,
	`^[A-Za-z0-9_./-]{0,32}$`,
	`^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$`,
	`^[a-z]x[0-9]{2,3}$`,
}

// Every pattern must accept and refuse exactly what the bounded regular expression does.
func TestMatchesLikeTheBoundedExpression(t *testing.T) {
	alphabet := []string{"a", "Z", "0", "9", ".", "_", "-", ":", "/", "#", "x", " ", "é", "\x00", "\x1f", "\xff", "\u2028", "😀"}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, expr := range exprs {
		want := regexp.MustCompile(expr)
		got := MustCompile(expr)
		if got.String() != expr {
			t.Errorf("String() = %q, want %q", got.String(), expr)
		}
		var cases []string
		for _, n := range []int{0, 1, 2, 3, 4, 32, 33, 34, 62, 63, 64, 127, 128, 129, 256, 257, 300} {
			cases = append(cases, strings.Repeat("a", n), strings.Repeat("é", n), "0"+strings.Repeat("x", n), "#"+strings.Repeat("a", n))
		}
		for range 3000 {
			var b strings.Builder
			n := rng.IntN(12)
			if rng.IntN(10) == 0 {
				n = 120 + rng.IntN(150)
			}
			for range n {
				b.WriteString(alphabet[rng.IntN(len(alphabet))])
			}
			cases = append(cases, b.String())
		}
		for _, s := range cases {
			if g, w := got.MatchString(s), want.MatchString(s); g != w {
				t.Fatalf("%s: MatchString(%q) = %v, the expression says %v", expr, s, g, w)
			}
		}
	}
}

func TestRefusesOtherShapes(t *testing.T) {
	for _, expr := range []string{`[a-z]{1,3}$`, `^[a-z]{1,3}`, `^(ab){1,3}$`, `^[a-z]+{1,3}$`, `^[a-z]{3,1}$`, `^[a-z]{1}$`, `^ab*[a-z]{1,3}$`} {
		if _, err := compile(expr); err == nil {
			t.Errorf("compile(%q) accepted a shape it cannot match exactly", expr)
		}
	}
}

func TestSmallerThanTheBoundedExpression(t *testing.T) {
	small := testing.AllocsPerRun(5, func() { MustCompile(exprs[0]) })
	bounded := testing.AllocsPerRun(5, func() { regexp.MustCompile(exprs[0]) })
	if small*4 > bounded {
		t.Errorf("compiling %s allocates %v times, the bounded expression %v", exprs[0], small, bounded)
	}
}
