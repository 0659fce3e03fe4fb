package humaneval

import (
	"io"
	"net/http"
	"strconv"

	"github.com/plinth-ai/plinth/shared/audit"
	"github.com/plinth-ai/plinth/shared/auth"
	"github.com/plinth-ai/plinth/shared/httpapi"
)

// AdminRoutes registers human evaluation's administration on mux (admin authentication
// is applied by the caller; the reviewer is named in the body):
//
//	POST   /admin/review-queues                     build a queue from a source (201)
//	GET    /admin/review-queues[?tenant=]           queues with progress, newest first
//	GET    /admin/review-queues/{id}                one queue
//	DELETE /admin/review-queues/{id}                delete it with its reviews (204)
//	GET    /admin/review-queues/{id}/items          items with their reviews
//	POST   /admin/review-queues/{id}/next           {"reviewer"} → the reviewer's next item
//	POST   /admin/review-queues/{id}/reviews        a verdict (201)
//	GET    /admin/review-queues/{id}/agreement      Krippendorff's alpha, Cohen's kappa
//	POST   /admin/review-queues/{id}/datasets       publish a ground-truth dataset version (201)
//	GET    /admin/datasets?tenant=                  a tenant's datasets and versions
//	GET    /admin/datasets/{name}?tenant=           one dataset's versions
//	GET    /admin/datasets/{name}/versions/{version}?tenant=&format=eval|chat|preference   JSON Lines
func AdminRoutes(mux *http.ServeMux, svc *Service) {
	h := handlers{svc}
	mux.HandleFunc("POST /admin/review-queues", h.create)
	mux.HandleFunc("GET /admin/review-queues", h.list)
	mux.HandleFunc("GET /admin/review-queues/{id}", h.get)
	mux.HandleFunc("DELETE /admin/review-queues/{id}", h.delete)
	mux.HandleFunc("GET /admin/review-queues/{id}/items", h.items)
	mux.HandleFunc("POST /admin/review-queues/{id}/next", h.next)
	mux.HandleFunc("POST /admin/review-queues/{id}/reviews", h.submit)
	mux.HandleFunc("GET /admin/review-queues/{id}/agreement", h.agreement)
	mux.HandleFunc("POST /admin/review-queues/{id}/datasets", h.publish)
	mux.HandleFunc("GET /admin/datasets", h.datasets)
	mux.HandleFunc("GET /admin/datasets/{name}", h.dataset)
	mux.HandleFunc("GET /admin/datasets/{name}/versions/{version}", h.content)
}

// ReviewerRoutes registers the routes a tenant's reviewers use with their own API key
// (or IAM principal), which is also the reviewer identity recorded on their reviews:
//
//	GET  /v1/review-queues                 the tenant's queues
//	GET  /v1/review-queues/{id}
//	POST /v1/review-queues/{id}/next       the caller's next item
//	POST /v1/review-queues/{id}/reviews    the caller's verdict (201)
func ReviewerRoutes(mux *http.ServeMux, svc *Service) {
	h := handlers{svc}
	mux.HandleFunc("GET /v1/review-queues", h.list)
	mux.HandleFunc("GET /v1/review-queues/{id}", h.get)
	mux.HandleFunc("POST /v1/review-queues/{id}/next", h.next)
	mux.HandleFunc("POST /v1/review-queues/{id}/reviews", h.submit)
}

type handlers struct{ svc *Service }

// toHTTP maps domain errors to API errors.
func toHTTP(err error) error { return httpapi.FromError(err) }

// caller is who is calling: an admin (any tenant; the reviewer named in the body) or a
// tenant's key (its own tenant; the key is the reviewer).
type caller struct {
	admin    bool
	tenant   string
	reviewer string
	name     string // recorded as created_by
}

func callerOf(r *http.Request) (caller, error) {
	p, ok := auth.FromContext(r.Context())
	if !ok {
		return caller{}, httpapi.Errorf(http.StatusUnauthorized, httpapi.CodeInvalidAPIKey, "missing credentials")
	}
	if p.PlatformWide() {
		return caller{admin: true, tenant: r.URL.Query().Get("tenant"), name: p.KeyID}, nil
	}
	if p.TenantID == "" {
		return caller{}, httpapi.Errorf(http.StatusForbidden, httpapi.CodePermissionDenied, "reviews need a tenant's key")
	}
	return caller{tenant: p.TenantID, reviewer: p.KeyID, name: p.KeyID}, nil
}

