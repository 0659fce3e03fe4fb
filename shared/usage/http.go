package usage

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/plinth-ai/plinth/shared/auth"
	"github.com/plinth-ai/plinth/shared/httpapi"
)

var jsonUnmarshal = json.Unmarshal

// Routes registers the usage API on mux:
//
//	GET /v1/usage?start=&end=&group_by=model|day
//	    the caller's own tenant (principal from shared/auth), any scope
//	GET /admin/usage/report?start=&end=&format=json|csv&group_by=tenant|model|day|tag:<key>
//	    cross-tenant chargeback; admin authentication is applied by the caller
//
// Dates are YYYY-MM-DD, inclusive, UTC; the default range is the current month to date.
func Routes(mux *http.ServeMux, svc *Service) {
	PublicRoutes(mux, svc)
	AdminRoutes(mux, svc)
}

// PublicRoutes registers only GET /v1/usage.
func PublicRoutes(mux *http.ServeMux, svc *Service) {
	mux.HandleFunc("GET /v1/usage", svc.handleUsage)
}

// AdminRoutes registers only GET /admin/usage/report.
func AdminRoutes(mux *http.ServeMux, svc *Service) {
	mux.HandleFunc("GET /admin/usage/report", svc.handleReport)
}

// Answer is the JSON body of both usage endpoints.
type Answer struct {
	Object  string `json:"object"`
	Tenant  string `json:"tenant,omitempty"`
	Start   string `json:"start"`
	End     string `json:"end"`
	GroupBy string `json:"group_by"`
	Data    []Row  `json:"data"`
	Total   Totals `json:"total"`
}

func queryError(err error) error {
	if errors.Is(err, ErrInvalidQuery) {
		return httpapi.BadRequest("", "%v", err)
	}
	return err
}

func (s *Service) handleUsage(w http.ResponseWriter, r *http.Request) {
	p, ok := auth.FromContext(r.Context())
	if !ok || p.TenantID == "" {
		httpapi.WriteError(w, httpapi.Errorf(http.StatusUnauthorized, httpapi.CodeInvalidAPIKey, "an API key is required"))
		return
	}
	q := r.URL.Query()
	rg, err := ParseRange(q.Get("start"), q.Get("end"), s.now())
	if err != nil {
		httpapi.WriteError(w, queryError(err))
		return
	}
	groupBy := q.Get("group_by")
	if groupBy == "" {
		groupBy = "day"
	}
	rows, total, err := s.Summary(r.Context(), p.TenantID, rg, groupBy)
	if err != nil {
		httpapi.WriteError(w, queryError(err))
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, Answer{Object: "usage", Tenant: p.TenantID, Start: rg.Start.Format("2006-01-02"), End: rg.End.Format("2006-01-02"), GroupBy: groupBy, Data: nonNil(rows), Total: total})
}

func nonNil(r []Row) []Row {
	if r == nil {
		return []Row{}
	}
	return r
}

func (s *Service) handleReport(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	rg, err := ParseRange(q.Get("start"), q.Get("end"), s.now())
	if err != nil {
		httpapi.WriteError(w, queryError(err))
		return
	}
	groupBy := q.Get("group_by")
	if groupBy == "" {
		groupBy = "tenant"
	}
	format := q.Get("format")
	if format != "" && format != "json" && format != "csv" {
		httpapi.WriteError(w, httpapi.BadRequest("format", "format must be json or csv"))
		return
	}
	rows, total, err := s.Report(r.Context(), rg, groupBy)
	if err != nil {
		httpapi.WriteError(w, queryError(err))
		return
	}
	if format == "csv" {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="usage-`+rg.Start.Format("20060102")+"-"+rg.End.Format("20060102")+`.csv"`)
		w.WriteHeader(http.StatusOK)
		_ = WriteCSV(w, groupBy, rows)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, Answer{Object: "usage_report", Start: rg.Start.Format("2006-01-02"), End: rg.End.Format("2006-01-02"), GroupBy: groupBy, Data: nonNil(rows), Total: total})
}

// WriteCSV writes rows with a header; the first column is the grouping key (tenant,
// model, day, or tag:<key>).
func WriteCSV(w interface{ Write([]byte) (int, error) }, groupBy string, rows []Row) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{groupBy, "requests", "input_tokens", "output_tokens", "cost_usd", "cache_hits", "errors", "estimated"})
	for _, r := range rows {
		key := r.Tenant + r.Model + r.Day + r.Tag
		if key != "" && strings.ContainsRune("=+-@\t\r", rune(key[0])) {
			key = "'" + key // keep spreadsheets from evaluating a value as a formula
		}
		_ = cw.Write([]string{key, itoa(r.Requests), itoa(r.InputTokens), itoa(r.OutputTokens),
			strconv.FormatFloat(r.CostUSD, 'f', 6, 64), itoa(r.CacheHits), itoa(r.Errors), itoa(r.Estimated)})
	}
	cw.Flush()
	return cw.Error()
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
