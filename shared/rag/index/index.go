// Package index is Plinth's embedded hybrid search index: an Okapi BM25 inverted index and
// int8-quantised dense vectors per tenant and knowledge base, persisted as immutable segment
// files in the blob store and served from memory.
//
// Layout in the blob store, under indexes/{tenant}/{kb}/:
//
//	segments/{id}.seg         immutable segments, written once with If-None-Match
//	manifest/{version}.json   the list of live segments and tombstones, one file per version
//
// A writer uploads its segment first and then the next manifest version with If-None-Match,
// so a manifest only ever names complete segments and two writers can never both win the
// same version (the loser re-reads the newest manifest and retries). Readers take the highest
// manifest version. Replacing or deleting a document writes a tombstone: rows of that
// document in segments older than the tombstone are dead. Segments of similar size are merged
// (tiered compaction) once MergeFactor of them accumulate, dropping dead rows.
//
// Search is exhaustive over the live rows: BM25 with collection statistics across segments
// (Lucene's IDF), and int8 dot products for vectors (cosine for normalised embeddings), split
// across cores for large segments. Hybrid search fuses both rankings (see Fusion).
package index

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/plinth-ai/plinth/shared/blob"
	"github.com/plinth-ai/plinth/shared/idpattern"
)

// Sentinel errors.
var (
	// ErrDimension means a vector's length differs from the index's dimension.
	ErrDimension = errors.New("index: vector dimension mismatch")
	// ErrInvalidName means a tenant or knowledge-base ID cannot name an index.
	ErrInvalidName = errors.New("index: invalid tenant or knowledge base ID")
	// ErrInvalidQuery means a query is out of range.
	ErrInvalidQuery = errors.New("index: invalid query")
	// ErrConflict means concurrent writers kept winning the manifest race.
	ErrConflict = errors.New("index: too many concurrent manifest updates")
)

// Defaults, chosen on SciFact (train queries, 5,183 abstracts; see test/cmd/benchrag):
//   - BM25 k1=1.2, b=0.75 (Lucene's defaults): nDCG@10 0.699 against 0.696 for Anserini's
//     k1=0.9, b=0.4; the difference is noise, and Lucene's values generalise across corpora.
//   - Hybrid fusion: convex combination of min-max normalised scores (Bruch et al., "An
//     Analysis of Fusion Functions for Hybrid Retrieval", 2023) with lexical weight 0.8:
//     0.699, where reciprocal-rank fusion scored 0.643 and weights 0.5/0.6/0.7/0.9 scored
//     0.666/0.687/0.696/0.701 (0.9 was not taken: the margin is noise and a heavier
//     lexical weight makes the dense half nearly irrelevant). RRF discards score gaps, so
//     a weaker ranking (the built-in local-embed is a lexical hashing embedder, 0.544
//     alone) drags a strong one down; convex fusion keeps BM25's confidence. A platform whose knowledge bases embed with a
//     neural model should lower the weight towards 0.5 (WithFusion).
const (
	DefaultK1          = 1.2
	DefaultB           = 0.75
	DefaultFusion      = FusionConvex
	DefaultLexWeight   = 0.8
	DefaultMergeFactor = 8
	DefaultTopK        = 10
	MaxTopK            = 100
	// candidates is how deep each ranking goes before hybrid fusion.
	candidates = 100
)

var validName = idpattern.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// Option configures a Manager.
type Option func(*options)

type options struct {
	cacheDir    string
	cacheDirFor func(tenant string) string
	refresh     time.Duration
	k1, b       float64
	fusion      Fusion
	lexWeight   float64
	mergeFactor int
	grace       int64
	maxOpen     int
	vectors     VectorStore
	now         func() time.Time
}

// WithCacheDir keeps downloaded segment files in dir (e.g. /tmp in Lambda), so a restarted
// reader loads from local disk. Segments are immutable, so the cache never goes stale.
func WithCacheDir(dir string) Option { return func(o *options) { o.cacheDir = dir } }

// WithTenantCacheDir picks the cache directory of each tenant's segments instead of
// WithCacheDir's; "" keeps a tenant's segments in memory only (a tenant whose data must
// not leave its own, encrypted, cell).
func WithTenantCacheDir(dir func(tenant string) string) Option {
	return func(o *options) { o.cacheDirFor = dir }
}

// WithRefreshInterval sets how often a search checks the blob store for a newer manifest
// written by another process (default 2s, checked in the background while the search is
// served from the current snapshot; 0 checks synchronously on every search; negative never).
func WithRefreshInterval(d time.Duration) Option { return func(o *options) { o.refresh = d } }

// WithBM25 sets BM25's k1 and b.
func WithBM25(k1, b float64) Option { return func(o *options) { o.k1, o.b = k1, b } }

