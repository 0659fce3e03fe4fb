package tiered_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plinth-ai/plinth/shared/store"
	"github.com/plinth-ai/plinth/shared/store/boltstore"
	"github.com/plinth-ai/plinth/shared/store/memstore"
	"github.com/plinth-ai/plinth/shared/store/storetest"
	"github.com/plinth-ai/plinth/shared/store/tiered"
)

var ctx = context.Background()

func openBolt(t testing.TB, opts ...boltstore.Option) *boltstore.Store {
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

// newTiered wraps back and closes the tiered store (flushing it) when the test ends.
func newTiered(t testing.TB, back store.Store, opts ...tiered.Option) *tiered.Store {
	t.Helper()
	s := tiered.New(back, opts...)
	t.Cleanup(func() {
		if err := s.Close(ctx); err != nil {
			t.Error(err)
		}
	})
	return s
}

func TestContract(t *testing.T) {
	cases := []struct {
		name string
		new  func(t *testing.T) store.Store
	}{
		{"every key tiered over memstore", func(t *testing.T) store.Store {
			return newTiered(t, memstore.New(), tiered.WithPrefixes(""))
		}},
		// The suite's partitions starting with these prefixes are tiered, the others
		// ("tenant#acme", "bin", "x", "e", "ttl", "rep", "del", "other", ...) pass through,
		// so its "tx" transactions that check "other" run the mixed path.
		{"some keys tiered over boltstore", func(t *testing.T) store.Store {
			return newTiered(t, openBolt(t, boltstore.WithNoSync()), tiered.WithPrefixes("p", "q", "tx", "cond", "bound", "v", "exp"))
		}},
		// A tiny memory bound and a fast flusher keep evicting and reloading items while
		// the suite runs, so versions and states must survive the round trip.
		{"evicting over memstore", func(t *testing.T) store.Store {
			return newTiered(t, memstore.New(), tiered.WithPrefixes(""), tiered.WithMaxItems(2), tiered.WithFlushInterval(time.Millisecond))
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { storetest.Run(t, tc.new) })
	}
}

func key(pk, sk string) store.Key { return store.Key{PK: pk, SK: sk} }

func mustNotFound(t *testing.T, s store.Store, k store.Key) {
	t.Helper()
	if it, err := s.Get(ctx, k); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get(%v) = %+v, %v; want ErrNotFound", k, it, err)
	}
}

func TestWritesReachBackOnFlushAndClose(t *testing.T) {
	exp := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	for _, finish := range []string{"Flush", "Close"} {
		t.Run(finish, func(t *testing.T) {
			back := memstore.New()
			s := tiered.New(back, tiered.WithPrefixes("QUOTA#"), tiered.WithFlushInterval(0))
			defer s.Close(ctx)
			if _, err := back.Put(ctx, store.Item{Key: key("QUOTA#acme", "gone"), Data: []byte(`"x"`)}, store.WriteOptions{}); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 3; i++ {
				if _, err := s.Put(ctx, store.Item{Key: key("QUOTA#acme", "doc"), Data: []byte(fmt.Sprint(i))}, store.WriteOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := s.Add(ctx, key("QUOTA#acme", "m1"), []store.Delta{{Name: "tokens", By: 250, Max: 1000, HasMax: true}}, store.AddOptions{ExpiresAt: exp, Set: []byte(`{"w":1}`)}); err != nil {
				t.Fatal(err)
			}
			if err := s.Delete(ctx, key("QUOTA#acme", "gone"), store.WriteOptions{Cond: store.IfExists}); err != nil {
				t.Fatal(err)
			}
			// Passthrough keys are written at once.
			if _, err := s.Put(ctx, store.Item{Key: key("TENANT#acme", "profile"), Data: []byte(`"p"`)}, store.WriteOptions{}); err != nil {
				t.Fatal(err)
			}
			if _, err := back.Get(ctx, key("TENANT#acme", "profile")); err != nil {
				t.Fatalf("passthrough Put not in back store: %v", err)
			}
			// Tiered writes are not yet.
			mustNotFound(t, back, key("QUOTA#acme", "doc"))
			mustNotFound(t, back, key("QUOTA#acme", "m1"))
			if _, err := back.Get(ctx, key("QUOTA#acme", "gone")); err != nil {
				t.Fatalf("tiered Delete reached back store before flush: %v", err)
			}
			if _, dirty, _ := s.Len(); dirty != 3 {
				t.Fatalf("dirty = %d, want 3", dirty)
			}

			var err error
			if finish == "Flush" {
				err = s.Flush(ctx)
			} else {
				err = s.Close(ctx)
			}
			if err != nil {
				t.Fatal(err)
			}
			doc, err := back.Get(ctx, key("QUOTA#acme", "doc"))
			if err != nil || string(doc.Data) != "2" || doc.Nums[tiered.HiddenVersionNum] != 3 {
				t.Fatalf("doc in back = %+v, %v", doc, err)
			}
			m1, err := back.Get(ctx, key("QUOTA#acme", "m1"))
			if err != nil || m1.Nums["tokens"] != 250 || string(m1.Data) != `{"w":1}` || !m1.ExpiresAt.Equal(exp) {
				t.Fatalf("m1 in back = %+v, %v", m1, err)
			}
			mustNotFound(t, back, key("QUOTA#acme", "gone"))
			if _, dirty, _ := s.Len(); dirty != 0 {
				t.Fatalf("dirty after %s = %d, want 0", finish, dirty)
			}
			if finish == "Close" {
				_, err := s.Put(ctx, store.Item{Key: key("QUOTA#acme", "late")}, store.WriteOptions{})
				if !errors.Is(err, tiered.ErrClosed) {
					t.Fatalf("Put after Close = %v; want ErrClosed", err)
				}
			}
		})
	}
}

// flaky fails its first n Transacts and reports each successful one on written.
type flaky struct {
	store.Store
	fails   atomic.Int32
	written chan struct{}
}

var errDisk = errors.New("disk full")

func (f *flaky) Transact(ctx context.Context, ops []store.Op) error {
	if f.fails.Add(-1) >= 0 {
		return errDisk
	}
	err := f.Store.Transact(ctx, ops)
	if err == nil && f.written != nil {
		select {
		case f.written <- struct{}{}:
		default:
		}
	}
	return err
}

func TestFailingBackKeepsItemsDirty(t *testing.T) {
	back := &flaky{Store: memstore.New()}
	back.fails.Store(3)
	var logs bytes.Buffer
	s := newTiered(t, back, tiered.WithPrefixes("USAGE"), tiered.WithFlushInterval(0),
		tiered.WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))))
	for i := range 150 { // two chunks
		if _, err := s.Put(ctx, store.Item{Key: key("USAGE#acme#20260101", fmt.Sprintf("r%03d", i)), Data: []byte(`{}`)}, store.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for attempt := 1; ; attempt++ {
		err := s.Flush(ctx)
		_, dirty, _ := s.Len()
		items, qerr := back.Query(ctx, "USAGE#acme#20260101", store.QueryOptions{})
		if qerr != nil {
			t.Fatal(qerr)
		}
		if err == nil {
			if dirty != 0 || len(items) != 150 {
				t.Fatalf("after successful flush: dirty %d, back holds %d", dirty, len(items))
			}
			if attempt != 3 { // failures 1,2 fail both chunks... 3rd fails the first chunk only
				t.Fatalf("flush succeeded at attempt %d, want 3", attempt)
			}
			break
		}
		if !errors.Is(err, errDisk) {
			t.Fatalf("Flush = %v; want wrapped disk error", err)
		}
		if dirty+len(items) != 150 || dirty == 0 {
			t.Fatalf("attempt %d: dirty %d + in back %d, want 150 with some dirty", attempt, dirty, len(items))
		}
		if attempt > 5 {
			t.Fatal("flush never succeeded")
		}
	}
	if !bytes.Contains(logs.Bytes(), []byte(`"level":"ERROR"`)) || !bytes.Contains(logs.Bytes(), []byte("disk full")) {
		t.Fatalf("flush failure not logged: %s", logs.String())
	}
}

func TestBackgroundFlushRetries(t *testing.T) {
	back := &flaky{Store: memstore.New(), written: make(chan struct{}, 1)}
	back.fails.Store(2)
	s := newTiered(t, back, tiered.WithPrefixes("CACHE#"), tiered.WithFlushInterval(time.Millisecond),
		tiered.WithLogger(slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))))
	k := key("CACHE#acme", "h1")
	if _, err := s.Put(ctx, store.Item{Key: k, Data: []byte(`"cached"`)}, store.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-back.written:
	case <-time.After(10 * time.Second):
		t.Fatal("background flusher never wrote the item")
	}
	if it, err := back.Get(ctx, k); err != nil || string(it.Data) != `"cached"` {
		t.Fatalf("back holds %+v, %v", it, err)
	}
	if back.fails.Load() >= 0 {
		t.Fatalf("item reached back before the failures were used up (%d left)", back.fails.Load())
	}
}

