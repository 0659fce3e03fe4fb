package tenant

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/plinth-ai/plinth/shared/auth"
	"github.com/plinth-ai/plinth/shared/fault"
	"github.com/plinth-ai/plinth/shared/store"
)

// MaxCacheTTL is the longest an authentication result is trusted without rereading the
// store: revocation takes effect everywhere within it.
const MaxCacheTTL = 60 * time.Second

// lastUsedEvery bounds how often a key's last-used time is written.
const lastUsedEvery = time.Minute

const (
	pkTenants        = "TENANTS"
	pkIAM            = "IAM"
	skKey            = "KEY"
	prefixKey        = "K#"
	prefixUsed       = "U#"
	maxUpdateRetries = 8
)

func keyHashKey(hash string) store.Key { return store.Key{PK: "APIKEY#" + hash, SK: skKey} }
func keyIDKey(id string) store.Key     { return store.Key{PK: "KEYID#" + id, SK: skKey} }

// keyListPK is the partition listing a tenant's keys, or the platform keys for "".
func keyListPK(tenant string) string {
	if tenant == "" {
		return "PLATFORM#KEYS"
	}
	return "TENANT#" + tenant + "#KEYS"
}

type options struct {
	now        func() time.Time
	ttl        time.Duration
	maxEntries int
	log        *slog.Logger
	refs       References
}

// References check what a tenant names when it is written, so a tenant never points at
// something that does not exist. Each check returns nil, or an error of package fault's
// kinds saying what is wrong (a model that is not in the registry, a policy that is
// another tenant's). A nil check accepts everything.
type References struct {
	// Model checks a model ID or alias of allowed_models.
	Model func(ctx context.Context, id string) error
	// GuardrailPolicy checks a guardrail_policy reference ("id" or "id:version") the
	// tenant would apply.
	GuardrailPolicy func(ctx context.Context, tenantID, ref string) error
	// IsolationTier checks a change of an existing tenant's tier: a runtime whose silo
	// tenants have cells of their own refuses a change that would leave the tenant's
	// data behind.
	IsolationTier func(ctx context.Context, tenantID string, from, to IsolationTier) error
}

// WithReferences validates allowed_models and guardrail_policy on create and update.
func WithReferences(r References) Option { return func(o *options) { o.refs = r } }

// Option configures a Service.
type Option func(*options)

// WithCacheTTL sets how long authentication results are cached (clamped to MaxCacheTTL;
// 0 disables the cache).
func WithCacheTTL(d time.Duration) Option {
	return func(o *options) {
		if d > MaxCacheTTL {
			d = MaxCacheTTL
		}
		if d < 0 {
			d = 0
		}
		o.ttl = d
	}
}

// WithClock replaces time.Now (tests).
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithMaxCacheEntries bounds the authentication cache (default 100 000 entries).
func WithMaxCacheEntries(n int) Option { return func(o *options) { o.maxEntries = n } }

// WithLogger sets the logger for background failures (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// Identity is an authenticated caller with everything the request path needs.
type Identity struct {
	Principal auth.Principal
	// Tenant is shared with the cache: callers must treat it as read-only.
	Tenant *Tenant
	// KeyLimits are the key's own limits (nil when none).
	KeyLimits *Limits
}

// cacheEntry is an immutable authentication result, except for lastTouch.
type cacheEntry struct {
	id        Identity
	err       error // terminal result cached too (revoked), so a hammering client costs nothing
	expires   int64 // key expiry, unix nanos (0 = never)
	until     int64 // cache expiry, unix nanos
	hash      string
	lastTouch atomic.Int64
}

// Service manages tenants, keys and IAM mappings and authenticates callers.
type Service struct {
	st  store.Store
	opt options

	mu   sync.RWMutex
	keys map[[32]byte]*cacheEntry
	iam  map[string]*cacheEntry
}

// NewService returns a Service over st. It panics if st is nil.
func NewService(st store.Store, opts ...Option) *Service {
	if st == nil {
		panic("tenant.NewService: nil store")
	}
	o := options{now: time.Now, ttl: 30 * time.Second, maxEntries: 100_000, log: slog.Default()}
	for _, f := range opts {
		f(&o)
	}
	return &Service{st: st, opt: o, keys: map[[32]byte]*cacheEntry{}, iam: map[string]*cacheEntry{}}
}

// ---- tenants ----