// WithFusion sets the hybrid fusion and, for FusionConvex, the lexical weight in [0,1].
func WithFusion(f Fusion, lexWeight float64) Option {
	return func(o *options) { o.fusion, o.lexWeight = f, lexWeight }
}

// WithMergeFactor sets how many segments of one size tier trigger a merge (min 2).
func WithMergeFactor(n int) Option { return func(o *options) { o.mergeFactor = max(n, 2) } }

// WithGarbageGrace sets how many manifest versions a merged-away segment (and an old
// manifest) outlives before it is deleted, so readers still loading an older manifest find
// its files (default 16).
func WithGarbageGrace(versions int) Option {
	return func(o *options) { o.grace = int64(max(versions, 0)) }
}

// WithMaxOpen keeps at most n indexes in memory, dropping the least recently opened one
// beyond that (0 = no limit). A dropped index is reloaded (from the cache directory when
// set) on its next Open; holders of the dropped *Index may keep using it.
func WithMaxOpen(n int) Option { return func(o *options) { o.maxOpen = max(n, 0) } }

// WithVectorStore keeps vectors in an external store (e.g. Amazon S3 Vectors) instead of the
// segments; text, metadata and BM25 stay in the segments.
func WithVectorStore(vs VectorStore) Option { return func(o *options) { o.vectors = vs } }

// VectorStore is the port for an external dense-vector backend. Namespaces isolate
// tenants and knowledge bases; keys are chunk IDs.
type VectorStore interface {
	PutVectors(ctx context.Context, ns Namespace, vecs []Vector) error
	DeleteVectors(ctx context.Context, ns Namespace, keys []string) error
	QueryVectors(ctx context.Context, ns Namespace, vec []float32, topK int, filter *Filter) ([]VectorMatch, error)
	// DropNamespace deletes every vector of the namespace (a missing one is not an error).
	DropNamespace(ctx context.Context, ns Namespace) error
}

// Namespace names one tenant's knowledge base.
type Namespace struct{ Tenant, KB string }

// Vector is one stored embedding with the metadata filters need.
type Vector struct {
	Key      string
	Data     []float32
	Metadata map[string]any
}

// VectorMatch is one nearest neighbour, Score higher is closer.
type VectorMatch struct {
	Key   string
	Score float64
}

// Manager opens indexes and keeps them in memory, one per tenant and knowledge base.
type Manager struct {
	blob  blob.Store
	opts  options
	mu    sync.Mutex
	open  map[string]*Index
	used  map[string]int64
	clock int64
}

// NewManager returns a Manager over a blob store.
func NewManager(b blob.Store, opts ...Option) *Manager {
	if b == nil {
		panic("index: NewManager needs a blob store")
	}
	o := options{refresh: 2 * time.Second, k1: DefaultK1, b: DefaultB, fusion: DefaultFusion, lexWeight: DefaultLexWeight, mergeFactor: DefaultMergeFactor, grace: 16, now: time.Now}
	for _, f := range opts {
		f(&o)
	}
	return &Manager{blob: b, opts: o, open: map[string]*Index{}, used: map[string]int64{}}
}

// Prefix returns the blob prefix of a knowledge base's index.
func Prefix(tenant, kb string) string { return "indexes/" + tenant + "/" + kb + "/" }

// Open returns the index of one tenant's knowledge base, loading it from the blob store on
// first use (an index with no manifest yet is empty).
func (m *Manager) Open(ctx context.Context, tenant, kb string) (*Index, error) {
	if !validName.MatchString(tenant) || !validName.MatchString(kb) {
		return nil, fmt.Errorf("%w: %q/%q", ErrInvalidName, tenant, kb)
	}
	id := tenant + "/" + kb
	m.mu.Lock()
	ix, ok := m.open[id]
	if !ok {
		ix = &Index{m: m, ns: Namespace{tenant, kb}, prefix: Prefix(tenant, kb), loaded: map[string]*segment{}}
		m.open[id] = ix
	}
	m.clock++
	m.used[id] = m.clock
	if m.opts.maxOpen > 0 {
		for len(m.open) > m.opts.maxOpen {
			oldest, at := "", int64(math.MaxInt64)
			for k, u := range m.used {
				if u < at && k != id {
					oldest, at = k, u
				}
			}
			delete(m.open, oldest)
			delete(m.used, oldest)
		}
	}
	m.mu.Unlock()
	if err := ix.ensureLoaded(ctx); err != nil {
		return nil, err
	}
	return ix, nil
}

