package toolhub

import (
	"net/http"

	"github.com/plinth-ai/plinth/shared/auth"
	"github.com/plinth-ai/plinth/shared/httpapi"
)

// Routes mounts the catalog's admin API on mux (admin credentials required upstream).
func Routes(mux *http.ServeMux, svc *Service) {
	h := &handlers{svc: svc}
	mux.HandleFunc("POST /admin/tool-servers", h.create)
	mux.HandleFunc("GET /admin/tool-servers", h.list)
	mux.HandleFunc("GET /admin/tool-servers/{id}", h.get)
	mux.HandleFunc("PATCH /admin/tool-servers/{id}", h.patch)
	mux.HandleFunc("DELETE /admin/tool-servers/{id}", h.delete)
	mux.HandleFunc("POST /admin/tool-servers/{id}/sync", h.sync)
	mux.HandleFunc("POST /admin/tool-servers/{id}/review", h.review)
	mux.HandleFunc("GET /admin/tenants/{id}/tool-grants", h.listGrants)
	mux.HandleFunc("POST /admin/tenants/{id}/tool-grants", h.createGrant)
	mux.HandleFunc("DELETE /admin/tenants/{id}/tool-grants/{grant}", h.deleteGrant)
}

type handlers struct{ svc *Service }

func who(r *http.Request) string {
	if p, ok := auth.FromContext(r.Context()); ok && p.KeyID != "" {
		return p.KeyID
	}
	return "admin"
}

func (h *handlers) create(w http.ResponseWriter, r *http.Request) {
	var s Server
	if err := httpapi.DecodeJSON(w, r, &s, 8<<20); err != nil {
		httpapi.WriteError(w, err)
		return
	}
	out, err := h.svc.Create(r.Context(), s, who(r))
	if err != nil {
		httpapi.WriteError(w, toHTTP(err))
		return
	}
	httpapi.WriteJSON(w, http.StatusCreated, out.Redacted())
}

// ServerList is the body of GET /admin/tool-servers.
type ServerList struct {
	Data []Server `json:"data"`
}

func (h *handlers) list(w http.ResponseWriter, r *http.Request) {
	all, err := h.svc.List(r.Context())
	if err != nil {
		httpapi.WriteError(w, toHTTP(err))
		return
	}
	out := ServerList{Data: make([]Server, len(all))}
	for i, s := range all {
		out.Data[i] = s.Redacted()
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
}

func (h *handlers) get(w http.ResponseWriter, r *http.Request) {
	s, err := h.svc.Server(r.Context(), r.PathValue("id"))
	if err != nil {
		httpapi.WriteError(w, toHTTP(err))
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, s.Redacted())
}

func (h *handlers) patch(w http.ResponseWriter, r *http.Request) {
	var p Patch
	if err := httpapi.DecodeJSON(w, r, &p, 0); err != nil {
		httpapi.WriteError(w, err)
		return
	}
	s, err := h.svc.Update(r.Context(), r.PathValue("id"), p)
	if err != nil {
		httpapi.WriteError(w, toHTTP(err))
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, s.Redacted())
}

func (h *handlers) delete(w http.ResponseWriter, r *http.Request) {
	if err := h.svc.Delete(r.Context(), r.PathValue("id")); err != nil {
		httpapi.WriteError(w, toHTTP(err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *handlers) sync(w http.ResponseWriter, r *http.Request) {
	s, err := h.svc.Sync(r.Context(), r.PathValue("id"))
	if err != nil {
		httpapi.WriteError(w, toHTTP(err))
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, s.Redacted())
}

func (h *handlers) review(w http.ResponseWriter, r *http.Request) {
	var rv Review
	if err := httpapi.DecodeJSON(w, r, &rv, 0); err != nil {
		httpapi.WriteError(w, err)
		return
	}
	s, err := h.svc.Review(r.Context(), r.PathValue("id"), rv)
	if err != nil {
		httpapi.WriteError(w, toHTTP(err))
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, s.Redacted())
}

// GrantList is the body of GET /admin/tenants/{id}/tool-grants.
type GrantList struct {
	Data []Grant `json:"data"`
}

func (h *handlers) listGrants(w http.ResponseWriter, r *http.Request) {
	gs, err := h.svc.Grants(r.Context(), r.PathValue("id"))
	if err != nil {
		httpapi.WriteError(w, toHTTP(err))
		return
	}
	if gs == nil {
		gs = []Grant{}
	}
	httpapi.WriteJSON(w, http.StatusOK, GrantList{Data: gs})
}

func (h *handlers) createGrant(w http.ResponseWriter, r *http.Request) {
	var g Grant
	if err := httpapi.DecodeJSON(w, r, &g, 0); err != nil {
		httpapi.WriteError(w, err)
		return
	}
	if g.Tenant != "" && g.Tenant != r.PathValue("id") {
		httpapi.WriteError(w, httpapi.BadRequest("tenant", "the body's tenant %q differs from the path's %q", g.Tenant, r.PathValue("id")))
		return
	}
	g.Tenant = r.PathValue("id")
	out, err := h.svc.CreateGrant(r.Context(), g, who(r))
	if err != nil {
		httpapi.WriteError(w, toHTTP(err))
		return
	}
	httpapi.WriteJSON(w, http.StatusCreated, out)
}

func (h *handlers) deleteGrant(w http.ResponseWriter, r *http.Request) {
	if err := h.svc.DeleteGrant(r.Context(), r.PathValue("id"), r.PathValue("grant")); err != nil {
		httpapi.WriteError(w, toHTTP(err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func toHTTP(err error) error { return httpapi.FromError(err) }
