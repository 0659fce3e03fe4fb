package itemrules

import (
	"errors"
	"fmt"
	"testing"

	"github.com/plinth-ai/plinth/shared/store"
)

func adds(n int) []store.Op {
	ops := make([]store.Op, n)
	for i := range ops {
		ops[i] = store.Op{Kind: store.OpAdd, Key: store.Key{PK: "P", SK: fmt.Sprintf("S%03d", i)}, Deltas: []store.Delta{{Name: "n", By: float64(i)}}}
	}
	return ops
}

func none(store.Key) *store.Item { return nil }

// A repeated key is refused whatever the transaction's size (below and above the size
// where the check switches from a scan to a map) and wherever the repeat is.
func TestPlanTransactRefusesARepeatedKey(t *testing.T) {
	for _, n := range []int{2, smallTransact, smallTransact + 1, MaxTransactOps} {
		for _, at := range []int{1, n - 1} {
			ops := adds(n)
			ops[at].Key = ops[0].Key
			if _, err := PlanTransact(ops, none); err == nil {
				t.Errorf("%d ops, op %d repeating op 0's key: planned", n, at)
			}
			put := adds(n)
			put[at] = store.Op{Kind: store.OpPut, Item: store.Item{Key: put[0].Key, Data: []byte("{}")}}
			if _, err := PlanTransact(put, none); err == nil {
				t.Errorf("%d ops, a put at %d repeating op 0's key: planned", n, at)
			}
		}
		if _, err := PlanTransact(adds(n), none); err != nil {
			t.Errorf("%d distinct ops: %v", n, err)
		}
	}
}

// Every write carries its own item, even though they share storage.
func TestPlanTransactWritesOwnItems(t *testing.T) {
	ops := adds(5)
	ops = append(ops, store.Op{Kind: store.OpDelete, Key: store.Key{PK: "P", SK: "gone"}},
		store.Op{Kind: store.OpPut, Item: store.Item{Key: store.Key{PK: "P", SK: "put"}, Data: []byte(`{"a":1}`)}})
	writes, err := PlanTransact(ops, none)
	if err != nil {
		t.Fatal(err)
	}
	if len(writes) != len(ops) {
		t.Fatalf("%d writes for %d ops", len(writes), len(ops))
	}
	for i, w := range writes[:5] {
		if w.Item == nil || w.Item.Key != ops[i].Key || w.Item.Nums["n"] != float64(i) || w.Item.Version != 1 {
			t.Errorf("write %d = %+v", i, w.Item)
		}
	}
	if writes[5].Item != nil || writes[5].Key.SK != "gone" {
		t.Errorf("delete = %+v", writes[5])
	}
	if w := writes[6]; w.Item == nil || string(w.Item.Data) != `{"a":1}` || w.Item.Key.SK != "put" {
		t.Errorf("put = %+v", w.Item)
	}
	cond := []store.Op{{Kind: store.OpPut, Item: store.Item{Key: store.Key{PK: "P", SK: "x"}}, Options: store.WriteOptions{Cond: store.IfExists}}}
	if _, err := PlanTransact(cond, none); !errors.Is(err, store.ErrConditionFailed) {
		t.Errorf("failed condition: %v", err)
	}
}

func BenchmarkPlanTransact(b *testing.B) {
	ops := adds(6)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := PlanTransact(ops, none); err != nil {
			b.Fatal(err)
		}
	}
}

