// Package storetest is the contract suite of the store port. Every adapter runs it:
//
//	func TestContract(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return newAdapter(t) })
//	}
//
// An adapter is done when it passes the suite. newStore must return an empty store; the
// suite never sleeps: expiry is exercised with items whose ExpiresAt is already past.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/plinth-ai/plinth/shared/store"
)

// Option adjusts the suite for an adapter's documented limits.
type Option func(*config)

type config struct {
	transactions bool
	concurrency  int
}

// WithoutTransactions disables the Transact cases, for backends that cannot run them
// (for example the dynalite emulator, which has no TransactWriteItems). Use it only for an
// emulator gap and say so where the suite is run.
func WithoutTransactions() Option { return func(c *config) { c.transactions = false } }

// WithConcurrency sets how many goroutines race in the bounded-Add case (default 200).
func WithConcurrency(n int) Option { return func(c *config) { c.concurrency = n } }

// Run runs the store contract against stores built by newStore, one per subtest.
func Run(t *testing.T, newStore func(t *testing.T) store.Store, opts ...Option) {
	t.Helper()
	cfg := config{transactions: true, concurrency: 200}
	for _, o := range opts {
		o(&cfg)
	}
	s := &suite{newStore: newStore, cfg: cfg}
	t.Run("GetMissing", s.getMissing)
	t.Run("RoundTrip", s.roundTrip)
	t.Run("Versions", s.versions)
	t.Run("PutConditions", s.putConditions)
	t.Run("DeleteConditions", s.deleteConditions)
	t.Run("PutReplaces", s.putReplaces)
	t.Run("Expiry", s.expiry)
	t.Run("AddCreates", s.addCreates)
	t.Run("AddBounds", s.addBounds)
	t.Run("AddUpdatesExisting", s.addUpdatesExisting)
	t.Run("AddAfterExpiry", s.addAfterExpiry)
	t.Run("AddConcurrentBound", s.addConcurrentBound)
	t.Run("Query", s.query)
	t.Run("QueryPartitionIsolation", s.queryPartitionIsolation)
	if cfg.transactions {
		t.Run("Transact", s.transact)
	}
}

type suite struct {
	newStore func(t *testing.T) store.Store
	cfg      config
}

var ctx = context.Background()

// past and future are relative to the adapter's real clock; an hour keeps them far from now.
func past() time.Time   { return time.Now().Add(-time.Hour).Truncate(time.Millisecond) }
func future() time.Time { return time.Now().Add(time.Hour).Truncate(time.Millisecond) }

func k(pk, sk string) store.Key { return store.Key{PK: pk, SK: sk} }

func mustPut(t *testing.T, s store.Store, it store.Item) int64 {
	t.Helper()
	v, err := s.Put(ctx, it, store.WriteOptions{})
	if err != nil {
		t.Fatalf("Put(%v): %v", it.Key, err)
	}
	return v
}

func mustGet(t *testing.T, s store.Store, key store.Key) store.Item {
	t.Helper()
	it, err := s.Get(ctx, key)
	if err != nil {
		t.Fatalf("Get(%v): %v", key, err)
	}
	return it
}

func wantNotFound(t *testing.T, s store.Store, key store.Key) {
	t.Helper()
	it, err := s.Get(ctx, key)
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get(%v) = %+v, %v; want ErrNotFound", key, it, err)
	}
}

func numsEqual(a, b map[string]float64) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	return reflect.DeepEqual(a, b)
}

func (s *suite) getMissing(t *testing.T) {
	st := s.newStore(t)
	wantNotFound(t, st, k("p", "missing"))
	mustPut(t, st, store.Item{Key: k("p", "a")})
	wantNotFound(t, st, k("p", "b"))
	wantNotFound(t, st, k("q", "a"))
}

