package tenant

import (
	"errors"
	"time"

	"github.com/plinth-ai/plinth/shared/auth"
	"github.com/plinth-ai/plinth/shared/fault"
	"github.com/plinth-ai/plinth/shared/idpattern"
)

// Sentinel errors. Handlers map them to HTTP statuses with errors.Is.
var (
	// ErrNotFound means no tenant, key or mapping has the given ID (404).
	ErrNotFound = fault.Sentinel("tenant: not found", fault.ErrNotFound)
	// ErrExists means a tenant or mapping with the ID already exists (409).
	ErrExists = fault.Sentinel("tenant: already exists", fault.ErrExists)
	// ErrInvalid means the input failed validation (400).
	ErrInvalid = fault.Sentinel("tenant: invalid input", fault.ErrInvalid)
	// ErrInvalidKey means the presented secret is malformed or unknown (401).
	ErrInvalidKey = errors.New("invalid API key")
	// ErrKeyRevoked means the key was revoked (401).
	ErrKeyRevoked = errors.New("API key has been revoked")
	// ErrKeyExpired means the key is past its expiry (401).
	ErrKeyExpired = errors.New("API key has expired")
	// ErrTenantSuspended means the key's tenant is suspended (403).
	ErrTenantSuspended = errors.New("tenant is suspended")
	// ErrUnknownPrincipal means an IAM principal ARN maps to no tenant (403).
	ErrUnknownPrincipal = errors.New("IAM principal is not mapped to a tenant")
	// ErrModelNotAllowed means the caller's tenant may not invoke the model (403).
	ErrModelNotAllowed = errors.New("model not allowed for this tenant")
	// ErrScope means the caller lacks the scope the operation needs (403).
	ErrScope = errors.New("API key lacks the required scope")
)

// Status is a tenant's lifecycle state.
type Status string

const (
	// StatusActive tenants may call the platform.
	StatusActive Status = "active"
	// StatusSuspended tenants are refused with ErrTenantSuspended.
	StatusSuspended Status = "suspended"
)

// IsolationTier selects shared (pool) or dedicated (silo) resources for a tenant.
type IsolationTier string

const (
	// TierPool shares platform resources with other tenants (the default).
	TierPool IsolationTier = "pool"
	// TierSilo gives the tenant dedicated resources where the platform supports it.
	TierSilo IsolationTier = "silo"
)

// Limits are quotas and budgets. A zero value means unlimited.
type Limits struct {
	RequestsPerMinute int64   `json:"requests_per_minute,omitempty"`
	TokensPerMinute   int64   `json:"tokens_per_minute,omitempty"`
	DailyTokens       int64   `json:"daily_tokens,omitempty"`
	MonthlyTokens     int64   `json:"monthly_tokens,omitempty"`
	DailyUSD          float64 `json:"daily_usd,omitempty"`
	MonthlyUSD        float64 `json:"monthly_usd,omitempty"`
}

// IsZero reports whether no limit is set.
func (l Limits) IsZero() bool { return l == Limits{} }

func (l Limits) validate() error {
	if l.RequestsPerMinute < 0 || l.TokensPerMinute < 0 || l.DailyTokens < 0 || l.MonthlyTokens < 0 || l.DailyUSD < 0 || l.MonthlyUSD < 0 {
		return fault.New(ErrInvalid, "limits", "limits must not be negative")
	}
	return nil
}

// CacheSettings are a tenant's response-cache preferences.
type CacheSettings struct {
	// Enabled turns the exact-match response cache on for the tenant.
	Enabled bool `json:"enabled"`
	// TTLSeconds bounds how long an entry is served (0 = platform default).
	TTLSeconds int64 `json:"ttl_seconds,omitempty"`
	// AllowSampled caches requests with temperature > 0 (or unset), whose answers vary.
	AllowSampled bool `json:"allow_sampled,omitempty"`
	// Semantic enables the embedding-similarity cache (opt-in).
	Semantic bool `json:"semantic,omitempty"`
	// SemanticThreshold is the cosine similarity a hit needs (0 = platform default).
	SemanticThreshold float64 `json:"semantic_threshold,omitempty"`
}

