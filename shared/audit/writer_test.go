package audit_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plinth-ai/plinth/shared/audit"
	"github.com/plinth-ai/plinth/shared/audit/storelog"
	"github.com/plinth-ai/plinth/shared/store/memstore"
)

// flakyLog fails the first failures appends, then delegates.
type flakyLog struct {
	audit.Log
	mu       sync.Mutex
	failures int
}

func (f *flakyLog) Append(ctx context.Context, e audit.Event) error {
	f.mu.Lock()
	if f.failures > 0 {
		f.failures--
		f.mu.Unlock()
		return errors.New("store unavailable")
	}
	f.mu.Unlock()
	return f.Log.Append(ctx, e)
}

func TestWriterRetriesAndFlushes(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)
	l := &flakyLog{Log: storelog.New(memstore.New(), storelog.WithClock(func() time.Time { return now.Add(time.Hour) })), failures: 3}
	var logs bytes.Buffer
	w := audit.NewWriter(l, audit.WithRetry(5, time.Millisecond), audit.WithClock(func() time.Time { return now }),
		audit.WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))))
	for i := range 10 {
		w.Record(ctx, audit.Event{Actor: "admin", ActorType: audit.ActorAdmin, Action: "createTenant", Tenant: "acme",
			Outcome: audit.OutcomeSuccess, RequestID: "req_" + string(rune('a'+i))})
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	page, err := l.Query(ctx, audit.Query{Tenant: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Events) != 10 {
		t.Fatalf("%d events stored, want 10 (logs: %s)", len(page.Events), logs.String())
	}
	if strings.Contains(logs.String(), "NOT STORED") {
		t.Fatalf("an event was given up: %s", logs.String())
	}
}

func TestWriterLogsWhatItCannotStore(t *testing.T) {
	ctx := context.Background()
	l := &flakyLog{Log: storelog.New(memstore.New()), failures: 1 << 30}
	var logs bytes.Buffer
	w := audit.NewWriter(l, audit.WithRetry(2, time.Millisecond), audit.WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))))
	w.Record(ctx, audit.Event{Actor: "admin", ActorType: audit.ActorAdmin, Action: "revokeKey", Outcome: audit.OutcomeSuccess, RequestID: "req_lost"})
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "audit event NOT STORED") || !strings.Contains(logs.String(), `\"request_id\":\"req_lost\"`) {
		t.Fatalf("the lost event is not in the log in full: %s", logs.String())
	}
	w.Record(ctx, audit.Event{Actor: "admin", ActorType: audit.ActorAdmin, Action: "late", Outcome: audit.OutcomeSuccess, RequestID: "req_late"})
	if !strings.Contains(logs.String(), "req_late") {
		t.Fatal("an event recorded after Close vanished without a log line")
	}
}

// refusingSpool refuses every event, as a full disk or an unreachable queue would.
type refusingSpool struct{}

func (refusingSpool) Append(context.Context, []audit.Event) error {
	return errors.New("no space left on device")
}

func TestWriterAppendsItselfWhenTheSpoolRefuses(t *testing.T) {
	ctx := context.Background()
	l := storelog.New(memstore.New())
	var logs bytes.Buffer
	w := audit.NewWriter(l, audit.WithSpool(refusingSpool{}), audit.WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))))
	w.Record(ctx, audit.Event{Actor: "admin", ActorType: audit.ActorAdmin, Action: "createTenant", Tenant: "acme", Outcome: audit.OutcomeSuccess})
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	page, err := l.Query(ctx, audit.Query{Tenant: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Events) != 1 || !strings.Contains(logs.String(), "audit spool refused an event") {
		t.Fatalf("%d events stored, logs %s; want the event appended directly and the refusal logged", len(page.Events), logs.String())
	}
}
