package usage

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/plinth-ai/plinth/shared/store"
)

// Per-key aggregates: one item per tenant, day and key (an API key ID, an IAM principal
// ARN, or a platform feature's "platform:…" caller), so cost and traffic can be told per
// application, the platform's unit of a use case.
//
//	PK USAGEKEY#<tenant>  SK <yyyymmdd>#<key id>  → requests, tokens, cost, errors
func keyAggPK(tenant string) string { return "USAGEKEY#" + tenant }

// nKeyDeltas is how many counters every record adds to its tenant, key and day.
const nKeyDeltas = 5

// appendKeyDeltas appends the per-key counters one record adds.
func appendKeyDeltas(deltas []store.Delta, rec *Record) []store.Delta {
	errs := 0.0
	if rec.Status != StatusOK && rec.Status != "" {
		errs = 1
	}
	return append(deltas,
		store.Delta{Name: nRequests, By: 1},
		store.Delta{Name: nInput, By: float64(rec.InputTokens)},
		store.Delta{Name: nOutput, By: float64(rec.OutputTokens)},
		store.Delta{Name: nCost, By: math.Round(rec.CostUSD * microUSD)},
		store.Delta{Name: nErrors, By: errs},
	)
}

// PlatformCaller reports whether a key ID is one of the platform's own callers
// (evaluation, ingestion, grounded answers), which act for a tenant but are not one of
// its applications.
func PlatformCaller(keyID string) bool { return strings.HasPrefix(keyID, "platform:") }

// KeyRow is one key's usage over a range.
type KeyRow struct {
	Tenant string `json:"tenant"`
	KeyID  string `json:"key_id"`
	Totals
	// FirstDay is the first day in the range the key made a request (YYYY-MM-DD).
	FirstDay string `json:"first_day"`
}

// ByKey sums a tenant's usage per key over the range, most expensive first.
func (s *Service) ByKey(ctx context.Context, tenantID string, r Range) ([]KeyRow, error) {
	rows := map[string]*KeyRow{}
	after := ""
	for {
		items, err := s.st.Query(ctx, keyAggPK(tenantID), store.QueryOptions{From: r.Start.Format("20060102"),
			To: r.End.AddDate(0, 0, 1).Format("20060102"), After: after, Limit: 1000})
		if err != nil {
			return nil, fmt.Errorf("usage by key of %s: %w", tenantID, err)
		}
		for _, it := range items {
			day, key, ok := strings.Cut(it.SK, "#")
			if !ok || len(day) != 8 {
				continue
			}
			row := rows[key]
			if row == nil {
				row = &KeyRow{Tenant: tenantID, KeyID: key, FirstDay: day[:4] + "-" + day[4:6] + "-" + day[6:]}
				rows[key] = row
			}
			row.add(it.Nums)
		}
		if len(items) < 1000 {
			break
		}
		after = items[len(items)-1].SK
	}
	out := make([]KeyRow, 0, len(rows))
	for _, row := range rows {
		out = append(out, *row)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].CostUSD != out[j].CostUSD {
			return out[i].CostUSD > out[j].CostUSD
		}
		return out[i].KeyID < out[j].KeyID
	})
	return out, nil
}

// FirstCall returns the time of the tenant's first successful request by one of its own
// applications (platform callers excluded), and false when it has made none. Days are
// found in the per-key aggregates; the time within the day from the records, while they
// are kept (else the start of that day).
func (s *Service) FirstCall(ctx context.Context, tenantID string) (time.Time, bool, error) {
	after := ""
	for {
		items, err := s.st.Query(ctx, keyAggPK(tenantID), store.QueryOptions{After: after, Limit: 200})
		if err != nil {
			return time.Time{}, false, fmt.Errorf("first call of %s: %w", tenantID, err)
		}
		for _, it := range items {
			day, key, _ := strings.Cut(it.SK, "#")
			if PlatformCaller(key) || it.Nums[nRequests]-it.Nums[nErrors] <= 0 {
				continue
			}
			d, err := time.Parse("20060102", day)
			if err != nil {
				continue
			}
			return s.firstRecord(ctx, tenantID, d), true, nil
		}
		if len(items) < 200 {
			return time.Time{}, false, nil
		}
		after = items[len(items)-1].SK
	}
}

// firstRecord is the time of the first successful application request on day, or the
// day's start when its records have expired.
func (s *Service) firstRecord(ctx context.Context, tenantID string, day time.Time) time.Time {
	after := ""
	for {
		items, err := s.st.Query(ctx, recordPK(tenantID, day), store.QueryOptions{After: after, Limit: 500})
		if err != nil {
			return day
		}
		for _, it := range items {
			var rec Record
			if jsonUnmarshal(it.Data, &rec) == nil && rec.Status == StatusOK && !PlatformCaller(rec.KeyID) {
				return rec.Time
			}
		}
		if len(items) < 500 {
			return day
		}
		after = items[len(items)-1].SK
	}
}
