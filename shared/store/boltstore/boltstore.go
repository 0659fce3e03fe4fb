// Package boltstore is the embedded adapter of the store port, on a single bbolt file: the
// local platform's default persistence. All items live in one bucket under keys that keep
// a partition's items contiguous and ordered by sort key, so a Query is one cursor scan.
// Writes are serialised by bbolt's single writer, which makes conditional writes, bounded
// Adds and transactions atomic. Expired items are filtered on every read and replaced on
// write; Sweep removes them physically.
package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/plinth-ai/plinth/shared/store"
	"github.com/plinth-ai/plinth/shared/store/internal/itemrules"
)

var _ store.Store = (*Store)(nil)

var bucketName = []byte("items")

// Option configures Open.
type Option func(*options)

type options struct {
	now     func() time.Time
	noSync  bool
	timeout time.Duration
	sweep   time.Duration
}

// WithClock sets the clock used to decide expiry (default time.Now).
func WithClock(now func() time.Time) Option {
	return func(o *options) {
		if now != nil {
			o.now = now
		}
	}
}

// WithNoSync skips the fsync after each commit: much faster writes, but a machine crash
// may lose the latest commits (a process crash does not). For tests and scratch data.
func WithNoSync() Option { return func(o *options) { o.noSync = true } }

// WithSweepInterval runs Sweep every d in the background until Close, so expired items
// (old quota windows, cache entries) do not accumulate in the file. Off by default.
func WithSweepInterval(d time.Duration) Option { return func(o *options) { o.sweep = d } }

// WithLockTimeout bounds how long Open waits for another process to release the file
// (default 5s; bbolt allows one process per file).
func WithLockTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// Store is a store.Store backed by a bbolt file.
type Store struct {
	db  *bolt.DB
	now func() time.Time

	// Writes wait in queue; the writer that finds no commit in flight leads: it commits
	// the queue itself, and hands the lead to the oldest write still waiting (see update).
	mu      sync.Mutex
	queue   []*writeReq
	leading bool
	closed  bool
	idle    *sync.Cond // signalled when a leader stops leading

	quit      chan struct{}
	sweepDone chan struct{} // nil without a background sweeper
}

func (s *Store) sweepLoop(every time.Duration) {
	defer close(s.sweepDone)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.quit:
			return
		case <-t.C:
			// A failed sweep only delays reclaiming space; the next tick tries again.
			_, _ = s.Sweep(context.Background())
		}
	}
}

// Open opens (creating if needed) the store file at path.
func Open(path string, opts ...Option) (*Store, error) {
	o := options{now: time.Now, timeout: 5 * time.Second}
	for _, opt := range opts {
		opt(&o)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: o.timeout, NoSync: o.noSync, NoFreelistSync: true, FreelistType: bolt.FreelistMapType})
	if err != nil {
		return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketName)
		return err
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("boltstore: init %s: %w", path, err)
	}
	s := &Store{db: db, now: o.now, quit: make(chan struct{})}
	s.idle = sync.NewCond(&s.mu)
	if o.sweep > 0 {
		s.sweepDone = make(chan struct{})
		go s.sweepLoop(o.sweep)
	}
	return s, nil
}

// Close waits for pending writes and releases the file. Calls after Close fail.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errClosed
	}
	s.closed = true
	s.mu.Unlock()
	// No write can be enqueued any more; let the sweeper and the writers in flight finish.
	close(s.quit)
	if s.sweepDone != nil {
		<-s.sweepDone
	}
	s.mu.Lock()
	for s.leading {
		s.idle.Wait()
	}
	s.mu.Unlock()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("boltstore: close: %w", err)
	}
	return nil
}

// live returns the unexpired item with key in tx, or nil.
func live(b *bolt.Bucket, key store.Key, now time.Time) (*store.Item, error) {
	raw := b.Get(encodeKey(key))
	if raw == nil || recordExpired(raw, now.UnixNano()) {
		return nil, nil
	}
	it, err := decodeRecord(key, raw)
	if err != nil {
		return nil, fmt.Errorf("%w: key %s/%s", err, key.PK, key.SK)
	}
	return &it, nil
}

func putRecord(b *bolt.Bucket, it store.Item) error {
	return b.Put(encodeKey(it.Key), encodeRecord(it))
}