// Drop deletes a knowledge base's whole index from the blob store, the external vector
// store, memory and the local segment cache.
func (m *Manager) Drop(ctx context.Context, tenant, kb string) error {
	if !validName.MatchString(tenant) || !validName.MatchString(kb) {
		return fmt.Errorf("%w: %q/%q", ErrInvalidName, tenant, kb)
	}
	if m.opts.vectors != nil {
		if err := m.opts.vectors.DropNamespace(ctx, Namespace{tenant, kb}); err != nil {
			return fmt.Errorf("drop vectors of %s/%s: %w", tenant, kb, err)
		}
	}
	m.mu.Lock()
	delete(m.open, tenant+"/"+kb)
	delete(m.used, tenant+"/"+kb)
	m.mu.Unlock()
	objs, err := m.blob.List(ctx, Prefix(tenant, kb))
	if err != nil {
		return fmt.Errorf("drop index %s/%s: %w", tenant, kb, err)
	}
	for _, o := range objs {
		if err := m.blob.Delete(ctx, o.Key); err != nil {
			return fmt.Errorf("drop index %s/%s: %w", tenant, kb, err)
		}
	}
	return m.dropCache(tenant, kb)
}

// manifest is the persisted list of live segments.
type manifest struct {
	Version    int64            `json:"version"`
	NextSeq    int64            `json:"next_seq"`
	Dim        int              `json:"dim,omitempty"`
	Segments   []segmentRef     `json:"segments"`
	Tombstones map[string]int64 `json:"tombstones,omitempty"`
	// Garbage lists merged-away segments with the version that dropped them.
	Garbage []garbageRef `json:"garbage,omitempty"`
}

type garbageRef struct {
	Key     string `json:"key"`
	Version int64  `json:"version"`
}

type segmentRef struct {
	Key  string `json:"key"`
	Seq  int64  `json:"seq"`
	Rows int    `json:"rows"`
}

func (m manifest) clone() manifest {
	c := m
	c.Segments = append([]segmentRef(nil), m.Segments...)
	c.Garbage = append([]garbageRef(nil), m.Garbage...)
	c.Tombstones = make(map[string]int64, len(m.Tombstones))
	for k, v := range m.Tombstones {
		c.Tombstones[k] = v
	}
	return c
}

// view is an immutable snapshot searched without locks.
type view struct {
	man  manifest
	segs []liveSegment
	dim  int
	rows int // rows in all segments, dead included (BM25 statistics)
	docs int // live rows
	keys map[string]key
}

type liveSegment struct {
	ref  segmentRef
	seg  *segment
	dead bitset
}

// Index is one tenant's knowledge-base index. It is safe for concurrent use: searches run
// on immutable snapshots while one writer at a time commits.
type Index struct {
	m      *Manager
	ns     Namespace
	prefix string

	wmu       sync.Mutex // serialises writers and loads
	qmu       sync.Mutex // guards queue
	queue     []*pendingUpsert
	loaded    map[string]*segment
	cur       atomic.Pointer[view]
	lastCheck atomic.Int64
}

// Stats describes an index's current snapshot.
type Stats struct {
	Version  int64
	Segments int
	Rows     int
	LiveRows int
	Dim      int
}

// Stats returns the current snapshot's size.
func (ix *Index) Stats() Stats {
	v := ix.cur.Load()
	return Stats{Version: v.man.Version, Segments: len(v.segs), Rows: v.rows, LiveRows: v.docs, Dim: v.dim}
}

func (ix *Index) ensureLoaded(ctx context.Context) error {
	if ix.cur.Load() != nil {
		return nil
	}
	ix.wmu.Lock()
	defer ix.wmu.Unlock()
	if ix.cur.Load() != nil {
		return nil
	}
	return ix.refreshLocked(ctx)
}

// Refresh loads the newest manifest written by any process.
func (ix *Index) Refresh(ctx context.Context) error {
	ix.wmu.Lock()
	defer ix.wmu.Unlock()
	return ix.refreshLocked(ctx)
}

func (ix *Index) maybeRefresh(ctx context.Context) error {
	every := ix.m.opts.refresh
	if every < 0 {
		return nil
	}
	now := ix.m.opts.now().UnixNano()
	if every > 0 && now-ix.lastCheck.Load() < int64(every) {
		return nil
	}
	if !ix.wmu.TryLock() {
		return nil // a writer or another refresh is at work; it installs the newest snapshot
	}
	if every == 0 {
		defer ix.wmu.Unlock()
		return ix.refreshLocked(ctx)
	}
	// Periodic checks run in the background: the search that notices serves the current
	// snapshot instead of waiting for the blob store.
	ix.lastCheck.Store(now)
	go func() {
		defer ix.wmu.Unlock()
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		_ = ix.refreshLocked(rctx) // a failed check is retried after the next interval
	}()
	return nil
}

func (ix *Index) manifestKey(v int64) string {
	return fmt.Sprintf("%smanifest/%016d.json", ix.prefix, v)
}

