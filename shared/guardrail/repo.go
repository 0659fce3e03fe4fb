package guardrail

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/plinth-ai/plinth/shared/fault"
	"github.com/plinth-ai/plinth/shared/idpattern"
	"github.com/plinth-ai/plinth/shared/store"
)

// Repository errors.
var (
	// ErrPolicyNotFound means no policy (or version) has the ID.
	ErrPolicyNotFound = fault.Sentinel("guardrail: policy not found", fault.ErrNotFound)
	// ErrPolicyExists means a policy with the ID already exists.
	ErrPolicyExists = fault.Sentinel("guardrail: policy already exists", fault.ErrExists)
	// ErrConcurrentUpdate means another writer created a version at the same time; retry.
	ErrConcurrentUpdate = fault.Sentinel("guardrail: concurrent policy update", fault.ErrConflict)
)

// Store layout (single table):
//
//	PK GUARDRAIL#<id>  SK META                 → PolicyInfo (latest version, timestamps)
//	PK GUARDRAIL#<id>  SK V#<000000 version>   → Policy document of that version (immutable)
//	PK GUARDRAILS      SK <id>                 → PolicyInfo (the listing index)
const (
	pkPrefix  = "GUARDRAIL#"
	pkIndex   = "GUARDRAILS"
	skMeta    = "META"
	skVersion = "V#"
)

// PolicyInfo describes a stored policy.
type PolicyInfo struct {
	ID            string    `json:"id"`
	Name          string    `json:"name"`
	Description   string    `json:"description,omitempty"`
	Tenant        string    `json:"tenant,omitempty"`
	LatestVersion int       `json:"latestVersion"`
	CreatedAt     time.Time `json:"createdAt"`
	UpdatedAt     time.Time `json:"updatedAt"`
}

// VersionInfo describes one stored version.
type VersionInfo struct {
	Version   int       `json:"version"`
	CreatedAt time.Time `json:"createdAt"`
}

type storedVersion struct {
	Policy    *Policy   `json:"policy"`
	CreatedAt time.Time `json:"createdAt"`
}

// Repository stores named, versioned policies on the store port. Versions are immutable;
// saving a policy again creates the next version.
type Repository struct {
	st  store.Store
	now func() time.Time
}

// RepoOption configures a Repository.
type RepoOption func(*Repository)

// WithRepoClock sets the clock used for timestamps.
func WithRepoClock(now func() time.Time) RepoOption { return func(r *Repository) { r.now = now } }

// NewRepository builds a repository over st.
func NewRepository(st store.Store, opts ...RepoOption) *Repository {
	if st == nil {
		panic("guardrail.NewRepository: nil store")
	}
	r := &Repository{st: st, now: time.Now}
	for _, o := range opts {
		o(r)
	}
	return r
}

