package usage

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
)

// AppendJSON appends the record's JSON to b: the same bytes json.Marshal writes, built
// without reflection, as a record is encoded on every request (the spool's frame, the
// ledger's item). A test checks the two agree.
func (r *Record) AppendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"request_id":`...)
	b = appendJSONString(b, r.RequestID)
	b = append(b, `,"tenant":`...)
	b = appendJSONString(b, r.Tenant)
	b = append(b, `,"key_id":`...)
	b = appendJSONString(b, r.KeyID)
	b = append(b, `,"model":`...)
	b = appendJSONString(b, r.Model)
	if r.Deployment != "" {
		b = append(b, `,"deployment":`...)
		b = appendJSONString(b, r.Deployment)
	}
	b = append(b, `,"input_tokens":`...)
	b = strconv.AppendInt(b, r.InputTokens, 10)
	b = append(b, `,"output_tokens":`...)
	b = strconv.AppendInt(b, r.OutputTokens, 10)
	b = append(b, `,"cost_usd":`...)
	b, err := appendJSONFloat(b, r.CostUSD)
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
			b = appendJSONString(b, k)
			b = append(b, ':')
			b = strconv.AppendInt(b, int64(r.Guardrail[k]), 10)
		}
		b = append(b, '}')
	}
	if r.Guarded {
		b = append(b, `,"guarded":true`...)
	}
	b = append(b, `,"status":`...)
	b = appendJSONString(b, r.Status)
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

// appendJSONString appends s as encoding/json does (HTML-safe escaping); strings that
// need escaping at all are rare here (IDs, model names) and left to encoding/json.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendJSONFloat appends f as encoding/json does: like ES6, fixed notation between
// 1e-6 and 1e21, else exponent without a leading zero; NaN and infinities fail.
func appendJSONFloat(b []byte, f float64) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return b, &json.UnsupportedValueError{Str: strconv.FormatFloat(f, 'g', -1, 64)}
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-09 → e-9
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, nil
}