// newestVersion returns the highest manifest version present (0 when none).
func (ix *Index) newestVersion(ctx context.Context) (int64, error) {
	objs, err := ix.m.blob.List(ctx, ix.prefix+"manifest/")
	if err != nil {
		return 0, fmt.Errorf("list manifests of %s: %w", ix.prefix, err)
	}
	var newest int64
	for _, o := range objs {
		name := strings.TrimSuffix(o.Key[strings.LastIndexByte(o.Key, '/')+1:], ".json")
		if v, err := strconv.ParseInt(name, 10, 64); err == nil && v > newest {
			newest = v
		}
	}
	return newest, nil
}

// latestManifest reads the highest manifest version (an empty manifest when none).
func (ix *Index) latestManifest(ctx context.Context) (manifest, error) {
	objs, err := ix.m.blob.List(ctx, ix.prefix+"manifest/")
	if err != nil {
		return manifest{}, fmt.Errorf("list manifests of %s: %w", ix.prefix, err)
	}
	for i := len(objs) - 1; i >= 0; i-- {
		if !strings.HasSuffix(objs[i].Key, ".json") {
			continue
		}
		rc, _, err := ix.m.blob.Get(ctx, objs[i].Key)
		if errors.Is(err, blob.ErrNotFound) {
			continue // garbage-collected between List and Get
		}
		if err != nil {
			return manifest{}, fmt.Errorf("read manifest %s: %w", objs[i].Key, err)
		}
		var man manifest
		err = json.NewDecoder(rc).Decode(&man)
		rc.Close()
		if err != nil {
			return manifest{}, fmt.Errorf("decode manifest %s: %w", objs[i].Key, err)
		}
		return man, nil
	}
	return manifest{NextSeq: 1}, nil
}

func (ix *Index) refreshLocked(ctx context.Context) error {
	ix.lastCheck.Store(ix.m.opts.now().UnixNano())
	var lastErr error
	for attempt := 0; attempt < 10; attempt++ {
		man, err := ix.latestManifest(ctx)
		if err != nil {
			return err
		}
		if cur := ix.cur.Load(); cur != nil && cur.man.Version >= man.Version {
			return nil
		}
		v, err := ix.buildView(ctx, man)
		if errors.Is(err, blob.ErrNotFound) {
			lastErr = err // a merge removed a segment after we read the manifest: read again
			continue
		}
		if err != nil {
			return err
		}
		ix.cur.Store(v)
		return nil
	}
	return fmt.Errorf("load index %s: %w", ix.prefix, lastErr)
}

// buildView loads any segment not yet in memory and computes dead rows.
func (ix *Index) buildView(ctx context.Context, man manifest) (*view, error) {
	v := &view{man: man, dim: man.Dim}
	keep := map[string]*segment{}
	for _, ref := range man.Segments {
		s, ok := ix.loaded[ref.Key]
		if !ok {
			var err error
			if s, err = ix.loadSegment(ctx, ref.Key); err != nil {
				return nil, err
			}
		}
		keep[ref.Key] = s
		ls := liveSegment{ref: ref, seg: s}
		for doc, rows := range s.docRows {
			if t, ok := man.Tombstones[doc]; ok && t > ref.Seq {
				if ls.dead == nil {
					ls.dead = newBitset(len(s.recs))
				}
				for _, r := range rows {
					ls.dead.set(r)
				}
			}
		}
		v.segs = append(v.segs, ls)
		v.rows += len(s.recs)
		for i := range s.recs {
			if !ls.dead.has(uint32(i)) {
				v.docs++
			}
		}
	}
	if ix.m.opts.vectors != nil {
		v.keys = map[string]key{}
		for si, ls := range v.segs {
			for i := range ls.seg.recs {
				if !ls.dead.has(uint32(i)) {
					v.keys[ls.seg.recs[i].ChunkID] = key{si, i}
				}
			}
		}
	}
	for k := range ix.loaded {
		if _, ok := keep[k]; !ok {
			// A merge replaced the segment: its cached copy will not be read again.
			if p := ix.cachePath(k); p != "" {
				_ = os.Remove(p)
			}
		}
	}
	ix.loaded = keep
	return v, nil
}

// cachePath is where segment k is cached on local disk: the blob key's path under the
// cache directory, so a knowledge base's segments share one directory ("" without a
// cache directory).
func (ix *Index) cachePath(k string) string { return ix.m.cachePath(k) }

func (m *Manager) cachePath(k string) string {
	dir := m.cacheDirOf(keyTenant(k))
	if dir == "" {
		return ""
	}
	return filepath.Join(dir, filepath.FromSlash(k))
}

// cacheDirOf is the cache directory of the tenant's segments ("" for none).
func (m *Manager) cacheDirOf(tenant string) string {
	if m.opts.cacheDirFor != nil {
		return m.opts.cacheDirFor(tenant)
	}
	return m.opts.cacheDir
}

