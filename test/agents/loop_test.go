package agents

import (
	"net/http"
	"strings"
	"testing"

	"github.com/plinth-ai/plinth/shared/provider"
	"github.com/plinth-ai/plinth/test/scripted"
)

func echo(text string) scripted.Call {
	return scripted.Call{Name: "echo", Arguments: `{"text":"` + text + `"}`}
}

// reportTools answers with what the tools returned in the previous step.
func reportTools(req *provider.ChatRequest) scripted.Reply {
	return scripted.Reply{Content: "tools said: " + strings.Join(scripted.LastTool(req), " | ")}
}

// TestAgentLoop runs a registered agent: parallel tool calls through the hub, their
// results back to the model, a tool failure as a tool result, and the run record.
func TestAgentLoop(t *testing.T) {
	e := newEnv(t, map[string][]scripted.Reply{
		"greet twice": {
			{Calls: []scripted.Call{echo("hello"), echo("world"), {Name: "test_error_handling", Arguments: `{}`}}},
			{Func: reportTools},
		},
	})
	e.agent(map[string]any{"id": "helper", "instructions": "Use the tools.", "tools": []string{"echo", "test_error_handling"}})
	r := e.respond(map[string]any{"model": "agent:helper", "input": "greet twice"})
	if r.Status != "completed" {
		t.Fatalf("status %s", r.Status)
	}
	want := "tools said: hello | world | Error: This tool intentionally returns an error for testing"
	if r.text() != want {
		t.Fatalf("answer %q, want %q", r.text(), want)
	}
	calls := 0
	for _, o := range r.Output {
		if o.Type == "mcp_call" {
			calls++
			if o.ServerLabel != "plinth" && o.ServerLabel != "tools" {
				t.Errorf("mcp_call server_label %q", o.ServerLabel)
			}
		}
	}
	if calls != 3 || r.Plinth.ToolCalls != 3 || e.fixture.Calls.Load() != 3 {
		t.Errorf("%d mcp_call items, %d recorded, %d reached the server; want 3", calls, r.Plinth.ToolCalls, e.fixture.Calls.Load())
	}
	if r.Usage.InputTokens == 0 || r.Plinth.CostUSD <= 0 || len(r.Plinth.Trace) != 5 {
		t.Errorf("usage %+v, cost %v, trace %d steps (want model, 3 tools, model)", r.Usage, r.Plinth.CostUSD, len(r.Plinth.Trace))
	}
	// The model saw the agent's instructions and the tools it was given.
	first := e.model.Requests()[0]
	if first.Messages[0].Role != "system" || first.Messages[0].Content.String() != "Use the tools." || len(first.Tools) != 2 {
		t.Errorf("first model request: %+v tools %d", first.Messages[0], len(first.Tools))
	}
	var got response
	e.do("GET", "/v1/responses/"+r.ID, e.key, nil, http.StatusOK, &got)
	if got.text() != want {
		t.Errorf("GET /v1/responses/{id}: %q", got.text())
	}
}

// TestRepeatedCallsAndLimits: a model that keeps making the same call is answered from
// the rule rather than the tool, and the step limit ends the run as incomplete.
func TestRepeatedCallsAndLimits(t *testing.T) {
	e := newEnv(t, map[string][]scripted.Reply{
		"loop":   {{Calls: []scripted.Call{echo("again")}}},
		"greedy": {{Calls: []scripted.Call{echo("a"), echo("b"), echo("c")}}},
	})
	e.agent(map[string]any{"id": "looper", "tools": []string{"echo"}, "max_steps": 4})
	r := e.respond(map[string]any{"model": "agent:looper", "input": "loop"})
	if r.Status != "incomplete" || r.IncompleteDetails == nil || r.IncompleteDetails.Reason != "max_steps" {
		t.Fatalf("status %s %+v, want incomplete max_steps", r.Status, r.IncompleteDetails)
	}
	if n := e.fixture.Calls.Load(); n != 2 {
		t.Errorf("the repeated call reached the server %d times, want 2", n)
	}
	last := e.model.Requests()[len(e.model.Requests())-1]
	if tools := scripted.LastTool(&last); len(tools) != 1 || !strings.Contains(tools[0], "already made twice") {
		t.Errorf("the model was told %v about its repeated call", tools)
	}

	e.agent(map[string]any{"id": "greedy", "tools": []string{"echo"}, "budget": map[string]any{"max_tool_calls": 2}})
	r = e.respond(map[string]any{"model": "agent:greedy", "input": "greedy"})
	if r.Status != "incomplete" || r.IncompleteDetails.Reason != "budget" {
		t.Fatalf("budget: status %s %+v", r.Status, r.IncompleteDetails)
	}
}

