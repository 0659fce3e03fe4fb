// Package sealedstore is a store.Store that encrypts every item's data (its JSON
// document) with a data key before it reaches the store under it, bound to the item's
// key, and decrypts on read: a silo tenant's cell is sealed with its own key. Keys,
// counters, versions and expiry stay readable to the store (queries and atomic counters
// need them), and are served only while the data key is usable: with its key disabled
// or deleted, every operation fails loudly. Data that is not sealed is refused; it is
// never returned as it is.
package sealedstore

import (
	"context"
	"fmt"

	"github.com/plinth-ai/plinth/shared/store"
)

var _ store.Store = (*Store)(nil)

// Sealer encrypts and decrypts values bound to additional data (kms.DataKey).
type Sealer interface {
	Seal(ctx context.Context, plain, aad []byte) ([]byte, error)
	Open(ctx context.Context, sealed, aad []byte) ([]byte, error)
	// Usable fails as Seal and Open would when the key cannot be used.
	Usable(ctx context.Context) error
}

// gate fails when the data key cannot be used: nothing of the cell is served or
// changed then, sealed or not.
func (s *Store) gate(ctx context.Context) error {
	if err := s.s.Usable(ctx); err != nil {
		return fmt.Errorf("sealed store: %w", err)
	}
	return nil
}

// Store seals the data of the items it keeps in the store under it.
type Store struct {
	st store.Store
	s  Sealer
}

// New returns st with every item's data sealed by s.
func New(st store.Store, s Sealer) *Store {
	if st == nil || s == nil {
		panic("sealedstore.New: nil store or sealer")
	}
	return &Store{st: st, s: s}
}

func aad(k store.Key) []byte { return []byte(k.PK + "\x00" + k.SK) }

func (s *Store) seal(ctx context.Context, k store.Key, data []byte) ([]byte, error) {
	if data == nil {
		return nil, nil
	}
	out, err := s.s.Seal(ctx, data, aad(k))
	if err != nil {
		return nil, fmt.Errorf("seal %s/%s: %w", k.PK, k.SK, err)
	}
	return out, nil
}

func (s *Store) open(ctx context.Context, it store.Item) (store.Item, error) {
	if it.Data == nil {
		return it, nil
	}
	plain, err := s.s.Open(ctx, it.Data, aad(it.Key))
	if err != nil {
		return store.Item{}, fmt.Errorf("open %s/%s: %w", it.PK, it.SK, err)
	}
	it.Data = plain
	return it, nil
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, key store.Key) (store.Item, error) {
	if err := s.gate(ctx); err != nil {
		return store.Item{}, err
	}
	it, err := s.st.Get(ctx, key)
	if err != nil {
		return it, err
	}
	return s.open(ctx, it)
}

// Put implements store.Store.
func (s *Store) Put(ctx context.Context, item store.Item, opts store.WriteOptions) (int64, error) {
	if err := s.gate(ctx); err != nil {
		return 0, err
	}
	var err error
	if item.Data, err = s.seal(ctx, item.Key, item.Data); err != nil {
		return 0, err
	}
	return s.st.Put(ctx, item, opts)
}

// Delete implements store.Store.
func (s *Store) Delete(ctx context.Context, key store.Key, opts store.WriteOptions) error {
	if err := s.gate(ctx); err != nil {
		return err
	}
	return s.st.Delete(ctx, key, opts)
}

// Add implements store.Store.
func (s *Store) Add(ctx context.Context, key store.Key, deltas []store.Delta, opts store.AddOptions) (store.Item, error) {
	if err := s.gate(ctx); err != nil {
		return store.Item{}, err
	}
	var err error
	if opts.Set, err = s.seal(ctx, key, opts.Set); err != nil {
		return store.Item{}, err
	}
	it, err := s.st.Add(ctx, key, deltas, opts)
	if err != nil {
		return it, err
	}
	return s.open(ctx, it)
}

// Query implements store.Store.
func (s *Store) Query(ctx context.Context, pk string, opts store.QueryOptions) ([]store.Item, error) {
	if err := s.gate(ctx); err != nil {
		return nil, err
	}
	items, err := s.st.Query(ctx, pk, opts)
	if err != nil {
		return nil, err
	}
	for i := range items {
		if items[i], err = s.open(ctx, items[i]); err != nil {
			return nil, err
		}
	}
	return items, nil
}

// Transact implements store.Store.
func (s *Store) Transact(ctx context.Context, ops []store.Op) error {
	if err := s.gate(ctx); err != nil {
		return err
	}
	sealed := make([]store.Op, len(ops))
	for i, op := range ops {
		var err error
		switch op.Kind {
		case store.OpPut:
			op.Item.Data, err = s.seal(ctx, op.Item.Key, op.Item.Data)
		case store.OpAdd:
			op.Add.Set, err = s.seal(ctx, op.Key, op.Add.Set)
		}
		if err != nil {
			return err
		}
		sealed[i] = op
	}
	return s.st.Transact(ctx, sealed)
}

// Partitions implements store.Scanner when the store under it does (partition keys are
// not sealed), while the data key is usable.
func (s *Store) Partitions(ctx context.Context, prefix string) ([]string, error) {
	sc, ok := s.st.(store.Scanner)
	if !ok {
		return nil, fmt.Errorf("sealed store: %T cannot list its partitions", s.st)
	}
	if err := s.gate(ctx); err != nil {
		return nil, err
	}
	return sc.Partitions(ctx, prefix)
}
