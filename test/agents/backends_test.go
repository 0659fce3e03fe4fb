package agents

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/plinth-ai/plinth/test/scripted"
)

// scenario is the agent scenario every model backend runs: parallel hub tool calls, one
// of which fails, their results back to the model, and a function the client runs.
var scenario = map[string][]scripted.Reply{
	"greet twice": {
		{Calls: []scripted.Call{echo("hello"), echo("world"), {Name: "test_error_handling", Arguments: `{}`}}},
		{Func: reportTools},
	},
	"weather in Paris?": {{Calls: []scripted.Call{{Name: "get_weather", Arguments: `{"city":"Paris"}`}}}, {Func: reportTools}},
}

const scenarioAnswer = "tools said: hello | world | Error: This tool intentionally returns an error for testing"

// TestAgentScenarioOnEveryBackend runs the agent scenario with the model deployed on an
// OpenAI-compatible endpoint and on Bedrock, whole and streamed, through the gateway
// service: the same answers, the same items, the same trace. On Bedrock the calls travel
// as toolConfig, toolUse and toolResult blocks, the failed call's toolResult with status
// error, the model's turn ends with stop reason tool_use, and a streamed turn's calls
// arrive as ToolUseBlockDelta pieces that reach the client as argument deltas.
func TestAgentScenarioOnEveryBackend(t *testing.T) {
	for _, backend := range []string{backendOpenAI, backendBedrock} {
		t.Run(backend, func(t *testing.T) {
			e := newEnvOn(t, backend, scenario)
			e.agent(map[string]any{"id": "helper", "tools": []string{"echo", "test_error_handling"}})

			r := e.respond(map[string]any{"model": "agent:helper", "input": "greet twice"})
			if r.Status != "completed" || r.text() != scenarioAnswer {
				t.Fatalf("whole: %s %q", r.Status, r.text())
			}
			var kinds []string
			for _, s := range r.Plinth.Trace {
				kinds = append(kinds, s.Kind+":"+s.Status)
			}
			if !slices.Equal(kinds, []string{"model:ok", "tool:ok", "tool:ok", "tool:error", "model:ok"}) {
				t.Errorf("trace %v", kinds)
			}
			if r.Plinth.CostUSD <= 0 || r.Usage.InputTokens == 0 {
				t.Errorf("spend: %v USD, %+v", r.Plinth.CostUSD, r.Usage)
			}

			var deltas, calls int
			var text string
			evs := e.stream(context.Background(), map[string]any{"model": "agent:helper", "input": "greet twice"}, func(ev sseEvent) {
				switch ev.Name {
				case "response.mcp_call_arguments.delta":
					deltas++
				case "response.mcp_call.completed", "response.mcp_call.failed":
					calls++
				case "response.output_text.delta":
					text += ev.str("delta")
				}
			})
			checkSequence(t, evs, "response.completed")
			if text != scenarioAnswer || calls != 3 || deltas != 6 {
				t.Errorf("streamed: %q, %d calls, %d argument deltas (want 3 calls, 2 deltas each)", text, calls, deltas)
			}

			tools := []map[string]any{{"type": "function", "name": "get_weather", "parameters": map[string]any{"type": "object", "properties": map[string]any{"city": map[string]string{"type": "string"}}}}}
			fc := e.respond(map[string]any{"model": "scripted", "input": "weather in Paris?", "tools": tools})
			if len(fc.Output) != 1 || fc.Output[0].Type != "function_call" || fc.Output[0].Arguments != `{"city":"Paris"}` {
				t.Fatalf("function call: %+v", fc.Output)
			}
			done := e.respond(map[string]any{"model": "scripted", "previous_response_id": fc.ID,
				"input": []map[string]any{{"type": "function_call_output", "call_id": fc.Output[0].CallID, "output": "18°C, sunny"}}})
			if done.text() != "tools said: 18°C, sunny" {
				t.Errorf("after the function output: %q", done.text())
			}

			if br, ok := e.model.(*scripted.Bedrock); ok {
				checkBedrockWire(t, br)
			}
		})
	}
}

// checkBedrockWire checks what Bedrock received: the tools in toolConfig, every toolUse
// answered by a toolResult, the failed call's with status error, and streamed turns on
// ConverseStream.
func checkBedrockWire(t *testing.T, br *scripted.Bedrock) {
	t.Helper()
	ops, bodies := withoutRetries(t, br.Operations(), br.Bodies())
	if !slices.Equal(ops, []string{"converse", "converse", "converse-stream", "converse-stream", "converse", "converse"}) {
		t.Errorf("operations %v", ops)
	}
	first := bodies[0]
	if first.ToolConfig == nil || len(first.ToolConfig.Tools) != 2 {
		t.Fatalf("first Converse request: toolConfig %+v", first.ToolConfig)
	}
	for _, i := range []int{1, 3} {
		status := map[string]string{}
		for _, tr := range bodies[i].ToolResults() {
			text := ""
			if len(tr.Content) > 0 {
				text = tr.Content[0].Text
			}
			status[text] = tr.Status
		}
		want := map[string]string{"hello": "", "world": "", "Error: This tool intentionally returns an error for testing": "error"}
		if len(status) != 3 {
			t.Errorf("request %d: toolResults %v", i, status)
		}
		for text, st := range want {
			if s, ok := status[text]; !ok || s != st {
				t.Errorf("request %d: toolResult %q has status %q, want %q", i, text, s, st)
			}
		}
	}
	if trs := bodies[5].ToolResults(); len(trs) != 1 || trs[0].Status != "" || !strings.Contains(trs[0].Content[0].Text, "sunny") {
		t.Errorf("the client's function output as toolResult: %+v", trs)
	}
}

// withoutRetries drops a request that repeats the one before it exactly: the gateway may
// retry a model call whose connection failed (a reused connection the server closed, on a
// loaded machine), which is the router's contract, not a second step of the loop.
func withoutRetries(t *testing.T, ops []string, bodies []scripted.ConverseRequest) ([]string, []scripted.ConverseRequest) {
	t.Helper()
	var o []string
	var b []scripted.ConverseRequest
	for i := range ops {
		if i > 0 && ops[i] == ops[i-1] && reflect.DeepEqual(bodies[i], bodies[i-1]) {
			t.Logf("request %d repeats request %d (a retry)", i, i-1)
			continue
		}
		o, b = append(o, ops[i]), append(b, bodies[i])
	}
	return o, b
}
