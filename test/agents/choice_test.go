package agents

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/plinth-ai/plinth/shared/provider"
	"github.com/plinth-ai/plinth/test/scripted"
)

// offered returns the names of the tools a model request offered and its tool_choice.
func offered(req provider.ChatRequest) ([]string, string) {
	var out []string
	for _, t := range req.Tools {
		out = append(out, t.Function.Name)
	}
	slices.Sort(out)
	return out, string(req.ToolChoice)
}

// requestsOf returns the model requests of one conversation.
func (e *env) requestsOf(conversation string) []provider.ChatRequest {
	var out []provider.ChatRequest
	for _, r := range e.model.Requests() {
		if name, _ := scripted.Conversation(&r); name == conversation {
			out = append(out, r)
		}
	}
	return out
}

// TestToolChoice: tool_choice reaches the model as chat completions' tool_choice with
// exactly the tools it allows, forces the request's first step only, and the platform
// holds the model to it: no call is made under "none", a forced step that calls nothing
// fails the response, a call of a tool not offered is answered with an error, not made.
func TestToolChoice(t *testing.T) {
	e := newEnv(t, map[string][]scripted.Reply{
		"keep quiet":      {{Content: "I will not call", Calls: []scripted.Call{echo("x")}}},
		"must call":       {{Content: "just text"}},
		"call then tell":  {{Calls: []scripted.Call{echo("a")}}, {Func: reportTools}},
		"weather please":  {{Calls: []scripted.Call{{Name: "get_weather", Arguments: `{"city":"Oslo"}`}}}},
		"echo by mcp":     {{Calls: []scripted.Call{echo("m")}}, {Func: reportTools}},
		"outside allowed": {{Calls: []scripted.Call{echo("no")}}, {Func: reportTools}},
	})
	e.agent(map[string]any{"id": "two", "tools": []string{"echo", "test_simple_text"}})
	weather := map[string]any{"type": "function", "name": "get_weather", "parameters": map[string]any{"type": "object"}}
	mcp := map[string]any{"type": "mcp", "server_label": "tools", "require_approval": "never", "allowed_tools": []string{"echo", "test_simple_text"}}

	// none: the model is told, and its call is not made.
	r := e.respond(map[string]any{"model": "agent:two", "input": "keep quiet", "tool_choice": "none"})
	if r.Status != "completed" || r.text() != "I will not call" || e.fixture.Calls.Load() != 0 {
		t.Errorf("none: %s %q, %d calls made", r.Status, r.text(), e.fixture.Calls.Load())
	}
	if _, choice := offered(e.requestsOf("keep quiet")[0]); choice != `"none"` {
		t.Errorf("none reached the model as %s", choice)
	}

	// required: the first step is forced; one that calls nothing fails the response.
	r = e.respond(map[string]any{"model": "agent:two", "input": "must call", "tool_choice": "required"})
	var failed struct {
		Status string `json:"status"`
		Error  struct{ Code, Message string }
	}
	raw, _ := json.Marshal(r)
	e.do("GET", "/v1/responses/"+r.ID, e.key, nil, http.StatusOK, &failed)
	if failed.Status != "failed" || failed.Error.Code != "server_error" || !strings.Contains(failed.Error.Message, "did not call a tool") {
		t.Errorf("required but no call: %+v (%s)", failed, raw)
	}
	r = e.respond(map[string]any{"model": "agent:two", "input": "call then tell", "tool_choice": "required"})
	reqs := e.requestsOf("call then tell")
	if r.Status != "completed" || len(reqs) != 2 {
		t.Fatalf("required: %s after %d model steps", r.Status, len(reqs))
	}
	if tools, choice := offered(reqs[0]); choice != `"required"` || len(tools) != 2 {
		t.Errorf("first step offered %v with %s, want both tools, required", tools, choice)
	}
	if _, choice := offered(reqs[1]); choice != "" {
		t.Errorf("second step forced again (%s): a forced tool would loop", choice)
	}

	// A named function: only it is offered, by name.
	r = e.respond(map[string]any{"model": "agent:two", "input": "weather please", "tools": []any{weather},
		"tool_choice": map[string]any{"type": "function", "name": "get_weather"}})
	tools, choice := offered(e.requestsOf("weather please")[0])
	if !slices.Equal(tools, []string{"get_weather"}) || choice != `{"function":{"name":"get_weather"},"type":"function"}` {
		t.Errorf("named function: offered %v with %s", tools, choice)
	}
	if len(r.Output) != 1 || r.Output[0].Type != "function_call" {
		t.Errorf("named function: output %+v", r.Output)
	}

	// A named tool of an MCP server.
	r = e.respond(map[string]any{"model": "scripted", "input": "echo by mcp", "tools": []any{mcp},
		"tool_choice": map[string]any{"type": "mcp", "server_label": "tools", "name": "echo"}})
	if tools, choice := offered(e.requestsOf("echo by mcp")[0]); !slices.Equal(tools, []string{"echo"}) || !strings.Contains(choice, `"name":"echo"`) {
		t.Errorf("mcp tool: offered %v with %s", tools, choice)
	}
	if r.text() != "tools said: m" {
		t.Errorf("mcp tool: %q", r.text())
	}

	// allowed_tools: a call outside the list is refused to the model, not made.
	before := e.fixture.Calls.Load()
	r = e.respond(map[string]any{"model": "agent:two", "input": "outside allowed", "tools": []any{weather},
		"tool_choice": map[string]any{"type": "allowed_tools", "mode": "auto", "tools": []any{map[string]any{"type": "function", "name": "get_weather"}}}})
	if e.fixture.Calls.Load() != before || !strings.Contains(r.text(), "not offered in this response") {
		t.Errorf("allowed_tools: %d calls made, answer %q", e.fixture.Calls.Load()-before, r.text())
	}
	if tools, _ := offered(e.requestsOf("outside allowed")[0]); !slices.Equal(tools, []string{"get_weather"}) {
		t.Errorf("allowed_tools offered %v", tools)
	}

	// A choice naming no tool of the response, or no choice at all, is refused.
	for _, bad := range []any{map[string]any{"type": "function", "name": "nope"}, "sometimes", map[string]any{"type": "web_search"}} {
		b := e.do("POST", "/v1/responses", e.key, map[string]any{"model": "agent:two", "input": "x", "tool_choice": bad}, http.StatusBadRequest, nil)
		if !strings.Contains(string(b), "tool_choice") {
			t.Errorf("tool_choice %v: %s", bad, b)
		}
	}
}