// writeReq is one write waiting for the group committer.
type writeReq struct {
	fn   func(b *bolt.Bucket, now time.Time) error
	err  error
	done chan error
}

// logicalError is a write's own refusal (a failed condition, an invalid request): the
// write changed nothing, so the other writes of its group commit stand.
type logicalError struct{ err error }

func (e logicalError) Error() string { return e.err.Error() }
func (e logicalError) Unwrap() error { return e.err }

func logical(err error) error {
	if err == nil {
		return nil
	}
	return logicalError{err}
}

// maxGroup caps how many writes share one commit.
const maxGroup = 256

// update runs fn in a write transaction and returns its error. Writes arriving while a
// commit is in flight are grouped into the next transaction, so concurrent writers share
// one fsync; each write still sees every write before it. fn must return a
// logicalError (and have written nothing) when it refuses, and any other error only for
// failures of the database itself.
func (s *Store) update(ctx context.Context, fn func(b *bolt.Bucket, now time.Time) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	req := &writeReq{fn: fn, done: make(chan error, 1)}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errClosed
	}
	s.queue = append(s.queue, req)
	lead := !s.leading
	s.leading = true
	s.mu.Unlock()
	if lead {
		s.lead()
	}
	for {
		err := <-req.done
		if err == errLead {
			s.lead()
			continue
		}
		var le logicalError
		if errors.As(err, &le) {
			return le.err
		}
		return err
	}
}

var (
	errClosed = errors.New("boltstore: store is closed")
	// errLead tells a waiting writer that it now leads (never returned to callers).
	errLead = errors.New("boltstore: lead the next commit")
	// errPanicked answers the writes of a commit that a panicking write cut short.
	errPanicked = errors.New("boltstore: a write in the same commit panicked; nothing was written")
)

// lead commits the writes waiting (up to maxGroup, oldest first) and answers each; then
// it hands the lead to the oldest write still waiting, or gives it up. Writes arriving
// during a commit join the next one, so concurrent writers share commits, while a lone
// writer commits on its own goroutine without waking another.
func (s *Store) lead() {
	s.mu.Lock()
	n := min(len(s.queue), maxGroup)
	batch := make([]*writeReq, n)
	copy(batch, s.queue)
	s.queue = append(s.queue[:0], s.queue[n:]...)
	s.mu.Unlock()
	defer func() {
		if p := recover(); p != nil {
			// A write panicked (bolt rolled its transaction back): every write of the
			// batch not answered yet fails, and the lead still moves on, so the store
			// keeps working for a caller that recovers.
			for _, r := range batch {
				select {
				case r.done <- errPanicked:
				default:
				}
			}
			defer panic(p)
		}
		s.mu.Lock()
		if len(s.queue) > 0 {
			s.queue[0].done <- errLead // not answered yet, so its buffer is free
		} else {
			s.leading = false
			s.idle.Broadcast()
		}
		s.mu.Unlock()
	}()
	s.commit(batch)
}

func (s *Store) commit(batch []*writeReq) {
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketName)
		now := s.now()
		for _, r := range batch {
			r.err = r.fn(b, now)
			var le logicalError
			if r.err != nil && !errors.As(r.err, &le) {
				return r.err
			}
		}
		return nil
	})
	if err != nil && len(batch) > 1 {
		// One write failed in the database: run each alone so the others still commit.
		for _, r := range batch {
			s.commit([]*writeReq{r})
		}
		return
	}
	for _, r := range batch {
		if err != nil {
			r.done <- err
		} else {
			r.done <- r.err
		}
	}
}

// Get returns the live item with the key, or store.ErrNotFound.
func (s *Store) Get(ctx context.Context, key store.Key) (store.Item, error) {
	if err := ctx.Err(); err != nil {
		return store.Item{}, err
	}
	var out *store.Item
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		out, err = live(tx.Bucket(bucketName), key, s.now())
		return err
	})
	if err != nil {
		return store.Item{}, fmt.Errorf("boltstore: get %s/%s: %w", key.PK, key.SK, err)
	}
	if out == nil {
		return store.Item{}, fmt.Errorf("boltstore: get %s/%s: %w", key.PK, key.SK, store.ErrNotFound)
	}
	return *out, nil
}

