// Package emf plugs CloudWatch embedded metric format into the gateway's Metrics port:
// one JSON line per request on stdout, which CloudWatch Logs turns into metrics in AWS
// Lambda. The record is written by hand into a reused buffer: the directive never
// changes, and a request must not pay for marshalling it (BenchmarkObserve).
package emf

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/plinth-ai/plinth/shared/gateway"
)

// Namespace is the CloudWatch namespace of Plinth's request metrics.
const Namespace = "Plinth"

// Metric names and the dimension names of the one dimension set [Tenant, Model] the
// dashboard and alarms search.
const (
	MetricRequests = "Requests"
	MetricLatency  = "Latency"
	MetricTokens   = "Tokens"
	MetricErrors   = "Errors"

	DimensionTenant = "Tenant"
	DimensionModel  = "Model"
)

// unknownDimension stands in for an empty dimension value (a request refused before its
// model was read): CloudWatch rejects empty dimension values.
const unknownDimension = "unknown"

// EMF writes one CloudWatch embedded-metric-format record per gateway request. It
// implements gateway.Metrics and is safe for concurrent use.
type EMF struct {
	mu  sync.Mutex
	w   io.Writer
	buf bytes.Buffer
	now func() time.Time
}

var _ gateway.Metrics = (*EMF)(nil)

// Option configures an EMF writer.
type Option func(*EMF)

// WithClock sets the clock stamping records (default time.Now).
func WithClock(now func() time.Time) Option { return func(e *EMF) { e.now = now } }

// New returns an EMF writer on w (os.Stdout when nil: Lambda ships stdout to
// CloudWatch Logs, which extracts the metrics).
func New(w io.Writer, opts ...Option) *EMF {
	if w == nil {
		w = os.Stdout
	}
	e := &EMF{w: w, now: time.Now}
	for _, o := range opts {
		o(e)
	}
	return e
}

// emfDirective is the fixed metadata after the timestamp: the directive never changes, so
// it is written as bytes rather than marshalled per request.
const emfDirective = `"CloudWatchMetrics":[{"Namespace":"` + Namespace + `","Dimensions":[["` + DimensionTenant + `","` + DimensionModel + `"]],` +
	`"Metrics":[{"Name":"` + MetricRequests + `","Unit":"Count"},{"Name":"` + MetricLatency + `","Unit":"Milliseconds"},` +
	`{"Name":"` + MetricTokens + `","Unit":"Count"},{"Name":"` + MetricErrors + `","Unit":"Count"}]}]}`

// Observe writes rec's metrics as one JSON line: Requests 1, Latency in milliseconds,
// Tokens (input + output), Errors 1 when the request failed (status ≥ 400), under the
// dimensions Tenant and Model, plus the request ID, endpoint and status as properties
// for CloudWatch Logs Insights. It never writes prompt or output text.
func (e *EMF) Observe(rec *gateway.UsageRecord) {
	if rec == nil {
		return
	}
	tenant, model := rec.TenantID, rec.Model
	if tenant == "" {
		tenant = unknownDimension
	}
	if model == "" {
		model = unknownDimension
	}
	errs := 0
	if rec.Status >= 400 {
		errs = 1
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	b := &e.buf
	b.Reset()
	b.WriteString(`{"_aws":{"Timestamp":`)
	b.WriteString(strconv.FormatInt(e.now().UnixMilli(), 10))
	b.WriteByte(',')
	b.WriteString(emfDirective)
	writeString(b, DimensionTenant, tenant)
	writeString(b, DimensionModel, model)
	writeNumber(b, MetricRequests, "1")
	writeNumber(b, MetricLatency, strconv.FormatFloat(float64(rec.Latency.Microseconds())/1000, 'f', -1, 64))
	writeNumber(b, MetricTokens, strconv.FormatInt(rec.InputTokens+rec.OutputTokens, 10))
	writeNumber(b, MetricErrors, strconv.Itoa(errs))
	writeString(b, "RequestId", rec.RequestID)
	writeString(b, "Endpoint", rec.Endpoint)
	writeNumber(b, "Status", strconv.Itoa(rec.Status))
	if rec.ErrorCode != "" {
		writeString(b, "ErrorCode", rec.ErrorCode)
	}
	if rec.Deployment != "" {
		writeString(b, "Deployment", rec.Deployment)
	}
	writeNumber(b, "CostUSD", strconv.FormatFloat(rec.CostUSD, 'f', -1, 64))
	writeBool(b, "Streamed", rec.Streamed)
	writeBool(b, "CacheHit", rec.CacheHit)
	b.WriteString("}\n")
	_, _ = e.w.Write(b.Bytes())
}

func writeString(b *bytes.Buffer, name, v string) {
	b.WriteString(`,"`)
	b.WriteString(name)
	b.WriteString(`":`)
	q, _ := json.Marshal(v)
	b.Write(q)
}

func writeNumber(b *bytes.Buffer, name, v string) {
	b.WriteString(`,"`)
	b.WriteString(name)
	b.WriteString(`":`)
	b.WriteString(v)
}

func writeBool(b *bytes.Buffer, name string, v bool) {
	writeNumber(b, name, strconv.FormatBool(v))
}

// DimensionOperation is the dimension of the platform's operation metrics (Count).
const DimensionOperation = "Operation"

// Count writes one operation metric as a JSON line: metric = n under the dimension
// Operation = operation (e.g. CentralSyncFailures for the operation central-sync), plus
// the properties given as extra members for CloudWatch Logs Insights.
func (e *EMF) Count(operation, metric string, n int64, props map[string]string) {
	rec := map[string]any{
		"_aws": map[string]any{
			"Timestamp": e.now().UnixMilli(),
			"CloudWatchMetrics": []any{map[string]any{
				"Namespace":  Namespace,
				"Dimensions": [][]string{{DimensionOperation}},
				"Metrics":    []any{map[string]string{"Name": metric, "Unit": "Count"}},
			}},
		},
		DimensionOperation: operation,
		metric:             n,
	}
	for k, v := range props {
		if _, taken := rec[k]; !taken {
			rec[k] = v
		}
	}
	line, err := json.Marshal(rec)
	if err != nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	_, _ = e.w.Write(append(line, '\n'))
}