func (s *suite) roundTrip(t *testing.T) {
	binary := make([]byte, 256)
	for i := range binary {
		binary[i] = byte(i)
	}
	cases := []struct {
		name string
		item store.Item
	}{
		{"json", store.Item{Key: k("tenant#acme", "profile"), Data: []byte(`{"id":"acme","name":"Acmé ✓","n":[1,2.5]}`)}},
		{"binary", store.Item{Key: k("bin", "all-bytes"), Data: binary}},
		{"nums", store.Item{Key: k("quota#acme", "w#1"), Nums: map[string]float64{
			"requests": 3, "tokens": 1_250_000, "usd": 12.625, "neg": -4.5, "big": 1e15, "zero": 0,
		}}},
		{"data and nums", store.Item{Key: k("x", "y"), Data: []byte(`{}`), Nums: map[string]float64{"a": 1}}},
		{"empty item", store.Item{Key: k("e", "e")}},
		{"expiry", store.Item{Key: k("ttl", "a"), Data: []byte(`1`), ExpiresAt: future()}},
		{"odd keys", store.Item{Key: k("p#ü/ \t", "s#\u00e9|~"), Data: []byte(`"x"`)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := s.newStore(t)
			v := mustPut(t, st, tc.item)
			if v != 1 {
				t.Errorf("first Put version = %d, want 1", v)
			}
			got := mustGet(t, st, tc.item.Key)
			if got.Key != tc.item.Key {
				t.Errorf("key = %+v, want %+v", got.Key, tc.item.Key)
			}
			if !bytes.Equal(got.Data, tc.item.Data) {
				t.Errorf("data = %q, want %q", got.Data, tc.item.Data)
			}
			if !numsEqual(got.Nums, tc.item.Nums) {
				t.Errorf("nums = %v, want %v", got.Nums, tc.item.Nums)
			}
			if got.Version != 1 {
				t.Errorf("version = %d, want 1", got.Version)
			}
			if !got.ExpiresAt.Equal(tc.item.ExpiresAt) {
				t.Errorf("expiresAt = %v, want %v", got.ExpiresAt, tc.item.ExpiresAt)
			}
		})
	}
}

func (s *suite) versions(t *testing.T) {
	st := s.newStore(t)
	key := k("v", "1")
	for want := int64(1); want <= 3; want++ {
		v, err := st.Put(ctx, store.Item{Key: key, Data: []byte(fmt.Sprint(want))}, store.WriteOptions{})
		if err != nil || v != want {
			t.Fatalf("Put #%d = %d, %v; want %d", want, v, err, want)
		}
	}
	it, err := st.Add(ctx, key, []store.Delta{{Name: "n", By: 1}}, store.AddOptions{})
	if err != nil || it.Version != 4 {
		t.Fatalf("Add = %+v, %v; want version 4", it, err)
	}
	if got := mustGet(t, st, key); got.Version != 4 || string(got.Data) != "3" {
		t.Fatalf("Get = %+v; want version 4, data 3", got)
	}
	// A deleted item starts again at version 1.
	if err := st.Delete(ctx, key, store.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if v := mustPut(t, st, store.Item{Key: key}); v != 1 {
		t.Fatalf("Put after Delete = %d, want 1", v)
	}
}

type state int

const (
	absent  state = iota
	live          // version 2
	expired       // physically present, past its expiry
)

func (st state) String() string { return [...]string{"absent", "live", "expired"}[st] }

// prepare leaves key in the given state; a live item has version 2. Live neighbours in
// the same and another partition make sure conditions look at the addressed item only.
func prepare(t *testing.T, s store.Store, key store.Key, st state) {
	t.Helper()
	mustPut(t, s, store.Item{Key: k(key.PK, key.SK+"-neighbour"), Data: []byte(`"n"`)})
	mustPut(t, s, store.Item{Key: k(key.PK+"-other", key.SK), Data: []byte(`"n"`)})
	switch st {
	case live:
		mustPut(t, s, store.Item{Key: key, Data: []byte(`"old"`)})
		mustPut(t, s, store.Item{Key: key, Data: []byte(`"old"`), ExpiresAt: future()})
	case expired:
		mustPut(t, s, store.Item{Key: key, Data: []byte(`"old"`)})
		mustPut(t, s, store.Item{Key: key, Data: []byte(`"old"`), ExpiresAt: past()})
	}
}

func (s *suite) putConditions(t *testing.T) {
	cases := []struct {
		state   state
		opts    store.WriteOptions
		ok      bool
		version int64
	}{
		{absent, store.WriteOptions{Cond: store.Always}, true, 1},
		{live, store.WriteOptions{Cond: store.Always}, true, 3},
		{expired, store.WriteOptions{Cond: store.Always}, true, 1},
		{absent, store.WriteOptions{Cond: store.IfNotExists}, true, 1},
		{live, store.WriteOptions{Cond: store.IfNotExists}, false, 0},
		{expired, store.WriteOptions{Cond: store.IfNotExists}, true, 1},
		{absent, store.WriteOptions{Cond: store.IfExists}, false, 0},
		{live, store.WriteOptions{Cond: store.IfExists}, true, 3},
		{expired, store.WriteOptions{Cond: store.IfExists}, false, 0},
		{absent, store.WriteOptions{Cond: store.IfVersion, Version: 0}, true, 1},
		{live, store.WriteOptions{Cond: store.IfVersion, Version: 0}, false, 0},
		{expired, store.WriteOptions{Cond: store.IfVersion, Version: 0}, true, 1},
		{live, store.WriteOptions{Cond: store.IfVersion, Version: 2}, true, 3},
		{live, store.WriteOptions{Cond: store.IfVersion, Version: 1}, false, 0},
		{live, store.WriteOptions{Cond: store.IfVersion, Version: 3}, false, 0},
		{absent, store.WriteOptions{Cond: store.IfVersion, Version: 1}, false, 0},
		{expired, store.WriteOptions{Cond: store.IfVersion, Version: 2}, false, 0},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%v/cond%d/v%d", tc.state, tc.opts.Cond, tc.opts.Version), func(t *testing.T) {
			st := s.newStore(t)
			key := k("cond", "item")
			prepare(t, st, key, tc.state)
			v, err := st.Put(ctx, store.Item{Key: key, Data: []byte(`"new"`)}, tc.opts)
			if !tc.ok {
				if !errors.Is(err, store.ErrConditionFailed) {
					t.Fatalf("Put = %d, %v; want ErrConditionFailed", v, err)
				}
				// Nothing was written.
				switch tc.state {
				case live:
					if got := mustGet(t, st, key); string(got.Data) != `"old"` || got.Version != 2 {
						t.Fatalf("after failed Put: %+v", got)
					}
				default:
					wantNotFound(t, st, key)
				}
				return
			}
			if err != nil || v != tc.version {
				t.Fatalf("Put = %d, %v; want %d", v, err, tc.version)
			}
			got := mustGet(t, st, key)
			if string(got.Data) != `"new"` || got.Version != tc.version || !got.ExpiresAt.IsZero() {
				t.Fatalf("after Put: %+v", got)
			}
		})
	}
}

