package registry

import (
	"net/http"

	"github.com/plinth-ai/plinth/shared/auth"
	"github.com/plinth-ai/plinth/shared/httpapi"
)

// Routes registers the admin API of the model hub on mux. Callers must put admin
// authentication in front of these routes.
func Routes(mux *http.ServeMux, svc *Service) {
	mux.HandleFunc("POST /admin/models", svc.handleCreate)
	mux.HandleFunc("GET /admin/models", svc.handleList)
	mux.HandleFunc("GET /admin/models/{id...}", svc.handleGet)
	mux.HandleFunc("PATCH /admin/models/{id...}", svc.handlePatch)
	mux.HandleFunc("POST /admin/models/{id...}", svc.handleReviewRoute)
}

type listResponse struct {
	Object string  `json:"object"`
	Data   []Model `json:"data"`
}

func (svc *Service) handleCreate(w http.ResponseWriter, r *http.Request) {
	var m Model
	if err := httpapi.DecodeJSON(w, r, &m, 0); err != nil {
		httpapi.WriteError(w, err)
		return
	}
	p, _ := auth.FromContext(r.Context())
	created, err := svc.Create(r.Context(), m, p.KeyID)
	if err != nil {
		httpapi.WriteError(w, toHTTP(err))
		return
	}
	httpapi.WriteJSON(w, http.StatusCreated, created.Redacted())
}

func (svc *Service) handleList(w http.ResponseWriter, r *http.Request) {
	models, err := svc.List(r.Context())
	if err != nil {
		httpapi.WriteError(w, toHTTP(err))
		return
	}
	status := r.URL.Query().Get("status")
	out := make([]Model, 0, len(models))
	for _, m := range models {
		if status == "" || string(m.Status) == status {
			out = append(out, m.Redacted())
		}
	}
	httpapi.WriteJSON(w, http.StatusOK, listResponse{Object: "list", Data: out})
}

// handleGet returns one model; IDs may contain '/', hence the catch-all pattern.
func (svc *Service) handleGet(w http.ResponseWriter, r *http.Request) {
	m, err := svc.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		httpapi.WriteError(w, toHTTP(err))
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, m.Redacted())
}

type reviewRequest struct {
	Decision string `json:"decision"`
	Reviewer string `json:"reviewer"`
	Comment  string `json:"comment"`
}

func (svc *Service) handleReviewRoute(w http.ResponseWriter, r *http.Request) {
	id, ok := cutSuffix(r.PathValue("id"), "/review")
	if !ok {
		httpapi.WriteError(w, httpapi.Errorf(http.StatusNotFound, httpapi.CodeNotFound, "no such route: %s %s", r.Method, r.URL.Path))
		return
	}
	var req reviewRequest
	if err := httpapi.DecodeJSON(w, r, &req, 0); err != nil {
		httpapi.WriteError(w, err)
		return
	}
	if req.Reviewer == "" {
		if p, ok := auth.FromContext(r.Context()); ok {
			req.Reviewer = p.KeyID
		}
	}
	m, err := svc.Review(r.Context(), id, req.Decision, req.Reviewer, req.Comment)
	if err != nil {
		httpapi.WriteError(w, toHTTP(err))
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, m.Redacted())
}

// patchRequest lists the fields an update may change; absent fields are kept.
type patchRequest struct {
	Description     *string           `json:"description"`
	Owner           *string           `json:"owner"`
	Tags            map[string]string `json:"tags"`
	Aliases         *[]string         `json:"aliases"`
	Deployments     *[]Deployment     `json:"deployments"`
	Fallbacks       *[]string         `json:"fallbacks"`
	Timeouts        *Timeouts         `json:"timeouts"`
	Prices          *Prices           `json:"prices"`
	ContextWindow   *int              `json:"context_window"`
	MaxOutputTokens *int              `json:"max_output_tokens"`
	Lineage         *Lineage          `json:"lineage"`
	SharedWith      *[]string         `json:"shared_with"`
}

func (svc *Service) handlePatch(w http.ResponseWriter, r *http.Request) {
	var req patchRequest
	if err := httpapi.DecodeJSON(w, r, &req, 0); err != nil {
		httpapi.WriteError(w, err)
		return
	}
	m, err := svc.Update(r.Context(), r.PathValue("id"), func(m *Model) error {
		if req.Description != nil {
			m.Description = *req.Description
		}
		if req.Owner != nil {
			m.Owner = *req.Owner
		}
		if req.Tags != nil {
			m.Tags = req.Tags
		}
		if req.Aliases != nil {
			m.Aliases = *req.Aliases
		}
		if req.Deployments != nil {
			m.Deployments = keepKeys(m.Deployments, *req.Deployments)
		}
		if req.Fallbacks != nil {
			m.Fallbacks = *req.Fallbacks
		}
		if req.Timeouts != nil {
			m.Timeouts = *req.Timeouts
		}
		if req.Prices != nil {
			m.Prices = *req.Prices
		}
		if req.ContextWindow != nil {
			m.ContextWindow = *req.ContextWindow
		}
		if req.MaxOutputTokens != nil {
			m.MaxOutputTokens = *req.MaxOutputTokens
		}
		if req.Lineage != nil {
			m.Lineage = req.Lineage
		}
		if req.SharedWith != nil {
			m.SharedWith = *req.SharedWith
		}
		return nil
	})
	if err != nil {
		httpapi.WriteError(w, toHTTP(err))
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, m.Redacted())
}

// keepKeys carries stored API keys over to updated deployments with the same ID that do
// not supply a new one, since keys are never returned to clients to send back.
func keepKeys(old, next []Deployment) []Deployment {
	byID := map[string]string{}
	for _, d := range old {
		byID[d.ID] = d.APIKey
	}
	for i := range next {
		if next[i].APIKey == "" && next[i].ID != "" {
			next[i].APIKey = byID[next[i].ID]
		}
	}
	return next
}

func cutSuffix(s, suffix string) (string, bool) {
	if len(s) > len(suffix) && s[len(s)-len(suffix):] == suffix {
		return s[:len(s)-len(suffix)], true
	}
	return "", false
}

// toHTTP maps registry failures to API errors (a missing model is model_not_found).
func toHTTP(err error) error { return httpapi.FromError(err) }
