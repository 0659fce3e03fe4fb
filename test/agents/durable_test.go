package agents

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/plinth-ai/plinth/test/scripted"
)

type run struct {
	ID        string `json:"id"`
	Status    string `json:"status"`
	Output    string `json:"output"`
	Error     string `json:"error"`
	Approvals []struct {
		CallID string `json:"call_id"`
		Name   string `json:"name"`
	} `json:"approvals"`
	Usage struct {
		InputTokens  int64   `json:"input_tokens"`
		OutputTokens int64   `json:"output_tokens"`
		ToolCalls    int     `json:"tool_calls"`
		CostUSD      float64 `json:"cost_usd"`
	} `json:"usage"`
	Trace []step `json:"trace"`
}

func (e *env) waitRun(id string, done func(run) bool) run {
	e.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var r run
		e.do("GET", "/v1/agent-runs/"+id, e.key, nil, http.StatusOK, &r)
		if done(r) {
			return r
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("run %s stuck in %s: %+v", id, r.Status, r)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestDurableRunWithApproval runs an agent on the agent state machine: the tool that
// needs approval parks the run on a task token; approving one call and denying the other
// resumes it, and the run completes with both outcomes in its record.
func TestDurableRunWithApproval(t *testing.T) {
	e := newEnv(t, map[string][]scripted.Reply{
		"send two greetings": {
			{Calls: []scripted.Call{echo("to alice"), echo("to bob"), {Name: "test_simple_text", Arguments: `{}`}}},
			{Func: reportTools},
		},
	})
	e.agent(map[string]any{"id": "mailer", "tools": []string{"echo", "test_simple_text"}, "require_approval": []string{"echo"}})
	var started run
	e.do("POST", "/v1/agent-runs", e.key, map[string]any{"agent": "mailer", "input": "send two greetings"}, http.StatusAccepted, &started)
	r := e.waitRun(started.ID, func(r run) bool { return r.Status != "running" })
	if r.Status != "requires_approval" || len(r.Approvals) != 2 {
		t.Fatalf("run %+v, want requires_approval with two calls", r)
	}
	if n := e.fixture.Calls.Load(); n != 0 {
		t.Fatalf("%d calls reached the server before approval", n)
	}
	waiting := r.Approvals
	e.do("POST", "/v1/agent-runs/"+r.ID+"/approvals", e.key, map[string]any{"call_id": r.Approvals[0].CallID, "approve": true, "reviewer": "alice"}, http.StatusOK, nil)
	if got := e.waitRun(r.ID, func(run) bool { return true }); got.Status != "requires_approval" {
		t.Fatalf("after one of two decisions: %s", got.Status)
	}
	e.do("POST", "/v1/agent-runs/"+r.ID+"/approvals", e.key, map[string]any{"call_id": r.Approvals[1].CallID, "approve": false}, http.StatusOK, nil)
	r = e.waitRun(r.ID, func(r run) bool { return r.Status == "completed" || r.Status == "failed" })
	want := "tools said: to alice | Error: a reviewer did not approve this call; it was not made. | This is a simple text response for testing."
	if r.Status != "completed" || r.Output != want {
		t.Fatalf("run %s: %q (%s), want %q", r.Status, r.Output, r.Error, want)
	}
	if n := e.fixture.Calls.Load(); n != 2 {
		t.Errorf("%d calls reached the server, want 2 (the approved echo and the tool without approval)", n)
	}
	statuses := []string{}
	for _, s := range r.Trace {
		statuses = append(statuses, s.Kind+":"+s.Status)
	}
	if strings.Join(statuses, ",") != "model:ok,tool:ok,tool:denied,tool:ok,model:ok" {
		t.Errorf("trace %v", statuses)
	}
	// A decided run takes no more decisions.
	e.do("POST", "/v1/agent-runs/"+r.ID+"/approvals", e.key, map[string]any{"call_id": waiting[0].CallID, "approve": true}, http.StatusConflict, nil)

	// The audit trail has the run's start and end and its parking for approval, with the
	// platform as the actor, and both reviewers' decisions; never the run's input.
	var trail struct {
		Data []struct {
			Action    string            `json:"action"`
			ActorType string            `json:"actor_type"`
			Resource  string            `json:"resource"`
			Details   map[string]string `json:"details"`
		} `json:"data"`
	}
	var got map[string]int
	deadline := time.Now().Add(10 * time.Second)
	for {
		e.do("GET", "/admin/audit?tenant=acme&limit=1000", adminKey, nil, http.StatusOK, &trail)
		got = map[string]int{}
		for _, ev := range trail.Data {
			switch {
			case ev.Action == "agent.approval_requested" && ev.Resource == "agent-runs/"+r.ID && ev.ActorType == "platform":
				got[ev.Action]++
			case (ev.Action == "flow.start" || ev.Action == "flow.end") && ev.Details["machine"] == "agent" && ev.ActorType == "platform":
				got[ev.Action]++
			case ev.Action == "decideAgentRunCall" && ev.ActorType == "api_key":
				got[ev.Action]++
			}
		}
		if got["agent.approval_requested"] >= 1 && got["flow.start"] == 1 && got["flow.end"] == 1 && got["decideAgentRunCall"] == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("audit trail of the run: %v (want the approval request, the flow's start and end, three decisions)", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
	raw, _ := json.Marshal(trail)
	if strings.Contains(string(raw), "send two greetings") || strings.Contains(string(raw), "to alice") {
		t.Errorf("the trail holds the run's input: %s", raw)
	}
}

// TestDurableSupervisor: a durable run of a supervisor that calls another agent.
func TestDurableSupervisor(t *testing.T) {
	e := newEnv(t, map[string][]scripted.Reply{
		"plan a trip": {{Calls: []scripted.Call{{Name: "agent_researcher", Arguments: `{"input":"find hotels"}`}}}, {Func: reportTools}},
		"find hotels": {{Calls: []scripted.Call{echo("Hotel Lutetia")}}, {Func: reportTools}},
	})
	e.agent(map[string]any{"id": "researcher", "tools": []string{"echo"}})
	e.agent(map[string]any{"id": "supervisor", "agents": []string{"researcher"}, "budget": map[string]any{"max_usd": 1}})
	var started run
	e.do("POST", "/v1/agent-runs", e.key, map[string]any{"agent": "supervisor", "input": "plan a trip"}, http.StatusAccepted, &started)
	r := e.waitRun(started.ID, func(r run) bool { return r.Status != "running" })
	if r.Status != "completed" || r.Output != "tools said: tools said: Hotel Lutetia" {
		t.Fatalf("run %s %q %s", r.Status, r.Output, r.Error)
	}
	if len(r.Trace) != 3 || r.Trace[1].Kind != "agent" || len(r.Trace[1].Children) != 3 || r.Usage.CostUSD <= 0 {
		t.Fatalf("trace %+v usage %+v", r.Trace, r.Usage)
	}
	checkSpend(t, r.Trace, r.Usage.InputTokens, r.Usage.OutputTokens, r.Usage.CostUSD)
}

// TestDurableRunWithClientFunction: a durable run started with a function the client
// executes pauses (requires_action) when the model calls it, listing the call; the
// client's output resumes it, and the step's other calls run with it.
func TestDurableRunWithClientFunction(t *testing.T) {
	e := newEnv(t, map[string][]scripted.Reply{
		"book a table": {
			{Calls: []scripted.Call{{Name: "book_table", Arguments: `{"time":"19:00"}`}, echo("noted")}},
			{Func: reportTools},
		},
	})
	e.agent(map[string]any{"id": "booker", "tools": []string{"echo"}})
	tools := []map[string]any{{"type": "function", "name": "book_table", "description": "Books a table",
		"parameters": map[string]any{"type": "object", "properties": map[string]any{"time": map[string]string{"type": "string"}}}}}
	var started run
	e.do("POST", "/v1/agent-runs", e.key, map[string]any{"agent": "booker", "input": "book a table", "tools": tools}, http.StatusAccepted, &started)
	var waiting struct {
		run
		Functions []struct {
			CallID    string `json:"call_id"`
			Name      string `json:"name"`
			Arguments string `json:"arguments"`
		} `json:"functions"`
	}
	e.waitRun(started.ID, func(r run) bool { return r.Status != "running" })
	e.do("GET", "/v1/agent-runs/"+started.ID, e.key, nil, http.StatusOK, &waiting)
	if waiting.Status != "requires_action" || len(waiting.Functions) != 1 || waiting.Functions[0].Name != "book_table" || waiting.Functions[0].Arguments != `{"time":"19:00"}` {
		t.Fatalf("run %+v, want requires_action with the book_table call", waiting)
	}
	e.do("POST", "/v1/agent-runs/"+started.ID+"/outputs", e.key, map[string]any{"call_id": "call_nope", "output": "x"}, http.StatusBadRequest, nil)
	e.do("POST", "/v1/agent-runs/"+started.ID+"/outputs", e.key, map[string]any{"call_id": waiting.Functions[0].CallID, "output": "booked for 19:00"}, http.StatusOK, nil)
	r := e.waitRun(started.ID, func(r run) bool { return r.Status == "completed" || r.Status == "failed" })
	if r.Status != "completed" || r.Output != "tools said: booked for 19:00 | noted" {
		t.Fatalf("run %s %q (%s)", r.Status, r.Output, r.Error)
	}
	if n := e.fixture.Calls.Load(); n != 1 {
		t.Errorf("%d hub calls, want 1 (echo)", n)
	}
	e.do("POST", "/v1/agent-runs/"+started.ID+"/outputs", e.key, map[string]any{"call_id": waiting.Functions[0].CallID, "output": "again"}, http.StatusConflict, nil)

	// Only function tools: the agent's definition names its hub tools.
	b := e.do("POST", "/v1/agent-runs", e.key, map[string]any{"agent": "booker", "input": "x", "tools": []map[string]any{{"type": "mcp", "server_label": "tools"}}}, http.StatusBadRequest, nil)
	if !strings.Contains(string(b), "durable run takes function tools") {
		t.Errorf("an mcp tool: %s", b)
	}
}
