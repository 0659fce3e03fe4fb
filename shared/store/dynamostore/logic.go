package dynamostore

import (
	"fmt"
	"strings"

	"github.com/plinth-ai/plinth/shared/store"
)

// The item rules below are the store port's semantics, shared in spirit with memstore and boltstore
// (each keeps its own copy so neither adapter depends on the other); the storetest
// contract suite holds both to the same behaviour.

// maxTransactOps is the port's (and DynamoDB's) limit on one transaction.
const maxTransactOps = 100

// checkCond reports whether a write's condition holds against cur, the live item (nil when
// absent or expired).
func checkCond(cur *store.Item, o store.WriteOptions) error {
	ok := false
	switch o.Cond {
	case store.Always:
		ok = true
	case store.IfNotExists:
		ok = cur == nil
	case store.IfExists:
		ok = cur != nil
	case store.IfVersion:
		if o.Version == 0 {
			ok = cur == nil
		} else {
			ok = cur != nil && cur.Version == o.Version
		}
	default:
		return fmt.Errorf("dynamostore: unknown condition %d", o.Cond)
	}
	if !ok {
		return condFailed(cur, o)
	}
	return nil
}

func condFailed(cur *store.Item, o store.WriteOptions) error {
	var have int64
	if cur != nil {
		have = cur.Version
	}
	return fmt.Errorf("condition %d (version %d) on version %d: %w", o.Cond, o.Version, have, store.ErrConditionFailed)
}

func version(cur *store.Item) int64 {
	if cur == nil {
		return 0
	}
	return cur.Version
}

// applyPut returns the item a Put writes over cur.
func applyPut(cur *store.Item, it store.Item, o store.WriteOptions) (store.Item, error) {
	if err := checkCond(cur, o); err != nil {
		return store.Item{}, err
	}
	next := clone(it)
	next.Version = version(cur) + 1
	return next, nil
}

// applyAdd returns the item an Add leaves over cur.
func applyAdd(key store.Key, cur *store.Item, deltas []store.Delta, o store.AddOptions) (store.Item, error) {
	next := store.Item{Key: key}
	if cur != nil {
		next = clone(*cur)
	}
	if next.Nums == nil {
		next.Nums = make(map[string]float64, len(deltas))
	}
	for _, d := range deltas {
		v := next.Nums[d.Name] + d.By
		if d.HasMax && v > d.Max {
			return store.Item{}, fmt.Errorf("counter %q would reach %v over max %v: %w", d.Name, v, d.Max, store.ErrConditionFailed)
		}
		next.Nums[d.Name] = v
	}
	if o.Set != nil {
		next.Data = append([]byte(nil), o.Set...)
	}
	if !o.ExpiresAt.IsZero() {
		next.ExpiresAt = o.ExpiresAt
	}
	next.Version = version(cur) + 1
	return next, nil
}

func clone(it store.Item) store.Item {
	out := it
	if it.Data != nil {
		out.Data = append([]byte(nil), it.Data...)
	}
	if it.Nums != nil {
		out.Nums = make(map[string]float64, len(it.Nums))
		for k, v := range it.Nums {
			out.Nums[k] = v
		}
	}
	return out
}

// write is one change a transaction makes: item nil deletes key.
type write struct {
	key  store.Key
	item *store.Item
}

// planTransact evaluates ops against live items read through get and returns the writes
// to apply, or an error wrapping ErrTransactionConflict and ErrConditionFailed.
func planTransact(ops []store.Op, get func(store.Key) *store.Item) ([]write, error) {
	if len(ops) > maxTransactOps {
		return nil, fmt.Errorf("dynamostore: transaction of %d ops exceeds %d", len(ops), maxTransactOps)
	}
	seen := make(map[store.Key]bool, len(ops))
	writes := make([]write, 0, len(ops))
	for i, op := range ops {
		key := op.Key
		if op.Kind == store.OpPut {
			key = op.Item.Key
		}
		if seen[key] {
			return nil, fmt.Errorf("dynamostore: transaction touches %v twice", key)
		}
		seen[key] = true
		cur := get(key)
		var err error
		switch op.Kind {
		case store.OpPut:
			var next store.Item
			if next, err = applyPut(cur, op.Item, op.Options); err == nil {
				writes = append(writes, write{key: key, item: &next})
			}
		case store.OpDelete:
			if err = checkCond(cur, op.Options); err == nil {
				writes = append(writes, write{key: key})
			}
		case store.OpAdd:
			var next store.Item
			if next, err = applyAdd(key, cur, op.Deltas, op.Add); err == nil {
				writes = append(writes, write{key: key, item: &next})
			}
		case store.OpCheck:
			err = checkCond(cur, op.Options)
		default:
			return nil, fmt.Errorf("dynamostore: unknown op kind %d", op.Kind)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: op %d on %s/%s: %w", store.ErrTransactionConflict, i, key.PK, key.SK, err)
		}
	}
	return writes, nil
}

// skRange is a QueryOptions turned into scan bounds over sort keys.
type skRange struct {
	o store.QueryOptions
}

// start is the smallest sort key an ascending scan must seek to.
func (r skRange) start() string {
	lo := r.o.Prefix
	if r.o.From > lo {
		lo = r.o.From
	}
	if r.o.After != "" && !r.o.Desc && r.o.After > lo {
		lo = r.o.After
	}
	return lo
}

// end is the exclusive upper sort key a descending scan seeks below; "" means unbounded.
func (r skRange) end() string {
	end, bounded := "", false
	lower := func(s string) {
		if !bounded || s < end {
			end, bounded = s, true
		}
	}
	if r.o.To != "" {
		lower(r.o.To + "\x00")
	}
	if r.o.Prefix != "" {
		if pe := prefixEnd(r.o.Prefix); pe != "" {
			lower(pe)
		}
	}
	if r.o.After != "" && r.o.Desc {
		lower(r.o.After)
	}
	return end
}

// past reports whether sk, met in scan order, lies beyond every key that can match.
func (r skRange) past(sk string) bool {
	if r.o.Desc {
		return (r.o.From != "" && sk < r.o.From) || (r.o.Prefix != "" && sk < r.o.Prefix)
	}
	return (r.o.To != "" && sk > r.o.To) || (r.o.Prefix != "" && sk > r.o.Prefix && !strings.HasPrefix(sk, r.o.Prefix))
}

// match reports whether sk is selected.
func (r skRange) match(sk string) bool {
	o := r.o
	if o.Prefix != "" && !strings.HasPrefix(sk, o.Prefix) {
		return false
	}
	if (o.From != "" && sk < o.From) || (o.To != "" && sk > o.To) {
		return false
	}
	if o.After != "" {
		if o.Desc {
			return sk < o.After
		}
		return sk > o.After
	}
	return true
}

// prefixEnd is the smallest string greater than every string with prefix p, or "" if none.
func prefixEnd(p string) string {
	b := []byte(p)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1])
		}
	}
	return ""
}
