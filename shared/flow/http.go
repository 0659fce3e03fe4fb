package flow

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"

	"github.com/plinth-ai/plinth/shared/httpapi"
)

// Routes registers the executions admin API on mux. Authentication is the caller's
// middleware's job.
//
//	GET  /admin/executions?machine=&status=   {"data":[Execution…]} newest first
//	GET  /admin/executions/{id}               Execution (DescribeExecution)
//	GET  /admin/executions/{id}/history       {"events":[HistoryEvent…],"nextToken"?} (GetExecutionHistory;
//	                                          ?maxResults=1..1000 (default 1000), ?reverseOrder=true, ?nextToken=)
//	POST /admin/executions/{id}/stop          body {"error","cause"} optional → Execution
//	GET  /admin/state-machines                {"data":["name"…]}
//	POST /admin/state-machines/{name}/executions  body {"name","input"} → 201 Execution
//
// {id} is the execution ARN ("arn:aws:states:local:000000000000:execution:{machine}:{name}").
func (e *Executor) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /admin/executions", e.handleList)
	mux.HandleFunc("GET /admin/executions/{id}", e.handleDescribe)
	mux.HandleFunc("GET /admin/executions/{id}/history", e.handleHistory)
	mux.HandleFunc("POST /admin/executions/{id}/stop", e.handleStop)
	mux.HandleFunc("GET /admin/state-machines", e.handleMachines)
	mux.HandleFunc("POST /admin/state-machines/{name}/executions", e.handleStart)
}

func writeFlowError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrInvalidName):
		httpapi.WriteError(w, httpapi.BadRequest("name", "%v", err))
	case errors.Is(err, ErrNotRunning):
		httpapi.WriteError(w, httpapi.Errorf(http.StatusConflict, httpapi.CodeExecutionNotRunning, "%v", err))
	default:
		httpapi.WriteError(w, httpapi.FromError(err))
	}
}

func (e *Executor) handleList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	status := q.Get("status")
	switch status {
	case "", StatusRunning, StatusSucceeded, StatusFailed, StatusTimedOut, StatusAborted:
	default:
		httpapi.WriteError(w, httpapi.BadRequest("status", "status must be RUNNING, SUCCEEDED, FAILED, TIMED_OUT or ABORTED"))
		return
	}
	list, err := e.List(r.Context(), ListFilter{Machine: q.Get("machine"), Status: status})
	if err != nil {
		writeFlowError(w, err)
		return
	}
	if list == nil {
		list = []Execution{}
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"data": list})
}

func (e *Executor) handleDescribe(w http.ResponseWriter, r *http.Request) {
	ex, err := e.Describe(r.Context(), r.PathValue("id"))
	if err != nil {
		writeFlowError(w, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, ex)
}

// maxHistoryPage is the largest page of GET /admin/executions/{id}/history.
const maxHistoryPage = 1000

func (e *Executor) handleHistory(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, after := maxHistoryPage, int64(0)
	if v := q.Get("maxResults"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxHistoryPage {
			httpapi.WriteError(w, httpapi.BadRequest("maxResults", "maxResults must be an integer from 1 to %d", maxHistoryPage))
			return
		}
		limit = n
	}
	reverse := q.Get("reverseOrder") == "true"
	if v := q.Get("nextToken"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			httpapi.WriteError(w, httpapi.BadRequest("nextToken", "nextToken is not one this API returned"))
			return
		}
		after = n
	}
	evs, err := e.History(r.Context(), r.PathValue("id"))
	if err != nil {
		writeFlowError(w, err)
		return
	}
	if reverse {
		slices.Reverse(evs)
	}
	page := make([]HistoryEvent, 0, min(limit, len(evs)))
	for _, ev := range evs {
		if after > 0 && ((!reverse && ev.ID <= after) || (reverse && ev.ID >= after)) {
			continue
		}
		page = append(page, ev)
		if len(page) == limit {
			break
		}
	}
	body := map[string]any{"events": page}
	if len(page) == limit && page[len(page)-1].ID != evs[len(evs)-1].ID {
		body["nextToken"] = strconv.FormatInt(page[len(page)-1].ID, 10)
	}
	httpapi.WriteJSON(w, http.StatusOK, body)
}

func (e *Executor) handleStop(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Error string `json:"error"`
		Cause string `json:"cause"`
	}
	if r.ContentLength != 0 {
		if err := httpapi.DecodeJSON(w, r, &body, 64<<10); err != nil {
			httpapi.WriteError(w, err)
			return
		}
	}
	ex, err := e.Stop(r.Context(), r.PathValue("id"), body.Error, body.Cause)
	if err != nil {
		writeFlowError(w, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, ex)
}

func (e *Executor) handleMachines(w http.ResponseWriter, _ *http.Request) {
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"data": e.Machines()})
}

func (e *Executor) handleStart(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Name  string          `json:"name"`
		Input json.RawMessage `json:"input"`
	}
	if err := httpapi.DecodeJSON(w, r, &body, int64(maxPayloadBytes)+4096); err != nil {
		httpapi.WriteError(w, err)
		return
	}
	ex, err := e.Start(r.Context(), r.PathValue("name"), body.Name, body.Input)
	if err != nil {
		if !errors.Is(err, ErrMachineNotFound) && !errors.Is(err, ErrExecutionExists) && !errors.Is(err, ErrInvalidName) {
			httpapi.WriteError(w, httpapi.BadRequest("input", "%v", err))
			return
		}
		writeFlowError(w, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusCreated, ex)
}
