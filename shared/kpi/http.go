package kpi

import (
	"encoding/csv"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/plinth-ai/plinth/shared/httpapi"
	"github.com/plinth-ai/plinth/shared/usage"
)

// DefaultWindowDays is the window of traffic-based KPIs when the request names no start.
const DefaultWindowDays = 30

// Routes registers GET /admin/kpis?start=&end=&format=json|csv on mux. Dates are
// YYYY-MM-DD, inclusive, UTC; the default window is the 30 days ending today. Who may
// call it is decided in front of mux (platform admins and auditors).
func Routes(mux *http.ServeMux, svc *Service) {
	mux.HandleFunc("GET /admin/kpis", svc.handle)
}

func (s *Service) handle(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	format := q.Get("format")
	if format != "" && format != "json" && format != "csv" {
		httpapi.WriteError(w, httpapi.BadRequest("format", "format must be json or csv"))
		return
	}
	now := s.now().UTC()
	start := q.Get("start")
	if start == "" {
		end := now
		if e := q.Get("end"); e != "" {
			if t, err := time.Parse("2006-01-02", e); err == nil {
				end = t
			}
		}
		start = end.AddDate(0, 0, -(DefaultWindowDays - 1)).Format("2006-01-02")
	}
	rg, err := usage.ParseRange(start, q.Get("end"), now)
	if err != nil {
		if errors.Is(err, usage.ErrInvalidQuery) {
			httpapi.WriteError(w, httpapi.BadRequest("", "%v", err))
			return
		}
		httpapi.WriteError(w, err)
		return
	}
	rep, err := s.Compute(r.Context(), rg)
	if err != nil {
		httpapi.WriteError(w, err)
		return
	}
	if format == "csv" {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="kpis-`+rep.End+`.csv"`)
		w.WriteHeader(http.StatusOK)
		_ = WriteCSV(w, rep)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, rep)
}

// WriteCSV writes the report as one table: kind, name, value, target, met. Kinds: stage,
// kpi (the indicators, dotted names), cost_tenant, cost_use_case, onboarding (days to the
// first call per tenant) and criterion (every stage's criteria).
func WriteCSV(w io.Writer, rep *Report) error {
	cw := csv.NewWriter(w)
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	i := func(v int) string { return strconv.Itoa(v) }
	k := &rep.KPIs
	rows := [][]string{
		{"kind", "name", "value", "target", "met"},
		{"stage", "stage", string(rep.Stage), "", ""},
		{"stage", "next_stage", string(rep.NextStage), "", ""},
		{"stage", "window", rep.Start + "/" + rep.End, "", ""},
	}
	kpi := func(name, v string) { rows = append(rows, []string{"kpi", name, v, "", ""}) }
	kpi("tenants.onboarded", i(k.Tenants.Onboarded))
	kpi("tenants.active", i(k.Tenants.Active))
	kpi("tenants.in_production", i(k.Tenants.InProduction))
	kpi("tenants.silo", i(k.Tenants.Silo))
	kpi("use_cases.in_production", i(k.UseCases.InProduction))
	kpi("use_cases.registered", i(k.UseCases.Registered))
	kpi("models.approved", i(k.Models.Approved))
	kpi("models.pending_review", i(k.Models.PendingReview))
	kpi("models.in_use", i(k.Models.InUse))
	kpi("tools.approved", i(k.Tools.Approved))
	kpi("tools.in_use", i(k.Tools.InUse))
	kpi("guardrails.requests", strconv.FormatInt(k.Guardrails.Requests, 10))
	kpi("guardrails.guarded_requests", strconv.FormatInt(k.Guardrails.Guarded, 10))
	kpi("guardrails.share", f(k.Guardrails.Share))
	kpi("guardrails.baseline", k.Guardrails.Baseline)
	kpi("evaluation.scheduled_suites", i(k.Evaluation.ScheduledSuites))
	kpi("evaluation.model_coverage", f(k.Evaluation.ModelCoverage))
	kpi("evaluation.prompt_coverage", f(k.Evaluation.PromptCoverage))
	kpi("evaluation.regressions_caught", i(k.Evaluation.RegressionsCaught))
	kpi("reuse.shared_assets", i(k.Reuse.SharedAssets))
	kpi("reuse.reused", i(k.Reuse.Reused))
	kpi("reuse.ratio", f(k.Reuse.Ratio))
	kpi("cost.total_usd", f(k.Cost.TotalUSD))
	kpi("cost.attributed_share", f(k.Cost.AttributedShare))
	kpi("cost.per_tenant_avg_usd", f(k.Cost.PerTenantAvgUSD))
	kpi("cost.per_use_case_avg_usd", f(k.Cost.PerUseCaseAvg))
	kpi("onboarding.median_days_to_first_call", f(k.Onboarding.MedianDaysToFirstCall))
	kpi("administration.tenants_with_admin", i(k.Administration.TenantsWithAdmin))
	kpi("administration.delegated_share", f(k.Administration.DelegatedShare))
	for _, c := range k.Cost.PerTenant {
		rows = append(rows, []string{"cost_tenant", c.Tenant, f(c.CostUSD), "", ""})
	}
	for _, c := range k.Cost.PerUseCase {
		rows = append(rows, []string{"cost_use_case", c.Tenant + "/" + c.KeyID, f(c.CostUSD), "", ""})
	}
	for _, o := range k.Onboarding.Tenants {
		v := ""
		if o.Days != nil {
			v = f(*o.Days)
		}
		rows = append(rows, []string{"onboarding", o.Tenant, v, "", ""})
	}
	for _, lvl := range rep.Stages {
		for _, c := range lvl.Criteria {
			rows = append(rows, []string{"criterion", c.ID, f(c.Value), f(c.Target), strconv.FormatBool(c.Met)})
		}
	}
	if err := cw.WriteAll(rows); err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}
