package scheduler

import (
	"strings"
	"testing"
)

func TestName(t *testing.T) {
	long := strings.Repeat("x", 80)
	cases := []struct{ tenant, suite string }{
		{"acme", "nightly"},
		{"acme", "night ly"},
		{"acme", "night_ly"},
		{long, long + "a"},
		{long, long + "b"},
	}
	seen := map[string]bool{}
	for _, tc := range cases {
		t.Run(tc.tenant[:4]+"/"+tc.suite[:4], func(t *testing.T) {
			n := Name(tc.tenant, tc.suite)
			if len(n) > 64 || !strings.HasPrefix(n, "eval-") || strings.Trim(n, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") != "" {
				t.Fatalf("name %q is not a valid Scheduler name", n)
			}
			if seen[n] {
				t.Fatalf("name %q is not unique", n)
			}
			seen[n] = true
			if n != Name(tc.tenant, tc.suite) {
				t.Fatal("name is not stable")
			}
		})
	}
}
