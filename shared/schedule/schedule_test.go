package schedule

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
	_ "time/tzdata" // time zone rules independent of the machine

	"github.com/plinth-ai/plinth/shared/flow"
)

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestNext(t *testing.T) {
	// 2026-01-01 is a Thursday.
	cases := []struct {
		expr, after, want string
	}{
		{"rate(5 minutes)", "2026-01-01T00:00:00Z", "2026-01-01T00:05:00Z"},
		{"rate(1 hour)", "2026-01-01T00:30:00Z", "2026-01-01T01:30:00Z"},
		{"rate(2 days)", "2026-01-01T00:00:00Z", "2026-01-03T00:00:00Z"},
		{"cron(0 12 * * ? *)", "2026-01-01T00:00:00Z", "2026-01-01T12:00:00Z"},
		{"cron(0 12 * * ? *)", "2026-01-01T12:00:00Z", "2026-01-02T12:00:00Z"},
		{"cron(15 10 * * ? *)", "2026-01-01T10:14:59Z", "2026-01-01T10:15:00Z"},
		{"cron(0/15 * * * ? *)", "2026-01-01T10:16:00Z", "2026-01-01T10:30:00Z"},
		{"cron(0 18 ? * MON-FRI *)", "2026-01-02T19:00:00Z", "2026-01-05T18:00:00Z"},
		{"cron(0/5 8-17 ? * MON-FRI *)", "2026-01-02T17:56:00Z", "2026-01-05T08:00:00Z"},
		{"cron(0 8 1 * ? *)", "2026-01-01T09:00:00Z", "2026-02-01T08:00:00Z"},
		{"cron(0 9 ? * 2#1 *)", "2026-01-10T00:00:00Z", "2026-02-02T09:00:00Z"},
		{"cron(0 0 ? * 6L *)", "2026-01-01T00:00:00Z", "2026-01-30T00:00:00Z"},
		{"cron(0 0 L * ? *)", "2026-02-01T00:00:00Z", "2026-02-28T00:00:00Z"},
		{"cron(0 0 L 2 ? 2028)", "2026-01-01T00:00:00Z", "2028-02-29T00:00:00Z"},
		{"cron(0 0 15W * ? *)", "2026-02-01T00:00:00Z", "2026-02-16T00:00:00Z"}, // the 15th is a Sunday
		{"cron(0 0 1W 8 ? *)", "2026-01-01T00:00:00Z", "2026-08-03T00:00:00Z"},  // Aug 1 is a Saturday
		{"cron(0 0 LW 5 ? *)", "2026-01-01T00:00:00Z", "2026-05-29T00:00:00Z"},  // May 31 is a Sunday
		{"cron(30 1 ? * L *)", "2026-01-01T00:00:00Z", "2026-01-03T01:30:00Z"},  // L = Saturday
		{"cron(0 6 ? * SAT,SUN *)", "2026-01-01T00:00:00Z", "2026-01-03T06:00:00Z"},
		{"cron(0 0 1 JAN-MAR/2 ? *)", "2026-01-02T00:00:00Z", "2026-03-01T00:00:00Z"},
		{"cron(0 0 1 1 ? 2025)", "2026-01-01T00:00:00Z", ""},
		{"at(2026-06-01T09:30:00)", "2026-01-01T00:00:00Z", "2026-06-01T09:30:00Z"},
		{"at(2026-06-01T09:30:00)", "2026-06-01T09:30:00Z", ""},
	}
	for _, tc := range cases {
		t.Run(tc.expr+"@"+tc.after, func(t *testing.T) {
			s, err := Parse(tc.expr)
			if err != nil {
				t.Fatal(err)
			}
			got := s.Next(ts(tc.after))
			if tc.want == "" {
				if !got.IsZero() {
					t.Fatalf("want no next fire, got %v", got)
				}
				return
			}
			if !got.Equal(ts(tc.want)) {
				t.Fatalf("Next = %v, want %s", got, tc.want)
			}
		})
	}
}

func TestTimezone(t *testing.T) {
	loc, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseIn("cron(0 9 * * ? *)", loc)
	if err != nil {
		t.Fatal(err)
	}
	got := s.Next(ts("2026-07-01T00:00:00Z"))
	if !got.Equal(ts("2026-07-01T13:00:00Z")) {
		t.Fatalf("9:00 New York in July = %v, want 13:00Z", got.UTC())
	}
}

