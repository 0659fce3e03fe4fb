package eval

import (
	"bytes"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/plinth-ai/plinth/shared/audit"
	"github.com/plinth-ai/plinth/shared/auth"
	"github.com/plinth-ai/plinth/shared/fault"
	"github.com/plinth-ai/plinth/shared/httpapi"
)

// Routes registers the evaluation API on mux. Suites belong to a tenant: two tenants may
// each have a suite "qa". ?tenant= says whose suite or run a route means; without it, the
// ID must name one tenant's suite (else 400 tenant_required), and a run is found by its
// globally unique ID. With it, another tenant's suite or run is 404, as a missing one.
//
//	POST /admin/eval-suites                          create a suite of the body's tenant (201)
//	GET  /admin/eval-suites[?tenant=]                list suites
//	GET  /admin/eval-suites/{id}[?tenant=]           one suite
//	PUT  /admin/eval-suites/{id}[?tenant=]           replace a suite
//	DELETE /admin/eval-suites/{id}[?tenant=]         delete a suite (204)
//	POST /admin/eval-suites/{id}/runs[?tenant=]      start a run (202 {"id","status"}); body {"max_concurrency"} optional
//	GET  /admin/eval-suites/{id}/runs[?tenant=]      the suite's runs, newest first
//	GET  /admin/eval-suites/{id}/trend[?tenant=]     HTML trend across runs
//	GET  /admin/eval-runs/{id}[?tenant=]             the run with its items
//	GET  /admin/eval-runs/{id}/report.html[?tenant=] HTML report with inline SVG charts
//	GET  /admin/eval-runs/{id}.csv[?tenant=]         per-item CSV
//	POST /v1/feedback                        record feedback for the caller's tenant (201)
//	GET  /admin/feedback/export?tenant=      the tenant's feedback as a JSONL dataset
//
// Callers put admin authentication in front of /admin routes and API-key
// authentication (which sets the auth.Principal) in front of /v1/feedback.
func Routes(mux *http.ServeMux, svc *Service) {
	mux.HandleFunc("POST /admin/eval-suites", svc.handleCreateSuite)
	mux.HandleFunc("GET /admin/eval-suites", svc.handleListSuites)
	mux.HandleFunc("GET /admin/eval-suites/{id}", svc.handleGetSuite)
	mux.HandleFunc("PUT /admin/eval-suites/{id}", svc.handlePutSuite)
	mux.HandleFunc("DELETE /admin/eval-suites/{id}", svc.handleDeleteSuite)
	mux.HandleFunc("POST /admin/eval-suites/{id}/runs", svc.handleStartRun)
	mux.HandleFunc("GET /admin/eval-suites/{id}/runs", svc.handleListRuns)
	mux.HandleFunc("GET /admin/eval-suites/{id}/trend", svc.handleTrend)
	mux.HandleFunc("GET /admin/eval-runs/{id}", svc.handleGetRun)
	mux.HandleFunc("GET /admin/eval-runs/{id}/report.html", svc.handleReport)
	FeedbackRoutes(mux, svc)
	mux.HandleFunc("GET /admin/feedback/export", svc.handleExportFeedback)
}

// FeedbackRoutes registers only POST /v1/feedback, for servers (the gateway function)
// that take feedback without linking the evaluation API's reports.
func FeedbackRoutes(mux *http.ServeMux, svc *Service) {
	mux.HandleFunc("POST /v1/feedback", svc.handleFeedback)
}

// toHTTP maps domain errors to API errors.
func toHTTP(err error) error {
	return httpapi.FromError(err)
}

type listSuites struct {
	Object string  `json:"object"`
	Data   []Suite `json:"data"`
}

func (svc *Service) handleCreateSuite(w http.ResponseWriter, r *http.Request) {
	var su Suite
	if err := httpapi.DecodeJSON(w, r, &su, 32<<20); err != nil {
		httpapi.WriteError(w, err)
		return
	}
	created, err := svc.CreateSuite(r.Context(), su)
	if err != nil {
		httpapi.WriteError(w, toHTTP(err))
		return
	}
	httpapi.WriteJSON(w, http.StatusCreated, created)
}

func (svc *Service) handleListSuites(w http.ResponseWriter, r *http.Request) {
	if t := tenantOf(r); t != "" && svc.refs.Tenant != nil {
		if err := svc.refs.Tenant(r.Context(), t); err != nil {
			httpapi.WriteError(w, toHTTP(fault.WithParam(err, "tenant")))
			return
		}
	}
	suites, err := svc.ListSuites(r.Context(), tenantOf(r))
	if err != nil {
		httpapi.WriteError(w, toHTTP(err))
		return
	}
	for i := range suites {
		suites[i].Dataset.Items = nil // listings stay small; GET one suite for its items
	}
	httpapi.WriteJSON(w, http.StatusOK, listSuites{Object: "list", Data: suites})
}

// tenantOf is the tenant a request names with ?tenant= ("" when it names none).
func tenantOf(r *http.Request) string { return r.URL.Query().Get("tenant") }