// TestFunctionToolsTheClientRuns: a function tool of the request is returned to the
// client as a function_call; its output continues the run by previous_response_id.
func TestFunctionToolsTheClientRuns(t *testing.T) {
	e := newEnv(t, map[string][]scripted.Reply{
		"weather in Paris?": {
			{Calls: []scripted.Call{{Name: "get_weather", Arguments: `{"city":"Paris"}`}}},
			{Func: reportTools},
		},
	})
	tools := []map[string]any{{"type": "function", "name": "get_weather", "parameters": map[string]any{"type": "object", "properties": map[string]any{"city": map[string]string{"type": "string"}}}}}
	r := e.respond(map[string]any{"model": "scripted", "input": "weather in Paris?", "tools": tools})
	if len(r.Output) != 1 || r.Output[0].Type != "function_call" || r.Output[0].Name != "get_weather" {
		t.Fatalf("output %+v, want one function_call", r.Output)
	}
	r2 := e.respond(map[string]any{"model": "scripted", "previous_response_id": r.ID,
		"input": []map[string]any{{"type": "function_call_output", "call_id": r.Output[0].CallID, "output": "18°C, sunny"}}})
	if r2.Status != "completed" || r2.text() != "tools said: 18°C, sunny" {
		t.Fatalf("after the output: %s %q", r2.Status, r2.text())
	}
	// Continuing without the output it waits for is refused.
	e.do("POST", "/v1/responses", e.key, map[string]any{"model": "scripted", "previous_response_id": r.ID, "input": "hello"}, http.StatusBadRequest, nil)
}

// TestApprovals: an MCP tool that requires approval pauses the run with an
// mcp_approval_request; approving makes the call, denying tells the model.
func TestApprovals(t *testing.T) {
	e := newEnv(t, map[string][]scripted.Reply{
		"approve me": {{Calls: []scripted.Call{echo("approved call")}}, {Func: reportTools}},
		"deny me":    {{Calls: []scripted.Call{echo("denied call")}}, {Func: reportTools}},
	})
	mcpTool := []map[string]any{{"type": "mcp", "server_label": "tools", "allowed_tools": []string{"echo"}, "require_approval": "always"}}
	for _, c := range []struct {
		input   string
		approve bool
		want    string
		calls   int64
	}{
		{"approve me", true, "tools said: approved call", 1},
		{"deny me", false, "tools said: Error: a reviewer did not approve this call; it was not made.", 1},
	} {
		r := e.respond(map[string]any{"model": "scripted", "input": c.input, "tools": mcpTool})
		if len(r.Output) != 1 || r.Output[0].Type != "mcp_approval_request" || r.Output[0].Name != "echo" {
			t.Fatalf("%s: output %+v, want an mcp_approval_request", c.input, r.Output)
		}
		r2 := e.respond(map[string]any{"model": "scripted", "previous_response_id": r.ID,
			"input": []map[string]any{{"type": "mcp_approval_response", "approval_request_id": r.Output[0].ID, "approve": c.approve}}})
		if r2.text() != c.want {
			t.Errorf("%s: %q, want %q", c.input, r2.text(), c.want)
		}
		if n := e.fixture.Calls.Load(); n != c.calls {
			t.Errorf("%s: %d calls reached the server, want %d", c.input, n, c.calls)
		}
	}
}

// TestSupervisor: an agent calls another agent as a tool; the run record nests the
// called agent's steps, each with its tokens and cost, and the totals add up the tree.
func TestSupervisor(t *testing.T) {
	e := newEnv(t, map[string][]scripted.Reply{
		"plan a trip": {{Calls: []scripted.Call{{Name: "agent_researcher", Arguments: `{"input":"find hotels"}`}}}, {Func: reportTools}},
		"find hotels": {{Calls: []scripted.Call{echo("Hotel Lutetia")}}, {Func: reportTools}},
	})
	e.agent(map[string]any{"id": "researcher", "description": "Finds facts", "tools": []string{"echo"}, "budget": map[string]any{"max_tool_calls": 3}})
	e.agent(map[string]any{"id": "supervisor", "agents": []string{"researcher"}})
	r := e.respond(map[string]any{"model": "agent:supervisor", "input": "plan a trip"})
	if r.text() != "tools said: tools said: Hotel Lutetia" {
		t.Fatalf("answer %q", r.text())
	}
	var sub *step
	for i := range r.Plinth.Trace {
		if r.Plinth.Trace[i].Kind == "agent" {
			sub = &r.Plinth.Trace[i]
		}
	}
	if sub == nil || sub.Name != "researcher" || len(sub.Children) != 3 || sub.Children[1].Kind != "tool" || sub.Children[1].Name != "echo" {
		t.Fatalf("trace %+v: want the researcher's model, tool, model steps under the supervisor's call", r.Plinth.Trace)
	}
	checkSpend(t, r.Plinth.Trace, r.Usage.InputTokens, r.Usage.OutputTokens, r.Plinth.CostUSD)
}