func TestInvalid(t *testing.T) {
	for _, expr := range []string{
		"rate(1 minutes)", "rate(5 minute)", "rate(0 minutes)", "rate(5 weeks)", "rate(five minutes)",
		"cron(0 12 * * * *)", "cron(0 12 ? * ? *)", "cron(0 12 * *)", "cron(60 12 * * ? *)", "cron(0 24 * * ? *)",
		"cron(0 0 32 * ? *)", "cron(0 0 ? * 8 *)", "cron(0 0 ? * 2#6 *)", "cron(0 0 1 13 ? *)", "cron(0 0 1 1 ? 1969)",
		"at(2026-01-01)", "at(tomorrow)", "every(5 minutes)", "", "cron 0 12 * * ? *",
	} {
		t.Run(expr, func(t *testing.T) {
			if _, err := Parse(expr); !errors.Is(err, ErrInvalidExpression) {
				t.Fatalf("want ErrInvalidExpression, got %v", err)
			}
		})
	}
}

func TestScheduler(t *testing.T) {
	start := ts("2026-01-01T11:58:00Z")
	clock := flow.NewFakeClock(start, false)
	s := NewScheduler(WithClock(clock))
	var mu sync.Mutex
	fired := map[string][]time.Time{}
	record := func(name string) Func {
		return func(_ context.Context, at time.Time) {
			mu.Lock()
			fired[name] = append(fired[name], at)
			mu.Unlock()
		}
	}
	for _, sc := range []struct{ name, expr string }{
		{"every-5m", "rate(5 minutes)"}, {"noon", "cron(0 12 * * ? *)"}, {"once", "at(2026-01-01T12:01:00)"},
	} {
		p, err := Parse(sc.expr)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Add(sc.name, p, record(sc.name)); err != nil {
			t.Fatal(err)
		}
	}
	p, _ := Parse("rate(1 day)")
	if err := s.Add("noon", p, record("x")); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("duplicate add: %v", err)
	}
	armed := make(chan struct{})
	s.armed = func() { armed <- struct{}{} }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()

	// Jump the clock from one due time to the next until 12:10, each time once the
	// scheduler is waiting again.
	end := ts("2026-01-01T12:10:00Z")
	for {
		<-armed
		var soonest time.Time
		for _, name := range []string{"every-5m", "noon", "once"} {
			if n := s.Next(name); !n.IsZero() && (soonest.IsZero() || n.Before(soonest)) {
				soonest = n
			}
		}
		if soonest.After(end) {
			break
		}
		clock.Advance(soonest.Sub(clock.Now()))
	}
	cancel()
	for stopped := false; !stopped; {
		select {
		case <-armed:
		case <-done:
			stopped = true
		}
	}

	mu.Lock()
	defer mu.Unlock()
	want := map[string][]time.Time{
		"every-5m": {start.Add(5 * time.Minute), start.Add(10 * time.Minute)},
		"noon":     {ts("2026-01-01T12:00:00Z")},
		"once":     {ts("2026-01-01T12:01:00Z")},
	}
	for name, times := range want {
		// Callbacks run concurrently, so they may record out of order.
		slices.SortFunc(fired[name], time.Time.Compare)
		if len(fired[name]) != len(times) {
			t.Fatalf("%s fired at %v, want %v", name, fired[name], times)
		}
		for i := range times {
			if !fired[name][i].Equal(times[i]) {
				t.Fatalf("%s fired at %v, want %v", name, fired[name], times)
			}
		}
	}
	if !s.Next("once").IsZero() {
		t.Fatal("an at() schedule must be dropped after firing")
	}
}

func TestSchedulerAddRemoveWhileRunning(t *testing.T) {
	start := ts("2026-01-01T00:00:00Z")
	clock := flow.NewFakeClock(start, false)
	s := NewScheduler(WithClock(clock))
	armed := make(chan struct{})
	s.armed = func() { armed <- struct{}{} }
	fired := make(chan string, 10)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	<-armed // idle, nothing scheduled

	every, _ := Parse("rate(1 minute)")
	if err := s.Add("tick", every, func(_ context.Context, at time.Time) { fired <- "tick@" + at.Format("15:04") }); err != nil {
		t.Fatal(err)
	}
	<-armed // re-armed for 00:01
	if got := s.Next("tick"); !got.Equal(start.Add(time.Minute)) {
		t.Fatalf("next tick %v", got)
	}
	clock.Advance(time.Minute)
	<-armed
	if got := <-fired; got != "tick@00:01" {
		t.Fatalf("fired %s", got)
	}
	if !s.Remove("tick") || s.Remove("tick") {
		t.Fatal("Remove should report the schedule once")
	}
	<-armed // re-armed with nothing scheduled
	clock.Advance(time.Hour)
	cancel()
	for stopped := false; !stopped; {
		select {
		case <-armed:
		case <-done:
			stopped = true
		}
	}
	select {
	case f := <-fired:
		t.Fatalf("a removed schedule fired: %s", f)
	default:
	}
}