func TestQuerySeesUnflushedWrites(t *testing.T) {
	back := openBolt(t, boltstore.WithNoSync())
	s := newTiered(t, back, tiered.WithPrefixes("USAGEAGG#"), tiered.WithFlushInterval(0))
	pk := "USAGEAGG#acme"
	for _, day := range []string{"20260101", "20260102", "20260103"} {
		if _, err := s.Add(ctx, key(pk, day), []store.Delta{{Name: "tokens", By: 10}}, store.AddOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Add(ctx, key(pk, "20260102"), []store.Delta{{Name: "tokens", By: 5}}, store.AddOptions{}); err != nil {
		t.Fatal(err)
	}
	items, err := s.Query(ctx, pk, store.QueryOptions{From: "20260102"})
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 2 || items[0].SK != "20260102" || items[0].Nums["tokens"] != 15 || items[0].Version != 2 ||
		len(items[0].Nums) != 1 || items[1].Version != 1 {
		t.Fatalf("Query = %+v", items)
	}
	if err := s.Delete(ctx, key(pk, "20260103"), store.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	items, err = s.Query(ctx, pk, store.QueryOptions{})
	if err != nil || len(items) != 2 || items[1].SK != "20260102" {
		t.Fatalf("Query after Delete = %+v, %v", items, err)
	}
}

func TestVersionsSurviveEvictionAndRestart(t *testing.T) {
	back := memstore.New()
	s := tiered.New(back, tiered.WithPrefixes("QUOTA#"), tiered.WithFlushInterval(0), tiered.WithMaxItems(1))
	k := key("QUOTA#acme", "a")
	for i := 0; i < 5; i++ {
		if _, err := s.Put(ctx, store.Item{Key: k, Data: []byte(`"a"`)}, store.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Add(ctx, k, []store.Delta{{Name: "n", By: 1}}, store.AddOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Add(ctx, k, []store.Delta{{Name: "n", By: 1}}, store.AddOptions{}); err != nil {
		t.Fatal(err)
	}
	// A second key in a later shard: eviction scans shards in order, so k goes first.
	other := key("QUOTA#acme", "b")
	for i := 0; tiered.ShardIndex(other) <= tiered.ShardIndex(k); i++ {
		other.SK = fmt.Sprintf("b%d", i)
	}
	if _, err := s.Put(ctx, store.Item{Key: other}, store.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _, _ := s.Len(); n != 1 {
		t.Fatalf("memory holds %d items, want 1 after eviction", n)
	}
	check := func(s store.Store, when string) {
		t.Helper()
		got, err := s.Get(ctx, k)
		if err != nil || got.Version != 7 || string(got.Data) != `"a"` || len(got.Nums) != 1 || got.Nums["n"] != 2 {
			t.Fatalf("%s: Get = %+v, %v; want version 7, nums n=2", when, got, err)
		}
		if _, err := s.Put(ctx, store.Item{Key: k, Data: []byte(`"a"`), Nums: got.Nums}, store.WriteOptions{Cond: store.IfVersion, Version: 6}); !errors.Is(err, store.ErrConditionFailed) {
			t.Fatalf("%s: stale Put IfVersion 6 = %v; want ErrConditionFailed", when, err)
		}
	}
	check(s, "after eviction")
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	check(newTiered(t, back, tiered.WithPrefixes("QUOTA#"), tiered.WithFlushInterval(0)), "after restart")
}

func TestMixedTransact(t *testing.T) {
	quota := key("QUOTA#acme", "m1")
	ledger := key("LEDGER#acme", "e1")
	add := func(by float64) store.Op {
		return store.Op{Kind: store.OpAdd, Key: quota, Deltas: []store.Delta{{Name: "usd", By: by, Max: 10, HasMax: true}}}
	}
	putLedger := func(cond store.Cond) store.Op {
		return store.Op{Kind: store.OpPut, Item: store.Item{Key: ledger, Data: []byte(`"e"`)}, Options: store.WriteOptions{Cond: cond}}
	}
	cases := []struct {
		name   string
		ops    []store.Op
		ok     bool
		usd    float64
		ledger bool
	}{
		{"commits both", []store.Op{add(3), putLedger(store.IfNotExists)}, true, 5, true},
		{"tiered bound fails", []store.Op{putLedger(store.IfNotExists), add(9)}, false, 2, false},
		{"untiered condition fails", []store.Op{add(3), putLedger(store.IfExists)}, false, 2, false},
		{"tiered check fails", []store.Op{{Kind: store.OpCheck, Key: quota, Options: store.WriteOptions{Cond: store.IfVersion, Version: 9}}, putLedger(store.Always)}, false, 2, false},
		{"tiered check holds", []store.Op{{Kind: store.OpCheck, Key: quota, Options: store.WriteOptions{Cond: store.IfVersion, Version: 1}}, putLedger(store.Always)}, true, 2, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			back := openBolt(t, boltstore.WithNoSync())
			s := newTiered(t, back, tiered.WithPrefixes("QUOTA#"), tiered.WithFlushInterval(0))
			if _, err := s.Add(ctx, quota, []store.Delta{{Name: "usd", By: 2}}, store.AddOptions{}); err != nil {
				t.Fatal(err)
			}
			err := s.Transact(ctx, tc.ops)
			if tc.ok != (err == nil) {
				t.Fatalf("Transact = %v; want ok %v", err, tc.ok)
			}
			if !tc.ok && (!errors.Is(err, store.ErrTransactionConflict) || !errors.Is(err, store.ErrConditionFailed)) {
				t.Fatalf("Transact = %v; want ErrTransactionConflict wrapping ErrConditionFailed", err)
			}
			if got, err := s.Get(ctx, quota); err != nil || got.Nums["usd"] != tc.usd {
				t.Fatalf("quota = %+v, %v; want usd %v", got, err, tc.usd)
			}
			// A committed mixed transaction is in the back store at once, both halves.
			_, lerr := back.Get(ctx, ledger)
			if tc.ledger != (lerr == nil) {
				t.Fatalf("ledger in back: %v; want present %v", lerr, tc.ledger)
			}
			if tc.ok && tc.usd != 2 { // the transaction wrote the quota
				inBack, err := back.Get(ctx, quota)
				if err != nil || inBack.Nums["usd"] != tc.usd {
					t.Fatalf("quota in back = %+v, %v", inBack, err)
				}
			}
		})
	}
}

func TestConcurrentWritesFlushesAndQueries(t *testing.T) {
	back := openBolt(t, boltstore.WithNoSync())
	s := tiered.New(back, tiered.WithPrefixes("QUOTA#", "USAGE"), tiered.WithFlushInterval(time.Millisecond), tiered.WithMaxItems(16))
	const workers, perWorker = 8, 200
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				if _, err := s.Add(ctx, key("QUOTA#acme", "m1"), []store.Delta{{Name: "requests", By: 1, Max: 1e9, HasMax: true}}, store.AddOptions{}); err != nil {
					t.Error(err)
					return
				}
				if _, err := s.Put(ctx, store.Item{Key: key("USAGE#acme#20260101", fmt.Sprintf("w%d-%04d", w, i)), Data: []byte(`{}`)}, store.WriteOptions{Cond: store.IfNotExists}); err != nil {
					t.Error(err)
					return
				}
				if i%50 == 0 {
					items, err := s.Query(ctx, "USAGE#acme#20260101", store.QueryOptions{Prefix: fmt.Sprintf("w%d-", w)})
					if err != nil || len(items) != i+1 {
						t.Errorf("worker %d: Query = %d items, %v; want %d", w, len(items), err, i+1)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := back.Get(ctx, key("QUOTA#acme", "m1"))
	if err != nil || got.Nums["requests"] != workers*perWorker || got.Nums[tiered.HiddenVersionNum] != workers*perWorker {
		t.Fatalf("quota in back = %+v, %v", got, err)
	}
	items, err := back.Query(ctx, "USAGE#acme#20260101", store.QueryOptions{})
	if err != nil || len(items) != workers*perWorker {
		t.Fatalf("back holds %d usage records, %v; want %d", len(items), err, workers*perWorker)
	}
}

func TestMemoryBounds(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	big := bytes.Repeat([]byte("x"), 10_000)
	cases := []struct {
		name      string
		opts      []tiered.Option
		expiresIn time.Duration // 0: never
		advance   time.Duration
		maxItems  int // memory may hold at most this many after Flush
		maxBytes  int
		readable  bool // items still readable (reloaded from back)
	}{
		{"item bound", []tiered.Option{tiered.WithMaxItems(5)}, 0, 0, 5, 1 << 30, true},
		{"byte bound", []tiered.Option{tiered.WithMaxBytes(50_000)}, 0, 0, 100, 50_000, true},
		{"expired swept", nil, time.Minute, time.Minute, 0, 0, false},
		{"unexpired kept", nil, time.Minute, time.Minute - 1, 20, 1 << 30, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			now := start
			back := memstore.New(memstore.WithClock(func() time.Time { return now }))
			opts := append([]tiered.Option{tiered.WithPrefixes("CACHE#"), tiered.WithFlushInterval(0), tiered.WithClock(func() time.Time { return now })}, tc.opts...)
			s := newTiered(t, back, opts...)
			var exp time.Time
			if tc.expiresIn > 0 {
				exp = start.Add(tc.expiresIn)
			}
			for i := range 20 {
				if _, err := s.Put(ctx, store.Item{Key: key("CACHE#acme", fmt.Sprint(i)), Data: big, ExpiresAt: exp}, store.WriteOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			now = now.Add(tc.advance)
			if err := s.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			items, dirty, size := s.Len()
			if items > tc.maxItems || size > tc.maxBytes || dirty != 0 {
				t.Fatalf("memory holds %d items (%d dirty, %d bytes); want at most %d items, %d bytes", items, dirty, size, tc.maxItems, tc.maxBytes)
			}
			for i := range 20 {
				got, err := s.Get(ctx, key("CACHE#acme", fmt.Sprint(i)))
				if tc.readable != (err == nil) {
					t.Fatalf("Get #%d = %v; want readable %v", i, err, tc.readable)
				}
				if tc.readable && (!bytes.Equal(got.Data, big) || got.Version != 1) {
					t.Fatalf("Get #%d = version %d, %d bytes", i, got.Version, len(got.Data))
				}
			}
		})
	}
}

// Items still only in memory are listed too: they are written back first.
func TestScanner(t *testing.T) {
	storetest.RunScanner(t, func(t *testing.T) store.Store {
		return newTiered(t, openBolt(t, boltstore.WithNoSync()), tiered.WithPrefixes("QUOTA#"), tiered.WithFlushInterval(0))
	})
}