var idPattern = idpattern.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_-]{0,63}$`)

func versionSK(v int) string { return fmt.Sprintf("%s%06d", skVersion, v) }

func newID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "gr-" + hex.EncodeToString(b[:])
}

// Create stores p as version 1 of a new policy. An empty p.ID gets a generated one.
func (r *Repository) Create(ctx context.Context, p Policy) (*Policy, error) {
	if p.ID == "" {
		p.ID = newID()
	}
	if !idPattern.MatchString(p.ID) {
		return nil, fmt.Errorf("%w: id must be 1-64 letters, digits, '-' or '_'", ErrInvalidPolicy)
	}
	if p.Tenant != "" && !idPattern.MatchString(p.Tenant) {
		return nil, fmt.Errorf("%w: tenant %q is not a tenant ID", ErrInvalidPolicy, p.Tenant)
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	now := r.now().UTC()
	p.Version = 1
	info := PolicyInfo{ID: p.ID, Name: p.Name, Description: p.Description, Tenant: p.Tenant, LatestVersion: 1, CreatedAt: now, UpdatedAt: now}
	infoJSON, _ := json.Marshal(info)
	verJSON, err := json.Marshal(storedVersion{Policy: &p, CreatedAt: now})
	if err != nil {
		return nil, fmt.Errorf("encode policy %s: %w", p.ID, err)
	}
	pk := pkPrefix + p.ID
	err = r.st.Transact(ctx, []store.Op{
		{Kind: store.OpPut, Item: store.Item{Key: store.Key{PK: pk, SK: skMeta}, Data: infoJSON}, Options: store.WriteOptions{Cond: store.IfNotExists}},
		{Kind: store.OpPut, Item: store.Item{Key: store.Key{PK: pk, SK: versionSK(1)}, Data: verJSON}, Options: store.WriteOptions{Cond: store.IfNotExists}},
		{Kind: store.OpPut, Item: store.Item{Key: store.Key{PK: pkIndex, SK: p.ID}, Data: infoJSON}},
	})
	if errors.Is(err, store.ErrTransactionConflict) || errors.Is(err, store.ErrConditionFailed) {
		return nil, fault.New(ErrPolicyExists, "id", "guardrail policy %q already exists; choose another id, or change it with PUT /admin/guardrail-policies/%s", p.ID, p.ID)
	}
	if err != nil {
		return nil, fmt.Errorf("create policy %s: %w", p.ID, err)
	}
	return &p, nil
}

// Update stores p as the next version of the existing policy id.
func (r *Repository) Update(ctx context.Context, id string, p Policy) (*Policy, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	pk := pkPrefix + id
	meta, err := r.st.Get(ctx, store.Key{PK: pk, SK: skMeta})
	if errors.Is(err, store.ErrNotFound) {
		return nil, policyNotFound(id)
	}
	if err != nil {
		return nil, fmt.Errorf("update policy %s: %w", id, err)
	}
	var info PolicyInfo
	if err := json.Unmarshal(meta.Data, &info); err != nil {
		return nil, fmt.Errorf("decode policy %s: %w", id, err)
	}
	if p.Tenant != "" && p.Tenant != info.Tenant {
		return nil, fmt.Errorf("%w: policy %s's owner cannot change", ErrInvalidPolicy, id)
	}
	now := r.now().UTC()
	p.ID, p.Tenant = id, info.Tenant
	p.Version = info.LatestVersion + 1
	info.LatestVersion = p.Version
	info.Name, info.Description, info.UpdatedAt = p.Name, p.Description, now
	infoJSON, _ := json.Marshal(info)
	verJSON, err := json.Marshal(storedVersion{Policy: &p, CreatedAt: now})
	if err != nil {
		return nil, fmt.Errorf("encode policy %s: %w", id, err)
	}
	err = r.st.Transact(ctx, []store.Op{
		{Kind: store.OpPut, Item: store.Item{Key: store.Key{PK: pk, SK: skMeta}, Data: infoJSON}, Options: store.WriteOptions{Cond: store.IfVersion, Version: meta.Version}},
		{Kind: store.OpPut, Item: store.Item{Key: store.Key{PK: pk, SK: versionSK(p.Version)}, Data: verJSON}, Options: store.WriteOptions{Cond: store.IfNotExists}},
		{Kind: store.OpPut, Item: store.Item{Key: store.Key{PK: pkIndex, SK: id}, Data: infoJSON}},
	})
	if errors.Is(err, store.ErrTransactionConflict) || errors.Is(err, store.ErrConditionFailed) {
		return nil, fmt.Errorf("update policy %s: %w", id, ErrConcurrentUpdate)
	}
	if err != nil {
		return nil, fmt.Errorf("update policy %s: %w", id, err)
	}
	return &p, nil
}

// Get returns version v of policy id (v = 0 for the latest).
func (r *Repository) Get(ctx context.Context, id string, v int) (*Policy, error) {
	pk := pkPrefix + id
	if v == 0 {
		info, err := r.Info(ctx, id)
		if err != nil {
			return nil, err
		}
		v = info.LatestVersion
	}
	it, err := r.st.Get(ctx, store.Key{PK: pk, SK: versionSK(v)})
	if errors.Is(err, store.ErrNotFound) {
		return nil, fault.New(ErrPolicyNotFound, "", "guardrail policy %s has no version %d; GET /admin/guardrail-policies/%s shows the latest", id, v, id)
	}
	if err != nil {
		return nil, fmt.Errorf("get policy %s version %d: %w", id, v, err)
	}
	var sv storedVersion
	if err := json.Unmarshal(it.Data, &sv); err != nil || sv.Policy == nil {
		return nil, fmt.Errorf("decode policy %s version %d: %v", id, v, err)
	}
	return sv.Policy, nil
}

// GetFor returns version v of policy id (0 for the latest) if tenantID may apply it: the
// policy is the tenant's own or platform-shared. Another tenant's policy fails with the
// very error a missing one does, so its existence is not revealed.
func (r *Repository) GetFor(ctx context.Context, tenantID, id string, v int) (*Policy, error) {
	info, err := r.Info(ctx, id)
	if err != nil {
		return nil, err
	}
	if info.Tenant != "" && info.Tenant != tenantID {
		return nil, policyNotFound(id)
	}
	if v == 0 {
		v = info.LatestVersion
	}
	if v > info.LatestVersion {
		// A version that does not exist yet: answer as for a missing policy.
		return nil, policyNotFound(id)
	}
	return r.Get(ctx, id, v)
}

// Info returns the policy's description.
func (r *Repository) Info(ctx context.Context, id string) (PolicyInfo, error) {
	it, err := r.st.Get(ctx, store.Key{PK: pkPrefix + id, SK: skMeta})
	if errors.Is(err, store.ErrNotFound) {
		return PolicyInfo{}, policyNotFound(id)
	}
	if err != nil {
		return PolicyInfo{}, fmt.Errorf("get policy %s: %w", id, err)
	}
	var info PolicyInfo
	if err := json.Unmarshal(it.Data, &info); err != nil {
		return PolicyInfo{}, fmt.Errorf("decode policy %s: %w", id, err)
	}
	return info, nil
}

// Versions lists the policy's versions, oldest first.
func (r *Repository) Versions(ctx context.Context, id string) ([]VersionInfo, error) {
	if _, err := r.Info(ctx, id); err != nil {
		return nil, err
	}
	items, err := r.st.Query(ctx, pkPrefix+id, store.QueryOptions{Prefix: skVersion})
	if err != nil {
		return nil, fmt.Errorf("list versions of %s: %w", id, err)
	}
	out := make([]VersionInfo, 0, len(items))
	for _, it := range items {
		v, err := strconv.Atoi(it.SK[len(skVersion):])
		if err != nil {
			continue
		}
		var sv storedVersion
		_ = json.Unmarshal(it.Data, &sv)
		out = append(out, VersionInfo{Version: v, CreatedAt: sv.CreatedAt})
	}
	return out, nil
}

// List returns every stored policy's description, ordered by ID.
func (r *Repository) List(ctx context.Context) ([]PolicyInfo, error) {
	items, err := r.st.Query(ctx, pkIndex, store.QueryOptions{})
	if err != nil {
		return nil, fmt.Errorf("list policies: %w", err)
	}
	out := make([]PolicyInfo, 0, len(items))
	for _, it := range items {
		var info PolicyInfo
		if err := json.Unmarshal(it.Data, &info); err != nil {
			return nil, fmt.Errorf("decode policy index %s: %w", it.SK, err)
		}
		out = append(out, info)
	}
	return out, nil
}

// policyNotFound is the failure for a policy ID the repository does not have (or that
// belongs to another tenant).
func policyNotFound(id string) error {
	return fault.New(ErrPolicyNotFound, "", "guardrail policy %q does not exist; list policies with GET /admin/guardrail-policies", id)
}
