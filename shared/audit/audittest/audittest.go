// Package audittest holds the contract every audit.Log adapter must pass.
package audittest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/plinth-ai/plinth/shared/audit"
)

// RunLogContract checks an audit.Log adapter. newLog returns an empty log whose queries
// without an end see now as the given clock's time.
func RunLogContract(t *testing.T, newLog func(t *testing.T, now func() time.Time) audit.Log) {
	base := time.Date(2031, 3, 14, 9, 0, 0, 0, time.UTC)
	now := func() time.Time { return base.Add(72 * time.Hour) }
	ev := func(i int, tenant, actor, action string, at time.Time) audit.Event {
		return audit.Event{ID: audit.NewID(at), Time: at, Tenant: tenant, Actor: actor, ActorType: audit.ActorAdmin,
			Action: action, Outcome: audit.OutcomeSuccess, Status: 200, RequestID: fmt.Sprintf("req_%d", i)}
	}
	ctx := context.Background()

	t.Run("AppendOnly", func(t *testing.T) {
		l := newLog(t, now)
		e := ev(1, "acme", "admin", "createTenant", base)
		if err := l.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
		changed := e
		changed.Action = "deleteTenant"
		if err := l.Append(ctx, changed); !errors.Is(err, audit.ErrExists) {
			t.Fatalf("second append of %s: %v, want ErrExists", e.ID, err)
		}
		page, err := l.Query(ctx, audit.Query{})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Events) != 1 || page.Events[0].Action != "createTenant" {
			t.Fatalf("events %+v: the first append must stand", page.Events)
		}
	})

	t.Run("RejectsInvalid", func(t *testing.T) {
		l := newLog(t, now)
		for _, e := range []audit.Event{
			{Time: base, Actor: "a", Outcome: audit.OutcomeSuccess},
			{Time: base, Action: "x", Outcome: audit.OutcomeSuccess},
			{Time: base, Action: "x", Actor: "a"},
			{Action: "x", Actor: "a", Outcome: audit.OutcomeSuccess},
			{ID: "evt_x", Time: base, Action: "x", Actor: "a", Outcome: audit.OutcomeSuccess},
		} {
			if err := l.Append(ctx, e); !errors.Is(err, audit.ErrInvalid) {
				t.Errorf("Append(%+v) = %v, want ErrInvalid", e, err)
			}
		}
	})

	t.Run("QueryFiltersNewestFirst", func(t *testing.T) {
		l := newLog(t, now)
		var all []audit.Event
		for i := range 12 {
			tenant := []string{"acme", "globex", ""}[i%3]
			actor := []string{"admin", "key_1"}[i%2]
			action := []string{"createTenant", "uploadDocument", "applyGuardrail", "revokeKey"}[i%4]
			e := ev(i, tenant, actor, action, base.Add(time.Duration(i)*5*time.Hour))
			if err := l.Append(ctx, e); err != nil {
				t.Fatal(err)
			}
			all = append(all, e)
		}
		cases := []audit.Query{
			{},
			{Tenant: "acme"},
			{Tenant: "globex", Actor: "key_1"},
			{Action: "uploadDocument"},
			{Actor: "admin", Action: "createTenant"},
			{Start: base.Add(10 * time.Hour), End: base.Add(40 * time.Hour)},
			{Tenant: "acme", Start: base.Add(15 * time.Hour), End: base.Add(15*time.Hour + time.Nanosecond)},
			{Tenant: "nobody"},
			{Outcome: audit.OutcomeDenied},
		}
		for _, q := range cases {
			t.Run(fmt.Sprintf("%+v", q), func(t *testing.T) {
				var want []string
				for i := len(all) - 1; i >= 0; i-- {
					if q.Matches(all[i]) {
						want = append(want, all[i].ID)
					}
				}
				page, err := l.Query(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				if got := ids(page.Events); fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("got %v\nwant %v", got, want)
				}
			})
		}
	})

	t.Run("Pages", func(t *testing.T) {
		l := newLog(t, now)
		var want []string
		for i := range 25 {
			e := ev(i, "acme", "admin", "createKey", base.Add(time.Duration(i)*2*time.Hour))
			if err := l.Append(ctx, e); err != nil {
				t.Fatal(err)
			}
			want = append([]string{e.ID}, want...)
		}
		for _, tenant := range []string{"acme", ""} {
			var got []string
			q := audit.Query{Tenant: tenant, Limit: 7}
			for range 10 {
				page, err := l.Query(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, ids(page.Events)...)
				if page.NextCursor == "" {
					break
				}
				q.Cursor = page.NextCursor
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("tenant %q: paged through %v\nwant %v", tenant, got, want)
			}
		}
		if _, err := l.Query(ctx, audit.Query{Cursor: "nonsense"}); !errors.Is(err, audit.ErrInvalid) {
			t.Fatalf("bad cursor: %v", err)
		}
	})

	t.Run("DefaultWindow", func(t *testing.T) {
		l := newLog(t, now)
		old := ev(1, "acme", "admin", "createTenant", now().Add(-200*24*time.Hour))
		recent := ev(2, "acme", "admin", "createKey", now().Add(-time.Hour))
		for _, e := range []audit.Event{old, recent} {
			if err := l.Append(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		page, err := l.Query(ctx, audit.Query{})
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(page.Events); fmt.Sprint(got) != fmt.Sprint([]string{recent.ID}) {
			t.Fatalf("without a start: %v, want only the recent event", got)
		}
		page, err = l.Query(ctx, audit.Query{Start: now().Add(-365 * 24 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Events) != 2 {
			t.Fatalf("with an early start: %v, want both", ids(page.Events))
		}
	})
}

func ids(es []audit.Event) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.ID
	}
	return out
}
