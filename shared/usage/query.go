package usage

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/plinth-ai/plinth/shared/store"
	"github.com/plinth-ai/plinth/shared/tenant"
)

// ErrInvalidQuery means a query parameter is malformed (400).
var ErrInvalidQuery = errors.New("usage: invalid query")

// MaxRangeDays bounds a query's date range.
const MaxRangeDays = 366

// Tenants lists tenants for cross-tenant reports; *tenant.Service implements it.
type Tenants interface {
	ListTenants(ctx context.Context) ([]*tenant.Tenant, error)
}

// Service answers usage queries from the aggregates.
type Service struct {
	st      store.Store
	tenants Tenants
	now     func() time.Time
}

// ServiceOption configures NewService.
type ServiceOption func(*Service)

// WithQueryClock sets the clock that judges "today", the default range of the usage
// routes (default time.Now); pass the clock that stamps the records.
func WithQueryClock(now func() time.Time) ServiceOption {
	return func(s *Service) {
		if now != nil {
			s.now = now
		}
	}
}

// NewService returns a query Service. tenants may be nil when only per-tenant queries
// are served.
func NewService(st store.Store, tenants Tenants, opts ...ServiceOption) *Service {
	if st == nil {
		panic("usage.NewService: nil store")
	}
	s := &Service{st: st, tenants: tenants, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Totals are summed usage counters.
type Totals struct {
	Requests     int64   `json:"requests"`
	InputTokens  int64   `json:"input_tokens"`
	OutputTokens int64   `json:"output_tokens"`
	CostUSD      float64 `json:"cost_usd"`
	CacheHits    int64   `json:"cache_hits"`
	Errors       int64   `json:"errors"`
	Estimated    int64   `json:"estimated"`
	Streamed     int64   `json:"streamed"`
	// Guarded counts requests a guardrail policy judged.
	Guarded        int64          `json:"guarded"`
	AvgLatencyMS   float64        `json:"avg_latency_ms"`
	GuardrailHits  map[string]int `json:"guardrail,omitempty"`
	latencySum     float64
	costMicroTotal float64
}

func (t *Totals) add(n map[string]float64) {
	t.Requests += int64(n[nRequests])
	t.InputTokens += int64(n[nInput])
	t.OutputTokens += int64(n[nOutput])
	t.costMicroTotal += n[nCost]
	t.CostUSD = t.costMicroTotal / microUSD
	t.CacheHits += int64(n[nCacheHits])
	t.Errors += int64(n[nErrors])
	t.Estimated += int64(n[nEstimated])
	t.Streamed += int64(n[nStreamed])
	t.Guarded += int64(n[nGuarded])
	t.latencySum += n[nLatency]
	if t.Requests > 0 {
		t.AvgLatencyMS = t.latencySum / float64(t.Requests)
	}
	for k, v := range n {
		if typ, ok := strings.CutPrefix(k, nGuardrail); ok {
			if t.GuardrailHits == nil {
				t.GuardrailHits = map[string]int{}
			}
			t.GuardrailHits[typ] += int(v)
		}
	}
}

// Row is one group of a usage answer. Only the grouping's own key field is set.
type Row struct {
	Tenant string `json:"tenant,omitempty"`
	Model  string `json:"model,omitempty"`
	Day    string `json:"day,omitempty"`
	Tag    string `json:"tag,omitempty"`
	Totals
}

// Range is an inclusive range of UTC days.
type Range struct {
	Start, End time.Time
}

// ParseRange reads start and end (YYYY-MM-DD or RFC 3339, inclusive days, UTC). Defaults:
// the first day of the current month through today.
func ParseRange(start, end string, now time.Time) (Range, error) {
	now = now.UTC()
	r := Range{Start: time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC), End: time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)}
	parse := func(s string) (time.Time, error) {
		if t, err := time.Parse("2006-01-02", s); err == nil {
			return t, nil
		}
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return t, fmt.Errorf("%q is not a date (YYYY-MM-DD): %w", s, ErrInvalidQuery)
		}
		t = t.UTC()
		return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC), nil
	}
	var err error
	if start != "" {
		if r.Start, err = parse(start); err != nil {
			return r, err
		}
	}
	if end != "" {
		if r.End, err = parse(end); err != nil {
			return r, err
		}
	}
	if r.End.Before(r.Start) {
		return r, fmt.Errorf("end before start: %w", ErrInvalidQuery)
	}
	if r.End.Sub(r.Start) > MaxRangeDays*24*time.Hour {
		return r, fmt.Errorf("range longer than %d days: %w", MaxRangeDays, ErrInvalidQuery)
	}
	return r, nil
}

type aggRow struct {
	tenant, day, model string
	nums               map[string]float64
}

