package filespool_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/plinth-ai/plinth/shared/spool/filespool"
	"github.com/plinth-ai/plinth/shared/store"
	"github.com/plinth-ai/plinth/shared/store/memstore"
	"github.com/plinth-ai/plinth/shared/usage"
)

var day = time.Date(2031, 5, 6, 7, 0, 0, 0, time.UTC)

func record(i int) usage.Record {
	return usage.Record{RequestID: fmt.Sprintf("req_%06d", i), Tenant: "acme", KeyID: "key_1", Model: "local-chat",
		InputTokens: 10, OutputTokens: 5, CostUSD: 0.001, Status: usage.StatusOK, Time: day.Add(time.Duration(i) * time.Millisecond)}
}

// flakyStore fails a share of transactions before applying them and, worse, a share
// after: the write happened but the caller hears it failed, as with a timeout after commit.
type flakyStore struct {
	store.Store
	mu            sync.Mutex
	rnd           *rand.Rand
	before, after float64
}

func (f *flakyStore) Transact(ctx context.Context, ops []store.Op) error {
	f.mu.Lock()
	p := f.rnd.Float64()
	f.mu.Unlock()
	if p < f.before {
		return errors.New("store unavailable")
	}
	err := f.Store.Transact(ctx, ops)
	if err == nil && p > 1-f.after {
		return errors.New("connection reset after commit")
	}
	return err
}