func (svc *Service) handleGetSuite(w http.ResponseWriter, r *http.Request) {
	su, err := svc.GetSuite(r.Context(), tenantOf(r), r.PathValue("id"))
	if err != nil {
		httpapi.WriteError(w, toHTTP(err))
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, su)
}

func (svc *Service) handlePutSuite(w http.ResponseWriter, r *http.Request) {
	var su Suite
	if err := httpapi.DecodeJSON(w, r, &su, 32<<20); err != nil {
		httpapi.WriteError(w, err)
		return
	}
	if su.ID == "" {
		su.ID = r.PathValue("id")
	}
	if su.ID != r.PathValue("id") {
		httpapi.WriteError(w, httpapi.BadRequest("id", "body id %q does not match the path", su.ID))
		return
	}
	if t := tenantOf(r); t != "" && su.Tenant != "" && su.Tenant != t {
		httpapi.WriteError(w, httpapi.BadRequest("tenant", "body tenant %q does not match ?tenant=%s; a suite cannot move between tenants", su.Tenant, t))
		return
	}
	if su.Tenant == "" {
		// The suite keeps its owner: the one ?tenant= names, or the one tenant with the ID.
		cur, err := svc.GetSuite(r.Context(), tenantOf(r), su.ID)
		if err != nil {
			httpapi.WriteError(w, toHTTP(err))
			return
		}
		su.Tenant = cur.Tenant
	}
	updated, err := svc.UpdateSuite(r.Context(), su)
	if err != nil {
		httpapi.WriteError(w, toHTTP(err))
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, updated)
}

