// Package memstore is an in-memory adapter of the store port, for tests and short-lived
// tools. It keeps the port's full semantics (conditions, bounded counters, expiry filtered
// on read, all-or-nothing transactions) behind one lock; nothing is persisted.
package memstore

import (
	"context"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/plinth-ai/plinth/shared/store"
	"github.com/plinth-ai/plinth/shared/store/internal/itemrules"
)

var _ store.Store = (*Store)(nil)

// Option configures a Store.
type Option func(*Store)

// WithClock sets the clock used to decide expiry (default time.Now).
func WithClock(now func() time.Time) Option {
	return func(s *Store) {
		if now != nil {
			s.now = now
		}
	}
}

// Store is an in-memory store.Store. The zero value is not usable; call New.
type Store struct {
	now   func() time.Time
	mu    sync.RWMutex
	parts map[string]*partition
}

type partition struct {
	items map[string]store.Item
	sks   []string // sorted
}

// New returns an empty in-memory store.
func New(opts ...Option) *Store {
	s := &Store{now: time.Now, parts: make(map[string]*partition)}
	for _, o := range opts {
		o(s)
	}
	return s
}

// live returns the unexpired item with key, or nil. The caller holds mu.
func (s *Store) live(key store.Key, now time.Time) *store.Item {
	p := s.parts[key.PK]
	if p == nil {
		return nil
	}
	it, ok := p.items[key.SK]
	if !ok || it.Expired(now) {
		return nil
	}
	return &it
}

// set stores or (item nil) removes key. The caller holds mu for writing.
func (s *Store) set(key store.Key, item *store.Item) {
	p := s.parts[key.PK]
	if item == nil {
		if p == nil {
			return
		}
		if _, ok := p.items[key.SK]; !ok {
			return
		}
		delete(p.items, key.SK)
		i := sort.SearchStrings(p.sks, key.SK)
		p.sks = append(p.sks[:i], p.sks[i+1:]...)
		if len(p.sks) == 0 {
			delete(s.parts, key.PK)
		}
		return
	}
	if p == nil {
		p = &partition{items: make(map[string]store.Item)}
		s.parts[key.PK] = p
	}
	if _, ok := p.items[key.SK]; !ok {
		i := sort.SearchStrings(p.sks, key.SK)
		p.sks = append(p.sks, "")
		copy(p.sks[i+1:], p.sks[i:])
		p.sks[i] = key.SK
	}
	p.items[key.SK] = *item
}

// Get returns the live item with the key, or store.ErrNotFound.
func (s *Store) Get(ctx context.Context, key store.Key) (store.Item, error) {
	if err := ctx.Err(); err != nil {
		return store.Item{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	it := s.live(key, s.now())
	if it == nil {
		return store.Item{}, notFound(key)
	}
	return itemrules.Clone(*it), nil
}

// Put writes the item if opts' condition holds and returns its new version.
func (s *Store) Put(ctx context.Context, item store.Item, opts store.WriteOptions) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	next, err := itemrules.ApplyPut(s.live(item.Key, s.now()), item, opts)
	if err != nil {
		return 0, wrapKey("put", item.Key, err)
	}
	s.set(item.Key, &next)
	return next.Version, nil
}

// Delete removes the item if opts' condition holds.
func (s *Store) Delete(ctx context.Context, key store.Key, opts store.WriteOptions) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := itemrules.CheckCond(s.live(key, s.now()), opts); err != nil {
		return wrapKey("delete", key, err)
	}
	s.set(key, nil)
	return nil
}

// Add atomically applies deltas and returns the item after the change.
func (s *Store) Add(ctx context.Context, key store.Key, deltas []store.Delta, opts store.AddOptions) (store.Item, error) {
	if err := ctx.Err(); err != nil {
		return store.Item{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	next, err := itemrules.ApplyAdd(key, s.live(key, s.now()), deltas, opts)
	if err != nil {
		return store.Item{}, wrapKey("add", key, err)
	}
	s.set(key, &next)
	return itemrules.Clone(next), nil
}

// Query returns live items of partition pk selected by opts, in SK order.
func (s *Store) Query(ctx context.Context, pk string, opts store.QueryOptions) ([]store.Item, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := []store.Item{}
	p := s.parts[pk]
	if p == nil {
		return out, nil
	}
	now := s.now()
	r := itemrules.SKRange{O: opts}
	emit := func(sk string) bool {
		if r.Past(sk) {
			return false
		}
		if it := p.items[sk]; r.Match(sk) && !it.Expired(now) {
			out = append(out, itemrules.Clone(it))
		}
		return opts.Limit <= 0 || len(out) < opts.Limit
	}
	if opts.Desc {
		i := len(p.sks) - 1
		if end := r.End(); end != "" {
			i = sort.SearchStrings(p.sks, end) - 1
		}
		for ; i >= 0 && emit(p.sks[i]); i-- {
		}
		return out, nil
	}
	for i := sort.SearchStrings(p.sks, r.Start()); i < len(p.sks) && emit(p.sks[i]); i++ {
	}
	return out, nil
}

// Transact applies ops atomically or not at all.
func (s *Store) Transact(ctx context.Context, ops []store.Op) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	writes, err := itemrules.PlanTransact(ops, func(k store.Key) *store.Item { return s.live(k, now) })
	if err != nil {
		return err
	}
	for _, w := range writes {
		s.set(w.Key, w.Item)
	}
	return nil
}

var _ store.Scanner = (*Store)(nil)

// Partitions implements store.Scanner.
func (s *Store) Partitions(_ context.Context, prefix string) ([]string, error) {
	now := s.now()
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []string
	for pk, p := range s.parts {
		if !strings.HasPrefix(pk, prefix) {
			continue
		}
		for _, it := range p.items {
			if !it.Expired(now) {
				out = append(out, pk)
				break
			}
		}
	}
	sort.Strings(out)
	return out, nil
}
