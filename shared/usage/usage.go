// Package usage records one usage record per request and per-tenant, per-model, per-day
// aggregates, off the request path, and answers usage and chargeback queries.
//
// Records never hold prompt or completion text. Storage (single table):
//
//	USAGE#<tenant>#<yyyymmdd> / <RFC 3339 time>#<request id>   one record, expires after 90 days
//	USAGEAGG#<tenant>         / <yyyymmdd>#<model>              counters, added atomically
//
// Each record and its aggregate update are written in one transaction whose record write
// is conditional on absence, so a retried write never double counts.
package usage

import (
	"time"
)

// Status values of a record.
const (
	StatusOK       = "ok"        // the model answered
	StatusError    = "error"     // the provider or platform failed
	StatusBlocked  = "blocked"   // a guardrail blocked the request or response
	StatusCanceled = "cancelled" // the client went away (spend is still recorded)
)

// Record is one request's usage. It holds no prompt or completion text.
type Record struct {
	RequestID    string  `json:"request_id"`
	Tenant       string  `json:"tenant"`
	KeyID        string  `json:"key_id"`
	Model        string  `json:"model"`
	Deployment   string  `json:"deployment,omitempty"`
	InputTokens  int64   `json:"input_tokens"`
	OutputTokens int64   `json:"output_tokens"`
	CostUSD      float64 `json:"cost_usd"`
	LatencyMS    int64   `json:"latency_ms"`
	CacheHit     bool    `json:"cache_hit"`
	// Guardrail counts guardrail actions by type (e.g. "EMAIL": 2, "PROMPT_ATTACK": 1).
	Guardrail map[string]int `json:"guardrail,omitempty"`
	// Guarded is true when a guardrail policy (the tenant's, the platform's baseline, or
	// both) judged the request.
	Guarded bool   `json:"guarded,omitempty"`
	Status  string `json:"status"`
	// HTTPStatus is the status the client received.
	HTTPStatus int `json:"http_status,omitempty"`
	// Estimated is true when the provider reported no usage and the reservation was
	// charged instead: the record needs reconciliation.
	Estimated bool      `json:"estimated"`
	Streamed  bool      `json:"streamed"`
	Time      time.Time `json:"time"`
}

// Cost prices a request: tokens times the per-million-token prices.
func Cost(inTok, outTok int64, pricePerMIn, pricePerMOut float64) float64 {
	return (float64(inTok)*pricePerMIn + float64(outTok)*pricePerMOut) / 1e6
}

const (
	microUSD = 1e6

	nRequests  = "requests"
	nInput     = "input_tokens"
	nOutput    = "output_tokens"
	nCost      = "cost_micro_usd"
	nCacheHits = "cache_hits"
	nErrors    = "errors"
	nEstimated = "estimated"
	nStreamed  = "streamed"
	nGuarded   = "guarded"
	nLatency   = "latency_ms"
	nGuardrail = "g:"
)

func recordPK(tenant string, t time.Time) string {
	return "USAGE#" + tenant + "#" + t.UTC().Format("20060102")
}

func aggPK(tenant string) string { return "USAGEAGG#" + tenant }

// Key identifies a record the way the ledger does (its time and request ID), so a
// spool can name the records a write left unstored; "" for a record without a request
// ID, which is not one.
func Key(r Record) string {
	if r.RequestID == "" {
		return ""
	}
	return recordSK(r)
}

// recordSK sorts records by time; the fixed-width time keeps lexical order chronological.
func recordSK(r Record) string {
	var buf [32]byte
	return string(r.Time.UTC().AppendFormat(buf[:0], "2006-01-02T15:04:05.000000000Z")) + "#" + r.RequestID
}
