package gateway

import (
	"net/http"

	"github.com/plinth-ai/plinth/shared/httpapi"
	"github.com/plinth-ai/plinth/shared/registry"
)

// modelObject is OpenAI's model object.
type modelObject struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

type modelList struct {
	Object string        `json:"object"`
	Data   []modelObject `json:"data"`
}

// Callable returns the model names (IDs and aliases) the caller may invoke, decided by
// the same policy function as invocation.
func (g *Gateway) callable(r *http.Request, c *Caller) ([]modelObject, error) {
	models, err := g.models.Snapshot(r.Context())
	if err != nil {
		return nil, err
	}
	out := make([]modelObject, 0, len(models))
	for _, m := range models {
		if !m.Status.Invocable() {
			continue
		}
		names := append([]string{m.ID}, m.Aliases...)
		for _, name := range names {
			if c.allowed(m, name) != nil {
				continue
			}
			out = append(out, modelObject{ID: name, Object: "model", Created: m.CreatedAt.Unix(), OwnedBy: owner(m)})
		}
	}
	return out, nil
}

func owner(m *registry.Model) string {
	if m.Owner != "" {
		return m.Owner
	}
	return "plinth"
}

func (g *Gateway) handleListModels(w http.ResponseWriter, r *http.Request) {
	c, ok := CallerFrom(r.Context())
	if !ok {
		httpapi.WriteError(w, errUnauthenticated)
		return
	}
	list, err := g.callable(r, c)
	if err != nil {
		httpapi.WriteError(w, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, modelList{Object: "list", Data: list})
}

func (g *Gateway) handleGetModel(w http.ResponseWriter, r *http.Request) {
	c, ok := CallerFrom(r.Context())
	if !ok {
		httpapi.WriteError(w, errUnauthenticated)
		return
	}
	list, err := g.callable(r, c)
	if err != nil {
		httpapi.WriteError(w, err)
		return
	}
	id := r.PathValue("id")
	for _, m := range list {
		if m.ID == id {
			httpapi.WriteJSON(w, http.StatusOK, m)
			return
		}
	}
	httpapi.WriteError(w, &httpapi.Error{Status: http.StatusNotFound, Code: "model_not_found", Param: "model",
		Message: "The model `" + id + "` does not exist or you do not have access to it."})
}
