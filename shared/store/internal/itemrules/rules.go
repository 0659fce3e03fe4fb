// Package itemrules holds the store port's item semantics (conditions, versions, bounded
// counters, expiry, transactions, sort-key ranges) that every adapter applies, so the
// embedded, in-memory and DynamoDB stores cannot drift apart.
package itemrules

import (
	"fmt"
	"strings"

	"github.com/plinth-ai/plinth/shared/store"
)

// MaxTransactOps is the port's (and DynamoDB's) limit on one transaction.
const MaxTransactOps = 100

// CheckCond reports whether a write's condition holds against cur, the live item (nil when
// absent or expired).
func CheckCond(cur *store.Item, o store.WriteOptions) error {
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
		return fmt.Errorf("store: unknown condition %d", o.Cond)
	}
	if !ok {
		return CondFailed(cur, o)
	}
	return nil
}

func CondFailed(cur *store.Item, o store.WriteOptions) error {
	var have int64
	if cur != nil {
		have = cur.Version
	}
	return fmt.Errorf("condition %d (version %d) on version %d: %w", o.Cond, o.Version, have, store.ErrConditionFailed)
}

func Version(cur *store.Item) int64 {
	if cur == nil {
		return 0
	}
	return cur.Version
}

// ApplyPut returns the item a Put writes over cur.
func ApplyPut(cur *store.Item, it store.Item, o store.WriteOptions) (store.Item, error) {
	if err := CheckCond(cur, o); err != nil {
		return store.Item{}, err
	}
	next := Clone(it)
	next.Version = Version(cur) + 1
	return next, nil
}

// ApplyAdd returns the item an Add leaves over cur.
func ApplyAdd(key store.Key, cur *store.Item, deltas []store.Delta, o store.AddOptions) (store.Item, error) {
	return applyAdd(key, cur, deltas, o, false)
}

// ApplyAddInPlace is ApplyAdd for a store that keeps cur as its own live state (memory
// tiers): it checks every bound first and, only when all hold, changes cur's counters
// in place rather than copying them, so an Add costs the deltas, not the item's size
// (a day's quota item holds a counter per minute). The item returned shares cur's
// counters. On error cur is unchanged.
func ApplyAddInPlace(key store.Key, cur *store.Item, deltas []store.Delta, o store.AddOptions) (store.Item, error) {
	if err := checkAdd(cur, deltas); err != nil {
		return store.Item{}, err
	}
	return applyAdd(key, cur, deltas, o, true)
}

// checkAdd returns the error applyAdd would return for deltas over cur, without
// changing cur.
func checkAdd(cur *store.Item, deltas []store.Delta) error {
	var nums map[string]float64
	if cur != nil {
		nums = cur.Nums
	}
	for i, d := range deltas {
		if !d.HasMax {
			continue
		}
		v := nums[d.Name]
		for _, p := range deltas[:i+1] { // a name repeated in one Add counts every change so far
			if p.Name == d.Name {
				v += p.By
			}
		}
		if v > d.Max {
			return fmt.Errorf("counter %q would reach %v over max %v: %w", d.Name, v, d.Max, store.ErrConditionFailed)
		}
	}
	return nil
}