func (h handlers) create(w http.ResponseWriter, r *http.Request) {
	c, err := callerOf(r)
	if err != nil {
		httpapi.WriteError(w, err)
		return
	}
	var q Queue
	if err := httpapi.DecodeJSON(w, r, &q, 32<<20); err != nil {
		httpapi.WriteError(w, err)
		return
	}
	out, err := h.svc.CreateQueue(r.Context(), q, c.name)
	if err != nil {
		httpapi.WriteError(w, toHTTP(err))
		return
	}
	audit.SetTenant(r.Context(), out.Tenant)
	audit.SetResource(r.Context(), "review-queues/"+out.ID)
	w.Header().Set("Location", "/admin/review-queues/"+out.ID)
	httpapi.WriteJSON(w, http.StatusCreated, out)
}

// QueueList is a list of queues.
type QueueList struct {
	Object string  `json:"object"`
	Data   []Queue `json:"data"`
}

func (h handlers) list(w http.ResponseWriter, r *http.Request) {
	c, err := callerOf(r)
	if err != nil {
		httpapi.WriteError(w, err)
		return
	}
	qs, err := h.svc.ListQueues(r.Context(), c.tenant)
	if err != nil {
		httpapi.WriteError(w, toHTTP(err))
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, QueueList{Object: "list", Data: qs})
}

func (h handlers) get(w http.ResponseWriter, r *http.Request) {
	c, err := callerOf(r)
	if err != nil {
		httpapi.WriteError(w, err)
		return
	}
	q, err := h.svc.GetQueue(r.Context(), c.tenant, r.PathValue("id"))
	if err != nil {
		httpapi.WriteError(w, toHTTP(err))
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, q)
}

