package schedule

import (
	"testing"
	"time"
)

// FuzzParse checks that no expression panics the parser or loops in Next.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"cron(0 12 * * ? *)", "cron(0/5 8-17 ? * MON-FRI *)", "cron(0 0 LW * ? *)", "cron(0 0 ? * 6#3 *)",
		"cron(0 22-2/3 ? * FRI-MON 2026-2030)", "rate(5 minutes)", "at(2026-01-01T00:00:00)"} {
		f.Add(s)
	}
	after := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, expr string) {
		s, err := Parse(expr)
		if err != nil {
			return
		}
		next := s.Next(after)
		if !next.IsZero() && !next.After(after) {
			t.Fatalf("%s: Next(%v) = %v is not after it", expr, after, next)
		}
	})
}
