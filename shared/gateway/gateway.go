// Package gateway is the OpenAI-compatible model gateway: authentication, authorisation,
// quota reservation, guardrails, caching, routing to providers and usage accounting for
// /v1/chat/completions, /v1/embeddings and /v1/models. It is an http.Handler, served by
// net/http locally and by API Gateway + Lambda in AWS.
//
// The gateway declares the ports it needs (Authenticator, Quota, Usage, Guard, Cache,
// Invoker); the platform wires adapters for them.
package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/plinth-ai/plinth/shared/auth"
	"github.com/plinth-ai/plinth/shared/httpapi"
	"github.com/plinth-ai/plinth/shared/provider"
	"github.com/plinth-ai/plinth/shared/registry"
	"github.com/plinth-ai/plinth/shared/tenant"
)

// Caller is the authenticated caller of a request.
type Caller struct {
	Principal auth.Principal
	// Tenant is the caller's tenant (shared with the authentication cache: read-only).
	Tenant *tenant.Tenant
	// KeyLimits are the API key's own limits, when it has any.
	KeyLimits *tenant.Limits
}

// allowed is the platform's one policy decision (tenant.CanInvoke) for a model the
// client named requested (an ID or an alias of m). /v1/models and every invocation use it.
func (c *Caller) allowed(m *registry.Model, requested string) error {
	ref := tenant.ModelRef{Name: requested}
	if requested != m.ID {
		ref.Target = m.ID
	}
	return tenant.CanInvoke(c.Principal, c.Tenant, auth.ScopeInference, ref)
}

// guardrailPolicy names the tenant's guardrail policy ("" = none).
func (c *Caller) guardrailPolicy() string {
	if c.Tenant == nil {
		return ""
	}
	return c.Tenant.GuardrailPolicy
}

// cacheEnabled reports whether the tenant uses the response cache.
func (c *Caller) cacheEnabled() bool { return c.Tenant != nil && c.Tenant.Cache.Enabled }

// Authenticator turns a request's credentials into a Caller. It returns an *httpapi.Error
// (401/403) when the caller is not admitted.
type Authenticator interface {
	Authenticate(r *http.Request) (*Caller, error)
}

// Estimate is the worst case a request may cost, reserved before the provider call.
type Estimate struct {
	Tokens int64
	USD    float64
}

// Reservation is quota held for one request.
type Reservation interface {
	// Settle replaces the reserved amounts with the actual ones. When actual usage is
	// unknown the caller passes the reserved amounts and estimated=true.
	Settle(ctx context.Context, tokens int64, usd float64) error
}

// Quota reserves capacity before a call. It returns an *httpapi.Error with status 429
// and Retry-After when the caller is over a limit or budget.
type Quota interface {
	Reserve(ctx context.Context, c *Caller, model string, est Estimate) (Reservation, error)
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
	Status    int
	ErrorCode string
	Tags      map[string]string
	Time      time.Time
}

// Usage records accounting records.
type Usage interface {
	Record(ctx context.Context, rec UsageRecord)
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

// Gateway serves the OpenAI-compatible API.
type Gateway struct {
	models   Models
	invoker  Invoker
	quota    Quota
	usage    Usage
	guard    Guard
	cache    Cache
	grounder Grounder
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

// WithLogger sets the request logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(g *Gateway) { g.log = l } }

// WithMetrics sets the metrics sink.
func WithMetrics(m Metrics) Option { return func(g *Gateway) { g.metrics = m } }

// WithClock sets the clock.
func WithClock(now func() time.Time) Option { return func(g *Gateway) { g.now = now } }

// WithMaxBodyBytes sets the request body limit.
func WithMaxBodyBytes(n int64) Option { return func(g *Gateway) { g.maxBody = n } }

// New returns a gateway. models and invoker are required. Requests must pass through
// Authenticate first, which establishes the Caller.
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

// Routes registers the gateway's endpoints on mux.
func (g *Gateway) Routes(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/chat/completions", g.handleChat)
	mux.HandleFunc("POST /v1/embeddings", g.handleEmbeddings)
	mux.HandleFunc("GET /v1/models", g.handleListModels)
	mux.HandleFunc("GET /v1/models/{id...}", g.handleGetModel)
}

type callerKey struct{}

// WithCaller returns ctx carrying c (and c's principal for shared/auth readers).
func WithCaller(ctx context.Context, c *Caller) context.Context {
	return context.WithValue(auth.WithPrincipal(ctx, c.Principal), callerKey{}, c)
}

// CallerFrom returns the caller established by Authenticate.
func CallerFrom(ctx context.Context) (*Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(*Caller)
	return c, ok
}

// Authenticate is middleware admitting only requests with valid credentials; it answers
// 401/403 in OpenAI's error shape otherwise.
func Authenticate(a Authenticator, next http.Handler) http.Handler {
	if a == nil {
		panic("gateway: nil authenticator")
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := a.Authenticate(r)
		if err != nil {
			var he *httpapi.Error
			if !errors.As(err, &he) {
				// Not a verdict on the credentials: the tenant store (or another
				// dependency) failed. Say so, and log it, rather than a bare 500.
				slog.ErrorContext(r.Context(), "authentication unavailable", "request_id", httpapi.RequestID(r.Context()), "error", err)
				err = &httpapi.Error{Status: http.StatusServiceUnavailable, Code: "service_unavailable",
					Message: "credentials cannot be checked right now; retry shortly", RetryAfter: time.Second}
			}
			httpapi.WriteError(w, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(WithCaller(r.Context(), c)))
	})
}
