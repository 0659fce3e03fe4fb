package filespool_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/plinth-ai/plinth/shared/spool/filespool"
	"github.com/plinth-ai/plinth/shared/store"
	"github.com/plinth-ai/plinth/shared/store/boltstore"
	"github.com/plinth-ai/plinth/shared/usage"
)

const childEnv = "PLINTH_SPOOL_KILL_CHILD"

// TestKilledProcessLosesNothing records usage in a child process whose store fails a
// share of writes (some before committing, some after), kills it with SIGKILL mid-flight,
// then starts again on the same files: every record the child acknowledged is in the
// ledger exactly once, and the aggregates count each once.
func TestKilledProcessLosesNothing(t *testing.T) {
	if dir := os.Getenv(childEnv); dir != "" {
		runChild(dir)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledProcessLosesNothing$", "-test.v=false")
	cmd.Env = append(os.Environ(), childEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[string]bool{}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if id, ok := strings.CutPrefix(sc.Text(), "recorded "); ok {
			acked[id] = true
		}
		if len(acked) == 400 {
			break
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Lines written before the kill still count as acknowledged.
	for sc.Scan() {
		if id, ok := strings.CutPrefix(sc.Text(), "recorded "); ok {
			acked[id] = true
		}
	}
	_ = cmd.Wait()
	if len(acked) < 400 {
		t.Fatalf("the child acknowledged only %d records before it was killed", len(acked))
	}

	// The next life: the same files, a healthy store.
	st, err := boltstore.Open(filepath.Join(dir, "plinth.db"), boltstore.WithNoSync(), boltstore.WithClock(func() time.Time { return day }))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sp, err := filespool.Open(filepath.Join(dir, "spool"), usage.NewLedger(st, 0).Write)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := sp.Close(ctx); err != nil {
		t.Fatal(err)
	}
	items, err := st.Query(ctx, "USAGE#acme#"+day.Format("20060102"), store.QueryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]int{}
	for _, it := range items {
		id := it.SK[strings.LastIndexByte(it.SK, '#')+1:]
		stored[id]++
	}
	for id := range acked {
		if stored[id] != 1 {
			t.Errorf("acknowledged record %s is stored %d times", id, stored[id])
		}
	}
	recs, agg := ledgerCounts(t, st)
	if int64(recs) != agg || recs < len(acked) {
		t.Fatalf("ledger: %d records, aggregates count %d requests, %d acknowledged: want every record counted once", recs, agg, len(acked))
	}
	t.Logf("killed after %d acknowledged records; the ledger holds %d, counted once each", len(acked), recs)
}

// runChild records usage until killed, printing each acknowledged request ID.
func runChild(dir string) {
	st, err := boltstore.Open(filepath.Join(dir, "plinth.db"), boltstore.WithNoSync(), boltstore.WithClock(func() time.Time { return day }))
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	flaky := &flakyStore{Store: st, rnd: rand.New(rand.NewPCG(7, 11)), before: 0.2, after: 0.2}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	sp, err := filespool.Open(filepath.Join(dir, "spool"), usage.NewLedger(flaky, 0).Write,
		filespool.WithBackoff(time.Millisecond, 10*time.Millisecond), filespool.WithSegmentSize(8<<10), filespool.WithLogger(quiet))
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	rec := usage.NewRecorder(flaky, usage.WithSpool(sp), usage.WithLogger(quiet))
	w := bufio.NewWriter(os.Stdout)
	for i := 0; ; i++ {
		r := record(i)
		if err := rec.Record(context.Background(), r); err != nil {
			fmt.Fprintln(w, "error", err)
			continue
		}
		fmt.Fprintln(w, "recorded", r.RequestID)
		w.Flush()
	}
}