// applyAdd is ApplyAdd; with owned, cur is the caller's to change (a copy decoded for
// this call) and is changed in place instead of copied.
func applyAdd(key store.Key, cur *store.Item, deltas []store.Delta, o store.AddOptions, owned bool) (store.Item, error) {
	next := store.Item{Key: key}
	switch {
	case cur != nil && owned:
		next = *cur
	case cur != nil:
		next = Clone(*cur)
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
	next.Version = Version(cur) + 1
	return next, nil
}

func Clone(it store.Item) store.Item {
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

// Write is one change a transaction makes: item nil deletes key.
type Write struct {
	Key  store.Key
	Item *store.Item
}

// PlanTransact evaluates ops against live items read through get and returns the writes
// to apply, or an error wrapping ErrTransactionConflict and ErrConditionFailed.
func PlanTransact(ops []store.Op, get func(store.Key) *store.Item) ([]Write, error) {
	return planTransact(ops, get, false, false)
}

// PlanTransactOwned is PlanTransact for a store whose get returns items decoded for
// this call alone, which no one else holds, and which encodes the writes before ops'
// items can change (boltstore): the live items are changed in place and the
// operations' items are not copied, saving two allocations or more per operation.
// The writes may share memory with ops and the live items.
func PlanTransactOwned(ops []store.Op, get func(store.Key) *store.Item) ([]Write, error) {
	return planTransact(ops, get, true, false)
}

// PlanTransactInPlace is PlanTransact for a store whose get returns its own live items
// (memory tiers) and which applies the writes it is given: every condition and bound is
// checked first, and only when all hold are the live items' counters changed in place
// rather than copied, so a transaction of counter updates costs its deltas, not its
// items' sizes. Put items are copied, as the store keeps them. On error no live item
// has changed. get is called twice per operation.
func PlanTransactInPlace(ops []store.Op, get func(store.Key) *store.Item) ([]Write, error) {
	if err := checkTransact(ops, get); err != nil {
		return nil, err
	}
	return planTransact(ops, get, true, true)
}

// checkTransact returns the error planTransact would return for ops, without changing
// the live items.
func checkTransact(ops []store.Op, get func(store.Key) *store.Item) error {
	if len(ops) > MaxTransactOps {
		return fmt.Errorf("store: transaction of %d ops exceeds %d", len(ops), MaxTransactOps)
	}
	if k, ok := RepeatedKey(ops); ok {
		return fmt.Errorf("store: transaction touches %v twice", k)
	}
	for i, op := range ops {
		key := OpKey(op)
		cur := get(key)
		var err error
		switch op.Kind {
		case store.OpPut, store.OpDelete, store.OpCheck:
			err = CheckCond(cur, op.Options)
		case store.OpAdd:
			err = checkAdd(cur, op.Deltas)
		default:
			return fmt.Errorf("store: unknown op kind %d", op.Kind)
		}
		if err != nil {
			return fmt.Errorf("%w: op %d on %s/%s: %w", store.ErrTransactionConflict, i, key.PK, key.SK, err)
		}
	}
	return nil
}

// OpKey is the key op writes or checks.
func OpKey(op store.Op) store.Key {
	if op.Kind == store.OpPut {
		return op.Item.Key
	}
	return op.Key
}

// RepeatedKey returns a key two of ops name, if any: a small transaction is scanned, a
// larger one checked through a map.
func RepeatedKey(ops []store.Op) (store.Key, bool) {
	if len(ops) <= smallTransact {
		for i := 1; i < len(ops); i++ {
			if k := OpKey(ops[i]); touched(ops[:i], k) {
				return k, true
			}
		}
		return store.Key{}, false
	}
	seen := make(map[store.Key]bool, len(ops))
	for _, op := range ops {
		k := OpKey(op)
		if seen[k] {
			return k, true
		}
		seen[k] = true
	}
	return store.Key{}, false
}

// planTransact plans ops; with owned, live items' counters are changed in place, and
// with copyPuts put items are copied even so.
func planTransact(ops []store.Op, get func(store.Key) *store.Item, owned, copyPuts bool) ([]Write, error) {
	if len(ops) > MaxTransactOps {
		return nil, fmt.Errorf("store: transaction of %d ops exceeds %d", len(ops), MaxTransactOps)
	}
	// A transaction runs on every gateway request (quota, usage): the written items
	// share one backing array rather than a heap allocation each, and a small
	// transaction finds a repeated key by scanning the keys before it, not in a map.
	var seen map[store.Key]bool
	if len(ops) > smallTransact {
		seen = make(map[store.Key]bool, len(ops))
	}
	writes := make([]Write, 0, len(ops))
	items := make([]store.Item, len(ops))
	for i, op := range ops {
		key := op.Key
		if op.Kind == store.OpPut {
			key = op.Item.Key
		}
		if seen != nil && seen[key] || seen == nil && touched(ops[:i], key) {
			return nil, fmt.Errorf("store: transaction touches %v twice", key)
		}
		if seen != nil {
			seen[key] = true
		}
		cur := get(key)
		var err error
		switch op.Kind {
		case store.OpPut:
			if owned && !copyPuts {
				if err = CheckCond(cur, op.Options); err == nil {
					items[i] = op.Item
					items[i].Version = Version(cur) + 1
					writes = append(writes, Write{Key: key, Item: &items[i]})
				}
			} else if items[i], err = ApplyPut(cur, op.Item, op.Options); err == nil {
				writes = append(writes, Write{Key: key, Item: &items[i]})
			}
		case store.OpDelete:
			if err = CheckCond(cur, op.Options); err == nil {
				writes = append(writes, Write{Key: key})
			}
		case store.OpAdd:
			if items[i], err = applyAdd(key, cur, op.Deltas, op.Add, owned); err == nil {
				writes = append(writes, Write{Key: key, Item: &items[i]})
			}
		case store.OpCheck:
			err = CheckCond(cur, op.Options)
		default:
			return nil, fmt.Errorf("store: unknown op kind %d", op.Kind)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: op %d on %s/%s: %w", store.ErrTransactionConflict, i, key.PK, key.SK, err)
		}
	}
	return writes, nil
}

// smallTransact is the most operations PlanTransact checks for repeated keys by
// scanning rather than with a map.
const smallTransact = 16

// touched reports whether one of ops names key.
func touched(ops []store.Op, key store.Key) bool {
	for _, op := range ops {
		k := op.Key
		if op.Kind == store.OpPut {
			k = op.Item.Key
		}
		if k == key {
			return true
		}
	}
	return false
}

// SKRange is a QueryOptions turned into scan bounds over sort keys.
type SKRange struct {
	O store.QueryOptions
}

// Start is the smallest sort key an ascending scan must seek to.
func (r SKRange) Start() string {
	lo := r.O.Prefix
	if r.O.From > lo {
		lo = r.O.From
	}
	if r.O.After != "" && !r.O.Desc && r.O.After > lo {
		lo = r.O.After
	}
	return lo
}

// End is the exclusive upper sort key a descending scan seeks below; "" means unbounded.
func (r SKRange) End() string {
	end, bounded := "", false
	lower := func(s string) {
		if !bounded || s < end {
			end, bounded = s, true
		}
	}
	if r.O.To != "" {
		lower(r.O.To + "\x00")
	}
	if r.O.Prefix != "" {
		if pe := PrefixEnd(r.O.Prefix); pe != "" {
			lower(pe)
		}
	}
	if r.O.After != "" && r.O.Desc {
		lower(r.O.After)
	}
	return end
}

// Past reports whether sk, met in scan order, lies beyond every key that can match.
func (r SKRange) Past(sk string) bool {
	if r.O.Desc {
		return (r.O.From != "" && sk < r.O.From) || (r.O.Prefix != "" && sk < r.O.Prefix)
	}
	return (r.O.To != "" && sk > r.O.To) || (r.O.Prefix != "" && sk > r.O.Prefix && !strings.HasPrefix(sk, r.O.Prefix))
}

// Match reports whether sk is selected.
func (r SKRange) Match(sk string) bool {
	o := r.O
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

// PrefixEnd is the smallest string greater than every string with prefix p, or "" if none.
func PrefixEnd(p string) string {
	b := []byte(p)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1])
		}
	}
	return ""
}