func (s *suite) deleteConditions(t *testing.T) {
	cases := []struct {
		state state
		opts  store.WriteOptions
		ok    bool
	}{
		{absent, store.WriteOptions{Cond: store.Always}, true},
		{live, store.WriteOptions{Cond: store.Always}, true},
		{expired, store.WriteOptions{Cond: store.Always}, true},
		{absent, store.WriteOptions{Cond: store.IfExists}, false},
		{live, store.WriteOptions{Cond: store.IfExists}, true},
		{expired, store.WriteOptions{Cond: store.IfExists}, false},
		{live, store.WriteOptions{Cond: store.IfNotExists}, false},
		{absent, store.WriteOptions{Cond: store.IfNotExists}, true},
		{live, store.WriteOptions{Cond: store.IfVersion, Version: 2}, true},
		{live, store.WriteOptions{Cond: store.IfVersion, Version: 1}, false},
		{expired, store.WriteOptions{Cond: store.IfVersion, Version: 2}, false},
		{absent, store.WriteOptions{Cond: store.IfVersion, Version: 1}, false},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%v/cond%d/v%d", tc.state, tc.opts.Cond, tc.opts.Version), func(t *testing.T) {
			st := s.newStore(t)
			key := k("del", "item")
			prepare(t, st, key, tc.state)
			err := st.Delete(ctx, key, tc.opts)
			if !tc.ok {
				if !errors.Is(err, store.ErrConditionFailed) {
					t.Fatalf("Delete = %v; want ErrConditionFailed", err)
				}
				if tc.state == live {
					if got := mustGet(t, st, key); got.Version != 2 {
						t.Fatalf("after failed Delete: %+v", got)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Delete = %v", err)
			}
			wantNotFound(t, st, key)
		})
	}
}

func (s *suite) putReplaces(t *testing.T) {
	st := s.newStore(t)
	key := k("rep", "1")
	mustPut(t, st, store.Item{Key: key, Data: []byte(`{"a":1}`), Nums: map[string]float64{"x": 1, "y": 2}, ExpiresAt: future()})
	mustPut(t, st, store.Item{Key: key, Data: []byte(`{"b":2}`), Nums: map[string]float64{"z": 3}})
	got := mustGet(t, st, key)
	if string(got.Data) != `{"b":2}` || !numsEqual(got.Nums, map[string]float64{"z": 3}) || !got.ExpiresAt.IsZero() {
		t.Fatalf("after replacing Put: %+v", got)
	}
	mustPut(t, st, store.Item{Key: key})
	got = mustGet(t, st, key)
	if len(got.Data) != 0 || len(got.Nums) != 0 || got.Version != 3 {
		t.Fatalf("after empty Put: %+v", got)
	}
}

