// Package gatewayusage adapts the usage Recorder to the gateway's Usage port.
package gatewayusage

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"

	"github.com/plinth-ai/plinth/shared/gateway"
	"github.com/plinth-ai/plinth/shared/usage"
)

// Usage implements gateway.Usage.
type Usage struct {
	r   *usage.Recorder
	log *slog.Logger
}

var _ gateway.Usage = (*Usage)(nil)

// New returns the adapter. It panics if r is nil.
func New(r *usage.Recorder, log *slog.Logger) *Usage {
	if r == nil {
		panic("gatewayusage.New: nil recorder")
	}
	if log == nil {
		log = slog.Default()
	}
	return &Usage{r: r, log: log}
}

// Record converts and queues the record. The recorder never drops it silently; an error
// here (recorder closed) is logged with the full record.
func (u *Usage) Record(ctx context.Context, rec gateway.UsageRecord) {
	r := Convert(rec)
	if err := u.r.Record(ctx, r); err != nil {
		raw, _ := json.Marshal(r)
		u.log.Error("usage record NOT STORED", "error", err, "tenant", r.Tenant, "request_id", r.RequestID, "usage_record", string(raw))
	}
}

// Convert maps the gateway's record to a usage.Record.
func Convert(rec gateway.UsageRecord) usage.Record {
	status := usage.StatusOK
	switch {
	case rec.ErrorCode == "client_closed" || rec.Status == 499:
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
		Streamed: rec.Streamed, Time: rec.Time,
	}
}