func (h handlers) delete(w http.ResponseWriter, r *http.Request) {
	c, err := callerOf(r)
	if err != nil {
		httpapi.WriteError(w, err)
		return
	}
	if err := h.svc.DeleteQueue(r.Context(), c.tenant, r.PathValue("id")); err != nil {
		httpapi.WriteError(w, toHTTP(err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// ItemList is a queue's items with their reviews.
type ItemList struct {
	Object string `json:"object"`
	Data   []Item `json:"data"`
}

func (h handlers) items(w http.ResponseWriter, r *http.Request) {
	c, err := callerOf(r)
	if err != nil {
		httpapi.WriteError(w, err)
		return
	}
	items, err := h.svc.Items(r.Context(), c.tenant, r.PathValue("id"))
	if err != nil {
		httpapi.WriteError(w, toHTTP(err))
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, ItemList{Object: "list", Data: items})
}

// NextRequest asks for a reviewer's next item (admins name the reviewer).
type NextRequest struct {
	Reviewer string `json:"reviewer,omitempty"`
}

// NextResponse is the reviewer's next item, or a null assignment when none is left.
type NextResponse struct {
	Assignment *Assignment `json:"assignment"`
	Remaining  int         `json:"remaining"`
}

func (h handlers) next(w http.ResponseWriter, r *http.Request) {
	c, err := callerOf(r)
	if err != nil {
		httpapi.WriteError(w, err)
		return
	}
	var req NextRequest
	if r.ContentLength != 0 {
		if err := httpapi.DecodeJSON(w, r, &req, 64<<10); err != nil {
			httpapi.WriteError(w, err)
			return
		}
	}
	reviewer := c.reviewer
	if c.admin {
		reviewer = req.Reviewer
	}
	a, err := h.svc.Next(r.Context(), c.tenant, r.PathValue("id"), reviewer)
	if err != nil {
		httpapi.WriteError(w, toHTTP(err))
		return
	}
	resp := NextResponse{Assignment: a}
	if a != nil {
		resp.Remaining = a.Remaining
	}
	httpapi.WriteJSON(w, http.StatusOK, resp)
}

// ReviewRequest is a reviewer's verdict on one item.
type ReviewRequest struct {
	ItemID string `json:"item_id"`
	// Reviewer is required from admins and ignored from tenant keys (the key reviews).
	Reviewer        string         `json:"reviewer,omitempty"`
	Scores          map[string]int `json:"scores,omitempty"`
	Choice          string         `json:"choice,omitempty"`
	CorrectedOutput string         `json:"corrected_output,omitempty"`
	Comment         string         `json:"comment,omitempty"`
}

func (h handlers) submit(w http.ResponseWriter, r *http.Request) {
	c, err := callerOf(r)
	if err != nil {
		httpapi.WriteError(w, err)
		return
	}
	var req ReviewRequest
	if err := httpapi.DecodeJSON(w, r, &req, 256<<10); err != nil {
		httpapi.WriteError(w, err)
		return
	}
	if req.ItemID == "" {
		httpapi.WriteError(w, httpapi.BadRequest("item_id", "item_id is required"))
		return
	}
	reviewer := c.reviewer
	if c.admin {
		reviewer = req.Reviewer
	}
	out, err := h.svc.Submit(r.Context(), c.tenant, Review{QueueID: r.PathValue("id"), ItemID: req.ItemID, Reviewer: reviewer,
		Scores: req.Scores, Choice: req.Choice, CorrectedOutput: req.CorrectedOutput, Comment: req.Comment})
	if err != nil {
		httpapi.WriteError(w, toHTTP(err))
		return
	}
	audit.SetResource(r.Context(), "review-queues/"+out.QueueID+"/items/"+out.ItemID)
	audit.SetDetail(r.Context(), "reviewer", out.Reviewer)
	httpapi.WriteJSON(w, http.StatusCreated, out)
}

func (h handlers) agreement(w http.ResponseWriter, r *http.Request) {
	c, err := callerOf(r)
	if err != nil {
		httpapi.WriteError(w, err)
		return
	}
	a, err := h.svc.Agreement(r.Context(), c.tenant, r.PathValue("id"))
	if err != nil {
		httpapi.WriteError(w, toHTTP(err))
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, a)
}

func (h handlers) publish(w http.ResponseWriter, r *http.Request) {
	c, err := callerOf(r)
	if err != nil {
		httpapi.WriteError(w, err)
		return
	}
	var req PublishRequest
	if err := httpapi.DecodeJSON(w, r, &req, 64<<10); err != nil {
		httpapi.WriteError(w, err)
		return
	}
	v, err := h.svc.Publish(r.Context(), c.tenant, r.PathValue("id"), req, c.name)
	if err != nil {
		httpapi.WriteError(w, toHTTP(err))
		return
	}
	audit.SetTenant(r.Context(), v.Tenant)
	audit.SetResource(r.Context(), "datasets/"+v.Name+"/versions/"+strconv.Itoa(v.Version))
	httpapi.WriteJSON(w, http.StatusCreated, v)
}

// DatasetList is a tenant's ground-truth datasets.
type DatasetList struct {
	Object string           `json:"object"`
	Data   []DatasetSummary `json:"data"`
}

func (h handlers) datasets(w http.ResponseWriter, r *http.Request) {
	c, err := callerOf(r)
	if err != nil {
		httpapi.WriteError(w, err)
		return
	}
	if c.tenant == "" {
		httpapi.WriteError(w, httpapi.BadRequest("tenant", "the tenant query parameter is required"))
		return
	}
	ds, err := h.svc.Datasets(r.Context(), c.tenant)
	if err != nil {
		httpapi.WriteError(w, toHTTP(err))
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, DatasetList{Object: "list", Data: ds})
}

func (h handlers) dataset(w http.ResponseWriter, r *http.Request) {
	c, err := callerOf(r)
	if err != nil {
		httpapi.WriteError(w, err)
		return
	}
	if c.tenant == "" {
		httpapi.WriteError(w, httpapi.BadRequest("tenant", "the tenant query parameter is required"))
		return
	}
	d, err := h.svc.Dataset(r.Context(), c.tenant, r.PathValue("name"))
	if err != nil {
		httpapi.WriteError(w, toHTTP(err))
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, d)
}

func (h handlers) content(w http.ResponseWriter, r *http.Request) {
	c, err := callerOf(r)
	if err != nil {
		httpapi.WriteError(w, err)
		return
	}
	if c.tenant == "" {
		httpapi.WriteError(w, httpapi.BadRequest("tenant", "the tenant query parameter is required"))
		return
	}
	version, err := strconv.Atoi(r.PathValue("version"))
	if err != nil || version < 0 {
		httpapi.WriteError(w, httpapi.BadRequest("version", "version must be a number (0 for the latest)"))
		return
	}
	format := r.URL.Query().Get("format")
	rc, v, err := h.svc.DatasetContent(r.Context(), c.tenant, r.PathValue("name"), version, format)
	if err != nil {
		httpapi.WriteError(w, toHTTP(err))
		return
	}
	defer rc.Close()
	if format == "" {
		format = FormatEval
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Content-Disposition", `attachment; filename="`+v.Name+"-v"+strconv.Itoa(v.Version)+"."+format+`.jsonl"`)
	w.Header().Set("X-Plinth-Dataset-Version", strconv.Itoa(v.Version))
	_, _ = io.Copy(w, rc)
}