func (s *suite) expiry(t *testing.T) {
	st := s.newStore(t)
	mustPut(t, st, store.Item{Key: k("exp", "gone"), Data: []byte(`1`), ExpiresAt: past()})
	mustPut(t, st, store.Item{Key: k("exp", "live"), Data: []byte(`2`), ExpiresAt: future()})
	mustPut(t, st, store.Item{Key: k("exp", "forever"), Data: []byte(`3`)})
	wantNotFound(t, st, k("exp", "gone"))
	if got := mustGet(t, st, k("exp", "live")); string(got.Data) != "2" {
		t.Fatalf("live item: %+v", got)
	}
	items, err := st.Query(ctx, "exp", store.QueryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := sks(items); !reflect.DeepEqual(got, []string{"forever", "live"}) {
		t.Fatalf("Query = %v; want [forever live]", got)
	}
}

func (s *suite) addCreates(t *testing.T) {
	st := s.newStore(t)
	key := k("q", "new")
	exp := future()
	it, err := st.Add(ctx, key, []store.Delta{
		{Name: "requests", By: 1},
		{Name: "tokens", By: 250, Max: 1000, HasMax: true},
	}, store.AddOptions{ExpiresAt: exp, Set: []byte(`{"window":"m1"}`)})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"requests": 1, "tokens": 250}
	for _, got := range []store.Item{it, mustGet(t, st, key)} {
		if got.Key != key || got.Version != 1 || !numsEqual(got.Nums, want) ||
			string(got.Data) != `{"window":"m1"}` || !got.ExpiresAt.Equal(exp) {
			t.Fatalf("created item = %+v", got)
		}
	}
	// Without Set or expiry the created item has no data and never expires.
	it, err = st.Add(ctx, k("q", "plain"), []store.Delta{{Name: "n", By: -2.5}}, store.AddOptions{})
	if err != nil || it.Version != 1 || it.Nums["n"] != -2.5 || len(it.Data) != 0 || !it.ExpiresAt.IsZero() {
		t.Fatalf("Add = %+v, %v", it, err)
	}
}

