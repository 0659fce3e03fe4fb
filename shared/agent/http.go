package agent

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/plinth-ai/plinth/shared/auth"
	"github.com/plinth-ai/plinth/shared/gateway"
	"github.com/plinth-ai/plinth/shared/httpapi"
	"github.com/plinth-ai/plinth/shared/provider"
)

// Routes mounts the Responses API on mux (behind the /v1 authentication).
func Routes(mux *http.ServeMux, rs *Responses) {
	mux.HandleFunc("POST /v1/responses", rs.handleCreate)
	mux.HandleFunc("GET /v1/responses/{id}", rs.handleGet)
}

// RunRoutes mounts durable agent runs on mux (behind the /v1 authentication).
func RunRoutes(mux *http.ServeMux, d *Durable) {
	mux.HandleFunc("POST /v1/agent-runs", func(w http.ResponseWriter, r *http.Request) {
		c, ok := gateway.CallerFrom(r.Context())
		if !ok {
			httpapi.WriteError(w, httpapi.Errorf(http.StatusUnauthorized, "invalid_api_key", "no valid credentials were supplied"))
			return
		}
		var req StartRunRequest
		if err := httpapi.DecodeJSON(w, r, &req, 0); err != nil {
			httpapi.WriteError(w, err)
			return
		}
		var tools []provider.Tool
		for i, t := range req.Tools {
			if t.Type != "function" {
				httpapi.WriteError(w, httpapi.BadRequest(fmt.Sprintf("tools[%d].type", i), "tools[%d].type %q: a durable run takes function tools the client executes; the agent's definition names its hub tools", i, t.Type))
				return
			}
			fn, err := functionTool(i, t)
			if err != nil {
				httpapi.WriteError(w, toHTTP(err))
				return
			}
			tools = append(tools, fn)
		}
		run, err := d.Start(r.Context(), c, req.Agent, req.Input, tools)
		if err != nil {
			httpapi.WriteError(w, toHTTP(err))
			return
		}
		httpapi.WriteJSON(w, http.StatusAccepted, run)
	})
	mux.HandleFunc("GET /v1/agent-runs/{id}", func(w http.ResponseWriter, r *http.Request) {
		c, ok := gateway.CallerFrom(r.Context())
		if !ok {
			httpapi.WriteError(w, httpapi.Errorf(http.StatusUnauthorized, "invalid_api_key", "no valid credentials were supplied"))
			return
		}
		run, err := d.Get(r.Context(), c, r.PathValue("id"))
		if err != nil {
			httpapi.WriteError(w, toHTTP(err))
			return
		}
		httpapi.WriteJSON(w, http.StatusOK, run)
	})
	mux.HandleFunc("POST /v1/agent-runs/{id}/outputs", func(w http.ResponseWriter, r *http.Request) {
		c, ok := gateway.CallerFrom(r.Context())
		if !ok {
			httpapi.WriteError(w, httpapi.Errorf(http.StatusUnauthorized, httpapi.CodeInvalidAPIKey, "no valid credentials were supplied"))
			return
		}
		var req FunctionOutputRequest
		if err := httpapi.DecodeJSON(w, r, &req, 0); err != nil {
			httpapi.WriteError(w, err)
			return
		}
		if req.CallID == "" || len(req.Output) == 0 {
			httpapi.WriteError(w, httpapi.BadRequest("call_id", "call_id and output are required"))
			return
		}
		out := string(req.Output)
		var text string
		if json.Unmarshal(req.Output, &text) == nil {
			out = text
		}
		run, err := d.Output(r.Context(), c, r.PathValue("id"), req.CallID, out)
		if err != nil {
			httpapi.WriteError(w, toHTTP(err))
			return
		}
		httpapi.WriteJSON(w, http.StatusOK, run)
	})
	mux.HandleFunc("POST /v1/agent-runs/{id}/approvals", func(w http.ResponseWriter, r *http.Request) {
		c, ok := gateway.CallerFrom(r.Context())
		if !ok {
			httpapi.WriteError(w, httpapi.Errorf(http.StatusUnauthorized, "invalid_api_key", "no valid credentials were supplied"))
			return
		}
		var req ApprovalRequest
		if err := httpapi.DecodeJSON(w, r, &req, 0); err != nil {
			httpapi.WriteError(w, err)
			return
		}
		if req.CallID == "" || req.Approve == nil {
			httpapi.WriteError(w, httpapi.BadRequest("call_id", "call_id and approve are required"))
			return
		}
		run, err := d.Decide(r.Context(), c, r.PathValue("id"), req.CallID, *req.Approve, req.Reviewer)
		if err != nil {
			httpapi.WriteError(w, toHTTP(err))
			return
		}
		httpapi.WriteJSON(w, http.StatusOK, run)
	})
}

// StartRunRequest is the body of POST /v1/agent-runs.
type StartRunRequest struct {
	Agent string `json:"agent"`
	Input string `json:"input"`
	// Tools are functions the client executes ({"type":"function","name",…} as in the
	// Responses API): a call of one pauses the run until its output is posted.
	Tools []RequestTool `json:"tools,omitempty"`
}