// CreateTenant stores a new tenant, filling defaults (status active, tier pool). It fails
// with ErrExists when the ID is taken and ErrInvalid on bad input.
func (s *Service) CreateTenant(ctx context.Context, t Tenant) (*Tenant, error) {
	if t.Status == "" {
		t.Status = StatusActive
	}
	if t.IsolationTier == "" {
		t.IsolationTier = TierPool
	}
	if t.Name == "" {
		t.Name = t.ID
	}
	now := s.opt.now().UTC()
	t.CreatedAt, t.UpdatedAt = now, now
	if err := t.validate(); err != nil {
		return nil, fmt.Errorf("create tenant: %w", err)
	}
	if err := s.checkReferences(ctx, nil, &t); err != nil {
		return nil, err
	}
	data, err := json.Marshal(&t)
	if err != nil {
		return nil, err
	}
	_, err = s.st.Put(ctx, store.Item{Key: store.Key{PK: pkTenants, SK: t.ID}, Data: data}, store.WriteOptions{Cond: store.IfNotExists})
	if errors.Is(err, store.ErrConditionFailed) {
		return nil, fault.New(ErrExists, "id", "tenant %q already exists; choose another id, or change it with PATCH /admin/tenants/%s", t.ID, t.ID)
	}
	if err != nil {
		return nil, fmt.Errorf("create tenant %s: %w", t.ID, err)
	}
	return &t, nil
}

// GetTenant returns the tenant or ErrNotFound.
func (s *Service) GetTenant(ctx context.Context, id string) (*Tenant, error) {
	t, _, err := s.getTenant(ctx, id)
	return t, err
}

func (s *Service) getTenant(ctx context.Context, id string) (*Tenant, int64, error) {
	it, err := s.st.Get(ctx, store.Key{PK: pkTenants, SK: id})
	if errors.Is(err, store.ErrNotFound) {
		return nil, 0, fault.New(ErrNotFound, "", "tenant %q does not exist; create it with POST /admin/tenants, or list tenants with GET /admin/tenants", id)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("get tenant %s: %w", id, err)
	}
	var t Tenant
	if err := json.Unmarshal(it.Data, &t); err != nil {
		return nil, 0, fmt.Errorf("decode tenant %s: %w", id, err)
	}
	return &t, it.Version, nil
}

// ListTenants returns every tenant ordered by ID.
func (s *Service) ListTenants(ctx context.Context) ([]*Tenant, error) {
	var out []*Tenant
	after := ""
	for {
		items, err := s.st.Query(ctx, pkTenants, store.QueryOptions{After: after, Limit: 500})
		if err != nil {
			return nil, fmt.Errorf("list tenants: %w", err)
		}
		for _, it := range items {
			var t Tenant
			if err := json.Unmarshal(it.Data, &t); err != nil {
				return nil, fmt.Errorf("decode tenant %s: %w", it.SK, err)
			}
			out = append(out, &t)
		}
		if len(items) < 500 {
			return out, nil
		}
		after = items[len(items)-1].SK
	}
}

// UpdateTenant applies fn to the current tenant and stores the result with optimistic
// concurrency (retrying on a concurrent change). ID and CreatedAt cannot change. Cached
// authentications of the tenant are dropped on this instance.
func (s *Service) UpdateTenant(ctx context.Context, id string, fn func(*Tenant) error) (*Tenant, error) {
	for attempt := 0; ; attempt++ {
		t, ver, err := s.getTenant(ctx, id)
		if err != nil {
			return nil, err
		}
		created, before := t.CreatedAt, *t
		if err := fn(t); err != nil {
			return nil, fmt.Errorf("update tenant %s: %w", id, err)
		}
		t.ID, t.CreatedAt, t.UpdatedAt = id, created, s.opt.now().UTC()
		if err := t.validate(); err != nil {
			return nil, fmt.Errorf("update tenant %s: %w", id, err)
		}
		if err := s.checkReferences(ctx, &before, t); err != nil {
			return nil, err
		}
		data, err := json.Marshal(t)
		if err != nil {
			return nil, err
		}
		_, err = s.st.Put(ctx, store.Item{Key: store.Key{PK: pkTenants, SK: id}, Data: data}, store.WriteOptions{Cond: store.IfVersion, Version: ver})
		if errors.Is(err, store.ErrConditionFailed) && attempt < maxUpdateRetries {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("update tenant %s: %w", id, err)
		}
		s.invalidateTenant(id)
		return t, nil
	}
}

