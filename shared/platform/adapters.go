package platform

import (
	"context"
	"log/slog"
	"net/http"
	"strings"

	"github.com/plinth-ai/plinth/shared/auth"
	"github.com/plinth-ai/plinth/shared/cache"
	"github.com/plinth-ai/plinth/shared/gateway"
	"github.com/plinth-ai/plinth/shared/httpapi"
	"github.com/plinth-ai/plinth/shared/provider"
	"github.com/plinth-ai/plinth/shared/quota"
	"github.com/plinth-ai/plinth/shared/tenant"
	"github.com/plinth-ai/plinth/shared/usage"
)

// callers establishes the gateway Caller from the identity the tenant middleware (or the
// API Gateway authorizer) resolved, and enforces the scope each route family needs.
func callers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := tenant.IdentityFrom(r.Context())
		if !ok {
			httpapi.WriteError(w, httpapi.Errorf(http.StatusUnauthorized, "invalid_api_key", "no valid credentials were supplied"))
			return
		}
		if need := scopeFor(r.URL.Path); need != "" && !id.Principal.Has(need) {
			httpapi.WriteError(w, httpapi.Errorf(http.StatusForbidden, "insufficient_scope", "this key lacks the %q scope needed for %s", need, r.URL.Path))
			return
		}
		c := &gateway.Caller{Principal: id.Principal, Tenant: id.Tenant, KeyLimits: id.KeyLimits}
		next.ServeHTTP(w, r.WithContext(gateway.WithCaller(r.Context(), c)))
	})
}

func scopeFor(path string) auth.Scope {
	switch {
	case strings.HasPrefix(path, "/v1/knowledge-bases"):
		return auth.ScopeRetrieval
	case strings.HasPrefix(path, "/v1/chat/"), strings.HasPrefix(path, "/v1/embeddings"),
		strings.HasPrefix(path, "/v1/models"), strings.HasPrefix(path, "/v1/guardrails"):
		return auth.ScopeInference
	}
	return ""
}

// quotaAdapter implements gateway.Quota on shared/quota.
type quotaAdapter struct{ q *quota.Quotas }

type reservation struct {
	q *quota.Quotas
	r *quota.Reservation
}

func (a quotaAdapter) Reserve(ctx context.Context, c *gateway.Caller, _ string, est gateway.Estimate) (gateway.Reservation, error) {
	if c.Tenant == nil {
		return nil, nil
	}
	r, err := a.q.Reserve(ctx, quota.ReserveRequest{
		Tenant: c.Tenant.ID, KeyID: c.Principal.KeyID,
		Limits: c.Tenant.Limits, KeyLimits: c.KeyLimits,
		EstTokens: est.Tokens, EstUSD: est.USD,
	})
	if err != nil {
		return nil, quota.APIError(err)
	}
	return reservation{q: a.q, r: r}, nil
}

func (r reservation) Settle(ctx context.Context, tokens int64, usd float64) error {
	return r.q.Reconcile(ctx, r.r, tokens, usd)
}

// usageAdapter implements gateway.Usage on the usage recorder.
type usageAdapter struct {
	rec *usage.Recorder
	log *slog.Logger
}

func (a usageAdapter) Record(ctx context.Context, g gateway.UsageRecord) {
	status := usage.StatusOK
	switch {
	case g.Status == 499:
		status = usage.StatusCanceled
	case strings.HasPrefix(g.ErrorCode, "guardrail_"):
		status = usage.StatusBlocked
	case g.Status >= 400 || g.ErrorCode != "":
		status = usage.StatusError
	}
	err := a.rec.Record(context.WithoutCancel(ctx), usage.Record{
		RequestID: g.RequestID, Tenant: g.TenantID, KeyID: g.KeyID, Model: g.Model, Deployment: g.Deployment,
		InputTokens: g.InputTokens, OutputTokens: g.OutputTokens, CostUSD: g.CostUSD,
		LatencyMS: g.Latency.Milliseconds(), CacheHit: g.CacheHit, Guardrail: g.Guardrail,
		Status: status, HTTPStatus: g.Status, Estimated: g.Estimated, Streamed: g.Streamed, Time: g.Time,
	})
	if err != nil {
		a.log.Error("usage record not written", "request_id", g.RequestID, "tenant", g.TenantID,
			"input_tokens", g.InputTokens, "output_tokens", g.OutputTokens, "cost_usd", g.CostUSD, "error", err)
	}
}

// cacheAdapter implements gateway.Cache on shared/cache.
type cacheAdapter struct {
	c   *cache.Cache
	log *slog.Logger
}

func (a cacheAdapter) Lookup(ctx context.Context, c *gateway.Caller, req *provider.ChatRequest) (*provider.ChatResponse, bool) {
	e, hit, err := a.c.Lookup(ctx, c.Tenant.ID, req, c.Tenant.Cache)
	if err != nil {
		a.log.Warn("cache lookup failed; calling the model", "tenant", c.Tenant.ID, "error", err)
		return nil, false
	}
	if hit == cache.Miss || e == nil || e.Response == nil {
		return nil, false
	}
	return e.Response, true
}

func (a cacheAdapter) Store(ctx context.Context, c *gateway.Caller, req *provider.ChatRequest, resp *provider.ChatResponse) {
	if err := a.c.Store(ctx, c.Tenant.ID, req, c.Tenant.Cache, &cache.Entry{Response: resp}); err != nil {
		a.log.Warn("cache store failed", "tenant", c.Tenant.ID, "error", err)
	}
}