// FunctionOutputRequest is the body of POST /v1/agent-runs/{id}/outputs.
type FunctionOutputRequest struct {
	CallID string `json:"call_id"`
	// Output is the function's result: a string, or any JSON value (passed on as text).
	Output json.RawMessage `json:"output"`
}

// ApprovalRequest is the body of POST /v1/agent-runs/{id}/approvals.
type ApprovalRequest struct {
	CallID   string `json:"call_id"`
	Approve  *bool  `json:"approve"`
	Reviewer string `json:"reviewer,omitempty"`
}

// AdminRoutes mounts the agent registry's admin API on mux.
func AdminRoutes(mux *http.ServeMux, svc *Service) {
	mux.HandleFunc("POST /admin/agents", func(w http.ResponseWriter, r *http.Request) {
		var d Definition
		if err := httpapi.DecodeJSON(w, r, &d, 0); err != nil {
			httpapi.WriteError(w, err)
			return
		}
		by := "admin"
		if p, ok := auth.FromContext(r.Context()); ok && p.KeyID != "" {
			by = p.KeyID
		}
		out, err := svc.Save(r.Context(), d, by)
		if err != nil {
			httpapi.WriteError(w, toHTTP(err))
			return
		}
		httpapi.WriteJSON(w, http.StatusCreated, out)
	})
	mux.HandleFunc("GET /admin/agents", func(w http.ResponseWriter, r *http.Request) {
		list, err := svc.List(r.Context(), r.URL.Query().Get("tenant"))
		if err != nil {
			httpapi.WriteError(w, toHTTP(err))
			return
		}
		httpapi.WriteJSON(w, http.StatusOK, DefinitionList{Data: list})
	})
	mux.HandleFunc("GET /admin/agents/{id}", func(w http.ResponseWriter, r *http.Request) {
		d, err := svc.Get(r.Context(), r.PathValue("id"), 0)
		if err != nil {
			httpapi.WriteError(w, toHTTP(err))
			return
		}
		httpapi.WriteJSON(w, http.StatusOK, d)
	})
	mux.HandleFunc("GET /admin/agents/{id}/versions/{version}", func(w http.ResponseWriter, r *http.Request) {
		v, err := strconv.Atoi(r.PathValue("version"))
		if err != nil || v < 1 {
			httpapi.WriteError(w, httpapi.BadRequest("version", "version must be a positive integer"))
			return
		}
		d, err := svc.Get(r.Context(), r.PathValue("id"), v)
		if err != nil {
			httpapi.WriteError(w, toHTTP(err))
			return
		}
		httpapi.WriteJSON(w, http.StatusOK, d)
	})
}

// DefinitionList is the body of GET /admin/agents.
type DefinitionList struct {
	Data []Definition `json:"data"`
}

func toHTTP(err error) error {
	if ae, ok := gateway.APIError(err); ok {
		return ae
	}
	return httpapi.FromError(err)
}

func (rs *Responses) handleGet(w http.ResponseWriter, r *http.Request) {
	c, ok := gateway.CallerFrom(r.Context())
	if !ok {
		httpapi.WriteError(w, httpapi.Errorf(http.StatusUnauthorized, httpapi.CodeInvalidAPIKey, "no valid credentials were supplied"))
		return
	}
	resp, err := rs.Get(r.Context(), c, r.PathValue("id"))
	if err != nil {
		httpapi.WriteError(w, toHTTP(err))
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, resp)
}

func (rs *Responses) handleCreate(w http.ResponseWriter, r *http.Request) {
	c, ok := gateway.CallerFrom(r.Context())
	if !ok {
		httpapi.WriteError(w, httpapi.Errorf(http.StatusUnauthorized, httpapi.CodeInvalidAPIKey, "no valid credentials were supplied"))
		return
	}
	var req ResponseRequest
	if err := httpapi.DecodeJSON(w, r, &req, 0); err != nil {
		httpapi.WriteError(w, err)
		return
	}
	ctx := WithRequestID(r.Context(), httpapi.RequestID(r.Context()))
	if !req.Stream {
		resp, err := rs.Create(ctx, c, &req, nil)
		if err != nil && resp == nil {
			httpapi.WriteError(w, toHTTP(err))
			return
		}
		httpapi.WriteJSON(w, http.StatusOK, resp)
		return
	}
	sse := &eventWriter{w: w}
	resp, err := rs.Create(ctx, c, &req, sse.send)
	if err != nil && resp == nil && !sse.started {
		httpapi.WriteError(w, toHTTP(err))
	}
}

// eventWriter writes the Responses API's server-sent events, opening the stream with
// the first.
type eventWriter struct {
	w       http.ResponseWriter
	started bool
}

func (e *eventWriter) send(event string, body map[string]any) {
	if !e.started {
		e.started = true
		h := e.w.Header()
		h.Set("Content-Type", "text/event-stream")
		h.Set("Cache-Control", "no-cache")
		e.w.WriteHeader(http.StatusOK)
	}
	b, _ := json.Marshal(body)
	_, _ = e.w.Write([]byte("event: " + event + "\ndata: "))
	_, _ = e.w.Write(b)
	_, _ = e.w.Write([]byte("\n\n"))
	if f, ok := e.w.(http.Flusher); ok {
		f.Flush()
	}
}