// Put writes the item if opts' condition holds and returns its new version.
func (s *Store) Put(ctx context.Context, item store.Item, opts store.WriteOptions) (int64, error) {
	var ver int64
	err := s.update(ctx, func(b *bolt.Bucket, now time.Time) error {
		cur, err := live(b, item.Key, now)
		if err != nil {
			return err
		}
		next, err := itemrules.ApplyPut(cur, item, opts)
		if err != nil {
			return logical(err)
		}
		ver = next.Version
		return putRecord(b, next)
	})
	if err != nil {
		return 0, fmt.Errorf("boltstore: put %s/%s: %w", item.PK, item.SK, err)
	}
	return ver, nil
}

// Delete removes the item if opts' condition holds.
func (s *Store) Delete(ctx context.Context, key store.Key, opts store.WriteOptions) error {
	err := s.update(ctx, func(b *bolt.Bucket, now time.Time) error {
		if opts.Cond != store.Always {
			cur, err := live(b, key, now)
			if err != nil {
				return err
			}
			if err := itemrules.CheckCond(cur, opts); err != nil {
				return logical(err)
			}
		}
		return b.Delete(encodeKey(key))
	})
	if err != nil {
		return fmt.Errorf("boltstore: delete %s/%s: %w", key.PK, key.SK, err)
	}
	return nil
}

// Add atomically applies deltas and returns the item after the change.
func (s *Store) Add(ctx context.Context, key store.Key, deltas []store.Delta, opts store.AddOptions) (store.Item, error) {
	var out store.Item
	err := s.update(ctx, func(b *bolt.Bucket, now time.Time) error {
		// Decode only the counters the Add changes, and carry the others over as encoded
		// (see Transact); the item returned is decoded from the record written.
		ek := encodeKey(key)
		var cur *store.Item
		raw := b.Get(ek)
		if raw != nil && !recordExpired(raw, now.UnixNano()) {
			it, err := decodeHeader(key, raw, deltas)
			if err != nil {
				return fmt.Errorf("%w: key %s/%s", err, key.PK, key.SK)
			}
			cur = &it
		}
		next, err := itemrules.ApplyAddInPlace(key, cur, deltas, opts)
		if err != nil {
			return logical(err)
		}
		rec := encodeRecord(next)
		if cur != nil {
			if rec, err = encodeMerged(next, raw); err != nil {
				return err
			}
		}
		if out, err = decodeRecord(key, rec); err != nil {
			return err
		}
		return b.Put(ek, rec)
	})
	if err != nil {
		return store.Item{}, fmt.Errorf("boltstore: add %s/%s: %w", key.PK, key.SK, err)
	}
	return out, nil
}

// Query returns live items of partition pk selected by opts, in SK order.
func (s *Store) Query(ctx context.Context, pk string, opts store.QueryOptions) ([]store.Item, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := []store.Item{}
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketName).Cursor()
		pp := partitionPrefix(pk)
		r := itemrules.SKRange{O: opts}
		now := s.now().UnixNano()
		var k, v []byte
		next := c.Next
		if opts.Desc {
			next = c.Prev
			seek := append(append([]byte(nil), pp...), r.End()...)
			if r.End() == "" {
				seek = []byte(itemrules.PrefixEnd(string(pp)))
			}
			if len(seek) == 0 {
				k, v = c.Last()
			} else if k, _ = c.Seek(seek); k == nil {
				k, v = c.Last()
			} else {
				k, v = c.Prev()
			}
		} else {
			k, v = c.Seek(append(pp, r.Start()...))
		}
		for ; k != nil && bytes.HasPrefix(k, pp); k, v = next() {
			sk := string(k[len(pp):])
			if r.Past(sk) {
				break
			}
			if !r.Match(sk) || recordExpired(v, now) {
				continue
			}
			it, err := decodeRecord(store.Key{PK: pk, SK: sk}, v)
			if err != nil {
				return fmt.Errorf("%w: key %s/%s", err, pk, sk)
			}
			out = append(out, it)
			if opts.Limit > 0 && len(out) >= opts.Limit {
				break
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("boltstore: query %s: %w", pk, err)
	}
	return out, nil
}

