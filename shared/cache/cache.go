// Package cache is the gateway's response cache: an exact-match cache keyed by the
// canonical request, and an opt-in semantic cache matching by embedding similarity. Both
// are tenant-scoped: an entry is only ever served to the tenant whose request stored it.
//
// Entries live in the store (so every gateway instance shares them) behind an in-memory
// LRU. Storage:
//
//	CACHE#<tenant>    / <sha256 hex of canonical request>          the response (TTL)
//	SEMCACHE#<tenant> / <model>#<params hash>#<time>#<key>         embedding → exact key (TTL)
//
// Cache policy: requests are cached only when the tenant enabled the cache, and, unless
// the tenant allows sampled answers, only deterministic ones (temperature set to 0). A
// cache hit costs the caller one request in the rate window and no tokens or USD: the
// gateway reserves quota first and reconciles the reservation to zero on a hit; the usage
// record is written with CacheHit true and zero tokens.
//
// The in-memory LRU is hand-written (container/list) rather than a library's because of a
// behaviour contract: each entry expires when its stored item does (per-entry TTLs set by
// tenants' cache policies), on the cache's clock, so a front entry never outlives the
// shared one and tests move time without sleeping; the expirable LRUs of libraries take
// one TTL per cache and read the wall clock.
package cache

import (
	"bytes"
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/plinth-ai/plinth/shared/provider"
	"github.com/plinth-ai/plinth/shared/store"
	"github.com/plinth-ai/plinth/shared/tenant"
)

// Defaults.
const (
	DefaultTTL               = time.Hour
	MaxTTL                   = 7 * 24 * time.Hour
	DefaultSemanticThreshold = 0.95
)

// BypassHeader lets a caller skip the cache for one request ("X-Plinth-Cache: bypass").
const BypassHeader = "X-Plinth-Cache"

// BypassRequested reports whether the request asks not to be served from the cache
// (X-Plinth-Cache: bypass, or Cache-Control: no-cache / no-store).
func BypassRequested(h http.Header) bool {
	if strings.EqualFold(strings.TrimSpace(h.Get(BypassHeader)), "bypass") {
		return true
	}
	cc := strings.ToLower(h.Get("Cache-Control"))
	return strings.Contains(cc, "no-cache") || strings.Contains(cc, "no-store")
}

// Cacheable is the cache policy: the tenant enabled the cache and the request is
// deterministic (temperature explicitly 0), or the tenant allows caching sampled answers.
func Cacheable(req *provider.ChatRequest, s tenant.CacheSettings) bool {
	if !s.Enabled || req == nil {
		return false
	}
	sampled := req.Temperature == nil || *req.Temperature > 0
	return !sampled || s.AllowSampled
}

// TTL is the entry lifetime the tenant's settings ask for, bounded by MaxTTL.
func TTL(s tenant.CacheSettings) time.Duration {
	d := time.Duration(s.TTLSeconds) * time.Second
	if d <= 0 {
		d = DefaultTTL
	}
	return min(d, MaxTTL)
}

// Key identifies a canonical request.
type Key [32]byte

// String is the key in hex.
func (k Key) String() string { return hex.EncodeToString(k[:]) }

// canonical is what makes two requests the same: everything that can change the answer,
// and nothing that cannot (stream, stream_options, user).
type canonical struct {
	Model             string             `json:"model"`
	Messages          []provider.Message `json:"messages,omitempty"`
	Temperature       *float64           `json:"temperature,omitempty"`
	TopP              *float64           `json:"top_p,omitempty"`
	MaxTokens         int                `json:"max_tokens,omitempty"`
	Stop              provider.Stop      `json:"stop,omitempty"`
	N                 *int               `json:"n,omitempty"`
	Tools             []provider.Tool    `json:"tools,omitempty"`
	ToolChoice        json.RawMessage    `json:"tool_choice,omitempty"`
	ParallelToolCalls *bool              `json:"parallel_tool_calls,omitempty"`
	ResponseFormat    json.RawMessage    `json:"response_format,omitempty"`
	Seed              *int64             `json:"seed,omitempty"`
	PresencePenalty   *float64           `json:"presence_penalty,omitempty"`
	FrequencyPenalty  *float64           `json:"frequency_penalty,omitempty"`
}