// Both planners write the same items; only PlanTransactOwned may change what get
// returned, and neither changes the operations.
func TestPlanTransactOwnedPlansTheSame(t *testing.T) {
	stored := func() map[store.Key]*store.Item {
		return map[store.Key]*store.Item{
			{PK: "P", SK: "S000"}: {Key: store.Key{PK: "P", SK: "S000"}, Version: 3, Nums: map[string]float64{"n": 10, "m": 1}, Data: []byte(`{"x":1}`)},
			{PK: "P", SK: "put"}:  {Key: store.Key{PK: "P", SK: "put"}, Version: 7, Data: []byte(`{"old":true}`)},
		}
	}
	ops := func() []store.Op {
		o := adds(3)
		o[0].Add = store.AddOptions{Set: []byte(`{"y":2}`)}
		return append(o, store.Op{Kind: store.OpPut, Item: store.Item{Key: store.Key{PK: "P", SK: "put"}, Data: []byte(`{"new":true}`)},
			Options: store.WriteOptions{Cond: store.IfVersion, Version: 7}})
	}
	shared, owned := stored(), stored()
	a, err := PlanTransact(ops(), func(k store.Key) *store.Item { return shared[k] })
	if err != nil {
		t.Fatal(err)
	}
	opsB := ops()
	b, err := PlanTransactOwned(opsB, func(k store.Key) *store.Item { return owned[k] })
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != len(b) || len(a) != 4 {
		t.Fatalf("%d and %d writes", len(a), len(b))
	}
	for i := range a {
		x, y := a[i].Item, b[i].Item
		if x.Key != y.Key || x.Version != y.Version || string(x.Data) != string(y.Data) || fmt.Sprint(x.Nums) != fmt.Sprint(y.Nums) {
			t.Errorf("write %d: %+v, owned %+v", i, *x, *y)
		}
	}
	if w := a[0].Item; w.Version != 4 || w.Nums["n"] != 10 || w.Nums["m"] != 1 || string(w.Data) != `{"y":2}` {
		t.Errorf("add over a stored item = %+v", *w)
	}
	if w := a[3].Item; w.Version != 8 || string(w.Data) != `{"new":true}` {
		t.Errorf("put = %+v", *w)
	}
	if want := stored(); fmt.Sprint(*shared[store.Key{PK: "P", SK: "S000"}]) != fmt.Sprint(*want[store.Key{PK: "P", SK: "S000"}]) {
		t.Errorf("PlanTransact changed a stored item: %+v", *shared[store.Key{PK: "P", SK: "S000"}])
	}
	if fmt.Sprint(opsB) != fmt.Sprint(ops()) {
		t.Error("PlanTransactOwned changed the operations")
	}
}

