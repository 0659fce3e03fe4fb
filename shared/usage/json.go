package usage

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/plinth-ai/plinth/shared/jsonappend"
)

// AppendJSON appends the record's JSON to b: the same bytes json.Marshal writes, built
// without reflection, as a record is encoded on every request (the spool's frame, the
// ledger's item). A test checks the two agree.
func (r *Record) AppendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"request_id":`...)
	b = jsonappend.String(b, r.RequestID, true)
	b = append(b, `,"tenant":`...)
	b = jsonappend.String(b, r.Tenant, true)
	b = append(b, `,"key_id":`...)
	b = jsonappend.String(b, r.KeyID, true)
	b = append(b, `,"model":`...)
	b = jsonappend.String(b, r.Model, true)
	if r.Deployment != "" {
		b = append(b, `,"deployment":`...)
		b = jsonappend.String(b, r.Deployment, true)
	}
	b = append(b, `,"input_tokens":`...)
	b = strconv.AppendInt(b, r.InputTokens, 10)
	b = append(b, `,"output_tokens":`...)
	b = strconv.AppendInt(b, r.OutputTokens, 10)
	b = append(b, `,"cost_usd":`...)
	b, err := jsonappend.Float(b, r.CostUSD)
	if err != nil {
		return b, err
	}
	b = append(b, `,"latency_ms":`...)
	b = strconv.AppendInt(b, r.LatencyMS, 10)
	b = append(b, `,"cache_hit":`...)
	b = strconv.AppendBool(b, r.CacheHit)
	if len(r.Guardrail) > 0 {
		b = append(b, `,"guardrail":{`...)
		keys := make([]string, 0, len(r.Guardrail))
		for k := range r.Guardrail {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonappend.String(b, k, true)
			b = append(b, ':')
			b = strconv.AppendInt(b, int64(r.Guardrail[k]), 10)
		}
		b = append(b, '}')
	}
	if r.Guarded {
		b = append(b, `,"guarded":true`...)
	}
	b = append(b, `,"status":`...)
	b = jsonappend.String(b, r.Status, true)
	if r.HTTPStatus != 0 {
		b = append(b, `,"http_status":`...)
		b = strconv.AppendInt(b, int64(r.HTTPStatus), 10)
	}
	b = append(b, `,"estimated":`...)
	b = strconv.AppendBool(b, r.Estimated)
	b = append(b, `,"streamed":`...)
	b = strconv.AppendBool(b, r.Streamed)
	b = append(b, `,"time":`...)
	if _, off := r.Time.Zone(); off%60 != 0 || r.Time.Year() < 0 || r.Time.Year() > 9999 {
		// What RFC 3339 cannot say exactly: time.Time's own encoder decides (and fails).
		t, err := r.Time.MarshalJSON()
		if err != nil {
			return b, fmt.Errorf("json: error calling MarshalJSON for type time.Time: %w", err)
		}
		b = append(b, t...)
	} else {
		b = append(b, '"')
		b = r.Time.AppendFormat(b, "2006-01-02T15:04:05.999999999Z07:00")
		b = append(b, '"')
	}
	return append(b, '}'), nil
}