// Tenant is a team using the platform.
type Tenant struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Status Status `json:"status"`
	// AllowedModels lists model IDs or aliases the tenant may call; empty means every
	// approved model.
	AllowedModels []string `json:"allowed_models,omitempty"`
	Limits        Limits   `json:"limits"`
	// IngestionLimits are the budget of the embeddings the platform makes to index the
	// tenant's documents: counted apart from Limits, so ingestion never takes the
	// capacity of the tenant's own requests, and paced, not failed, when spent. Unset:
	// DefaultIngestionLimits.
	IngestionLimits *Limits           `json:"ingestion_limits,omitempty"`
	GuardrailPolicy string            `json:"guardrail_policy,omitempty"`
	IsolationTier   IsolationTier     `json:"isolation_tier"`
	Tags            map[string]string `json:"tags,omitempty"`
	Cache           CacheSettings     `json:"cache"`
	// KeyPolicy bounds the keys the tenant's own admins may issue.
	KeyPolicy KeyPolicy `json:"key_policy"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

var idPattern = idpattern.MustCompile(`^[a-z0-9][a-z0-9-]{1,62}$`)

// ValidID reports whether id is a valid tenant ID: 2–63 lowercase letters, digits and
// hyphens, starting with a letter or digit.
func ValidID(id string) bool { return idPattern.MatchString(id) }

func (t *Tenant) validate() error {
	if !ValidID(t.ID) {
		return fault.New(ErrInvalid, "id", "tenant id %q must match %s", t.ID, idPattern)
	}
	switch t.Status {
	case StatusActive, StatusSuspended:
	default:
		return fault.New(ErrInvalid, "status", "status %q must be active or suspended", t.Status)
	}
	switch t.IsolationTier {
	case TierPool, TierSilo:
	default:
		return fault.New(ErrInvalid, "isolation_tier", "isolation_tier %q must be pool or silo", t.IsolationTier)
	}
	if t.Cache.TTLSeconds < 0 || t.Cache.SemanticThreshold < 0 || t.Cache.SemanticThreshold > 1 {
		return fault.New(ErrInvalid, "cache", "cache ttl_seconds must be ≥ 0 and semantic_threshold in [0,1]")
	}
	if err := t.KeyPolicy.validate(); err != nil {
		return err
	}
	if t.IngestionLimits != nil {
		if err := t.IngestionLimits.validate(); err != nil {
			return fault.WithParam(err, "ingestion_limits")
		}
	}
	return t.Limits.validate()
}

// DefaultIngestionLimits is the ingestion budget of a tenant that sets none: a million
// embedding tokens a minute (about 4 MB of text).
var DefaultIngestionLimits = Limits{TokensPerMinute: 1_000_000}

// IngestionBudget is the budget document ingestion runs under for the tenant.
func (t *Tenant) IngestionBudget() Limits {
	if t.IngestionLimits != nil {
		return *t.IngestionLimits
	}
	return DefaultIngestionLimits
}

// Key is an API key's public record. The secret is never stored; only its SHA-256 hash.
type Key struct {
	// ID is the key's public identifier ("key_…"), safe to log and show.
	ID string `json:"id"`
	// TenantID is the key's tenant; empty for a platform key (auditor or platform admin).
	TenantID string `json:"tenant"`
	Name     string `json:"name,omitempty"`
	// Role is what the key may do (see auth.Role); keys made before roles are developers.
	Role auth.Role `json:"role"`
	// Prefix is the secret's first characters, to help owners recognise a key.
	Prefix     string       `json:"prefix"`
	Scopes     []auth.Scope `json:"scopes"`
	CreatedAt  time.Time    `json:"created_at"`
	ExpiresAt  *time.Time   `json:"expires_at,omitempty"`
	Revoked    bool         `json:"revoked"`
	RevokedAt  *time.Time   `json:"revoked_at,omitempty"`
	LastUsedAt *time.Time   `json:"last_used_at,omitempty"`
	// Limits, when set, apply to this key in addition to the tenant's.
	Limits *Limits `json:"limits,omitempty"`
}

// keyRecord is the authoritative stored form of a key (with its hash).
type keyRecord struct {
	Key
	Hash string `json:"hash"`
}

// DefaultScopes are granted to a key created without explicit scopes.
var DefaultScopes = []auth.Scope{auth.ScopeInference, auth.ScopeRetrieval}

func validScopes(s []auth.Scope) error {
	for _, x := range s {
		switch x {
		case auth.ScopeInference, auth.ScopeRetrieval, auth.ScopeAdminRead, auth.ScopeAdmin:
		default:
			return fault.New(ErrInvalid, "scopes", "unknown scope %q (want inference, retrieval, admin-read or admin)", x)
		}
	}
	return nil
}

// IAMPrincipal maps an IAM principal ARN (role or user) to a tenant and a role, or, with
// no tenant, to a platform role (auditor or platform admin).
type IAMPrincipal struct {
	ARN       string       `json:"arn"`
	TenantID  string       `json:"tenant"`
	Role      auth.Role    `json:"role"`
	Scopes    []auth.Scope `json:"scopes"`
	CreatedAt time.Time    `json:"created_at"`
}