func (s *suite) addBounds(t *testing.T) {
	cases := []struct {
		name   string
		start  map[string]float64 // nil: item absent
		deltas []store.Delta
		ok     bool
		want   map[string]float64
	}{
		{"under max", map[string]float64{"n": 5}, []store.Delta{{Name: "n", By: 3, Max: 10, HasMax: true}}, true, map[string]float64{"n": 8}},
		{"exactly max", map[string]float64{"n": 5}, []store.Delta{{Name: "n", By: 5, Max: 10, HasMax: true}}, true, map[string]float64{"n": 10}},
		{"over max", map[string]float64{"n": 5}, []store.Delta{{Name: "n", By: 6, Max: 10, HasMax: true}}, false, nil},
		{"missing counter over max", map[string]float64{"m": 1}, []store.Delta{{Name: "n", By: 11, Max: 10, HasMax: true}}, false, nil},
		{"missing counter under max", map[string]float64{"m": 1}, []store.Delta{{Name: "n", By: 10, Max: 10, HasMax: true}}, true, map[string]float64{"m": 1, "n": 10}},
		{"absent item over max", nil, []store.Delta{{Name: "n", By: 2, Max: 1, HasMax: true}}, false, nil},
		{"negative by", map[string]float64{"n": 5}, []store.Delta{{Name: "n", By: -7, Max: 10, HasMax: true}}, true, map[string]float64{"n": -2}},
		{"zero max", map[string]float64{"n": 0}, []store.Delta{{Name: "n", By: 0.5, Max: 0, HasMax: true}}, false, nil},
		{"fractional", map[string]float64{"usd": 1.25}, []store.Delta{{Name: "usd", By: 0.5, Max: 1.75, HasMax: true}}, true, map[string]float64{"usd": 1.75}},
		{"no max", map[string]float64{"n": 1e9}, []store.Delta{{Name: "n", By: 1e9}}, true, map[string]float64{"n": 2e9}},
		{"one bound of several fails", map[string]float64{"req": 1, "tok": 90}, []store.Delta{
			{Name: "req", By: 1, Max: 100, HasMax: true},
			{Name: "tok", By: 20, Max: 100, HasMax: true},
			{Name: "other", By: 1},
		}, false, nil},
		{"several bounds hold", map[string]float64{"req": 1, "tok": 80}, []store.Delta{
			{Name: "req", By: 1, Max: 100, HasMax: true},
			{Name: "tok", By: 20, Max: 100, HasMax: true},
			{Name: "other", By: 1},
		}, true, map[string]float64{"req": 2, "tok": 100, "other": 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := s.newStore(t)
			key := k("bound", "item")
			if tc.start != nil {
				mustPut(t, st, store.Item{Key: key, Data: []byte(`"d"`), Nums: tc.start})
			}
			it, err := st.Add(ctx, key, tc.deltas, store.AddOptions{Set: []byte(`"changed"`)})
			if !tc.ok {
				if !errors.Is(err, store.ErrConditionFailed) {
					t.Fatalf("Add = %+v, %v; want ErrConditionFailed", it, err)
				}
				if tc.start == nil {
					wantNotFound(t, st, key)
					return
				}
				got := mustGet(t, st, key)
				if got.Version != 1 || !numsEqual(got.Nums, tc.start) || string(got.Data) != `"d"` {
					t.Fatalf("failed Add changed the item: %+v", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Add: %v", err)
			}
			if !numsEqual(it.Nums, tc.want) || it.Version != 2 || string(it.Data) != `"changed"` {
				t.Fatalf("Add = %+v; want nums %v version 2", it, tc.want)
			}
			if got := mustGet(t, st, key); !numsEqual(got.Nums, tc.want) {
				t.Fatalf("Get after Add = %+v", got)
			}
		})
	}
}

func (s *suite) addUpdatesExisting(t *testing.T) {
	st := s.newStore(t)
	key := k("q", "existing")
	exp1, exp2 := future(), future().Add(time.Minute)
	mustPut(t, st, store.Item{Key: key, Data: []byte(`{"keep":true}`), Nums: map[string]float64{"a": 1}, ExpiresAt: exp1})
	// Without Set, Data stays; without ExpiresAt the expiry stays.
	it, err := st.Add(ctx, key, []store.Delta{{Name: "a", By: 2}, {Name: "b", By: 4}}, store.AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if string(it.Data) != `{"keep":true}` || !numsEqual(it.Nums, map[string]float64{"a": 3, "b": 4}) ||
		it.Version != 2 || !it.ExpiresAt.Equal(exp1) {
		t.Fatalf("Add = %+v", it)
	}
	// ExpiresAt refreshes the expiry of an existing item.
	it, err = st.Add(ctx, key, []store.Delta{{Name: "a", By: 1}}, store.AddOptions{ExpiresAt: exp2})
	if err != nil || !it.ExpiresAt.Equal(exp2) || it.Nums["a"] != 4 {
		t.Fatalf("Add = %+v, %v", it, err)
	}
	if got := mustGet(t, st, key); !got.ExpiresAt.Equal(exp2) || got.Version != 3 {
		t.Fatalf("Get = %+v", got)
	}
}

func (s *suite) addAfterExpiry(t *testing.T) {
	st := s.newStore(t)
	key := k("q", "window")
	mustPut(t, st, store.Item{Key: key, Data: []byte(`"old"`), Nums: map[string]float64{"n": 9}, ExpiresAt: past()})
	exp := future()
	it, err := st.Add(ctx, key, []store.Delta{{Name: "n", By: 2, Max: 10, HasMax: true}}, store.AddOptions{ExpiresAt: exp})
	if err != nil {
		t.Fatalf("Add on expired item: %v", err)
	}
	// The expired item no longer exists: counters restart from zero, data is gone.
	if it.Nums["n"] != 2 || len(it.Nums) != 1 || len(it.Data) != 0 || it.Version != 1 || !it.ExpiresAt.Equal(exp) {
		t.Fatalf("Add on expired item = %+v", it)
	}
}

func (s *suite) addConcurrentBound(t *testing.T) {
	st := s.newStore(t)
	key := k("q", "race")
	const by, max = 3.0, 100.0
	n := s.cfg.concurrency
	start := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	succeeded, failed := 0, 0
	var unexpected []error
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, err := st.Add(ctx, key, []store.Delta{{Name: "tokens", By: by, Max: max, HasMax: true}, {Name: "calls", By: 1}}, store.AddOptions{})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				succeeded++
			case errors.Is(err, store.ErrConditionFailed):
				failed++
			default:
				unexpected = append(unexpected, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if len(unexpected) > 0 {
		t.Fatalf("%d unexpected errors, first: %v", len(unexpected), unexpected[0])
	}
	want := int(math.Floor(max / by))
	if n < want {
		want = n
	}
	if succeeded != want || failed != n-want {
		t.Fatalf("succeeded %d, failed %d; want %d and %d", succeeded, failed, want, n-want)
	}
	got := mustGet(t, st, key)
	if got.Nums["tokens"] != float64(want)*by || got.Nums["calls"] != float64(want) || got.Version != int64(want) {
		t.Fatalf("after race: %+v; want tokens %v calls %d", got, float64(want)*by, want)
	}
}

func sks(items []store.Item) []string {
	out := make([]string, 0, len(items))
	for _, it := range items {
		out = append(out, it.SK)
	}
	return out
}

func (s *suite) query(t *testing.T) {
	st := s.newStore(t)
	all := []string{"a#1", "a#2", "a#3", "a#4", "a#5", "b#1", "b#2", "c"}
	for _, sk := range all {
		mustPut(t, st, store.Item{Key: k("part", sk), Data: []byte(`"` + sk + `"`), Nums: map[string]float64{"n": 1}})
	}
	// Expired items in the middle of ranges must not be returned nor counted by Limit.
	mustPut(t, st, store.Item{Key: k("part", "a#2x"), ExpiresAt: past()})
	mustPut(t, st, store.Item{Key: k("part", "a#3x"), ExpiresAt: past()})
	rev := func(in []string) []string {
		out := append([]string(nil), in...)
		sort.Sort(sort.Reverse(sort.StringSlice(out)))
		return out
	}
	cases := []struct {
		name string
		opts store.QueryOptions
		want []string
	}{
		{"all", store.QueryOptions{}, all},
		{"prefix", store.QueryOptions{Prefix: "a#"}, []string{"a#1", "a#2", "a#3", "a#4", "a#5"}},
		{"prefix no match", store.QueryOptions{Prefix: "z"}, []string{}},
		{"from", store.QueryOptions{From: "a#4"}, []string{"a#4", "a#5", "b#1", "b#2", "c"}},
		{"to", store.QueryOptions{To: "a#2"}, []string{"a#1", "a#2"}},
		{"from to inclusive", store.QueryOptions{From: "a#2", To: "a#4"}, []string{"a#2", "a#3", "a#4"}},
		{"from to between keys", store.QueryOptions{From: "a#20", To: "b#"}, []string{"a#3", "a#4", "a#5"}},
		{"prefix and from", store.QueryOptions{Prefix: "a#", From: "a#4"}, []string{"a#4", "a#5"}},
		{"prefix and to", store.QueryOptions{Prefix: "b#", To: "b#1"}, []string{"b#1"}},
		{"prefix and range outside", store.QueryOptions{Prefix: "b#", From: "a#1", To: "a#9"}, []string{}},
		{"limit", store.QueryOptions{Limit: 3}, []string{"a#1", "a#2", "a#3"}},
		{"limit skips expired", store.QueryOptions{Prefix: "a#", Limit: 4}, []string{"a#1", "a#2", "a#3", "a#4"}},
		{"desc", store.QueryOptions{Desc: true}, rev(all)},
		{"desc prefix limit", store.QueryOptions{Prefix: "a#", Desc: true, Limit: 2}, []string{"a#5", "a#4"}},
		{"desc from to", store.QueryOptions{From: "a#2", To: "b#1", Desc: true}, []string{"b#1", "a#5", "a#4", "a#3", "a#2"}},
		{"after", store.QueryOptions{After: "a#3"}, []string{"a#4", "a#5", "b#1", "b#2", "c"}},
		{"after between keys", store.QueryOptions{After: "a#2x", Prefix: "a#"}, []string{"a#3", "a#4", "a#5"}},
		{"after with limit", store.QueryOptions{After: "a#1", Limit: 2}, []string{"a#2", "a#3"}},
		{"after desc", store.QueryOptions{After: "a#3", Desc: true}, []string{"a#2", "a#1"}},
		{"after desc with prefix limit", store.QueryOptions{After: "b#2", Prefix: "b#", Desc: true, Limit: 5}, []string{"b#1"}},
		{"after last", store.QueryOptions{After: "c"}, []string{}},
		{"after beyond to", store.QueryOptions{After: "a#5", To: "a#5"}, []string{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			items, err := st.Query(ctx, "part", tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := sks(items); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Query(%+v) = %v; want %v", tc.opts, got, tc.want)
			}
			for _, it := range items {
				if it.PK != "part" || string(it.Data) != `"`+it.SK+`"` || it.Nums["n"] != 1 || it.Version != 1 {
					t.Fatalf("item %+v not returned whole", it)
				}
			}
		})
	}
	t.Run("pages", func(t *testing.T) {
		var got []string
		after := ""
		for page := 0; page < 10; page++ {
			items, err := st.Query(ctx, "part", store.QueryOptions{Limit: 3, After: after})
			if err != nil {
				t.Fatal(err)
			}
			if len(items) == 0 {
				break
			}
			got = append(got, sks(items)...)
			after = items[len(items)-1].SK
		}
		if !reflect.DeepEqual(got, all) {
			t.Fatalf("paged = %v; want %v", got, all)
		}
	})
}

func (s *suite) queryPartitionIsolation(t *testing.T) {
	st := s.newStore(t)
	for _, pk := range []string{"par", "part", "part2", "part#x", "pa"} {
		mustPut(t, st, store.Item{Key: k(pk, "s"), Data: []byte(`"` + pk + `"`)})
		mustPut(t, st, store.Item{Key: k(pk, "t"), Data: []byte(`"` + pk + `"`)})
	}
	for _, pk := range []string{"par", "part", "part2", "part#x", "pa"} {
		for _, desc := range []bool{false, true} {
			items, err := st.Query(ctx, pk, store.QueryOptions{Desc: desc})
			if err != nil {
				t.Fatal(err)
			}
			if len(items) != 2 {
				t.Fatalf("Query(%q, desc=%v) = %d items, want 2", pk, desc, len(items))
			}
			for _, it := range items {
				if it.PK != pk || string(it.Data) != `"`+pk+`"` {
					t.Fatalf("Query(%q) returned %+v", pk, it)
				}
			}
		}
	}
	items, err := st.Query(ctx, "nope", store.QueryOptions{})
	if err != nil || len(items) != 0 {
		t.Fatalf("Query on empty partition = %v, %v", items, err)
	}
}

func (s *suite) transact(t *testing.T) {
	seed := func(t *testing.T) store.Store {
		st := s.newStore(t)
		mustPut(t, st, store.Item{Key: k("tx", "existing"), Data: []byte(`"e"`)})
		mustPut(t, st, store.Item{Key: k("tx", "doomed"), Data: []byte(`"d"`)})
		mustPut(t, st, store.Item{Key: k("tx", "counter"), Nums: map[string]float64{"n": 5}})
		return st
	}
	// unchanged asserts the seeded state is intact and nothing new appeared.
	unchanged := func(t *testing.T, st store.Store) {
		t.Helper()
		items, err := st.Query(ctx, "tx", store.QueryOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := sks(items); !reflect.DeepEqual(got, []string{"counter", "doomed", "existing"}) {
			t.Fatalf("items after failed transaction: %v", got)
		}
		for _, it := range items {
			if it.Version != 1 {
				t.Fatalf("item changed by failed transaction: %+v", it)
			}
		}
		if got := mustGet(t, st, k("tx", "counter")); got.Nums["n"] != 5 {
			t.Fatalf("counter changed by failed transaction: %+v", got)
		}
	}
	put := func(sk string, opts store.WriteOptions) store.Op {
		return store.Op{Kind: store.OpPut, Item: store.Item{Key: k("tx", sk), Data: []byte(`"` + sk + `"`)}, Options: opts}
	}
	t.Run("commit", func(t *testing.T) {
		st := seed(t)
		err := st.Transact(ctx, []store.Op{
			put("new", store.WriteOptions{Cond: store.IfNotExists}),
			put("existing", store.WriteOptions{Cond: store.IfVersion, Version: 1}),
			{Kind: store.OpDelete, Key: k("tx", "doomed"), Options: store.WriteOptions{Cond: store.IfExists}},
			{Kind: store.OpAdd, Key: k("tx", "counter"), Deltas: []store.Delta{{Name: "n", By: 5, Max: 10, HasMax: true}}},
			{Kind: store.OpAdd, Key: k("tx", "fresh"), Deltas: []store.Delta{{Name: "n", By: 1}}, Add: store.AddOptions{Set: []byte(`"f"`)}},
			{Kind: store.OpCheck, Key: k("other", "missing"), Options: store.WriteOptions{Cond: store.IfNotExists}},
		})
		if err != nil {
			t.Fatalf("Transact: %v", err)
		}
		if got := mustGet(t, st, k("tx", "new")); got.Version != 1 || string(got.Data) != `"new"` {
			t.Fatalf("new = %+v", got)
		}
		if got := mustGet(t, st, k("tx", "existing")); got.Version != 2 || string(got.Data) != `"existing"` {
			t.Fatalf("existing = %+v", got)
		}
		wantNotFound(t, st, k("tx", "doomed"))
		if got := mustGet(t, st, k("tx", "counter")); got.Version != 2 || got.Nums["n"] != 10 {
			t.Fatalf("counter = %+v", got)
		}
		if got := mustGet(t, st, k("tx", "fresh")); got.Version != 1 || got.Nums["n"] != 1 || string(got.Data) != `"f"` {
			t.Fatalf("fresh = %+v", got)
		}
		wantNotFound(t, st, k("other", "missing"))
	})
	failing := []struct {
		name string
		op   store.Op
	}{
		{"check fails", store.Op{Kind: store.OpCheck, Key: k("tx", "existing"), Options: store.WriteOptions{Cond: store.IfVersion, Version: 7}}},
		{"check on missing", store.Op{Kind: store.OpCheck, Key: k("tx", "nothing"), Options: store.WriteOptions{Cond: store.IfExists}}},
		{"put exists", put("existing", store.WriteOptions{Cond: store.IfNotExists})},
		{"put version", put("existing", store.WriteOptions{Cond: store.IfVersion, Version: 2})},
		{"delete missing", store.Op{Kind: store.OpDelete, Key: k("tx", "nothing"), Options: store.WriteOptions{Cond: store.IfExists}}},
		{"add over bound", store.Op{Kind: store.OpAdd, Key: k("tx", "counter"), Deltas: []store.Delta{{Name: "n", By: 6, Max: 10, HasMax: true}}}},
	}
	for _, tc := range failing {
		t.Run(tc.name, func(t *testing.T) {
			st := seed(t)
			ops := []store.Op{
				put("new", store.WriteOptions{Cond: store.IfNotExists}),
				{Kind: store.OpAdd, Key: k("tx", "fresh"), Deltas: []store.Delta{{Name: "n", By: 1}}},
				{Kind: store.OpDelete, Key: k("tx", "doomed")},
				tc.op,
			}
			// Each of these ops must be on its own key; the failing one goes last and first.
			for _, order := range [][]store.Op{ops, append([]store.Op{tc.op}, ops[:3]...)} {
				err := st.Transact(ctx, order)
				if !errors.Is(err, store.ErrTransactionConflict) || !errors.Is(err, store.ErrConditionFailed) {
					t.Fatalf("Transact = %v; want ErrTransactionConflict wrapping ErrConditionFailed", err)
				}
				unchanged(t, st)
			}
		})
	}
	t.Run("invalid", func(t *testing.T) {
		st := seed(t)
		tooMany := make([]store.Op, 101)
		for i := range tooMany {
			tooMany[i] = put(fmt.Sprintf("many-%03d", i), store.WriteOptions{})
		}
		twice := []store.Op{
			put("new", store.WriteOptions{}),
			{Kind: store.OpAdd, Key: k("tx", "new"), Deltas: []store.Delta{{Name: "n", By: 1}}},
		}
		for name, ops := range map[string][]store.Op{"101 ops": tooMany, "one key twice": twice} {
			if err := st.Transact(ctx, ops); err == nil {
				t.Errorf("Transact with %s succeeded", name)
			}
			unchanged(t, st)
		}
		if err := st.Transact(ctx, nil); err != nil {
			t.Errorf("empty Transact = %v", err)
		}
	})
	t.Run("expired counts as absent", func(t *testing.T) {
		st := s.newStore(t)
		mustPut(t, st, store.Item{Key: k("tx", "old"), ExpiresAt: past()})
		err := st.Transact(ctx, []store.Op{
			put("old", store.WriteOptions{Cond: store.IfNotExists}),
			{Kind: store.OpCheck, Key: k("tx", "old2"), Options: store.WriteOptions{Cond: store.IfNotExists}},
		})
		if err != nil {
			t.Fatalf("Transact: %v", err)
		}
		if got := mustGet(t, st, k("tx", "old")); got.Version != 1 || string(got.Data) != `"old"` {
			t.Fatalf("old = %+v", got)
		}
	})
}

// RunScanner checks store.Scanner on stores newStore returns (which must implement it):
// every partition with a live item under the prefix, sorted, once.
func RunScanner(t *testing.T, newStore func(t *testing.T) store.Store) {
	ctx := context.Background()
	s := newStore(t)
	sc, ok := s.(store.Scanner)
	if !ok {
		t.Fatalf("%T does not implement store.Scanner", s)
	}
	for _, key := range []store.Key{k("QUOTA#b", "1"), k("QUOTA#a", "1"), k("QUOTA#a", "2"), k("RAGKB#a", "docs"), k("QUOTA#longer-tenant", "x")} {
		mustPut(t, s, store.Item{Key: key, Data: []byte(`{}`)})
	}
	mustPut(t, s, store.Item{Key: k("QUOTA#expired", "1"), Data: []byte(`{}`), ExpiresAt: past()})
	got, err := sc.Partitions(ctx, "QUOTA#")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"QUOTA#a", "QUOTA#b", "QUOTA#longer-tenant"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("partitions under QUOTA#: %v, want %v", got, want)
	}
	all, err := sc.Partitions(ctx, "")
	if err != nil || len(all) != 4 {
		t.Errorf("every partition: %v %v", all, err)
	}
}
