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