// TestMaxOutputTokens: the response's output-token bound holds over all its model steps;
// reaching it ends the response as incomplete with reason max_output_tokens, streamed
// with response.incomplete.
func TestMaxOutputTokens(t *testing.T) {
	long := strings.Repeat("word ", 30)
	e := newEnv(t, map[string][]scripted.Reply{
		"a long story":      {{Content: long}},
		"a tool, then more": {{Calls: []scripted.Call{echo("a")}}, {Content: long}},
		"a streamed story":  {{Content: long}},
	})
	e.agent(map[string]any{"id": "helper", "tools": []string{"echo"}})
	r := e.respond(map[string]any{"model": "scripted", "input": "a long story", "max_output_tokens": 16})
	if r.Status != "incomplete" || r.IncompleteDetails == nil || r.IncompleteDetails.Reason != "max_output_tokens" {
		t.Fatalf("status %s %+v, want incomplete max_output_tokens", r.Status, r.IncompleteDetails)
	}
	if n := len(strings.Fields(r.text())); n != 16 || r.Output[0].Status != "incomplete" {
		t.Errorf("%d words, message %s; want 16, incomplete", n, r.Output[0].Status)
	}
	if got := e.requestsOf("a long story")[0].MaxCompletionTokens; got == nil || *got != 16 {
		t.Errorf("the model was asked for at most %v tokens, want 16", got)
	}

	// The bound is the response's: the second step gets what the first left.
	r = e.respond(map[string]any{"model": "agent:helper", "input": "a tool, then more", "max_output_tokens": 20})
	reqs := e.requestsOf("a tool, then more")
	if len(reqs) != 2 || r.Status != "incomplete" {
		t.Fatalf("%d steps, status %s", len(reqs), r.Status)
	}
	first := int(r.Plinth.Trace[0].OutputTokens)
	if got := reqs[1].MaxCompletionTokens; got == nil || *got != 20-first {
		t.Errorf("second step bound %v, want %d (20 less the first step's %d)", got, 20-first, first)
	}
	if r.Usage.OutputTokens != 20 {
		t.Errorf("output tokens %d, want exactly the bound of 20", r.Usage.OutputTokens)
	}

	evs := e.stream(context.Background(), map[string]any{"model": "scripted", "input": "a streamed story", "max_output_tokens": 16}, nil)
	checkSequence(t, evs, "response.incomplete")
	final := evs[len(evs)-1].Data["response"].(map[string]any)
	if d, _ := final["incomplete_details"].(map[string]any); d["reason"] != "max_output_tokens" || final["max_output_tokens"] != float64(16) {
		t.Errorf("streamed: %v %v", final["incomplete_details"], final["max_output_tokens"])
	}

	e.do("POST", "/v1/responses", e.key, map[string]any{"model": "scripted", "input": "x", "max_output_tokens": 0}, http.StatusBadRequest, nil)
}
