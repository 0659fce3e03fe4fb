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
				if _, err := planTransact(ops, get, owned); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
