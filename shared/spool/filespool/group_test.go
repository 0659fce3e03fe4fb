package filespool

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/plinth-ai/plinth/shared/usage"
)

func rec(i int) usage.Record {
	return usage.Record{RequestID: fmt.Sprintf("req_%06d", i), Tenant: "acme", KeyID: "key_1", Model: "local-chat",
		InputTokens: 10, OutputTokens: 5, CostUSD: 0.001, Status: usage.StatusOK, Time: time.Date(2031, 5, 6, 7, 0, 0, i, time.UTC)}
}

// TestAppendsDuringAWriteShareTheNext: appends that arrive while a write is in flight
// wait for it and are then written together, in one write, and each returns only once
// its frame is in the file.
func TestAppendsDuringAWriteShareTheNext(t *testing.T) {
	dir := t.TempDir()
	var (
		mu  sync.Mutex
		got int
	)
	sp, err := Open(dir, func(_ context.Context, recs []usage.Record) error {
		mu.Lock()
		got += len(recs)
		mu.Unlock()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := sp.Append(ctx, []usage.Record{rec(0)}); err != nil {
		t.Fatal(err)
	}
	// A write in flight: the next appends queue behind it.
	sp.mu.Lock()
	sp.writing = true
	writes := sp.writes
	sp.mu.Unlock()
	const n = 20
	var wg sync.WaitGroup
	returned := make(chan int, n)
	for i := 1; i <= n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := sp.Append(ctx, []usage.Record{rec(i)}); err != nil {
				t.Error(err)
			}
			returned <- i
		}()
	}
	for queued := 0; queued < n; {
		time.Sleep(time.Millisecond)
		sp.mu.Lock()
		queued = len(sp.pendRecs)
		sp.mu.Unlock()
	}
	if len(returned) != 0 {
		t.Fatal("an append returned before its record was written")
	}
	sp.mu.Lock()
	sp.writing = false
	sp.written.Broadcast()
	sp.mu.Unlock()
	wg.Wait()
	sp.mu.Lock()
	if w := sp.writes - writes; w != 1 {
		t.Errorf("%d appends queued behind a write took %d writes, want 1", n, w)
	}
	size := sp.write.off
	sp.mu.Unlock()
	if fi, err := os.Stat(sp.segPath(sp.write.seg)); err != nil || fi.Size() != size {
		t.Fatalf("segment holds %v bytes (%v), want %d", fi.Size(), err, size)
	}
	if err := sp.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got != n+1 {
		t.Fatalf("sink got %d records, want %d", got, n+1)
	}
}

// BenchmarkAppend appends one usage record per call from parallel callers, as gateway
// requests do, and reports the write(2) calls per append (group commits).
func BenchmarkAppend(b *testing.B) {
	sp, err := Open(b.TempDir(), func(context.Context, []usage.Record) error { return nil })
	if err != nil {
		b.Fatal(err)
	}
	defer sp.Close(context.Background())
	r := rec(1)
	r.RequestID = "req_0123456789abcdef01234567"
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := sp.Append(context.Background(), []usage.Record{r}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	sp.mu.Lock()
	b.ReportMetric(float64(sp.writes)/float64(b.N), "writes/append")
	sp.mu.Unlock()
}