func (s *Service) aggregates(ctx context.Context, tenantID string, r Range) ([]aggRow, error) {
	var out []aggRow
	after := ""
	for {
		items, err := s.st.Query(ctx, aggPK(tenantID), store.QueryOptions{From: r.Start.Format("20060102"), To: r.End.AddDate(0, 0, 1).Format("20060102"), After: after, Limit: 1000})
		if err != nil {
			return nil, fmt.Errorf("usage of %s: %w", tenantID, err)
		}
		for _, it := range items {
			day, model, _ := strings.Cut(it.SK, "#")
			out = append(out, aggRow{tenant: tenantID, day: day[:4] + "-" + day[4:6] + "-" + day[6:], model: model, nums: it.Nums})
		}
		if len(items) < 1000 {
			return out, nil
		}
		after = items[len(items)-1].SK
	}
}

// group sums rows by key, sorted by key.
func group(rows []aggRow, key func(aggRow) string, set func(*Row, string)) []Row {
	m := map[string]*Row{}
	var keys []string
	for _, a := range rows {
		k := key(a)
		row, ok := m[k]
		if !ok {
			row = &Row{}
			set(row, k)
			m[k] = row
			keys = append(keys, k)
		}
		row.add(a.nums)
	}
	sort.Strings(keys)
	out := make([]Row, 0, len(keys))
	for _, k := range keys {
		out = append(out, *m[k])
	}
	return out
}

// Summary is a tenant's usage over r grouped by "model" or "day" (default), with totals.
func (s *Service) Summary(ctx context.Context, tenantID string, r Range, groupBy string) ([]Row, Totals, error) {
	rows, err := s.aggregates(ctx, tenantID, r)
	if err != nil {
		return nil, Totals{}, err
	}
	var total Totals
	for _, a := range rows {
		total.add(a.nums)
	}
	switch groupBy {
	case "model":
		return group(rows, func(a aggRow) string { return a.model }, func(r *Row, k string) { r.Model = k }), total, nil
	case "day", "":
		return group(rows, func(a aggRow) string { return a.day }, func(r *Row, k string) { r.Day = k }), total, nil
	}
	return nil, Totals{}, fmt.Errorf("group_by must be model or day: %w", ErrInvalidQuery)
}

// Untagged labels tenants without the tag in a tag report.
const Untagged = "(untagged)"

// Report is the cross-tenant chargeback report over r grouped by "tenant" (default),
// "model", "day" or "tag:<key>" (tenants' cost-allocation tag values).
func (s *Service) Report(ctx context.Context, r Range, groupBy string) ([]Row, Totals, error) {
	if s.tenants == nil {
		return nil, Totals{}, errors.New("usage: report needs a tenant lister")
	}
	tag, byTag := strings.CutPrefix(groupBy, "tag:")
	switch {
	case groupBy == "" || groupBy == "tenant" || groupBy == "model" || groupBy == "day":
	case byTag && tag != "":
	default:
		return nil, Totals{}, fmt.Errorf("group_by must be tenant, model, day or tag:<key>: %w", ErrInvalidQuery)
	}
	ts, err := s.tenants.ListTenants(ctx)
	if err != nil {
		return nil, Totals{}, err
	}
	tags := map[string]string{}
	var rows []aggRow
	for _, t := range ts {
		a, err := s.aggregates(ctx, t.ID, r)
		if err != nil {
			return nil, Totals{}, err
		}
		rows = append(rows, a...)
		if v, ok := t.Tags[tag]; ok && v != "" {
			tags[t.ID] = v
		} else {
			tags[t.ID] = Untagged
		}
	}
	var total Totals
	for _, a := range rows {
		total.add(a.nums)
	}
	switch {
	case byTag:
		return group(rows, func(a aggRow) string { return tags[a.tenant] }, func(r *Row, k string) { r.Tag = k }), total, nil
	case groupBy == "model":
		return group(rows, func(a aggRow) string { return a.model }, func(r *Row, k string) { r.Model = k }), total, nil
	case groupBy == "day":
		return group(rows, func(a aggRow) string { return a.day }, func(r *Row, k string) { r.Day = k }), total, nil
	}
	return group(rows, func(a aggRow) string { return a.tenant }, func(r *Row, k string) { r.Tenant = k }), total, nil
}

// Records returns a tenant's raw usage records of one UTC day, oldest first.
func (s *Service) Records(ctx context.Context, tenantID string, day time.Time, limit int) ([]Record, error) {
	items, err := s.st.Query(ctx, recordPK(tenantID, day), store.QueryOptions{Limit: limit})
	if err != nil {
		return nil, fmt.Errorf("usage records of %s: %w", tenantID, err)
	}
	out := make([]Record, 0, len(items))
	for _, it := range items {
		var rec Record
		if err := jsonUnmarshal(it.Data, &rec); err != nil {
			return nil, fmt.Errorf("decode usage record %s: %w", it.SK, err)
		}
		out = append(out, rec)
	}
	return out, nil
}