// opView is what a transaction's operation reads of its key's live record.
type opView struct {
	key  store.Key
	ek   []byte      // the encoded key
	cur  *store.Item // nil when no live item has the key
	raw  []byte      // the live record, valid within the transaction
	add  bool
	item store.Item
}

// Transact applies ops atomically or not at all.
//
// Each operation decodes only what its rules read (transactions run on every gateway
// request, and a quota day item holds a counter per minute of the day): the live
// record's version, expiry and data, and of its counters only those an Add changes. An
// Add's write carries the record's other counters over as encoded.
func (s *Store) Transact(ctx context.Context, ops []store.Op) error {
	err := s.update(ctx, func(b *bolt.Bucket, now time.Time) error {
		var small [8]opView
		views := small[:0]
		if len(ops) > len(small) {
			views = make([]opView, 0, len(ops))
		}
		nowNS := now.UnixNano()
		for _, op := range ops {
			v := opView{key: itemrules.OpKey(op), add: op.Kind == store.OpAdd}
			v.ek = encodeKey(v.key)
			if raw := b.Get(v.ek); raw != nil && !recordExpired(raw, nowNS) {
				var names []store.Delta
				if v.add {
					names = op.Deltas
				}
				it, err := decodeHeader(v.key, raw, names)
				if err != nil {
					return fmt.Errorf("%w: key %s/%s", err, v.key.PK, v.key.SK)
				}
				v.item, v.raw = it, raw
			}
			views = append(views, v)
		}
		for i := range views {
			if views[i].raw != nil {
				views[i].cur = &views[i].item
			}
		}
		var byKey map[store.Key]*opView
		if len(views) > 16 {
			byKey = make(map[store.Key]*opView, len(views))
			for i := range views {
				byKey[views[i].key] = &views[i]
			}
		}
		view := func(k store.Key) *opView {
			if byKey != nil {
				return byKey[k]
			}
			for i := range views {
				if views[i].key == k {
					return &views[i]
				}
			}
			return nil
		}
		// The items viewed were decoded for this call and the writes are encoded below.
		writes, err := itemrules.PlanTransactOwned(ops, func(k store.Key) *store.Item { return view(k).cur })
		if err != nil {
			return logical(err)
		}
		for _, w := range writes {
			v := view(w.Key)
			switch {
			case w.Item == nil:
				err = b.Delete(v.ek)
			case v.add && v.raw != nil:
				var rec []byte
				if rec, err = encodeMerged(*w.Item, v.raw); err == nil {
					err = b.Put(v.ek, rec)
				}
			default:
				err = b.Put(v.ek, encodeRecord(*w.Item))
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("boltstore: transact: %w", err)
	}
	return nil
}

// Sweep deletes every item expired at the store's clock and reports how many it removed.
// Reads never return expired items, so sweeping only reclaims space.
func (s *Store) Sweep(ctx context.Context) (int, error) {
	n := 0
	err := s.update(ctx, func(b *bolt.Bucket, now time.Time) error {
		c := b.Cursor()
		for k, v := c.First(); k != nil; {
			if recordExpired(v, now.UnixNano()) {
				k = append([]byte(nil), k...)
				if err := c.Delete(); err != nil {
					return err
				}
				n++
				k, v = c.Seek(k)
				continue
			}
			k, v = c.Next()
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("boltstore: sweep: %w", err)
	}
	return n, nil
}

var _ store.Scanner = (*Store)(nil)

// Partitions implements store.Scanner: one pass over every key.
func (s *Store) Partitions(ctx context.Context, prefix string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []string
	now := s.now().UnixNano()
	err := s.db.View(func(tx *bolt.Tx) error {
		last := ""
		return tx.Bucket(bucketName).ForEach(func(k, v []byte) error {
			n, w := binary.Uvarint(k)
			if w <= 0 || uint64(len(k)-w) < n {
				return fmt.Errorf("%w: key", errCorrupt)
			}
			pk := string(k[w : w+int(n)])
			if pk == last || !strings.HasPrefix(pk, prefix) || recordExpired(v, now) {
				return nil
			}
			last = pk
			out = append(out, pk)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("boltstore: partitions: %w", err)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}
