package boltstore_test

import (
	"context"
	"errors"
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

// A transaction's Add decodes only the counters it changes and carries the record's
// others over as encoded: every counter, the data and the expiry must survive it, over
// records with few and many counters, changing few or many of them (more than the
// writer tracks without a map), and an expired record's counters must not.
func TestTransactAddKeepsOtherCounters(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	s := open(t, boltstore.WithNoSync(), boltstore.WithClock(func() time.Time { return now }))
	ctx := context.Background()
	for _, tc := range []struct{ stored, changed, added int }{{0, 0, 2}, {3, 1, 0}, {200, 2, 2}, {40, 12, 11}, {5, 5, 0}} {
		key := store.Key{PK: "QUOTA#acme", SK: fmt.Sprintf("D#%d-%d-%d", tc.stored, tc.changed, tc.added)}
		other := store.Key{PK: "QUOTA#acme", SK: "M#" + key.SK}
		want := map[string]float64{}
		if tc.stored > 0 {
			nums := map[string]float64{}
			for i := range tc.stored {
				nums[fmt.Sprintf("r:%04d", i)] = float64(i) + 0.5
			}
			if _, err := s.Put(ctx, store.Item{Key: key, Data: []byte(`{"d":1}`), Nums: nums, ExpiresAt: now.Add(time.Hour)}, store.WriteOptions{}); err != nil {
				t.Fatal(err)
			}
			for k, v := range nums {
				want[k] = v
			}
		}
		var deltas []store.Delta
		for i := range tc.changed {
			name := fmt.Sprintf("r:%04d", i)
			deltas = append(deltas, store.Delta{Name: name, By: 2, Max: 1e9, HasMax: true})
			want[name] += 2
		}
		for i := range tc.added {
			name := fmt.Sprintf("new%d", i)
			deltas = append(deltas, store.Delta{Name: name, By: 7})
			want[name] = 7
		}
		ops := []store.Op{
			{Kind: store.OpAdd, Key: key, Deltas: deltas, Add: store.AddOptions{ExpiresAt: now.Add(2 * time.Hour)}},
			{Kind: store.OpAdd, Key: other, Deltas: []store.Delta{{Name: "tok", By: 1}}},
		}
		if err := s.Transact(ctx, ops); err != nil {
			t.Fatalf("%+v: %v", tc, err)
		}
		got, err := s.Get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got.Nums) != fmt.Sprint(want) || !got.ExpiresAt.Equal(now.Add(2*time.Hour)) {
			t.Errorf("%+v: counters %v expiry %v, want %v", tc, got.Nums, got.ExpiresAt, want)
		}
		if wantData := map[bool]string{true: `{"d":1}`, false: ""}[tc.stored > 0]; string(got.Data) != wantData || got.Version != int64(1+min(tc.stored, 1)) {
			t.Errorf("%+v: data %q version %d", tc, got.Data, got.Version)
		}
	}

	// A single Add keeps the other counters too, and returns the whole item.
	key200 := store.Key{PK: "QUOTA#acme", SK: "D#200-2-2"}
	before, err := s.Get(ctx, key200)
	if err != nil {
		t.Fatal(err)
	}
	added, err := s.Add(ctx, key200, []store.Delta{{Name: "r:0100", By: 1, Max: 1e9, HasMax: true}, {Name: "z", By: 1}}, store.AddOptions{Set: []byte(`{"d":2}`)})
	if err != nil {
		t.Fatal(err)
	}
	before.Nums["r:0100"]++
	before.Nums["z"] = 1
	after, err := s.Get(ctx, key200)
	if err != nil || fmt.Sprint(after.Nums) != fmt.Sprint(before.Nums) || fmt.Sprint(added) != fmt.Sprint(after) ||
		string(after.Data) != `{"d":2}` || after.Version != before.Version+1 || !after.ExpiresAt.Equal(before.ExpiresAt) {
		t.Errorf("add: returned %+v, stored %+v (%v), want counters %v", added, after, err, before.Nums)
	}

	// A bound refuses the whole transaction and changes nothing.
	key := store.Key{PK: "QUOTA#acme", SK: "D#bounded"}
	if _, err := s.Put(ctx, store.Item{Key: key, Nums: map[string]float64{"a": 1, "b": 5}}, store.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	err = s.Transact(ctx, []store.Op{
		{Kind: store.OpAdd, Key: store.Key{PK: "QUOTA#acme", SK: "M#bounded"}, Deltas: []store.Delta{{Name: "a", By: 1}}},
		{Kind: store.OpAdd, Key: key, Deltas: []store.Delta{{Name: "a", By: 1}, {Name: "b", By: 1, Max: 5, HasMax: true}}},
	})
	if !errors.Is(err, store.ErrConditionFailed) {
		t.Fatalf("over a bound: %v", err)
	}
	if got, _ := s.Get(ctx, key); got.Nums["a"] != 1 || got.Nums["b"] != 5 || got.Version != 1 {
		t.Errorf("a refused transaction changed %+v", got)
	}
	if _, err := s.Get(ctx, store.Key{PK: "QUOTA#acme", SK: "M#bounded"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a refused transaction wrote its other item: %v", err)
	}

	// An expired record's counters restart from zero.
	key = store.Key{PK: "QUOTA#acme", SK: "D#expired"}
	if _, err := s.Put(ctx, store.Item{Key: key, Nums: map[string]float64{"a": 1, "old": 3}, ExpiresAt: now}, store.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Transact(ctx, []store.Op{{Kind: store.OpAdd, Key: key, Deltas: []store.Delta{{Name: "a", By: 1}}}, {Kind: store.OpCheck, Key: store.Key{PK: "QUOTA#acme", SK: "M#D#0-0-2"}, Options: store.WriteOptions{Cond: store.IfExists}}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Get(ctx, key); fmt.Sprint(got.Nums) != "map[a:1]" || got.Version != 1 {
		t.Errorf("over an expired record: %+v", got)
	}
}
