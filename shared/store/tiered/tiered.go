package tiered

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/plinth-ai/plinth/shared/store"
	"github.com/plinth-ai/plinth/shared/store/internal/itemrules"
)

var _ store.Store = (*Store)(nil)

// HiddenVersionNum is the reserved counter under which a tiered item's version is kept in
// the back store.
const HiddenVersionNum = "\x00tiered.version"

// DefaultFlushInterval is how often dirty items are written back unless WithFlushInterval says otherwise.
const DefaultFlushInterval = 100 * time.Millisecond

// DefaultMaxItems is how many items memory holds before clean ones are evicted.
const DefaultMaxItems = 100_000

// DefaultMaxBytes is roughly how many bytes of items memory holds before clean ones are evicted.
const DefaultMaxBytes = 64 << 20

// ErrClosed is returned by writes to tiered keys after Close.
var ErrClosed = errors.New("tiered: store is closed")

const (
	shardCount = 64
	// sweepEvery is how many flush ticks pass between scans for expired items.
	sweepEvery = 50
)

// Option configures New.
type Option func(*Store)

// WithPrefixes sets the PK prefixes served from memory. The empty prefix tiers every key.
// Without this option nothing is tiered.
func WithPrefixes(prefixes ...string) Option {
	return func(s *Store) { s.prefixes = append(s.prefixes, prefixes...) }
}

// WithFlushInterval sets how often dirty items are written back (default 100ms). A value
// of zero or less disables the background flusher: items then reach the back store only
// through Flush, Close, a Query of their partition or a mixed Transact.
func WithFlushInterval(d time.Duration) Option { return func(s *Store) { s.interval = d } }

// WithClock sets the clock that decides expiry in memory (default time.Now). Use the same
// clock as the back store.
func WithClock(now func() time.Time) Option {
	return func(s *Store) {
		if now != nil {
			s.now = now
		}
	}
}

// WithLogger sets where flush failures are reported (default slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(s *Store) {
		if l != nil {
			s.log = l
		}
	}
}

// WithMaxItems bounds how many items memory keeps (default 100,000); beyond it clean items
// are evicted after each flush. Dirty items are never evicted.
func WithMaxItems(n int) Option {
	return func(s *Store) {
		if n > 0 {
			s.maxItems = n
		}
	}
}

// WithMaxBytes bounds the approximate size of the items memory keeps (default 64 MiB,
// counting keys, Data and counters); beyond it clean items are evicted after each flush.
func WithMaxBytes(n int) Option {
	return func(s *Store) {
		if n > 0 {
			s.maxBytes = n
		}
	}
}

// entry is the memory tier's state of one key.
type entry struct {
	item    store.Item // Key is always set; the rest only when present
	present bool
	dirty   bool
	gen     uint64 // bumped by every write, so a flush only cleans what it wrote
	size    int    // approximate bytes held, counted in shard.bytes
}

// entryOverhead approximates the bookkeeping bytes of one entry beyond its keys and data.
const entryOverhead = 160

func itemSize(it store.Item) int {
	return entryOverhead + len(it.PK) + len(it.SK) + len(it.Data) + 48*len(it.Nums)
}

type shard struct {
	mu    sync.Mutex
	items map[store.Key]*entry
	dirty map[store.Key]struct{}
	bytes int
}

// setSizeLocked recounts e's size after a change. The caller holds sh.mu.
func (sh *shard) setSizeLocked(e *entry) {
	sh.bytes -= e.size
	e.size = itemSize(e.item)
	sh.bytes += e.size
}

// dropLocked removes a clean entry. The caller holds sh.mu.
func (sh *shard) dropLocked(k store.Key, e *entry) {
	sh.bytes -= e.size
	delete(sh.items, k)
}

// Store is the tiered store.Store. Build it with New and stop it with Close.
type Store struct {
	back     store.Store
	prefixes []string
	interval time.Duration
	now      func() time.Time
	log      *slog.Logger
	maxItems int
	maxBytes int

	shards [shardCount]shard

	// flushMu serialises everything that writes tiered items to the back store (flushes
	// and mixed transactions), so an older state can never overwrite a newer one there.
	flushMu sync.Mutex
	ticks   int

	closeMu  sync.RWMutex
	closed   bool
	quit     chan struct{}
	loopDone chan struct{}
}

