package gateway

import (
	"context"
	"time"

	"github.com/plinth-ai/plinth/shared/cache"
	"github.com/plinth-ai/plinth/shared/provider"
	"github.com/plinth-ai/plinth/shared/quota"
	"github.com/plinth-ai/plinth/shared/registry"
	"github.com/plinth-ai/plinth/shared/tenant"
	"github.com/plinth-ai/plinth/shared/usage"
)

// Estimate is the worst case a request may cost, reserved before the provider call.
type Estimate struct {
	Tokens int64
	USD    float64
}

// Quota reserves capacity before a call and reconciles it with the actual usage after:
// *quota.Quotas plugs in as it is. A caller over a limit or budget is refused with an
// error matching quota.ErrRateLimited or quota.ErrBudgetExceeded (a *quota.LimitError
// in the chain says which limit and when to retry).
type Quota interface {
	Reserve(ctx context.Context, r quota.ReserveRequest) (*quota.Reservation, error)
	Reconcile(ctx context.Context, r *quota.Reservation, tokens int64, usd float64) error
}

// UsageRecord describes one request for accounting. It never holds prompt or output text.
type UsageRecord struct {
	RequestID    string
	TenantID     string
	KeyID        string
	Model        string
	Deployment   string
	Endpoint     string
	InputTokens  int64
	OutputTokens int64
	CostUSD      float64
	Latency      time.Duration
	CacheHit     bool
	Streamed     bool
	// Estimated is true when the provider reported no usage and the reservation was charged.
	Estimated bool
	Guardrail map[string]int
	// Guarded is true when a guardrail policy judged the request.
	Guarded   bool
	Status    int
	ErrorCode string
	Tags      map[string]string
	Time      time.Time
}

// Usage keeps usage records, the billing ledger: *usage.Recorder plugs in as it is. An
// error means the record was not stored; the gateway logs it in full.
type Usage interface {
	Record(ctx context.Context, rec usage.Record) error
}

// Invoker routes a request to a model's deployments, with retries, fallbacks and breakers.
type Invoker interface {
	Chat(ctx context.Context, m *registry.Model, req *provider.ChatRequest) (*provider.ChatResponse, Served, error)
	ChatStream(ctx context.Context, m *registry.Model, req *provider.ChatRequest) (provider.Stream, Served, error)
	Embed(ctx context.Context, m *registry.Model, req *provider.EmbeddingRequest) (*provider.EmbeddingResponse, Served, error)
}

// Served says which model and deployment answered.
type Served struct {
	ModelID      string
	DeploymentID string
	Attempts     int
	// Prices of the model that answered (a fallback may differ from the requested one).
	Prices registry.Prices
}

// Models resolves model names through the registry.
type Models interface {
	Resolve(ctx context.Context, name string) (*registry.Model, error)
	Snapshot(ctx context.Context) ([]*registry.Model, error)
}

// Tenants looks tenants up for CallerFor (the tenant service's cache).
type Tenants interface {
	CachedTenant(ctx context.Context, id string) (*tenant.Tenant, error)
}

// GuardVerdict is the outcome of a guardrail check.
type GuardVerdict struct {
	// Blocked means the content must not pass; Message is the policy's blocked message.
	Blocked bool
	Message string
	// Texts are the checked texts after masking (same order and length as the input);
	// Changed says whether any differs.
	Texts   []string
	Changed bool
	// Findings counts findings by type (e.g. "EMAIL": 2, "PROMPT_ATTACK": 1), never text.
	Findings map[string]int
	// Filters are the kinds of the filters that acted, as the guardrail summarises them
	// ("content.PROMPT_ATTACK", "pii.EMAIL", "word.custom", "topic.<name>", ...).
	Filters []string
	// Policy names the policy that judged the content; empty when none applies to the
	// caller (no policy of its own and no platform baseline), and the content passed.
	Policy string
}

// StreamGuard checks streamed output incrementally, holding back a window so an entity
// split across chunks is caught before it leaves.
type StreamGuard interface {
	// Write takes the next delta and returns what is safe to emit now.
	Write(delta string) (emit string, blocked bool)
	// Flush returns the held-back remainder at the end of the stream.
	Flush() (emit string, blocked bool)
	// Findings returns counts by type so far.
	Findings() map[string]int
	// Filters returns the kinds of the filters that acted so far (as GuardVerdict.Filters).
	Filters() []string
	// Message is the policy's blocked-output message.
	Message() string
}

// Guard applies the caller's guardrail policy to model input and output. Errors mean
// the policy could not be applied (the gateway then refuses with ErrGuardrailUnavailable).
type Guard interface {
	// Input checks the messages the caller sent; the verdict's Texts has one entry per
	// message (assistant turns pass unchecked, and the operator's system prompts are not
	// judged as prompt attacks).
	Input(ctx context.Context, c *Caller, msgs []provider.Message) (GuardVerdict, error)
	Output(ctx context.Context, c *Caller, texts []string) (GuardVerdict, error)
	// OutputStream returns nil when the caller's policy checks no output.
	OutputStream(ctx context.Context, c *Caller) StreamGuard
}

// Cache is the tenant-scoped response cache: *cache.Cache plugs in as it is. Its
// failures are logged and count as misses: the cache never fails a request.
type Cache interface {
	// Lookup returns the tenant's cached answer to req, if its settings cache it.
	Lookup(ctx context.Context, tenantID string, req *provider.ChatRequest, s tenant.CacheSettings) (*cache.Entry, cache.Hit, error)
	// Store caches a complete answer.
	Store(ctx context.Context, tenantID string, req *provider.ChatRequest, s tenant.CacheSettings, e *cache.Entry) error
}

// Metrics receives one observation per request (CloudWatch EMF in AWS).
type Metrics interface {
	Observe(rec *UsageRecord)
}

type nopMetrics struct{}

func (nopMetrics) Observe(*UsageRecord) {}

// Grounder grounds chat completions that name a knowledge base (the knowledge_base
// extension field) in the caller's tenant's documents.
type Grounder interface {
	// Ground retrieves from the knowledge base for the last user message of msgs (the
	// caller's). It returns an *Error of kind ErrKnowledgeBaseNotFound or
	// ErrInvalidRequest for requests that cannot be grounded.
	Ground(ctx context.Context, c *Caller, kb *provider.KnowledgeBaseRef, msgs []provider.Message) (*Grounding, error)
}

// Grounding is the outcome of retrieval for one request.
type Grounding struct {
	// Frame turns the caller's messages (after the input guardrail) into the grounded
	// prompt: the caller's instructions, the platform's grounding prompt, the numbered
	// sources and the question.
	Frame func(callerMessages []provider.Message) []provider.Message
	// Cite returns the JSON list of the sources an answer cites.
	Cite func(answer string) []byte
}