// ledgerCounts returns how many records the ledger holds and how many requests its
// aggregates count.
func ledgerCounts(t *testing.T, st store.Store) (records int, aggregated int64) {
	t.Helper()
	items, err := st.Query(context.Background(), "USAGE#acme#"+day.Format("20060102"), store.QueryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rg, _ := usage.ParseRange(day.Format("2006-01-02"), day.Format("2006-01-02"), day)
	_, total, err := usage.NewService(st, nil).Summary(context.Background(), "acme", rg, "day")
	if err != nil {
		t.Fatal(err)
	}
	return len(items), total.Requests
}

func TestEveryRecordArrivesOnceThroughAFailingStore(t *testing.T) {
	st := memstore.New(memstore.WithClock(func() time.Time { return day }))
	ledger := usage.NewLedger(&flakyStore{Store: st, rnd: rand.New(rand.NewPCG(1, 2)), before: 0.3, after: 0.2}, 0)
	sp, err := filespool.Open(t.TempDir(), ledger.Write, filespool.WithBackoff(time.Millisecond, 5*time.Millisecond), filespool.WithSegmentSize(4<<10),
		filespool.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sp.Close(context.Background()) })
	const n = 500
	var wg sync.WaitGroup
	for w := range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 5 {
				if err := sp.Append(context.Background(), []usage.Record{record(i)}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := sp.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := sp.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if recs, agg := ledgerCounts(t, st); recs != n || agg != n {
		t.Fatalf("ledger holds %d records counted %d times, want %d once each", recs, agg, n)
	}
}

func TestRecordsSurviveAClosedSpoolAndATornTail(t *testing.T) {
	dir := t.TempDir()
	// First life: the ledger is down the whole time.
	down := func(context.Context, []usage.Record) error { return errors.New("ledger down") }
	sp, err := filespool.Open(dir, down, filespool.WithBackoff(time.Millisecond, 2*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		if err := sp.Append(context.Background(), []usage.Record{record(i)}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := sp.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := sp.Append(context.Background(), []usage.Record{record(999)}); !errors.Is(err, filespool.ErrClosed) {
		t.Fatalf("append after close: %v", err)
	}
	// A crash in the middle of a write leaves half a frame behind.
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(segs) != 1 {
		t.Fatalf("segments %v", segs)
	}
	f, err := os.OpenFile(segs[0], os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{200, 0, 0, 0, 1, 2, 3, 4, '{', '"'})
	f.Close()

	// Second life: the ledger is back.
	st := memstore.New(memstore.WithClock(func() time.Time { return day }))
	sp, err = filespool.Open(dir, usage.NewLedger(st, 0).Write)
	if err != nil {
		t.Fatal(err)
	}
	if err := sp.Append(context.Background(), []usage.Record{record(100)}); err != nil {
		t.Fatal(err)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel2()
	if err := sp.Close(ctx2); err != nil {
		t.Fatal(err)
	}
	if recs, agg := ledgerCounts(t, st); recs != 101 || agg != 101 {
		t.Fatalf("ledger holds %d records counted %d times, want 101", recs, agg)
	}
	if sp.Backlog() != 0 {
		t.Fatalf("backlog %d after a full drain", sp.Backlog())
	}
}

func TestFinishedSegmentsAreRemoved(t *testing.T) {
	dir := t.TempDir()
	st := memstore.New(memstore.WithClock(func() time.Time { return day }))
	sp, err := filespool.Open(dir, usage.NewLedger(st, 0).Write, filespool.WithSegmentSize(2<<10), filespool.WithSync())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		if err := sp.Append(context.Background(), []usage.Record{record(i)}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := sp.Close(ctx); err != nil {
		t.Fatal(err)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(segs) > 1 {
		t.Fatalf("%d segments left after a full drain: %v", len(segs), segs)
	}
	if recs, agg := ledgerCounts(t, st); recs != 300 || agg != 300 {
		t.Fatalf("ledger holds %d records counted %d times, want 300", recs, agg)
	}
}

// TestDrainDeliversInOrderOnceWhateverTheBacklog appends from one goroutine across small
// segments while the sink first keeps up, then stalls long enough for the backlog to
// outgrow what the spool keeps in memory (so the drainer must read frames back), then
// keeps up again: the sink must see every record exactly once, in append order.
func TestDrainDeliversInOrderOnceWhateverTheBacklog(t *testing.T) {
	var (
		mu    sync.Mutex
		got   []string
		stall = make(chan struct{})
	)
	stalled := false
	sink := func(_ context.Context, recs []usage.Record) error {
		mu.Lock()
		wait := stalled
		mu.Unlock()
		if wait {
			<-stall
		}
		mu.Lock()
		defer mu.Unlock()
		for _, r := range recs {
			got = append(got, r.RequestID)
		}
		return nil
	}
	sp, err := filespool.Open(t.TempDir(), sink, filespool.WithSegmentSize(8<<10))
	if err != nil {
		t.Fatal(err)
	}
	appendRange := func(from, to int) {
		for i := from; i < to; i++ {
			// Some appends carry two records in one write.
			recs := []usage.Record{record(i)}
			if i%7 == 0 && i+1 < to {
				recs = append(recs, record(i+1))
				i++
			}
			if err := sp.Append(context.Background(), recs); err != nil {
				t.Fatal(err)
			}
		}
	}
	flush := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := sp.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	appendRange(0, 500)
	flush()
	mu.Lock()
	stalled = true
	mu.Unlock()
	appendRange(500, 3500) // more than the spool keeps in memory
	mu.Lock()
	stalled = false
	mu.Unlock()
	close(stall)
	flush()
	appendRange(3500, 4000)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := sp.Close(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 4000 {
		t.Fatalf("sink saw %d records, want 4000", len(got))
	}
	for i, id := range got {
		if want := record(i).RequestID; id != want {
			t.Fatalf("record %d is %s, want %s", i, id, want)
		}
	}
}

// TestDrainedRecordsEqualTheirFrames checks that what the sink receives from memory is
// what a replay decodes from the segment: the same records, field for field.
func TestDrainedRecordsEqualTheirFrames(t *testing.T) {
	var (
		mu   sync.Mutex
		live []usage.Record
	)
	dir := t.TempDir()
	sp, err := filespool.Open(dir, func(_ context.Context, recs []usage.Record) error {
		mu.Lock()
		defer mu.Unlock()
		live = append(live, recs...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		r := record(i)
		r.Guardrail = map[string]int{"PII_EMAIL": i}
		r.Time = r.Time.In(time.FixedZone("CET", 3600))
		if err := sp.Append(context.Background(), []usage.Record{r}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := sp.Close(ctx); err != nil {
		t.Fatal(err)
	}
	// Replay the segment from the start: a spool with a lost cursor drains it all again.
	if err := os.Remove(filepath.Join(dir, "cursor")); err != nil {
		t.Fatal(err)
	}
	var replayed []usage.Record
	sp, err = filespool.Open(dir, func(_ context.Context, recs []usage.Record) error {
		mu.Lock()
		defer mu.Unlock()
		replayed = append(replayed, recs...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := sp.Close(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(live) != 50 || len(replayed) != 50 {
		t.Fatalf("drained %d live and %d replayed, want 50 each", len(live), len(replayed))
	}
	for i := range live {
		a, b := live[i], replayed[i]
		if !a.Time.Equal(b.Time) || a.Guardrail["PII_EMAIL"] != b.Guardrail["PII_EMAIL"] {
			t.Fatalf("record %d: live %+v, replayed %+v", i, a, b)
		}
		a.Time, b.Time, a.Guardrail, b.Guardrail = time.Time{}, time.Time{}, nil, nil
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("record %d: live %+v, replayed %+v", i, a, b)
		}
	}
}

// TestIdleSpoolPersistsItsPosition: the drainer persists its position at most every so
// often while records keep coming, and soon after they stop, so a crash of an idle
// process (here: a copy of its directory, as a crash would leave it) replays nothing.
func TestIdleSpoolPersistsItsPosition(t *testing.T) {
	dir := t.TempDir()
	sp, err := filespool.Open(dir, func(context.Context, []usage.Record) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close(context.Background())
	for i := range 200 {
		if err := sp.Append(context.Background(), []usage.Record{record(i)}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := sp.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	var replayed int
	deadline := time.Now().Add(5 * time.Second)
	for {
		time.Sleep(100 * time.Millisecond)
		crashed := t.TempDir()
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(crashed, e.Name()), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		var mu sync.Mutex
		replayed = 0
		again, err := filespool.Open(crashed, func(_ context.Context, recs []usage.Record) error {
			mu.Lock()
			replayed += len(recs)
			mu.Unlock()
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := again.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if replayed == 0 || time.Now().After(deadline) {
			break
		}
	}
	if replayed != 0 {
		t.Fatalf("a restart after the spool went idle replays %d records, want 0", replayed)
	}
}

// TestLingerGathersRecordsIntoOneSinkWrite: while records keep coming, a lingering
// drainer writes them in one sink call instead of one each; a full batch goes at once,
// and Flush and Close never wait for the linger (here an hour: a test that waited for it
// would time out).
func TestLingerGathersRecordsIntoOneSinkWrite(t *testing.T) {
	var (
		mu    sync.Mutex
		calls [][]string
	)
	sink := func(_ context.Context, recs []usage.Record) error {
		ids := make([]string, len(recs))
		for i, r := range recs {
			ids[i] = r.RequestID
		}
		mu.Lock()
		calls = append(calls, ids)
		mu.Unlock()
		return nil
	}
	sinkCalls := func() [][]string {
		mu.Lock()
		defer mu.Unlock()
		return append([][]string(nil), calls...)
	}
	sp, err := filespool.Open(t.TempDir(), sink, filespool.WithLinger(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	add := func(from, to int) {
		for i := from; i < to; i++ {
			if err := sp.Append(ctx, []usage.Record{record(i)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The first record after a quiet spell is written at once.
	add(0, 1)
	for deadline := time.Now().Add(10 * time.Second); len(sinkCalls()) == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the first record was not written without a Flush")
		}
	}
	// The next ones wait for the linger, or a Flush.
	add(1, 11)
	if got := sinkCalls(); len(got) != 1 {
		t.Fatalf("sink calls before the linger ended: %v, want only the first record's", got)
	}
	if err := sp.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got := sinkCalls()
	if len(got) != 2 || len(got[1]) != 10 || got[1][0] != record(1).RequestID || got[1][9] != record(10).RequestID {
		t.Fatalf("sink calls %v, want [req_000000] then records 1 to 10 in one call", got)
	}
	// A full batch (40 records) does not wait.
	add(11, 51)
	for deadline := time.Now().Add(10 * time.Second); len(sinkCalls()) < 3; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("a full batch waited for the linger: sink calls %v", sinkCalls())
		}
	}
	if got := sinkCalls(); len(got[2]) != 40 || got[2][0] != record(11).RequestID {
		t.Fatalf("third sink call %v, want records 11 to 50", got[2])
	}
	// Close delivers what is lingering.
	add(51, 54)
	if err := sp.Close(ctx); err != nil {
		t.Fatal(err)
	}
	got = sinkCalls()
	if n := len(got); n != 4 || len(got[3]) != 3 || got[3][2] != record(53).RequestID {
		t.Fatalf("sink calls after Close %v, want a fourth with records 51 to 53", got)
	}
}

// A record the sink refuses every time (its tenant's key was deleted) is set aside after
// a few tries, and the records behind it still arrive; the parked record is kept on disk
// and arrives once the sink takes it, after a restart too.
func TestParkedRecordDoesNotHoldUpTheOthers(t *testing.T) {
	dir := t.TempDir()
	var (
		mu      sync.Mutex
		got     = map[string]int{}
		refused = true
	)
	errGone := errors.New("tenant key deleted")
	sink := func(_ context.Context, recs []usage.Record) error {
		mu.Lock()
		defer mu.Unlock()
		var failed []usage.Record
		for _, r := range recs {
			if r.Tenant == "shredded" && refused {
				failed = append(failed, r)
				continue
			}
			got[r.RequestID]++
		}
		if len(failed) > 0 {
			return &usage.WriteError{Failed: failed, Err: errGone}
		}
		return nil
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	opts := []filespool.Option{filespool.WithParking(3), filespool.WithBackoff(time.Millisecond, 5*time.Millisecond), filespool.WithLogger(quiet)}
	sp, err := filespool.Open(dir, sink, opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	stuck := record(0)
	stuck.Tenant, stuck.RequestID = "shredded", "req_stuck"
	if err := sp.Append(ctx, []usage.Record{stuck}); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 50; i++ {
		if err := sp.Append(ctx, []usage.Record{record(i)}); err != nil {
			t.Fatal(err)
		}
	}
	fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := sp.Flush(fctx); err != nil {
		t.Fatalf("the records behind a refused one never arrived: %v", err)
	}
	mu.Lock()
	n := len(got)
	mu.Unlock()
	if n != 50 {
		t.Fatalf("%d of 50 records arrived", n)
	}
	if sp.Parked() == 0 {
		t.Fatal("the refused record is not parked")
	}
	cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
	defer ccancel()
	if err := sp.Close(cctx); err != nil {
		t.Fatalf("close with a record parked: %v", err)
	}

	// The sink takes it now: after a restart the parked record arrives, once.
	mu.Lock()
	refused = false
	mu.Unlock()
	sp, err = filespool.Open(dir, sink, opts...)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		c := got["req_stuck"]
		mu.Unlock()
		if c == 1 {
			break
		}
		if c > 1 || time.Now().After(deadline) {
			t.Fatalf("the parked record arrived %d times", c)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := sp.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for id, c := range got {
		if c != 1 {
			t.Errorf("%s arrived %d times", id, c)
		}
	}
}