// keyTenant is the tenant of a key under Prefix ("indexes/<tenant>/...").
func keyTenant(k string) string {
	rest, ok := strings.CutPrefix(k, "indexes/")
	if !ok {
		return ""
	}
	t, _, _ := strings.Cut(rest, "/")
	return t
}

// dropCache removes a knowledge base's cached segments, and those an earlier cache layout
// kept flat in the cache directory (<prefix with / as _>*).
func (m *Manager) dropCache(tenant, kb string) error {
	dir := m.cacheDirOf(tenant)
	if dir == "" {
		return nil
	}
	prefix := Prefix(tenant, kb)
	if err := os.RemoveAll(m.cachePath(prefix)); err != nil {
		return fmt.Errorf("drop cached segments of %s/%s: %w", tenant, kb, err)
	}
	flat, err := filepath.Glob(filepath.Join(dir, strings.ReplaceAll(prefix, "/", "_")+"*"))
	if err != nil {
		return err
	}
	for _, f := range flat {
		if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("drop cached segment %s: %w", filepath.Base(f), err)
		}
	}
	return nil
}

func (ix *Index) loadSegment(ctx context.Context, k string) (*segment, error) {
	if p := ix.cachePath(k); p != "" {
		if data, err := os.ReadFile(p); err == nil {
			if s, err := decodeSegment(data); err == nil {
				return s, nil
			}
			_ = os.Remove(p) // a damaged cache file is refetched
		}
	}
	rc, _, err := ix.m.blob.Get(ctx, k)
	if err != nil {
		return nil, fmt.Errorf("read segment %s: %w", k, err)
	}
	data, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return nil, fmt.Errorf("read segment %s: %w", k, err)
	}
	s, err := decodeSegment(data)
	if err != nil {
		return nil, fmt.Errorf("segment %s: %w", k, err)
	}
	ix.writeCache(k, data)
	return s, nil
}

func (ix *Index) writeCache(k string, data []byte) {
	p := ix.cachePath(k)
	if p == "" {
		return
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return
	}
	tmp := p + ".tmp" + randomID()
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return
	}
	if err := os.Rename(tmp, p); err != nil {
		_ = os.Remove(tmp)
	}
}

func randomID() string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// writeSegment uploads a new immutable segment and returns its key.
func (ix *Index) writeSegment(ctx context.Context, s *segment) (string, error) {
	var buf bytes.Buffer
	if err := s.encode(&buf); err != nil {
		return "", err
	}
	k := ix.prefix + "segments/" + strconv.FormatInt(ix.m.opts.now().UnixNano(), 36) + "-" + randomID() + ".seg"
	if _, err := ix.m.blob.Put(ctx, k, bytes.NewReader(buf.Bytes()), blob.PutOptions{ContentType: "application/octet-stream", IfNoneMatch: true}); err != nil {
		return "", fmt.Errorf("write segment %s: %w", k, err)
	}
	ix.writeCache(k, buf.Bytes())
	return k, nil
}

// commit applies change to the newest manifest and writes it as the next version, retrying
// on a lost race. change may be called more than once.
func (ix *Index) commit(ctx context.Context, newSegs map[string]*segment, change func(m *manifest, v *view) error) error {
	var lastErr error
	for attempt := 0; attempt < 20; attempt++ {
		v := ix.cur.Load()
		man := v.man.clone()
		if man.NextSeq == 0 {
			man.NextSeq = 1
		}
		if err := change(&man, v); err != nil {
			return err
		}
		man.Version++
		body, err := json.Marshal(man)
		if err != nil {
			return fmt.Errorf("encode manifest: %w", err)
		}
		_, err = ix.m.blob.Put(ctx, ix.manifestKey(man.Version), bytes.NewReader(body), blob.PutOptions{ContentType: "application/json", IfNoneMatch: true})
		if err != nil {
			if !errors.Is(err, blob.ErrPreconditionFailed) {
				lastErr = fmt.Errorf("write manifest %d of %s: %w", man.Version, ix.prefix, err)
			}
			if err := ix.refreshLocked(ctx); err != nil {
				return err
			}
			continue
		}
		// Old manifest versions are garbage-collected, so a writer that lagged behind the
		// collection horizon can re-create a deleted version. Its write only counts if no
		// higher version exists; otherwise it is withdrawn and retried on the newest state.
		newest, err := ix.newestVersion(ctx)
		if err != nil {
			return err
		}
		if newest > man.Version {
			_ = ix.m.blob.Delete(ctx, ix.manifestKey(man.Version))
			if err := ix.refreshLocked(ctx); err != nil {
				return err
			}
			continue
		}
		for k, s := range newSegs {
			ix.loaded[k] = s
		}
		nv, err := ix.buildView(ctx, man)
		if err != nil {
			return err
		}
		ix.cur.Store(nv)
		return nil
	}
	if lastErr != nil {
		return lastErr
	}
	return fmt.Errorf("commit %s: %w", ix.prefix, ErrConflict)
}