func (svc *Service) handleDeleteSuite(w http.ResponseWriter, r *http.Request) {
	suite, err := svc.GetSuite(r.Context(), tenantOf(r), r.PathValue("id"))
	if err != nil {
		httpapi.WriteError(w, toHTTP(err))
		return
	}
	audit.SetTenant(r.Context(), suite.Tenant)
	if err := svc.DeleteSuite(r.Context(), suite.Tenant, suite.ID); err != nil {
		httpapi.WriteError(w, toHTTP(err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type startRunRequest struct {
	MaxConcurrency int `json:"max_concurrency"`
}

type startRunResponse struct {
	ID          string `json:"id"`
	Status      string `json:"status"`
	SuiteID     string `json:"suite_id"`
	ExecutionID string `json:"execution_id,omitempty"`
}

func (svc *Service) handleStartRun(w http.ResponseWriter, r *http.Request) {
	var req startRunRequest
	if r.ContentLength != 0 {
		if err := httpapi.DecodeJSON(w, r, &req, 0); err != nil {
			var he *httpapi.Error
			// An empty body (chunked, unknown length) means defaults.
			if !errors.As(err, &he) || !strings.Contains(he.Message, "empty") {
				httpapi.WriteError(w, err)
				return
			}
		}
	}
	if req.MaxConcurrency < 0 || req.MaxConcurrency > 40 {
		httpapi.WriteError(w, httpapi.BadRequest("max_concurrency", "max_concurrency must be 1-40"))
		return
	}
	run, err := svc.StartRun(r.Context(), tenantOf(r), r.PathValue("id"), req.MaxConcurrency)
	if err != nil {
		httpapi.WriteError(w, toHTTP(err))
		return
	}
	audit.SetTenant(r.Context(), run.Tenant)
	w.Header().Set("Location", "/admin/eval-runs/"+run.ID)
	httpapi.WriteJSON(w, http.StatusAccepted, startRunResponse{ID: run.ID, Status: run.Status, SuiteID: run.SuiteID, ExecutionID: run.ExecutionID})
}

func (svc *Service) handleListRuns(w http.ResponseWriter, r *http.Request) {
	su, err := svc.GetSuite(r.Context(), tenantOf(r), r.PathValue("id"))
	if err != nil {
		httpapi.WriteError(w, toHTTP(err))
		return
	}
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	runs, err := svc.ListRuns(r.Context(), su.Tenant, su.ID, max(0, limit))
	if err != nil {
		httpapi.WriteError(w, toHTTP(err))
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, struct {
		Object string `json:"object"`
		Data   []Run  `json:"data"`
	}{"list", runs})
}

// RunView is GET /admin/eval-runs/{id}: the run and its items.
type RunView struct {
	*Run
	Items []ItemView `json:"items"`
}

// ItemView is one item of a RunView.
type ItemView struct {
	ID         string             `json:"id"`
	Index      int                `json:"index"`
	Input      string             `json:"input,omitempty"`
	References []string           `json:"references,omitempty"`
	Output     string             `json:"output"`
	Error      string             `json:"error,omitempty"`
	Scores     map[string]float64 `json:"scores"`
	Retrieved  []string           `json:"retrieved,omitempty"`
	Judge      any                `json:"judge,omitempty"`
	LatencyMS  int64              `json:"latency_ms"`
}

func (svc *Service) handleGetRun(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if strings.HasSuffix(id, ".csv") {
		svc.handleCSV(w, r, strings.TrimSuffix(id, ".csv"))
		return
	}
	run, err := svc.RunOf(r.Context(), tenantOf(r), id)
	if err != nil {
		httpapi.WriteError(w, toHTTP(err))
		return
	}
	results, err := svc.RunItems(r.Context(), id)
	if err != nil {
		httpapi.WriteError(w, toHTTP(err))
		return
	}
	view := RunView{Run: run, Items: make([]ItemView, 0, len(results))}
	for _, res := range results {
		iv := ItemView{ID: res.ID, Index: res.Index, Input: res.Item.question(), References: res.Item.References,
			Output: res.Output, Error: res.Error, Scores: res.Scores, Retrieved: res.Retrieved, LatencyMS: res.LatencyMS}
		if iv.Scores == nil {
			iv.Scores = map[string]float64{}
		}
		if len(res.Verdicts) > 0 {
			iv.Judge = res.Verdicts
		}
		view.Items = append(view.Items, iv)
	}
	httpapi.WriteJSON(w, http.StatusOK, view)
}

func (svc *Service) handleCSV(w http.ResponseWriter, r *http.Request, id string) {
	run, err := svc.RunOf(r.Context(), tenantOf(r), id)
	if err != nil {
		httpapi.WriteError(w, toHTTP(err))
		return
	}
	var buf bytes.Buffer
	if err := svc.WriteCSV(r.Context(), &buf, run); err != nil {
		httpapi.WriteError(w, toHTTP(err))
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+run.ID+`.csv"`)
	_, _ = w.Write(buf.Bytes())
}

func (svc *Service) handleReport(w http.ResponseWriter, r *http.Request) {
	run, err := svc.RunOf(r.Context(), tenantOf(r), r.PathValue("id"))
	if err != nil {
		httpapi.WriteError(w, toHTTP(err))
		return
	}
	var buf bytes.Buffer
	if err := svc.WriteReport(r.Context(), &buf, run); err != nil {
		httpapi.WriteError(w, toHTTP(err))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(buf.Bytes())
}

func (svc *Service) handleTrend(w http.ResponseWriter, r *http.Request) {
	su, err := svc.GetSuite(r.Context(), tenantOf(r), r.PathValue("id"))
	if err != nil {
		httpapi.WriteError(w, toHTTP(err))
		return
	}
	var buf bytes.Buffer
	if err := svc.WriteTrend(r.Context(), &buf, su); err != nil {
		httpapi.WriteError(w, toHTTP(err))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(buf.Bytes())
}

type feedbackRequest struct {
	RequestID       string `json:"request_id"`
	Rating          *int   `json:"rating"`
	Comment         string `json:"comment"`
	CorrectedAnswer string `json:"corrected_answer"`
	Input           string `json:"input"`
	Output          string `json:"output"`
}

func (svc *Service) handleFeedback(w http.ResponseWriter, r *http.Request) {
	p, ok := auth.FromContext(r.Context())
	if !ok || p.TenantID == "" {
		httpapi.WriteError(w, httpapi.Errorf(http.StatusUnauthorized, httpapi.CodeInvalidAPIKey, "feedback needs a tenant API key"))
		return
	}
	if !p.Has(auth.ScopeInference) {
		httpapi.WriteError(w, httpapi.Errorf(http.StatusForbidden, httpapi.CodeInsufficientScope, "the key lacks the inference scope"))
		return
	}
	var req feedbackRequest
	if err := httpapi.DecodeJSON(w, r, &req, 256<<10); err != nil {
		httpapi.WriteError(w, err)
		return
	}
	if req.Rating == nil {
		httpapi.WriteError(w, httpapi.BadRequest("rating", "rating is required (an integer from 1 to 5)"))
		return
	}
	fb, err := svc.RecordFeedback(r.Context(), Feedback{
		Tenant: p.TenantID, RequestID: req.RequestID, Rating: *req.Rating, Comment: req.Comment,
		CorrectedAnswer: req.CorrectedAnswer, Input: req.Input, Output: req.Output, KeyID: p.KeyID,
	})
	if err != nil {
		httpapi.WriteError(w, toHTTP(err))
		return
	}
	httpapi.WriteJSON(w, http.StatusCreated, fb)
}

func (svc *Service) handleExportFeedback(w http.ResponseWriter, r *http.Request) {
	tenant := r.URL.Query().Get("tenant")
	if tenant == "" {
		httpapi.WriteError(w, httpapi.BadRequest("tenant", "the tenant query parameter is required"))
		return
	}
	var buf bytes.Buffer
	written, skipped, err := svc.ExportFeedback(r.Context(), &buf, tenant)
	if err != nil {
		httpapi.WriteError(w, toHTTP(err))
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("X-Plinth-Exported", strconv.Itoa(written))
	w.Header().Set("X-Plinth-Skipped", strconv.Itoa(skipped))
	_, _ = w.Write(buf.Bytes())
}