// checkReferences checks what t names that before (nil on create) did not: a reference
// that was valid when written and went stale later does not block unrelated updates.
func (s *Service) checkReferences(ctx context.Context, before, t *Tenant) error {
	if check := s.opt.refs.Model; check != nil {
		for i, m := range t.AllowedModels {
			if before != nil && slices.Contains(before.AllowedModels, m) {
				continue
			}
			if err := check(ctx, m); err != nil {
				return fault.WithParam(fmt.Errorf("allowed_models names model %q: %w", m, err), fmt.Sprintf("allowed_models[%d]", i))
			}
		}
	}
	if check := s.opt.refs.IsolationTier; check != nil && before != nil && before.IsolationTier != t.IsolationTier {
		if err := check(ctx, t.ID, before.IsolationTier, t.IsolationTier); err != nil {
			return fault.WithParam(err, "isolation_tier")
		}
	}
	if check := s.opt.refs.GuardrailPolicy; check != nil && t.GuardrailPolicy != "" && (before == nil || before.GuardrailPolicy != t.GuardrailPolicy) {
		if err := check(ctx, t.ID, t.GuardrailPolicy); err != nil {
			return fault.WithParam(err, "guardrail_policy")
		}
	}
	return nil
}

// ---- keys ----

// KeyOptions describe a new key.
type KeyOptions struct {
	Name string
	// Role defaults to developer (today's behaviour) for a tenant's key and to auditor for
	// a platform key.
	Role auth.Role
	// Scopes default to the role's defaults (DefaultScopes for a developer) and must fit
	// the role (RoleScopes).
	Scopes    []auth.Scope
	ExpiresAt *time.Time
	Limits    *Limits
	// Delegated marks a key issued by one of the tenant's own admins: the tenant's
	// KeyPolicy then bounds its role, lifetime and the number of active keys.
	Delegated bool
}

// CreateKey issues a key for an existing tenant and returns its record and the secret.
// The secret is not stored and cannot be retrieved again. A delegated key that breaks
// the tenant's key policy fails with ErrKeyPolicy.
func (s *Service) CreateKey(ctx context.Context, tenantID string, o KeyOptions) (*Key, string, error) {
	t, err := s.GetTenant(ctx, tenantID)
	if err != nil {
		return nil, "", fmt.Errorf("create key: %w", err)
	}
	role, scopes, err := roleAndScopes(o.Role, o.Scopes, tenantRoles)
	if err != nil {
		return nil, "", fmt.Errorf("create key: %w", err)
	}
	o.Role, o.Scopes = role, scopes
	if o.Delegated {
		if err := s.checkKeyPolicy(ctx, t, o); err != nil {
			return nil, "", fmt.Errorf("create key for %s: %w", tenantID, err)
		}
	}
	return s.createKey(ctx, tenantID, o)
}

// CreatePlatformKey issues a key that belongs to no tenant: a platform auditor's (the
// default) or a named platform admin's. Platform keys are accepted by the admin API only.
func (s *Service) CreatePlatformKey(ctx context.Context, o KeyOptions) (*Key, string, error) {
	role, scopes, err := roleAndScopes(o.Role, o.Scopes, platformRoles)
	if err != nil {
		return nil, "", fmt.Errorf("create platform key: %w", err)
	}
	o.Role, o.Scopes = role, scopes
	return s.createKey(ctx, "", o)
}

// ListPlatformKeys returns the platform keys (never secrets or hashes).
func (s *Service) ListPlatformKeys(ctx context.Context) ([]*Key, error) {
	return s.listKeys(ctx, "")
}