// hasDoc reports whether any live row belongs to doc.
func (v *view) hasDoc(doc string) bool {
	for _, ls := range v.segs {
		for _, r := range ls.seg.docRows[doc] {
			if !ls.dead.has(r) {
				return true
			}
		}
	}
	return false
}

func (v *view) docChunkIDs(doc string) []string {
	var out []string
	for _, ls := range v.segs {
		for _, r := range ls.seg.docRows[doc] {
			if !ls.dead.has(r) {
				out = append(out, ls.seg.recs[r].ChunkID)
			}
		}
	}
	return out
}

// Upsert replaces every chunk of document docID with recs (an empty recs deletes it).
// Records must all carry vectors of one dimension, or none.
//
// Segments are analysed and uploaded outside the index's write lock; concurrent upserts
// then share one manifest write (group commit), so parallel ingestion costs one manifest
// version per batch rather than per document.
func (ix *Index) Upsert(ctx context.Context, docID string, recs []Record) error {
	dim := 0
	if len(recs) > 0 {
		dim = len(recs[0].Vector)
	}
	for i := range recs {
		recs[i].DocID = docID
		if len(recs[i].Vector) != dim {
			return fmt.Errorf("%w: chunk %s has %d dimensions, chunk 0 has %d", ErrDimension, recs[i].ChunkID, len(recs[i].Vector), dim)
		}
	}
	if d := ix.cur.Load().dim; d != 0 && dim != 0 && d != dim {
		return fmt.Errorf("%w: document %s has %d dimensions, the index has %d", ErrDimension, docID, dim, d)
	}
	segDim := dim
	if vs := ix.m.opts.vectors; vs != nil {
		segDim = 0
		if err := ix.putExternalVectors(ctx, vs, docID, recs, dim); err != nil {
			return err
		}
	}
	p := &pendingUpsert{docID: docID, dim: dim, done: make(chan error, 1)}
	if len(recs) > 0 {
		s, err := buildSegment(recs, segDim)
		if err != nil {
			return err
		}
		k, err := ix.writeSegment(ctx, s)
		if err != nil {
			return err
		}
		p.seg, p.ref = s, segmentRef{Key: k, Rows: len(recs)}
	}
	ix.qmu.Lock()
	ix.queue = append(ix.queue, p)
	ix.qmu.Unlock()

	ix.wmu.Lock()
	defer ix.wmu.Unlock()
	select {
	case err := <-p.done:
		return err // an earlier committer took this upsert into its batch
	default:
	}
	ix.qmu.Lock()
	batch := ix.queue
	ix.queue = nil
	ix.qmu.Unlock()
	errs := ix.commitBatch(ctx, batch)
	for i, q := range batch {
		q.done <- errs[i]
	}
	err := <-p.done
	if cerr := ix.compactLocked(ctx, false); err == nil {
		err = cerr
	}
	return err
}

// pendingUpsert is one upsert waiting for a manifest commit.
type pendingUpsert struct {
	docID string
	dim   int
	seg   *segment
	ref   segmentRef
	done  chan error
}

// commitBatch writes one manifest version for a batch of upserts, in arrival order, and
// returns each upsert's outcome (a dimension clash fails that upsert alone).
func (ix *Index) commitBatch(ctx context.Context, batch []*pendingUpsert) []error {
	errs := make([]error, len(batch))
	newSegs := map[string]*segment{}
	for _, p := range batch {
		if p.seg != nil {
			newSegs[p.ref.Key] = p.seg
		}
	}
	err := ix.commit(ctx, newSegs, func(m *manifest, v *view) error {
		inBatch := map[string]bool{}
		for i, p := range batch {
			errs[i] = nil
			if p.dim != 0 && m.Dim != 0 && p.dim != m.Dim {
				errs[i] = fmt.Errorf("%w: document %s has %d dimensions, the index has %d", ErrDimension, p.docID, p.dim, m.Dim)
				continue
			}
			seq := m.NextSeq
			m.NextSeq++
			if inBatch[p.docID] || v.hasDoc(p.docID) {
				m.Tombstones[p.docID] = seq
			}
			if p.seg != nil {
				r := p.ref
				r.Seq = seq
				m.Segments = append(m.Segments, r)
				inBatch[p.docID] = true
				if m.Dim == 0 {
					m.Dim = p.dim
				}
			}
		}
		return nil
	})
	if err != nil {
		for i := range errs {
			errs[i] = err
		}
	}
	return errs
}

