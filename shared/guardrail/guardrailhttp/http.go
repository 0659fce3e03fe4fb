// Package guardrailhttp serves the guardrail API: POST /v1/guardrails/apply for tenants'
// API keys and the admin API for named, versioned policies.
package guardrailhttp

import (
	"net/http"
	"strconv"

	"github.com/plinth-ai/plinth/shared/auth"
	"github.com/plinth-ai/plinth/shared/guardrail"
	"github.com/plinth-ai/plinth/shared/httpapi"
)

// Routes registers the guardrail routes on mux:
//
//	POST /v1/guardrails/apply                                 (scope inference)
//	POST /admin/guardrail-policies                            create (201)
//	GET  /admin/guardrail-policies                            list
//	GET  /admin/guardrail-policies/{id}                       latest version and version list
//	PUT  /admin/guardrail-policies/{id}                       new version (200)
//	POST /admin/guardrail-policies/{id}/versions              new version (201)
//	GET  /admin/guardrail-policies/{id}/versions/{version}    one version
//	GET  /admin/guardrail-baseline                            the platform's floor
//	PUT  /admin/guardrail-baseline                            set it {"policy":"id[:version]"}
//
// The caller's principal must already be in the request context (auth middleware), and
// who may call each admin route is decided in front of mux (shared/access): tenant admins
// manage their own tenant's policies, platform admins every policy and the baseline. A
// list with ?tenant= shows that tenant's policies and the platform-shared ones.
func Routes(mux *http.ServeMux, svc *guardrail.Service) {
	h := &handler{svc: svc}
	mux.HandleFunc("POST /v1/guardrails/apply", h.apply)
	mux.HandleFunc("POST /admin/guardrail-policies", h.admin(h.create))
	mux.HandleFunc("GET /admin/guardrail-policies", h.admin(h.list))
	mux.HandleFunc("GET /admin/guardrail-policies/{id}", h.admin(h.get))
	mux.HandleFunc("PUT /admin/guardrail-policies/{id}", h.admin(h.update(http.StatusOK)))
	mux.HandleFunc("POST /admin/guardrail-policies/{id}/versions", h.admin(h.update(http.StatusCreated)))
	mux.HandleFunc("GET /admin/guardrail-policies/{id}/versions/{version}", h.admin(h.getVersion))
	mux.HandleFunc("GET /admin/guardrail-baseline", h.admin(h.baseline))
	mux.HandleFunc("PUT /admin/guardrail-baseline", h.admin(h.setBaseline))
}

type handler struct{ svc *guardrail.Service }

// writeErr maps domain errors to API errors.
func writeErr(w http.ResponseWriter, err error) {
	httpapi.WriteError(w, httpapi.FromError(err))
}

func (h *handler) apply(w http.ResponseWriter, r *http.Request) {
	p, ok := auth.FromContext(r.Context())
	if !ok {
		writeErr(w, &httpapi.Error{Status: http.StatusUnauthorized, Code: httpapi.CodeInvalidAPIKey, Message: "missing or invalid API key"})
		return
	}
	if !p.Has(auth.ScopeInference) {
		writeErr(w, &httpapi.Error{Status: http.StatusForbidden, Code: httpapi.CodeInsufficientScope, Message: "the API key lacks the inference scope"})
		return
	}
	var req guardrail.ApplyRequest
	if err := httpapi.DecodeJSON(w, r, &req, 0); err != nil {
		writeErr(w, err)
		return
	}
	resp, err := h.svc.Apply(r.Context(), p.TenantID, req)
	if err != nil {
		writeErr(w, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, resp)
}

func (h *handler) admin(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, ok := auth.FromContext(r.Context())
		if !ok {
			writeErr(w, &httpapi.Error{Status: http.StatusUnauthorized, Code: httpapi.CodeInvalidAPIKey, Message: "admin credentials required"})
			return
		}
		if !p.PlatformWide() && p.TenantID == "" {
			writeErr(w, &httpapi.Error{Status: http.StatusForbidden, Code: httpapi.CodePermissionDenied, Message: "guardrail policies are managed by platform and tenant admins"})
			return
		}
		next(w, r)
	}
}

func (h *handler) create(w http.ResponseWriter, r *http.Request) {
	var p guardrail.Policy
	if err := httpapi.DecodeJSON(w, r, &p, 0); err != nil {
		writeErr(w, err)
		return
	}
	out, err := h.svc.Repo.Create(r.Context(), p)
	if err != nil {
		writeErr(w, err)
		return
	}
	w.Header().Set("Location", "/admin/guardrail-policies/"+out.ID)
	httpapi.WriteJSON(w, http.StatusCreated, out)
}

func (h *handler) update(status int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var p guardrail.Policy
		if err := httpapi.DecodeJSON(w, r, &p, 0); err != nil {
			writeErr(w, err)
			return
		}
		out, err := h.svc.Repo.Update(r.Context(), r.PathValue("id"), p)
		if err != nil {
			writeErr(w, err)
			return
		}
		httpapi.WriteJSON(w, status, out)
	}
}

type listResponse struct {
	Object string                 `json:"object"`
	Data   []guardrail.PolicyInfo `json:"data"`
}

func (h *handler) list(w http.ResponseWriter, r *http.Request) {
	infos, err := h.svc.Repo.List(r.Context())
	if err != nil {
		writeErr(w, err)
		return
	}
	if tenant := r.URL.Query().Get("tenant"); tenant != "" {
		mine := infos[:0]
		for _, in := range infos {
			if in.Tenant == "" || in.Tenant == tenant {
				mine = append(mine, in)
			}
		}
		infos = mine
	}
	httpapi.WriteJSON(w, http.StatusOK, listResponse{Object: "list", Data: infos})
}

func (h *handler) baseline(w http.ResponseWriter, r *http.Request) {
	b, err := h.svc.Repo.Baseline(r.Context())
	if err != nil {
		writeErr(w, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, b)
}

func (h *handler) setBaseline(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Policy string `json:"policy"`
	}
	if err := httpapi.DecodeJSON(w, r, &body, 1<<16); err != nil {
		writeErr(w, err)
		return
	}
	p, _ := auth.FromContext(r.Context())
	b, err := h.svc.Repo.SetBaseline(r.Context(), body.Policy, p.KeyID)
	if err != nil {
		writeErr(w, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, b)
}

type policyResponse struct {
	guardrail.PolicyInfo
	Policy   *guardrail.Policy       `json:"policy"`
	Versions []guardrail.VersionInfo `json:"versions"`
}

func (h *handler) get(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	info, err := h.svc.Repo.Info(r.Context(), id)
	if err != nil {
		writeErr(w, err)
		return
	}
	p, err := h.svc.Repo.Get(r.Context(), id, info.LatestVersion)
	if err != nil {
		writeErr(w, err)
		return
	}
	vs, err := h.svc.Repo.Versions(r.Context(), id)
	if err != nil {
		writeErr(w, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, policyResponse{PolicyInfo: info, Policy: p, Versions: vs})
}

func (h *handler) getVersion(w http.ResponseWriter, r *http.Request) {
	v, err := strconv.Atoi(r.PathValue("version"))
	if err != nil || v < 1 {
		writeErr(w, httpapi.BadRequest("version", "version must be a positive integer"))
		return
	}
	p, err := h.svc.Repo.Get(r.Context(), r.PathValue("id"), v)
	if err != nil {
		writeErr(w, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, p)
}