// New wraps back. It panics if back is nil. Call Close to stop the background flusher
// and write the last changes; Close does not close back.
func New(back store.Store, opts ...Option) *Store {
	if back == nil {
		panic("tiered: nil back store")
	}
	s := &Store{back: back, interval: DefaultFlushInterval, now: time.Now, log: slog.Default(), maxItems: DefaultMaxItems, maxBytes: DefaultMaxBytes, quit: make(chan struct{})}
	for _, o := range opts {
		o(s)
	}
	for i := range s.shards {
		s.shards[i].items = make(map[store.Key]*entry)
		s.shards[i].dirty = make(map[store.Key]struct{})
	}
	if s.interval > 0 {
		s.loopDone = make(chan struct{})
		go s.flushLoop()
	}
	return s
}

func (s *Store) tiered(pk string) bool {
	for _, p := range s.prefixes {
		if strings.HasPrefix(pk, p) {
			return true
		}
	}
	return false
}

func shardIndex(k store.Key) int {
	h := uint32(2166136261)
	for i := 0; i < len(k.PK); i++ {
		h = (h ^ uint32(k.PK[i])) * 16777619
	}
	h = (h ^ 0xff) * 16777619
	for i := 0; i < len(k.SK); i++ {
		h = (h ^ uint32(k.SK[i])) * 16777619
	}
	return int(h % shardCount)
}

func (s *Store) shardOf(k store.Key) *shard { return &s.shards[shardIndex(k)] }

// fromBack turns an item read from the back store into the memory tier's view.
func fromBack(it store.Item) store.Item {
	if v, ok := it.Nums[HiddenVersionNum]; ok {
		it.Version = int64(v)
		delete(it.Nums, HiddenVersionNum)
		if len(it.Nums) == 0 {
			it.Nums = nil
		}
	}
	return it
}

// toBack is the item written to the back store for it: its version rides in a counter.
func toBack(it store.Item) store.Item {
	nums := make(map[string]float64, len(it.Nums)+1)
	for k, v := range it.Nums {
		nums[k] = v
	}
	nums[HiddenVersionNum] = float64(it.Version)
	it.Nums = nums
	it.Version = 0
	return it
}

// entryLocked returns key's entry, loading it from the back store on first touch. The
// caller holds sh.mu.
func (s *Store) entryLocked(ctx context.Context, sh *shard, key store.Key) (*entry, error) {
	if e := sh.items[key]; e != nil {
		return e, nil
	}
	e := &entry{item: store.Item{Key: key}}
	it, err := s.back.Get(ctx, key)
	switch {
	case err == nil:
		e.item, e.present = fromBack(it), true
		e.item.Key = key
	case errors.Is(err, store.ErrNotFound):
	default:
		return nil, fmt.Errorf("tiered: load %s/%s: %w", key.PK, key.SK, err)
	}
	sh.items[key] = e
	sh.setSizeLocked(e)
	return e, nil
}

func liveItem(e *entry, now time.Time) *store.Item {
	if !e.present || e.item.Expired(now) {
		return nil
	}
	return &e.item
}

// setLocked records a write (item nil deletes). The caller holds sh.mu.
func setLocked(sh *shard, e *entry, item *store.Item) {
	if item == nil {
		e.item, e.present = store.Item{Key: e.item.Key}, false
	} else {
		e.item, e.present = *item, true
	}
	sh.setSizeLocked(e)
	e.dirty = true
	e.gen++
	sh.dirty[e.item.Key] = struct{}{}
}