func BenchmarkPlanTransactOwned(b *testing.B) {
	ops := adds(6)
	get := func(k store.Key) *store.Item {
		return &store.Item{Key: k, Version: 1, Nums: map[string]float64{"n": 1}}
	}
	for _, owned := range []bool{false, true} {
		b.Run(fmt.Sprint("owned=", owned), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := planTransact(ops, get, owned, false); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// The in-place planner writes what PlanTransact writes, copies put items, and changes
// the live items only when the whole transaction holds.
func TestPlanTransactInPlace(t *testing.T) {
	k0, kPut, kBound := store.Key{PK: "P", SK: "S000"}, store.Key{PK: "P", SK: "put"}, store.Key{PK: "P", SK: "bound"}
	stored := func() map[store.Key]*store.Item {
		return map[store.Key]*store.Item{
			k0:     {Key: k0, Version: 3, Nums: map[string]float64{"n": 10, "m": 1}},
			kPut:   {Key: kPut, Version: 7, Data: []byte(`{"old":true}`)},
			kBound: {Key: kBound, Version: 1, Nums: map[string]float64{"c": 5}},
		}
	}
	ops := func() []store.Op {
		return []store.Op{
			{Kind: store.OpAdd, Key: k0, Deltas: []store.Delta{{Name: "n", By: 2}, {Name: "new", By: 1}}},
			{Kind: store.OpPut, Item: store.Item{Key: kPut, Data: []byte(`{"new":true}`)}, Options: store.WriteOptions{Cond: store.IfVersion, Version: 7}},
			// The same counter twice in one Add: the bound sees both changes (5+2+2 = 9).
			{Kind: store.OpAdd, Key: kBound, Deltas: []store.Delta{{Name: "c", By: 2}, {Name: "c", By: 2, Max: 9, HasMax: true}}},
		}
	}
	copies, live := stored(), stored()
	want, err := PlanTransact(ops(), func(k store.Key) *store.Item { return copies[k] })
	if err != nil {
		t.Fatal(err)
	}
	o := ops()
	got, err := PlanTransactInPlace(o, func(k store.Key) *store.Item { return live[k] })
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(derefs(got)) != fmt.Sprint(derefs(want)) {
		t.Fatalf("in place %v, want %v", derefs(got), derefs(want))
	}
	o[1].Item.Data[1] = 'X'
	if string(got[1].Item.Data) != `{"new":true}` {
		t.Errorf("the put's item shares the operation's data: %s", got[1].Item.Data)
	}
	if live[k0].Nums["n"] != 12 || live[kBound].Nums["c"] != 9 {
		t.Errorf("live counters not changed in place: %v %v", live[k0].Nums, live[kBound].Nums)
	}

	// One bound over its max refuses all, whatever op it is in, and changes nothing.
	for _, max := range []float64{8, 8.5} {
		live := stored()
		o := ops()
		o[2].Deltas[1].Max = max
		_, err := PlanTransactInPlace(o, func(k store.Key) *store.Item { return live[k] })
		_, werr := PlanTransact(o, func(k store.Key) *store.Item { return stored()[k] })
		if !errors.Is(err, store.ErrConditionFailed) || !errors.Is(err, store.ErrTransactionConflict) || err.Error() != werr.Error() {
			t.Fatalf("max %v: %v, want %v", max, err, werr)
		}
		if fmt.Sprint(derefs2(live)) != fmt.Sprint(derefs2(stored())) {
			t.Errorf("max %v: a refused transaction changed live items: %v", max, derefs2(live))
		}
	}
	// A failed condition, a repeated key and too many ops are refused as PlanTransact does.
	bad := ops()
	bad[1].Options.Version = 6
	rep := append(ops(), store.Op{Kind: store.OpCheck, Key: k0})
	for _, o := range [][]store.Op{bad, rep, adds(MaxTransactOps + 1)} {
		live := stored()
		_, err := PlanTransactInPlace(o, func(k store.Key) *store.Item { return live[k] })
		_, werr := PlanTransact(o, func(k store.Key) *store.Item { return stored()[k] })
		if err == nil || werr == nil || err.Error() != werr.Error() {
			t.Errorf("%v, want %v", err, werr)
		}
		if fmt.Sprint(derefs2(live)) != fmt.Sprint(derefs2(stored())) {
			t.Errorf("a refused transaction changed live items: %v", derefs2(live))
		}
	}
}

// ApplyAddInPlace checks every bound before changing anything.
func TestApplyAddInPlace(t *testing.T) {
	key := store.Key{PK: "P", SK: "S"}
	cur := &store.Item{Key: key, Version: 2, Nums: map[string]float64{"a": 1, "b": 5}}
	_, err := ApplyAddInPlace(key, cur, []store.Delta{{Name: "a", By: 1}, {Name: "b", By: 1, Max: 5, HasMax: true}}, store.AddOptions{})
	if !errors.Is(err, store.ErrConditionFailed) || cur.Nums["a"] != 1 || cur.Nums["b"] != 5 {
		t.Fatalf("refused add: %v, item %v", err, cur.Nums)
	}
	next, err := ApplyAddInPlace(key, cur, []store.Delta{{Name: "a", By: 1}, {Name: "c", By: 3, Max: 3, HasMax: true}}, store.AddOptions{})
	if err != nil || next.Version != 3 || cur.Nums["a"] != 2 || cur.Nums["c"] != 3 || cur.Version != 2 {
		t.Fatalf("add: %v, next %+v, live %+v", err, next, *cur)
	}
	fresh, err := ApplyAddInPlace(key, nil, []store.Delta{{Name: "a", By: 1}}, store.AddOptions{})
	if err != nil || fresh.Version != 1 || fresh.Nums["a"] != 1 {
		t.Fatalf("add over nothing: %v %+v", err, fresh)
	}
}

func derefs(ws []Write) []string {
	var out []string
	for _, w := range ws {
		if w.Item == nil {
			out = append(out, fmt.Sprint(w.Key, " deleted"))
		} else {
			out = append(out, fmt.Sprint(*w.Item))
		}
	}
	return out
}

func derefs2(m map[store.Key]*store.Item) []string {
	var out []string
	for _, k := range []store.Key{{PK: "P", SK: "S000"}, {PK: "P", SK: "put"}, {PK: "P", SK: "bound"}} {
		out = append(out, fmt.Sprint(*m[k]))
	}
	return out
}