// putExternalVectors replaces a document's vectors in the external vector store.
func (ix *Index) putExternalVectors(ctx context.Context, vs VectorStore, docID string, recs []Record, dim int) error {
	if old := ix.cur.Load().docChunkIDs(docID); len(old) > 0 {
		if err := vs.DeleteVectors(ctx, ix.ns, old); err != nil {
			return fmt.Errorf("delete vectors of %s: %w", docID, err)
		}
	}
	if dim == 0 {
		return nil
	}
	vecs := make([]Vector, len(recs))
	for i, r := range recs {
		md := map[string]any{}
		for k, v := range r.Metadata {
			md[k] = v
		}
		md[KeyDocumentID] = docID
		if r.Source != "" {
			md[KeySourceURI] = r.Source
		}
		if r.Page > 0 {
			md[KeyPageNumber] = float64(r.Page)
		}
		vecs[i] = Vector{Key: r.ChunkID, Data: r.Vector, Metadata: md}
	}
	if err := vs.PutVectors(ctx, ix.ns, vecs); err != nil {
		return fmt.Errorf("put vectors of %s: %w", docID, err)
	}
	return nil
}

// Delete removes every chunk of a document. Deleting an unknown document is not an error.
func (ix *Index) Delete(ctx context.Context, docID string) error {
	return ix.Upsert(ctx, docID, nil)
}

// Compact merges every segment into one, dropping deleted rows.
func (ix *Index) Compact(ctx context.Context) error {
	ix.wmu.Lock()
	defer ix.wmu.Unlock()
	if err := ix.refreshLocked(ctx); err != nil {
		return err
	}
	return ix.compactLocked(ctx, true)
}

func tier(rows int) int { return int(math.Log(float64(max(rows, 1))) / math.Log(DefaultMergeFactor)) }

// compactLocked merges the segments of the fullest size tier once MergeFactor of them
// exist (or all segments when full is set).
func (ix *Index) compactLocked(ctx context.Context, full bool) error {
	v := ix.cur.Load()
	var pick []int
	if full {
		if len(v.segs) < 2 && (len(v.segs) == 0 || v.segs[0].dead == nil) {
			return nil
		}
		for i := range v.segs {
			pick = append(pick, i)
		}
	} else {
		byTier := map[int][]int{}
		for i, ls := range v.segs {
			t := tier(ls.ref.Rows)
			byTier[t] = append(byTier[t], i)
		}
		tiers := make([]int, 0, len(byTier))
		for t := range byTier {
			tiers = append(tiers, t)
		}
		sort.Ints(tiers)
		for _, t := range tiers {
			if len(byTier[t]) >= ix.m.opts.mergeFactor {
				pick = byTier[t]
				break
			}
		}
		if pick == nil {
			return nil
		}
	}
	segs := make([]*segment, len(pick))
	dead := make([]bitset, len(pick))
	merged := map[string]bool{}
	var maxSeq int64
	for i, p := range pick {
		segs[i], dead[i] = v.segs[p].seg, v.segs[p].dead
		merged[v.segs[p].ref.Key] = true
		maxSeq = max(maxSeq, v.segs[p].ref.Seq)
	}
	ms := merge(segs, dead, segs[0].dim)
	if len(ms.recs) == 0 {
		ms = nil // every row was deleted: the segments simply go
	}
	newSegs := map[string]*segment{}
	var k string
	if ms != nil {
		var err error
		if k, err = ix.writeSegment(ctx, ms); err != nil {
			return err
		}
		newSegs[k] = ms
	}
	base := v.man.Version
	var expired []string
	err := ix.commit(ctx, newSegs, func(m *manifest, cur *view) error {
		if m.Version != base {
			return errLostMerge
		}
		newVersion := m.Version + 1
		for key := range merged {
			m.Garbage = append(m.Garbage, garbageRef{Key: key, Version: newVersion})
		}
		var keepGarbage []garbageRef
		expired = expired[:0]
		for _, g := range m.Garbage {
			if g.Version <= newVersion-ix.m.opts.grace {
				expired = append(expired, g.Key)
			} else {
				keepGarbage = append(keepGarbage, g)
			}
		}
		m.Garbage = keepGarbage
		var segsOut []segmentRef
		for _, r := range m.Segments {
			if !merged[r.Key] {
				segsOut = append(segsOut, r)
			}
		}
		if ms != nil {
			segsOut = append(segsOut, segmentRef{Key: k, Seq: maxSeq, Rows: len(ms.recs)})
			sort.SliceStable(segsOut, func(i, j int) bool { return segsOut[i].Seq < segsOut[j].Seq })
		}
		m.Segments = segsOut
		// A tombstone matters only while an older segment still holds rows of its document.
		for doc, t := range m.Tombstones {
			needed := false
			for _, r := range m.Segments {
				seg := ix.loaded[r.Key]
				if r.Key == k {
					seg = ms
				}
				if r.Seq < t && (seg == nil || len(seg.docRows[doc]) > 0) {
					needed = true
					break
				}
			}
			if !needed {
				delete(m.Tombstones, doc)
			}
		}
		return nil
	})
	if errors.Is(err, errLostMerge) {
		if k != "" {
			_ = ix.m.blob.Delete(ctx, k)
		}
		return nil // another writer moved on; a later write merges
	}
	if err != nil {
		return err
	}
	// Segments merged away more than the grace ago, and manifests as old: a reader still
	// loading an older manifest has had that many versions' time; one that misses a file
	// re-reads the newest manifest.
	for _, key := range expired {
		_ = ix.m.blob.Delete(ctx, key)
		if p := ix.cachePath(key); p != "" {
			_ = os.Remove(p)
		}
	}
	ver := ix.cur.Load().man.Version
	for old := ver - max(ix.m.opts.grace, 1); old > 0 && old > ver-max(ix.m.opts.grace, 1)-int64(ix.m.opts.mergeFactor)*4; old-- {
		_ = ix.m.blob.Delete(ctx, ix.manifestKey(old))
	}
	return nil
}

