package boltstore_test

import (
	"context"
	"fmt"
	"time"

	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/plinth-ai/plinth/shared/store"
	"github.com/plinth-ai/plinth/shared/store/boltstore"
	"github.com/plinth-ai/plinth/shared/store/storetest"
)

func open(t testing.TB, opts ...boltstore.Option) *boltstore.Store {
	t.Helper()
	s, err := boltstore.Open(filepath.Join(t.TempDir(), "plinth.db"), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return open(t) })
}

func TestReopenKeepsItems(t *testing.T) {
	path := filepath.Join(t.TempDir(), "plinth.db")
	s, err := boltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	key := store.Key{PK: "tenant#acme", SK: "profile"}
	if _, err := s.Put(context.Background(), store.Item{Key: key, Data: []byte(`{"id":"acme"}`), Nums: map[string]float64{"n": 2}}, store.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = boltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Get(context.Background(), key)
	if err != nil || string(got.Data) != `{"id":"acme"}` || got.Nums["n"] != 2 || got.Version != 1 {
		t.Fatalf("after reopen: %+v, %v", got, err)
	}
}

func TestClockAndSweep(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := open(t, boltstore.WithClock(func() time.Time { return now }), boltstore.WithNoSync())
	ctx := context.Background()
	for i, ttl := range []time.Duration{time.Minute, 2 * time.Minute, 0} {
		var exp time.Time
		if ttl > 0 {
			exp = now.Add(ttl)
		}
		if _, err := s.Put(ctx, store.Item{Key: store.Key{PK: "p", SK: fmt.Sprint(i)}, ExpiresAt: exp}, store.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	steps := []struct {
		advance time.Duration
		live    int
		swept   int
	}{
		{0, 3, 0},
		{time.Minute - time.Nanosecond, 3, 0},
		{time.Nanosecond, 2, 1}, // expiry is inclusive: at ExpiresAt the item is gone
		{time.Hour, 1, 1},
	}
	for _, st := range steps {
		now = now.Add(st.advance)
		items, err := s.Query(ctx, "p", store.QueryOptions{})
		if err != nil || len(items) != st.live {
			t.Fatalf("at %v: %d live items, %v; want %d", now, len(items), err, st.live)
		}
		n, err := s.Sweep(ctx)
		if err != nil || n != st.swept {
			t.Fatalf("at %v: swept %d, %v; want %d", now, n, err, st.swept)
		}
	}
}

func TestOpenLockedFileTimesOut(t *testing.T) {
	path := filepath.Join(t.TempDir(), "plinth.db")
	s, err := boltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := boltstore.Open(path, boltstore.WithLockTimeout(10*time.Millisecond)); err == nil {
		t.Fatal("second Open of a locked file succeeded")
	}
}

// TestGroupCommitIsolatesFailures checks that a write the database rejects (a key over
// bbolt's size limit) fails alone while concurrent writes grouped with it commit.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	const n = 64
	start := make(chan struct{})
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			key := store.Key{PK: "p", SK: fmt.Sprint(i)}
			if i == n/2 {
				key.SK = strings.Repeat("x", 40000)
			}
			_, errs[i] = s.Add(ctx, key, []store.Delta{{Name: "n", By: 1}}, store.AddOptions{})
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if (err != nil) != (i == n/2) {
			t.Errorf("write %d: %v", i, err)
		}
	}
	items, err := s.Query(ctx, "p", store.QueryOptions{})
	if err != nil || len(items) != n-1 {
		t.Fatalf("Query = %d items, %v; want %d", len(items), err, n-1)
	}
}

func TestClosedStoreRefusesWrites(t *testing.T) {
	s, err := boltstore.Open(filepath.Join(t.TempDir(), "plinth.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(context.Background(), store.Item{Key: store.Key{PK: "p", SK: "s"}}, store.WriteOptions{}); err == nil {
		t.Fatal("Put after Close succeeded")
	}
}

func TestSweepIntervalStopsOnClose(t *testing.T) {
	s, err := boltstore.Open(filepath.Join(t.TempDir(), "plinth.db"), boltstore.WithSweepInterval(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(context.Background(), store.Item{Key: store.Key{PK: "p", SK: "s"}, ExpiresAt: time.Now().Add(-time.Second)}, store.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err == nil {
		t.Fatal("second Close succeeded")
	}
}

func TestScanner(t *testing.T) {
	storetest.RunScanner(t, func(t *testing.T) store.Store { return open(t) })
}