// Get returns the live item with the key, or store.ErrNotFound.
func (s *Store) Get(ctx context.Context, key store.Key) (store.Item, error) {
	if !s.tiered(key.PK) {
		return s.back.Get(ctx, key)
	}
	if err := ctx.Err(); err != nil {
		return store.Item{}, err
	}
	sh := s.shardOf(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e, err := s.entryLocked(ctx, sh, key)
	if err != nil {
		return store.Item{}, err
	}
	cur := liveItem(e, s.now())
	if cur == nil {
		return store.Item{}, fmt.Errorf("tiered: get %s/%s: %w", key.PK, key.SK, store.ErrNotFound)
	}
	return itemrules.Clone(*cur), nil
}

// Put writes the item if opts' condition holds and returns its new version.
func (s *Store) Put(ctx context.Context, item store.Item, opts store.WriteOptions) (int64, error) {
	if !s.tiered(item.PK) {
		return s.back.Put(ctx, item, opts)
	}
	if err := s.begin(ctx); err != nil {
		return 0, err
	}
	defer s.closeMu.RUnlock()
	sh := s.shardOf(item.Key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e, err := s.entryLocked(ctx, sh, item.Key)
	if err != nil {
		return 0, err
	}
	next, err := itemrules.ApplyPut(liveItem(e, s.now()), item, opts)
	if err != nil {
		return 0, fmt.Errorf("tiered: put %s/%s: %w", item.PK, item.SK, err)
	}
	setLocked(sh, e, &next)
	return next.Version, nil
}

// Delete removes the item if opts' condition holds.
func (s *Store) Delete(ctx context.Context, key store.Key, opts store.WriteOptions) error {
	if !s.tiered(key.PK) {
		return s.back.Delete(ctx, key, opts)
	}
	if err := s.begin(ctx); err != nil {
		return err
	}
	defer s.closeMu.RUnlock()
	sh := s.shardOf(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e, err := s.entryLocked(ctx, sh, key)
	if err != nil {
		return err
	}
	if err := itemrules.CheckCond(liveItem(e, s.now()), opts); err != nil {
		return fmt.Errorf("tiered: delete %s/%s: %w", key.PK, key.SK, err)
	}
	if e.present { // an absent key is already absent in the back store
		setLocked(sh, e, nil)
	}
	return nil
}

// Add atomically applies deltas and returns the item after the change.
func (s *Store) Add(ctx context.Context, key store.Key, deltas []store.Delta, opts store.AddOptions) (store.Item, error) {
	if !s.tiered(key.PK) {
		return s.back.Add(ctx, key, deltas, opts)
	}
	if err := s.begin(ctx); err != nil {
		return store.Item{}, err
	}
	defer s.closeMu.RUnlock()
	sh := s.shardOf(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e, err := s.entryLocked(ctx, sh, key)
	if err != nil {
		return store.Item{}, err
	}
	// Memory's item is changed in place (once every bound holds) and copied once for the
	// caller, rather than copied to change and again to return.
	next, err := itemrules.ApplyAddInPlace(key, liveItem(e, s.now()), deltas, opts)
	if err != nil {
		return store.Item{}, fmt.Errorf("tiered: add %s/%s: %w", key.PK, key.SK, err)
	}
	setLocked(sh, e, &next)
	return itemrules.Clone(next), nil
}

// begin admits a write to tiered keys: on success it holds closeMu for reading, which
// the caller releases once the write is applied, so Close cannot flush while a write is
// half applied.
func (s *Store) begin(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.closeMu.RLock()
	if s.closed {
		s.closeMu.RUnlock()
		return ErrClosed
	}
	return nil
}

// Query returns live items of partition pk selected by opts, in SK order. On a tiered
// partition it first writes the partition's dirty items to the back store.
func (s *Store) Query(ctx context.Context, pk string, opts store.QueryOptions) ([]store.Item, error) {
	if !s.tiered(pk) {
		return s.back.Query(ctx, pk, opts)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.flushMu.Lock()
	err := s.flushLocked(ctx, func(k store.Key) bool { return k.PK == pk })
	s.flushMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("tiered: query %s: %w", pk, err)
	}
	items, err := s.back.Query(ctx, pk, opts)
	if err != nil {
		return nil, err
	}
	for i := range items {
		items[i] = fromBack(items[i])
	}
	return items, nil
}

// Transact applies ops atomically or not at all. See the package documentation for how
// transactions mixing tiered and untiered keys run.
func (s *Store) Transact(ctx context.Context, ops []store.Op) error {
	nTiered := 0
	for _, op := range ops {
		if s.tiered(itemrules.OpKey(op).PK) {
			nTiered++
		}
	}
	if nTiered == 0 {
		return s.back.Transact(ctx, ops)
	}
	if err := s.begin(ctx); err != nil {
		return err
	}
	defer s.closeMu.RUnlock()
	if len(ops) > itemrules.MaxTransactOps {
		return fmt.Errorf("tiered: transaction of %d ops exceeds %d", len(ops), itemrules.MaxTransactOps)
	}
	if k, ok := itemrules.RepeatedKey(ops); ok {
		return fmt.Errorf("tiered: transaction touches %v twice", k)
	}
	mixed := nTiered < len(ops)
	if mixed {
		s.flushMu.Lock()
		defer s.flushMu.Unlock()
	}

	// A transaction of tiered keys alone (quota counters, on every gateway request) uses
	// ops as they are, and small arrays for the shard indexes and entries.
	tieredOps, backOps := ops, []store.Op(nil)
	if mixed {
		tieredOps = make([]store.Op, 0, nTiered)
		for _, op := range ops {
			if s.tiered(itemrules.OpKey(op).PK) {
				tieredOps = append(tieredOps, op)
			} else {
				backOps = append(backOps, op)
			}
		}
	}
	// Lock the shards of the tiered keys in index order, so transactions cannot deadlock.
	var idxBuf [8]int
	idx := idxBuf[:0]
	for _, op := range tieredOps {
		idx = append(idx, shardIndex(itemrules.OpKey(op)))
	}
	slices.Sort(idx)
	idx = slices.Compact(idx)
	for _, i := range idx {
		s.shards[i].mu.Lock()
	}
	// One deferred call rather than one per shard (each a heap allocation in a loop).
	defer func() {
		for _, i := range idx {
			s.shards[i].mu.Unlock()
		}
	}()

	var entBuf [8]*entry
	ents := entBuf[:0]
	for _, op := range tieredOps {
		k := itemrules.OpKey(op)
		e, err := s.entryLocked(ctx, s.shardOf(k), k)
		if err != nil {
			return fmt.Errorf("tiered: transact: %w", err)
		}
		ents = append(ents, e)
	}
	var byKey map[store.Key]*entry
	if len(ents) > 16 {
		byKey = make(map[store.Key]*entry, len(ents))
		for _, e := range ents {
			byKey[e.item.Key] = e
		}
	}
	entryOf := func(k store.Key) *entry {
		if byKey != nil {
			return byKey[k]
		}
		for _, e := range ents {
			if e.item.Key == k {
				return e
			}
		}
		return nil
	}
	now := s.now()
	live := func(k store.Key) *store.Item { return liveItem(entryOf(k), now) }
	var writes []itemrules.Write
	var err error
	if mixed {
		// The back store may still refuse: plan on copies, so memory changes only after.
		writes, err = itemrules.PlanTransact(tieredOps, live)
	} else {
		// Memory is the only copy written: counters change in place once every
		// condition holds, instead of copying each item (a quota day item holds a
		// counter per minute of the day).
		writes, err = itemrules.PlanTransactInPlace(tieredOps, live)
	}
	if err != nil {
		return fmt.Errorf("tiered: transact: %w", err)
	}
	if mixed {
		for _, w := range writes {
			if w.Item == nil {
				backOps = append(backOps, store.Op{Kind: store.OpDelete, Key: w.Key})
			} else {
				backOps = append(backOps, store.Op{Kind: store.OpPut, Item: toBack(*w.Item)})
			}
		}
		if err := s.back.Transact(ctx, backOps); err != nil {
			return fmt.Errorf("tiered: transact: %w", err)
		}
	}
	for _, w := range writes {
		sh, e := s.shardOf(w.Key), entryOf(w.Key)
		setLocked(sh, e, w.Item)
		if mixed {
			// The back store now holds exactly this state, and no flush runs meanwhile.
			e.dirty = false
			delete(sh.dirty, w.Key)
		}
	}
	return nil
}

// pending is one dirty key's state as a flush writes it.
type pending struct {
	key store.Key
	gen uint64
}

// flushLocked writes the dirty items selected by keep (all when nil) to the back store.
// The caller holds flushMu. Items whose write fails stay dirty.
func (s *Store) flushLocked(ctx context.Context, keep func(store.Key) bool) error {
	var ops []store.Op
	var meta []pending
	now := s.now()
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for k := range sh.dirty {
			if keep != nil && !keep(k) {
				continue
			}
			e := sh.items[k]
			if e.present && !e.item.Expired(now) {
				ops = append(ops, store.Op{Kind: store.OpPut, Item: toBack(e.item)})
			} else {
				ops = append(ops, store.Op{Kind: store.OpDelete, Key: k})
			}
			meta = append(meta, pending{key: k, gen: e.gen})
		}
		sh.mu.Unlock()
	}
	var errs []error
	failed := 0
	for start := 0; start < len(ops); start += itemrules.MaxTransactOps {
		end := min(start+itemrules.MaxTransactOps, len(ops))
		if err := s.back.Transact(ctx, ops[start:end]); err != nil {
			errs = append(errs, err)
			failed += end - start
			continue
		}
		for _, p := range meta[start:end] {
			sh := s.shardOf(p.key)
			sh.mu.Lock()
			if e := sh.items[p.key]; e != nil && e.gen == p.gen {
				e.dirty = false
				delete(sh.dirty, p.key)
			}
			sh.mu.Unlock()
		}
	}
	if len(errs) > 0 {
		err := errors.Join(errs...)
		s.log.Error("tiered store: write-back failed; items stay dirty and are retried", "items", failed, "of", len(ops), "err", err)
		return fmt.Errorf("tiered: flush %d of %d items: %w", failed, len(ops), err)
	}
	return nil
}

// evictLocked drops expired clean items (when sweep) and, while memory holds more than
// maxItems or maxBytes, other clean items. The caller holds flushMu.
func (s *Store) evictLocked(sweep bool) {
	now := s.now()
	items, bytes := 0, 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		if sweep {
			for k, e := range sh.items {
				if !e.dirty && e.present && e.item.Expired(now) {
					sh.dropLocked(k, e)
				}
			}
		}
		items += len(sh.items)
		bytes += sh.bytes
		sh.mu.Unlock()
	}
	overItems, overBytes := items-s.maxItems, bytes-s.maxBytes
	for i := 0; i < shardCount && (overItems > 0 || overBytes > 0); i++ {
		sh := &s.shards[i]
		sh.mu.Lock()
		for k, e := range sh.items {
			if overItems <= 0 && overBytes <= 0 {
				break
			}
			if !e.dirty {
				overItems--
				overBytes -= e.size
				sh.dropLocked(k, e)
			}
		}
		sh.mu.Unlock()
	}
}

// Len reports how many items memory holds, how many of them are dirty and roughly how
// many bytes they take.
func (s *Store) Len() (items, dirty, bytes int) {
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		items += len(sh.items)
		dirty += len(sh.dirty)
		bytes += sh.bytes
		sh.mu.Unlock()
	}
	return items, dirty, bytes
}

// Flush writes every dirty item to the back store now. Items it could not write stay
// dirty and are retried by the next flush.
func (s *Store) Flush(ctx context.Context) error {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	err := s.flushLocked(ctx, nil)
	s.evictLocked(true)
	return err
}

func (s *Store) flushLoop() {
	defer close(s.loopDone)
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		select {
		case <-s.quit:
			return
		case <-t.C:
			s.flushMu.Lock()
			// A failure is logged by flushLocked; the items stay dirty for the next tick.
			_ = s.flushLocked(context.Background(), nil)
			s.ticks++
			s.evictLocked(s.ticks%sweepEvery == 0)
			s.flushMu.Unlock()
		}
	}
}

// Close stops the background flusher, refuses further writes to tiered keys and flushes
// every dirty item. It may be called again to retry a failed final flush. It does not
// close the back store.
func (s *Store) Close(ctx context.Context) error {
	s.closeMu.Lock()
	first := !s.closed
	s.closed = true
	s.closeMu.Unlock()
	if first {
		close(s.quit)
		if s.loopDone != nil {
			<-s.loopDone
		}
	}
	return s.Flush(ctx)
}

var _ store.Scanner = (*Store)(nil)

// Partitions implements store.Scanner when the back store does: dirty items are written
// back first, so the back store lists every partition.
func (s *Store) Partitions(ctx context.Context, prefix string) ([]string, error) {
	sc, ok := s.back.(store.Scanner)
	if !ok {
		return nil, errors.New("tiered: the back store cannot list partitions")
	}
	if err := s.Flush(ctx); err != nil {
		return nil, err
	}
	return sc.Partitions(ctx, prefix)
}