// canonicalRaw re-encodes a JSON value through a generic value so its objects have sorted
// keys and no insignificant space.
func canonicalRaw(raw json.RawMessage) (json.RawMessage, error) {
	if len(raw) == 0 {
		return raw, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var g any
	if err := dec.Decode(&g); err != nil {
		return nil, err
	}
	return json.Marshal(g)
}

// canonicalJSON encodes the canonical form. Struct fields encode in a fixed order, so
// only the free-form JSON inside (tool schemas, tool choice, response format, image
// parts) needs normalising.
func canonicalJSON(req *provider.ChatRequest, withMessages bool) ([]byte, error) {
	c := canonical{Model: req.Model, Temperature: req.Temperature, TopP: req.TopP, MaxTokens: req.MaxOutputTokens(),
		Stop: req.Stop, N: req.N, ParallelToolCalls: req.ParallelToolCalls,
		Seed: req.Seed, PresencePenalty: req.PresencePenalty, FrequencyPenalty: req.FrequencyPenalty}
	var err error
	if c.ToolChoice, err = canonicalRaw(req.ToolChoice); err != nil {
		return nil, err
	}
	if c.ResponseFormat, err = canonicalRaw(req.ResponseFormat); err != nil {
		return nil, err
	}
	if len(req.Tools) > 0 {
		c.Tools = make([]provider.Tool, len(req.Tools))
		for i, t := range req.Tools {
			if t.Function.Parameters, err = canonicalRaw(t.Function.Parameters); err != nil {
				return nil, err
			}
			c.Tools[i] = t
		}
	}
	if withMessages {
		c.Messages = req.Messages
		copied := false
		for i, m := range req.Messages {
			if m.Content.Parts == nil {
				continue
			}
			if !copied {
				c.Messages, copied = append([]provider.Message(nil), req.Messages...), true
			}
			parts := append([]provider.ContentPart(nil), m.Content.Parts...)
			for j := range parts {
				if parts[j].ImageURL, err = canonicalRaw(parts[j].ImageURL); err != nil {
					return nil, err
				}
			}
			c.Messages[i].Content.Parts = parts
		}
	}
	return json.Marshal(c)
}

// KeyFor returns the SHA-256 of the request's canonical JSON (model, messages, sampling
// parameters, tools, response format).
func KeyFor(req *provider.ChatRequest) (Key, error) {
	b, err := canonicalJSON(req, true)
	if err != nil {
		return Key{}, fmt.Errorf("cache key: %w", err)
	}
	return sha256.Sum256(b), nil
}

// Entry is a cached answer.
type Entry struct {
	Response *provider.ChatResponse `json:"response"`
	// Chunks is the recorded stream, when the answer was streamed; replaying it
	// reproduces the original event sequence.
	Chunks    []provider.ChatChunk `json:"chunks,omitempty"`
	CreatedAt time.Time            `json:"created_at"`
}

// Embedder embeds text for the semantic cache (e.g. the registry's embedding model).
type Embedder func(ctx context.Context, text string) ([]float32, error)

// EmbedderFrom adapts an embedding model (e.g. the registry's local-embed) to an Embedder.
func EmbedderFrom(m provider.EmbeddingModel, model string) Embedder {
	return func(ctx context.Context, text string) ([]float32, error) {
		resp, err := m.Embed(ctx, &provider.EmbeddingRequest{Model: model, Input: []string{text}, InputType: "search_query"})
		if err != nil {
			return nil, err
		}
		if len(resp.Data) != 1 {
			return nil, fmt.Errorf("embedder returned %d vectors for 1 input", len(resp.Data))
		}
		return resp.Data[0].Embedding, nil
	}
}

type options struct {
	lru      int
	now      func() time.Time
	embed    Embedder
	scan     int
	maxBytes int
}

// Option configures a Cache.
type Option func(*options)

// WithLRUSize bounds the in-memory front (default 1024 entries; 0 disables it).
func WithLRUSize(n int) Option { return func(o *options) { o.lru = n } }

// WithClock replaces time.Now (tests).
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithEmbedder enables the semantic cache with the embedder.
func WithEmbedder(e Embedder) Option { return func(o *options) { o.embed = e } }

// WithSemanticScan bounds how many of a tenant's most recent entries (per model and
// parameters) a semantic lookup compares (default 256).
func WithSemanticScan(n int) Option { return func(o *options) { o.scan = n } }

// WithMaxEntryBytes skips caching answers larger than n bytes (default 350 KB, under
// DynamoDB's 400 KB item limit).
func WithMaxEntryBytes(n int) Option { return func(o *options) { o.maxBytes = n } }

// Cache is the tenant-scoped response cache.
type Cache struct {
	st  store.Store
	opt options

	mu  sync.Mutex
	ll  *list.List
	idx map[lruKey]*list.Element
}

type lruKey struct {
	tenant string
	key    Key
}

type lruItem struct {
	k       lruKey
	e       *Entry
	expires time.Time
}

// New returns a Cache over st. It panics if st is nil.
func New(st store.Store, opts ...Option) *Cache {
	if st == nil {
		panic("cache.New: nil store")
	}
	o := options{lru: 1024, now: time.Now, scan: 256, maxBytes: 350 << 10}
	for _, f := range opts {
		f(&o)
	}
	return &Cache{st: st, opt: o, ll: list.New(), idx: map[lruKey]*list.Element{}}
}

func exactKey(tenantID string, k Key) store.Key {
	return store.Key{PK: "CACHE#" + tenantID, SK: k.String()}
}

// Get returns the tenant's live entry for k.
func (c *Cache) Get(ctx context.Context, tenantID string, k Key) (*Entry, bool, error) {
	now := c.opt.now()
	lk := lruKey{tenantID, k}
	c.mu.Lock()
	if el, ok := c.idx[lk]; ok {
		it := el.Value.(*lruItem)
		if now.Before(it.expires) {
			c.ll.MoveToFront(el)
			c.mu.Unlock()
			return it.e, true, nil
		}
		c.ll.Remove(el)
		delete(c.idx, lk)
	}
	c.mu.Unlock()
	item, err := c.st.Get(ctx, exactKey(tenantID, k))
	if errors.Is(err, store.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("cache get: %w", err)
	}
	var e Entry
	if err := json.Unmarshal(item.Data, &e); err != nil {
		return nil, false, fmt.Errorf("cache decode: %w", err)
	}
	c.remember(lk, &e, item.ExpiresAt)
	return &e, true, nil
}

func (c *Cache) remember(lk lruKey, e *Entry, expires time.Time) {
	if c.opt.lru <= 0 {
		return
	}
	if expires.IsZero() {
		expires = c.opt.now().Add(DefaultTTL)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.idx[lk]; ok {
		el.Value = &lruItem{k: lk, e: e, expires: expires}
		c.ll.MoveToFront(el)
		return
	}
	c.idx[lk] = c.ll.PushFront(&lruItem{k: lk, e: e, expires: expires})
	for c.ll.Len() > c.opt.lru {
		last := c.ll.Back()
		c.ll.Remove(last)
		delete(c.idx, last.Value.(*lruItem).k)
	}
}

// Put stores e for the tenant under k for ttl.
func (c *Cache) Put(ctx context.Context, tenantID string, k Key, e *Entry, ttl time.Duration) error {
	if e == nil || e.Response == nil {
		return errors.New("cache put: entry needs a response")
	}
	if e.CreatedAt.IsZero() {
		e.CreatedAt = c.opt.now().UTC()
	}
	data, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("cache encode: %w", err)
	}
	if len(data) > c.opt.maxBytes && e.Chunks != nil {
		// Keep the answer, drop the recorded stream: replay synthesises chunks instead.
		slim := *e
		slim.Chunks = nil
		e = &slim
		if data, err = json.Marshal(e); err != nil {
			return fmt.Errorf("cache encode: %w", err)
		}
	}
	if len(data) > c.opt.maxBytes {
		return nil
	}
	expires := c.opt.now().Add(ttl)
	if _, err := c.st.Put(ctx, store.Item{Key: exactKey(tenantID, k), Data: data, ExpiresAt: expires}, store.WriteOptions{}); err != nil {
		return fmt.Errorf("cache put: %w", err)
	}
	c.remember(lruKey{tenantID, k}, e, expires)
	return nil
}

// Hit describes how a lookup was answered.
type Hit string

const (
	// Miss means no entry matched.
	Miss Hit = ""
	// Exact means the canonical request matched.
	Exact Hit = "exact"
	// Semantic means a similar request of the same tenant, model and parameters matched.
	Semantic Hit = "semantic"
)

// Lookup finds a cached answer for the tenant's request under its settings: the exact
// entry, then (when the tenant opted in and an embedder is configured) the most similar
// recent request with the same model and parameters at or above the threshold. It
// returns Miss for requests the policy does not cache.
func (c *Cache) Lookup(ctx context.Context, tenantID string, req *provider.ChatRequest, s tenant.CacheSettings) (*Entry, Hit, error) {
	if !Cacheable(req, s) {
		return nil, Miss, nil
	}
	k, err := KeyFor(req)
	if err != nil {
		return nil, Miss, err
	}
	if e, ok, err := c.Get(ctx, tenantID, k); err != nil || ok {
		if ok {
			return e, Exact, nil
		}
		return nil, Miss, err
	}
	if !s.Semantic || c.opt.embed == nil {
		return nil, Miss, nil
	}
	return c.semanticLookup(ctx, tenantID, req, s)
}

// Store caches the answer to the tenant's request under its settings (no-op when the
// policy does not cache it), and indexes it for semantic lookups when enabled. Only
// complete answers should be stored: not errors, not cut streams, not guardrail blocks.
func (c *Cache) Store(ctx context.Context, tenantID string, req *provider.ChatRequest, s tenant.CacheSettings, e *Entry) error {
	if !Cacheable(req, s) {
		return nil
	}
	k, err := KeyFor(req)
	if err != nil {
		return err
	}
	ttl := TTL(s)
	if err := c.Put(ctx, tenantID, k, e, ttl); err != nil {
		return err
	}
	if s.Semantic && c.opt.embed != nil {
		return c.semanticIndex(ctx, tenantID, req, k, ttl)
	}
	return nil
}

// ---- semantic ----

type semEntry struct {
	Key    string    `json:"key"`
	Vector []float32 `json:"vector"`
}

func semanticText(req *provider.ChatRequest) string {
	var b strings.Builder
	for _, m := range req.Messages {
		b.WriteString(m.Role)
		b.WriteString(": ")
		b.WriteString(m.Content.String())
		b.WriteByte('\n')
	}
	return b.String()
}

func semanticPrefix(req *provider.ChatRequest) (string, error) {
	b, err := canonicalJSON(req, false)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return req.Model + "#" + hex.EncodeToString(sum[:8]) + "#", nil
}

func (c *Cache) semanticIndex(ctx context.Context, tenantID string, req *provider.ChatRequest, k Key, ttl time.Duration) error {
	prefix, err := semanticPrefix(req)
	if err != nil {
		return err
	}
	vec, err := c.opt.embed(ctx, semanticText(req))
	if err != nil {
		return fmt.Errorf("semantic cache embed: %w", err)
	}
	data, _ := json.Marshal(semEntry{Key: k.String(), Vector: vec})
	now := c.opt.now()
	sk := prefix + now.UTC().Format("20060102T150405.000000000") + "#" + k.String()[:16]
	_, err = c.st.Put(ctx, store.Item{Key: store.Key{PK: "SEMCACHE#" + tenantID, SK: sk}, Data: data, ExpiresAt: now.Add(ttl)}, store.WriteOptions{})
	return err
}

func (c *Cache) semanticLookup(ctx context.Context, tenantID string, req *provider.ChatRequest, s tenant.CacheSettings) (*Entry, Hit, error) {
	prefix, err := semanticPrefix(req)
	if err != nil {
		return nil, Miss, err
	}
	items, err := c.st.Query(ctx, "SEMCACHE#"+tenantID, store.QueryOptions{Prefix: prefix, Desc: true, Limit: c.opt.scan})
	if err != nil || len(items) == 0 {
		return nil, Miss, err
	}
	vec, err := c.opt.embed(ctx, semanticText(req))
	if err != nil {
		return nil, Miss, fmt.Errorf("semantic cache embed: %w", err)
	}
	threshold := s.SemanticThreshold
	if threshold <= 0 {
		threshold = DefaultSemanticThreshold
	}
	best, bestKey := -1.0, ""
	for _, it := range items {
		var se semEntry
		if json.Unmarshal(it.Data, &se) != nil {
			continue
		}
		if sim := Cosine(vec, se.Vector); sim >= threshold && sim > best {
			best, bestKey = sim, se.Key
		}
	}
	if bestKey == "" {
		return nil, Miss, nil
	}
	raw, err := hex.DecodeString(bestKey)
	if err != nil || len(raw) != len(Key{}) {
		return nil, Miss, nil
	}
	var k Key
	copy(k[:], raw)
	e, ok, err := c.Get(ctx, tenantID, k)
	if err != nil || !ok {
		return nil, Miss, err
	}
	return e, Semantic, nil
}

// Cosine is the cosine similarity of two vectors (0 when lengths differ or one is zero).
func Cosine(a, b []float32) float64 {
	if len(a) != len(b) || len(a) == 0 {
		return 0
	}
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return dot / (math.Sqrt(na) * math.Sqrt(nb))
}
