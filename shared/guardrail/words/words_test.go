package words

import (
	"strings"
	"testing"
)

func TestFilterVariants(t *testing.T) {
	f := New([]string{"secret sauce", "badword"})
	tests := []struct {
		text  string
		match []string
	}{
		{"the SECRET   Sauce recipe", []string{"SECRET   Sauce"}},
		{"the sécret sauce", []string{"sécret sauce"}},
		{"a b4dw0rd here", []string{"b4dw0rd"}},
		{"b a d w o r d", []string{"b a d w o r d"}},
		{"b.a.d.w.o.r.d!", []string{"b.a.d.w.o.r.d"}},
		{"baaaadword", []string{"baaaadword"}},
		{"b*dword", []string{"b*dword"}},
		{"badwords are fine, notbadword too", nil},
		{"secret recipe sauce", nil},
	}
	for _, tc := range tests {
		t.Run(tc.text, func(t *testing.T) {
			var s Scanner
			var got []string
			for _, m := range s.Find(f, tc.text, nil) {
				got = append(got, tc.text[m.Start:m.End])
			}
			if strings.Join(got, "|") != strings.Join(tc.match, "|") {
				t.Fatalf("got %q, want %q", got, tc.match)
			}
		})
	}
}

func TestProfanity(t *testing.T) {
	p := Profanity()
	if p.Len() < 40 {
		t.Fatalf("managed list has %d entries", p.Len())
	}
	var s Scanner
	for _, text := range []string{"what the FUCK", "sh1t happens", "$hit", "you @sshole", "f u c k this", "Scheiße!", "fuuuuck"} {
		if len(s.Find(p, text, nil)) == 0 {
			t.Errorf("no profanity found in %q", text)
		}
	}
	for _, text := range []string{"a classic assessment", "Scunthorpe United", "the cockpit of the plane", "passion fruit", "Dickens wrote novels"} {
		if m := s.Find(p, text, nil); len(m) != 0 {
			t.Errorf("false positive in %q: %v", text, m)
		}
	}
}

func TestWildEq(t *testing.T) {
	tests := []struct {
		pat, s string
		want   bool
	}{
		{"f*ck", "fuck", true}, {"f*k", "fuck", true}, {"f*ck", "fck", false}, {"sh*t", "shit", true},
		{"a*", "a", false}, {"a*b", "ab", false}, {"a*b", "axxb", true},
		// Backtracking over many masks once took exponential time.
		{strings.Repeat("a*", 14) + "b", strings.Repeat("a", 29) + "c", false},
		{strings.Repeat("a*", 14) + "b", strings.Repeat("a", 29) + "b", true},
		{strings.Repeat("a*", 5000), "aaaa", false},
	}
	for _, tc := range tests {
		if got := wildEq(tc.pat, tc.s); got != tc.want {
			t.Errorf("wildEq(%.20q, %q) = %v, want %v", tc.pat, tc.s, got, tc.want)
		}
	}
}
