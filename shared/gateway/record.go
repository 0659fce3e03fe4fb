package gateway

import (
	"context"
	"log/slog"
)

// record writes a finished request's usage record, metrics and log line.
func (g *Gateway) record(ctx context.Context, rec *UsageRecord) {
	rec.Latency = g.now().Sub(rec.Time)
	if g.usage != nil && rec.TenantID != "" {
		g.usage.Record(ctx, *rec)
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
