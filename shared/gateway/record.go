package gateway

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"

	"github.com/plinth-ai/plinth/shared/usage"
)

// record writes a finished request's usage record, metrics and log line.
func (g *Gateway) record(ctx context.Context, rec *UsageRecord) {
	rec.Latency = g.now().Sub(rec.Time)
	if g.usage != nil && rec.TenantID != "" {
		u := usageRecord(rec)
		if err := g.usage.Record(ctx, u); err != nil {
			raw, _ := json.Marshal(u)
			g.log.ErrorContext(ctx, "usage record NOT STORED", "error", err, "tenant", u.Tenant, "request_id", u.RequestID, "usage_record", string(raw))
		}
	}
	g.metrics.Observe(rec)
	if level := levelFor(rec.Status); g.log.Enabled(ctx, level) {
		g.log.LogAttrs(ctx, level, "request",
			slog.String("request_id", rec.RequestID), slog.String("endpoint", rec.Endpoint),
			slog.String("tenant", rec.TenantID), slog.String("key", rec.KeyID),
			slog.String("model", rec.Model), slog.String("deployment", rec.Deployment),
			slog.Int64("status", int64(rec.Status)), slog.String("error_code", rec.ErrorCode),
			slog.Int64("input_tokens", rec.InputTokens), slog.Int64("output_tokens", rec.OutputTokens),
			slog.Float64("cost_usd", rec.CostUSD), slog.Float64("latency_ms", float64(rec.Latency.Microseconds())/1000),
			slog.Bool("cache_hit", rec.CacheHit), slog.Bool("stream", rec.Streamed), slog.Bool("estimated", rec.Estimated),
			slog.Any("guardrail", rec.Guardrail))
	}
}

func levelFor(status int) slog.Level {
	switch {
	case status >= 500:
		return slog.LevelError
	case status >= 400 && status != statusCanceled:
		return slog.LevelWarn
	default:
		return slog.LevelInfo
	}
}

func tenantTags(c *Caller) map[string]string {
	if c.Tenant == nil {
		return nil
	}
	return c.Tenant.Tags
}

// usageRecord is the ledger's record of a request.
func usageRecord(rec *UsageRecord) usage.Record {
	status := usage.StatusOK
	switch {
	case rec.Status == statusCanceled:
		status = usage.StatusCanceled
	case strings.HasPrefix(rec.ErrorCode, "guardrail_"):
		status = usage.StatusBlocked
	case rec.Status >= 400 || rec.ErrorCode != "":
		status = usage.StatusError
	}
	return usage.Record{
		RequestID: rec.RequestID, Tenant: rec.TenantID, KeyID: rec.KeyID, Model: rec.Model, Deployment: rec.Deployment,
		InputTokens: rec.InputTokens, OutputTokens: rec.OutputTokens, CostUSD: rec.CostUSD, LatencyMS: rec.Latency.Milliseconds(),
		CacheHit: rec.CacheHit, Guardrail: rec.Guardrail, Status: status, HTTPStatus: rec.Status, Estimated: rec.Estimated,
		Streamed: rec.Streamed, Guarded: rec.Guarded, Time: rec.Time,
	}
}