func (s *Service) checkKeyPolicy(ctx context.Context, t *Tenant, o KeyOptions) error {
	kp := t.KeyPolicy
	if !slices.Contains(kp.delegatedRoles(), o.Role) {
		return fmt.Errorf("tenant admins may issue %v keys, not %s: %w", kp.delegatedRoles(), o.Role, ErrKeyPolicy)
	}
	now := s.opt.now()
	if kp.MaxLifetimeDays > 0 {
		limit := now.Add(time.Duration(kp.MaxLifetimeDays) * 24 * time.Hour)
		if o.ExpiresAt == nil || o.ExpiresAt.After(limit) {
			return fmt.Errorf("keys issued by tenant admins must expire within %d days (expires_at): %w", kp.MaxLifetimeDays, ErrKeyPolicy)
		}
	}
	if kp.MaxKeys > 0 {
		keys, err := s.ListKeys(ctx, t.ID)
		if err != nil {
			return err
		}
		active := 0
		for _, k := range keys {
			if !k.Revoked && (k.ExpiresAt == nil || k.ExpiresAt.After(now)) {
				active++
			}
		}
		if active >= kp.MaxKeys {
			return fmt.Errorf("the tenant has %d active keys, the most its key policy allows; revoke one first: %w", active, ErrKeyPolicy)
		}
	}
	return nil
}

func (s *Service) createKey(ctx context.Context, tenantID string, o KeyOptions) (*Key, string, error) {
	if o.Limits != nil {
		if err := o.Limits.validate(); err != nil {
			return nil, "", fmt.Errorf("create key: %w", err)
		}
	}
	now := s.opt.now().UTC()
	if o.ExpiresAt != nil && !o.ExpiresAt.After(now) {
		return nil, "", fault.New(ErrInvalid, "expires_at", "expires_at must be in the future")
	}
	secret, err := newSecret()
	if err != nil {
		return nil, "", fmt.Errorf("create key: %w", err)
	}
	id, err := newKeyID()
	if err != nil {
		return nil, "", fmt.Errorf("create key: %w", err)
	}
	rec := keyRecord{Key: Key{ID: id, TenantID: tenantID, Name: o.Name, Role: o.Role, Prefix: secret[:len(SecretPrefix)+4], Scopes: o.Scopes, CreatedAt: now, ExpiresAt: o.ExpiresAt, Limits: o.Limits}, Hash: HashSecret(secret)}
	if err := s.st.Transact(ctx, s.keyWrites(rec, store.IfNotExists, true)); err != nil {
		return nil, "", fmt.Errorf("create key for %s: %w", tenantID, err)
	}
	k := rec.Key
	return &k, secret, nil
}

// KeyTenant returns the tenant of the key with the public ID ("" for a platform key), or
// ErrNotFound.
func (s *Service) KeyTenant(ctx context.Context, keyID string) (string, error) {
	ptr, err := s.keyPointer(ctx, keyID)
	if err != nil {
		return "", err
	}
	return ptr.Tenant, nil
}

type keyPointer struct {
	Tenant string `json:"tenant"`
	Hash   string `json:"hash"`
}

func (s *Service) keyPointer(ctx context.Context, keyID string) (keyPointer, error) {
	var ptr keyPointer
	it, err := s.st.Get(ctx, keyIDKey(keyID))
	if errors.Is(err, store.ErrNotFound) {
		return ptr, fault.New(ErrNotFound, "", "key %q does not exist; list a tenant's keys with GET /admin/tenants/{id}/keys", keyID)
	}
	if err != nil {
		return ptr, fmt.Errorf("read key %s: %w", keyID, err)
	}
	if err := json.Unmarshal(it.Data, &ptr); err != nil {
		return ptr, fmt.Errorf("decode key pointer %s: %w", keyID, err)
	}
	return ptr, nil
}

func (s *Service) keyWrites(rec keyRecord, cond store.Cond, pointer bool) []store.Op {
	full, _ := json.Marshal(rec)
	listed, _ := json.Marshal(rec.Key)
	ops := []store.Op{
		{Kind: store.OpPut, Item: store.Item{Key: keyHashKey(rec.Hash), Data: full}, Options: store.WriteOptions{Cond: cond}},
		{Kind: store.OpPut, Item: store.Item{Key: store.Key{PK: keyListPK(rec.TenantID), SK: prefixKey + rec.ID}, Data: listed}, Options: store.WriteOptions{Cond: cond}},
	}
	if pointer {
		ptr, _ := json.Marshal(struct {
			Tenant string `json:"tenant"`
			Hash   string `json:"hash"`
		}{rec.TenantID, rec.Hash})
		ops = append(ops, store.Op{Kind: store.OpPut, Item: store.Item{Key: keyIDKey(rec.ID), Data: ptr}, Options: store.WriteOptions{Cond: store.IfNotExists}})
	}
	return ops
}

