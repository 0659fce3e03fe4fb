// Package gateway is Plinth's model gateway: a Go service first, with one HTTP adapter.
//
// The service (Chat, ChatStream, Embed, Models, Model) takes a context, the Caller and a
// typed request, and runs every request through one pipeline:
//
//	resolve → ground → reserve → guard in → cache → invoke → guard out → settle → record
//
// resolve finds the model and applies the one model-access policy; ground retrieves
// from a knowledge base (the knowledge_base extension); reserve holds the worst case
// against the caller's quotas; the input guardrail judges what the caller sent (never
// the prompt the platform authors around it); cache answers repeated requests; invoke
// routes to the model's deployments; the output guardrail checks the answer (by windows
// when streamed); settle replaces the reservation with the provider-reported usage; and
// record writes the usage record, the metrics and the request's log line, however the
// request ends. Refusals and failures are errors matching the package's sentinels
// (ErrModelNotAllowed, ErrUpstream, ...) or quota's (quota.ErrRateLimited,
// quota.ErrBudgetExceeded) with errors.Is.
//
// Platform features (evaluation, grounded answers, ingestion, agents) call the service
// directly with a Caller for the tenant they act for (CallerFor), and so get the same
// policy, quotas, guardrails, cache and usage as any application.
//
// The HTTP adapter (Routes, Authenticate; the files named http*.go) is the only place
// that knows HTTP: it decodes OpenAI's JSON, encodes results and server-sent events,
// and maps errors to OpenAI's statuses and error shape.
//
// The gateway declares the ports it needs (Models, Invoker, Quota, Usage, Guard, Cache,
// Grounder, Metrics, Tenants; Authenticator for HTTP); the composition root plugs
// adapters in.
package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/plinth-ai/plinth/shared/auth"
	"github.com/plinth-ai/plinth/shared/tenant"
)

// Gateway is the model gateway service.
type Gateway struct {
	models   Models
	invoker  Invoker
	quota    Quota
	usage    Usage
	guard    Guard
	cache    Cache
	grounder Grounder
	tenants  Tenants
	log      *slog.Logger
	metrics  Metrics
	now      func() time.Time
	maxBody  int64
}

// Option configures a Gateway.
type Option func(*Gateway)

// WithQuota enables quota reservations.
func WithQuota(q Quota) Option { return func(g *Gateway) { g.quota = q } }

// WithUsage enables usage records.
func WithUsage(u Usage) Option { return func(g *Gateway) { g.usage = u } }

// WithGuard enables input and output guardrails.
func WithGuard(gd Guard) Option { return func(g *Gateway) { g.guard = gd } }

// WithCache enables the response cache.
func WithCache(c Cache) Option { return func(g *Gateway) { g.cache = c } }

// WithGrounder enables chat completions grounded in knowledge bases.
func WithGrounder(gr Grounder) Option { return func(g *Gateway) { g.grounder = gr } }

// WithTenants lets CallerFor describe tenants to the service.
func WithTenants(t Tenants) Option { return func(g *Gateway) { g.tenants = t } }

// WithLogger sets the request logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(g *Gateway) { g.log = l } }

// WithMetrics sets the metrics sink.
func WithMetrics(m Metrics) Option { return func(g *Gateway) { g.metrics = m } }

// WithClock sets the clock.
func WithClock(now func() time.Time) Option { return func(g *Gateway) { g.now = now } }

// WithMaxBodyBytes sets the HTTP adapter's request body limit (default 4 MiB).
func WithMaxBodyBytes(n int64) Option { return func(g *Gateway) { g.maxBody = n } }

// New returns a gateway. models and invoker are required.
func New(models Models, inv Invoker, opts ...Option) *Gateway {
	if models == nil || inv == nil {
		panic("gateway: nil models or invoker")
	}
	g := &Gateway{models: models, invoker: inv, now: time.Now, maxBody: 4 << 20}
	for _, o := range opts {
		o(g)
	}
	if g.log == nil {
		g.log = slog.Default()
	}
	if g.metrics == nil {
		g.metrics = nopMetrics{}
	}
	return g
}

// Platform key IDs: the KeyID of callers the platform builds for work it does on a
// tenant's behalf, as they appear in usage records.
const (
	KeyEvaluation = "platform:evaluation"
	KeyRAG        = "platform:rag"
	KeyIngestion  = "platform:ingestion"
)

// CallerFor returns the caller for work the platform does on tenantID's behalf
// (evaluation targets and judges, grounded answers, ingestion embeddings): the tenant's
// own model policy, quotas (for KeyIngestion: the tenant's ingestion budget instead),
// guardrail policy, cache settings and usage, with keyID (one
// of the Key constants, or another "platform:…" name) as the key in usage records and
// both the inference and retrieval scopes. It needs WithTenants, and refuses a tenant
// that does not exist or is suspended.
func (g *Gateway) CallerFor(ctx context.Context, tenantID, keyID string) (*Caller, error) {
	if g.tenants == nil {
		return nil, fmt.Errorf("caller for tenant %s: the gateway has no tenant directory", tenantID)
	}
	t, err := g.tenants.CachedTenant(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("caller for tenant %s: %w", tenantID, err)
	}
	if t.Status != tenant.StatusActive {
		return nil, fmt.Errorf("caller for tenant %s: %w", tenantID, tenant.ErrTenantSuspended)
	}
	c := &Caller{
		Principal: auth.Principal{TenantID: tenantID, KeyID: keyID, Scopes: []auth.Scope{auth.ScopeInference, auth.ScopeRetrieval}},
		Tenant:    t,
	}
	if keyID == KeyIngestion {
		// Ingestion runs under the tenant's ingestion budget alone (counted under this
		// key), never against the limits of the tenant's own requests.
		budget := t.IngestionBudget()
		c.KeyLimits, c.OwnBudget = &budget, true
	}
	return c, nil
}