var errLostMerge = errors.New("index: merge base changed")

// Search runs a query against the newest snapshot (checking the blob store for a newer
// manifest at most every refresh interval).
func (ix *Index) Search(ctx context.Context, q Query) ([]Hit, error) {
	if q.TopK == 0 {
		q.TopK = DefaultTopK
	}
	if q.TopK < 1 || q.TopK > MaxTopK {
		return nil, fmt.Errorf("%w: top_k %d not in 1..%d", ErrInvalidQuery, q.TopK, MaxTopK)
	}
	if q.Type == "" {
		q.Type = Lexical
		if len(q.Vector) > 0 {
			q.Type = Hybrid
		}
	}
	if err := q.Filter.Validate(); err != nil {
		return nil, err
	}
	switch q.Fusion {
	case "", FusionRRF, FusionConvex:
	default:
		return nil, fmt.Errorf("%w: fusion %q (rrf or convex)", ErrInvalidQuery, q.Fusion)
	}
	if q.LexicalWeight < 0 || q.LexicalWeight > 1 {
		return nil, fmt.Errorf("%w: lexical weight %v not in [0,1]", ErrInvalidQuery, q.LexicalWeight)
	}
	if err := ix.maybeRefresh(ctx); err != nil {
		return nil, err
	}
	v := ix.cur.Load()
	o := ix.m.opts
	allowed := v.allowed(q.Filter)
	var got []candidate
	switch q.Type {
	case Lexical:
		got = v.lexical(q.Text, q.TopK, o.k1, o.b, allowed)
	case Semantic:
		sem, err := ix.semantic(ctx, v, q, q.TopK, allowed)
		if err != nil {
			return nil, err
		}
		got = sem
	case Hybrid:
		depth := max(q.TopK, candidates)
		lex := v.lexical(q.Text, depth, o.k1, o.b, allowed)
		sem, err := ix.semantic(ctx, v, q, depth, allowed)
		if err != nil {
			return nil, err
		}
		fusion, w := o.fusion, o.lexWeight
		if q.Fusion != "" {
			fusion = q.Fusion
		}
		if q.LexicalWeight > 0 {
			w = q.LexicalWeight
		}
		got = fuse(lex, sem, q.TopK, fusion, w)
	default:
		return nil, fmt.Errorf("%w: search type %q (HYBRID, SEMANTIC or LEXICAL)", ErrInvalidQuery, q.Type)
	}
	hits := make([]Hit, len(got))
	for i, c := range got {
		hits[i] = Hit{Record: v.segs[c.seg].seg.recs[c.row], Score: c.score}
	}
	return hits, nil
}

func (ix *Index) semantic(ctx context.Context, v *view, q Query, k int, allowed [][]bool) ([]candidate, error) {
	if len(q.Vector) == 0 {
		if q.Type == Semantic {
			return nil, fmt.Errorf("%w: semantic search needs a query vector", ErrInvalidQuery)
		}
		return nil, nil
	}
	vs := ix.m.opts.vectors
	if vs == nil {
		if v.dim != 0 && len(q.Vector) != v.dim {
			return nil, fmt.Errorf("%w: query has %d dimensions, the index has %d", ErrDimension, len(q.Vector), v.dim)
		}
		return v.semantic(q.Vector, k, allowed), nil
	}
	matches, err := vs.QueryVectors(ctx, ix.ns, q.Vector, k, q.Filter)
	if err != nil {
		return nil, fmt.Errorf("query vectors: %w", err)
	}
	var out []candidate
	for _, mt := range matches {
		kk, ok := v.keys[mt.Key]
		if !ok || !v.live(kk.seg, uint32(kk.row), allowed) {
			continue // deleted since, or not yet visible here
		}
		out = append(out, candidate{kk.seg, kk.row, mt.Score})
	}
	return out, nil
}