// ListKeys returns the tenant's keys (never secrets or hashes), newest last by ID order.
func (s *Service) ListKeys(ctx context.Context, tenantID string) ([]*Key, error) {
	if _, err := s.GetTenant(ctx, tenantID); err != nil {
		return nil, err
	}
	return s.listKeys(ctx, tenantID)
}

func (s *Service) listKeys(ctx context.Context, tenantID string) ([]*Key, error) {
	items, err := s.st.Query(ctx, keyListPK(tenantID), store.QueryOptions{})
	if err != nil {
		return nil, fmt.Errorf("list keys of %s: %w", tenantID, err)
	}
	used := map[string]time.Time{}
	var out []*Key
	for _, it := range items {
		switch {
		case strings.HasPrefix(it.SK, prefixUsed):
			var u struct {
				At time.Time `json:"last_used_at"`
			}
			if json.Unmarshal(it.Data, &u) == nil {
				used[strings.TrimPrefix(it.SK, prefixUsed)] = u.At
			}
		case strings.HasPrefix(it.SK, prefixKey):
			var k Key
			if err := json.Unmarshal(it.Data, &k); err != nil {
				return nil, fmt.Errorf("decode key %s: %w", it.SK, err)
			}
			if k.Role == "" {
				k.Role = auth.RoleDeveloper
			}
			out = append(out, &k)
		}
	}
	for _, k := range out {
		if at, ok := used[k.ID]; ok {
			at := at
			k.LastUsedAt = &at
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, nil
}

// RevokeKey revokes the key with the public ID. It takes effect at once on this instance
// and within the cache TTL everywhere. Revoking twice is not an error.
func (s *Service) RevokeKey(ctx context.Context, keyID string) (*Key, error) {
	ptr, err := s.keyPointer(ctx, keyID)
	if err != nil {
		return nil, err
	}
	it, err := s.st.Get(ctx, keyHashKey(ptr.Hash))
	if err != nil {
		return nil, fmt.Errorf("revoke key %s: %w", keyID, err)
	}
	var rec keyRecord
	if err := json.Unmarshal(it.Data, &rec); err != nil {
		return nil, fmt.Errorf("decode key %s: %w", keyID, err)
	}
	if !rec.Revoked {
		now := s.opt.now().UTC()
		rec.Revoked, rec.RevokedAt = true, &now
		if err := s.st.Transact(ctx, s.keyWrites(rec, store.Always, false)); err != nil {
			return nil, fmt.Errorf("revoke key %s: %w", keyID, err)
		}
	}
	if raw, err := hex.DecodeString(ptr.Hash); err == nil && len(raw) == 32 {
		var h [32]byte
		copy(h[:], raw)
		s.mu.Lock()
		delete(s.keys, h)
		s.mu.Unlock()
	}
	k := rec.Key
	return &k, nil
}

// ---- authentication ----

// Authenticate resolves an API key secret to its principal and tenant. Errors:
// ErrInvalidKey (malformed or unknown), ErrKeyRevoked, ErrKeyExpired (401) and
// ErrTenantSuspended (403). The tenant is shared with the cache: treat it as read-only.
func (s *Service) Authenticate(ctx context.Context, secret string) (auth.Principal, *Tenant, error) {
	id, err := s.Resolve(ctx, secret)
	return id.Principal, id.Tenant, err
}

// Resolve is Authenticate returning the key's own limits as well. Platform keys are
// refused with ErrInvalidKey: they belong to no tenant and serve only the admin API.
func (s *Service) Resolve(ctx context.Context, secret string) (Identity, error) {
	id, err := s.ResolveAny(ctx, secret)
	if err == nil && id.Tenant == nil {
		return Identity{}, ErrInvalidKey
	}
	return id, err
}

// ResolveAny resolves a tenant's key or a platform key (Identity.Tenant is nil for a
// platform key); the admin API accepts both.
func (s *Service) ResolveAny(ctx context.Context, secret string) (Identity, error) {
	if !wellFormed(secret) {
		return Identity{}, ErrInvalidKey
	}
	h := hashSecret(secret)
	now := s.opt.now()
	nowNS := now.UnixNano()
	s.mu.RLock()
	e := s.keys[h]
	s.mu.RUnlock()
	if e == nil || nowNS >= e.until {
		var err error
		if e, err = s.loadKey(ctx, h, now); err != nil {
			return Identity{}, err
		}
	}
	if e.err != nil {
		return Identity{}, e.err
	}
	if e.expires != 0 && nowNS >= e.expires {
		return Identity{}, ErrKeyExpired
	}
	if e.id.Tenant != nil && e.id.Tenant.Status != StatusActive {
		return Identity{}, fmt.Errorf("tenant %s: %w", e.id.Tenant.ID, ErrTenantSuspended)
	}
	if last := e.lastTouch.Load(); nowNS-last >= int64(lastUsedEvery) && e.lastTouch.CompareAndSwap(last, nowNS) {
		go s.touch(e.id.Principal.TenantID, e.id.Principal.KeyID, now)
	}
	return e.id, nil
}

// loadKey reads the key and its tenant from the store and caches the outcome.
func (s *Service) loadKey(ctx context.Context, h [32]byte, now time.Time) (*cacheEntry, error) {
	hash := hex.EncodeToString(h[:])
	it, err := s.st.Get(ctx, keyHashKey(hash))
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrInvalidKey
	}
	if err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	var rec keyRecord
	if err := json.Unmarshal(it.Data, &rec); err != nil {
		return nil, fmt.Errorf("authenticate: decode key: %w", err)
	}
	e := &cacheEntry{hash: hash, until: now.Add(s.opt.ttl).UnixNano()}
	role := rec.Role
	if role == "" {
		role = auth.RoleDeveloper
	}
	switch {
	case rec.Revoked:
		e.err = fmt.Errorf("key %s: %w", rec.ID, ErrKeyRevoked)
	case rec.TenantID == "":
		e.id = Identity{Principal: auth.Principal{KeyID: rec.ID, Scopes: rec.Scopes, Role: rec.Role, Admin: rec.Role == auth.RolePlatformAdmin}}
		if rec.ExpiresAt != nil {
			e.expires = rec.ExpiresAt.UnixNano()
		}
		e.lastTouch.Store(now.UnixNano() - int64(lastUsedEvery))
	default:
		t, err := s.GetTenant(ctx, rec.TenantID)
		if errors.Is(err, ErrNotFound) {
			return nil, ErrInvalidKey
		}
		if err != nil {
			return nil, fmt.Errorf("authenticate: %w", err)
		}
		e.id = Identity{Principal: auth.Principal{TenantID: t.ID, KeyID: rec.ID, Scopes: rec.Scopes, Role: role}, Tenant: t, KeyLimits: rec.Limits}
		if rec.ExpiresAt != nil {
			e.expires = rec.ExpiresAt.UnixNano()
		}
		// Start the last-used clock so the first use is recorded on this instance.
		e.lastTouch.Store(now.UnixNano() - int64(lastUsedEvery))
	}
	if s.opt.ttl > 0 {
		s.mu.Lock()
		if len(s.keys) >= s.opt.maxEntries {
			s.evictLocked(now.UnixNano())
		}
		s.keys[h] = e
		s.mu.Unlock()
	}
	return e, nil
}

// evictLocked drops expired entries, and if none expired, an arbitrary tenth of the cache.
func (s *Service) evictLocked(nowNS int64) {
	n := 0
	for k, e := range s.keys {
		if nowNS >= e.until {
			delete(s.keys, k)
			n++
		}
	}
	if n > 0 {
		return
	}
	drop := len(s.keys)/10 + 1
	for k := range s.keys {
		if drop == 0 {
			break
		}
		delete(s.keys, k)
		drop--
	}
}

// touch records the key's last use, off the request path.
func (s *Service) touch(tenantID, keyID string, at time.Time) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	data, _ := json.Marshal(struct {
		At time.Time `json:"last_used_at"`
	}{at.UTC()})
	if _, err := s.st.Put(ctx, store.Item{Key: store.Key{PK: keyListPK(tenantID), SK: prefixUsed + keyID}, Data: data}, store.WriteOptions{}); err != nil {
		s.opt.log.Warn("record API key last use", "tenant", tenantID, "key_id", keyID, "error", err)
	}
}

// invalidateTenant drops every cached authentication of the tenant.
func (s *Service) invalidateTenant(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, e := range s.keys {
		if e.id.Tenant != nil && e.id.Tenant.ID == id {
			delete(s.keys, k)
		}
	}
	for k, e := range s.iam {
		if e.id.Tenant != nil && e.id.Tenant.ID == id {
			delete(s.iam, k)
		}
	}
}
