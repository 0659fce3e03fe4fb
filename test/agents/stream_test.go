package agents

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/plinth-ai/plinth/test/scripted"
)

// sseEvent is one server-sent event of a streamed response.
type sseEvent struct {
	Name string
	Data map[string]any
}

func (e sseEvent) str(k string) string { s, _ := e.Data[k].(string); return s }
func (e sseEvent) num(k string) int    { f, _ := e.Data[k].(float64); return int(f) }

// readEvents reads server-sent events until the stream ends, handing each to each.
func readEvents(t *testing.T, body io.Reader, each func(sseEvent)) []sseEvent {
	t.Helper()
	var out []sseEvent
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var name string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			ev := sseEvent{Name: name}
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &ev.Data); err != nil {
				t.Fatalf("event %s: %v: %s", name, err, line)
			}
			out = append(out, ev)
			if each != nil {
				each(ev)
			}
		}
	}
	return out
}

// stream posts a streamed response and returns its events.
func (e *env) stream(ctx context.Context, body map[string]any, each func(sseEvent)) []sseEvent {
	e.t.Helper()
	body["stream"] = true
	b, _ := json.Marshal(body)
	req, _ := http.NewRequestWithContext(ctx, "POST", e.srv.URL+"/v1/responses", bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+e.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		b, _ := io.ReadAll(resp.Body)
		e.t.Fatalf("stream: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	return readEvents(e.t, resp.Body, each)
}

// checkSequence checks what holds for every streamed response: the event name is the
// body's type, sequence numbers count from 0, response.created and response.in_progress
// open it and one terminal event ends it.
func checkSequence(t *testing.T, evs []sseEvent, terminal string) {
	t.Helper()
	for i, ev := range evs {
		if ev.str("type") != ev.Name || ev.num("sequence_number") != i {
			t.Fatalf("event %d: name %q type %q sequence_number %v", i, ev.Name, ev.str("type"), ev.Data["sequence_number"])
		}
	}
	if len(evs) < 3 || evs[0].Name != "response.created" || evs[1].Name != "response.in_progress" || evs[len(evs)-1].Name != terminal {
		t.Fatalf("stream opens %v and ends %v, want response.created, response.in_progress … %s", names(evs[:min(2, len(evs))]), names(evs[len(evs)-1:]), terminal)
	}
	if r := evs[0].Data["response"].(map[string]any); r["status"] != "in_progress" || len(r["output"].([]any)) != 0 {
		t.Errorf("response.created: status %v output %v", r["status"], r["output"])
	}
}

func names(evs []sseEvent) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.Name
	}
	return out
}

// perItem groups the item events of a stream by output index.
func perItem(evs []sseEvent) map[int][]string {
	out := map[int][]string{}
	for _, ev := range evs {
		if _, ok := ev.Data["output_index"]; ok {
			out[ev.num("output_index")] = append(out[ev.num("output_index")], ev.Name)
		}
	}
	return out
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// TestStreamedEventsFollowTheDocumentedSequence streams an agent run with two MCP calls
// and a client function call: every item gets OpenAI's documented events in order, the
// text arrives word by word as the model streams it, call arguments as deltas.
func TestStreamedEventsFollowTheDocumentedSequence(t *testing.T) {
	e := newEnv(t, map[string][]scripted.Reply{
		"greet twice":       {{Calls: []scripted.Call{echo("hello"), echo("world")}}, {Func: reportTools}},
		"weather in Paris?": {{Calls: []scripted.Call{{Name: "get_weather", Arguments: `{"city":"Paris"}`}}}},
	})
	e.agent(map[string]any{"id": "helper", "tools": []string{"echo"}})
	evs := e.stream(context.Background(), map[string]any{"model": "agent:helper", "input": "greet twice"}, nil)
	checkSequence(t, evs, "response.completed")
	mcp := []string{"response.output_item.added", "response.mcp_call_arguments.delta", "response.mcp_call_arguments.delta",
		"response.mcp_call_arguments.done", "response.mcp_call.in_progress", "response.mcp_call.completed", "response.output_item.done"}
	msg := append(append([]string{"response.output_item.added", "response.content_part.added"}, repeat("response.output_text.delta", 5)...),
		"response.output_text.done", "response.content_part.done", "response.output_item.done")
	items := perItem(evs)
	if len(items) != 3 || !slices.Equal(items[0], mcp) || !slices.Equal(items[1], mcp) || !slices.Equal(items[2], msg) {
		t.Fatalf("item events:\n0 %v\n1 %v\n2 %v\nwant %v and %v", items[0], items[1], items[2], mcp, msg)
	}
	var deltas, args []string
	for _, ev := range evs {
		switch ev.Name {
		case "response.output_text.delta":
			deltas = append(deltas, ev.str("delta"))
		case "response.mcp_call_arguments.delta":
			if ev.num("output_index") == 0 {
				args = append(args, ev.str("delta"))
			}
		case "response.output_item.added":
			it := ev.Data["item"].(map[string]any)
			if it["status"] != "in_progress" {
				t.Errorf("%s %v: status %v, want in_progress", ev.Name, it["type"], it["status"])
			}
			if it["type"] == "mcp_call" && (it["arguments"] != "" || it["server_label"] != "tools" || it["name"] != "echo") {
				t.Errorf("mcp_call added as %v", it)
			}
		}
	}
	if want := []string{"tools", " said:", " hello", " |", " world"}; !slices.Equal(deltas, want) {
		t.Errorf("text deltas %q, want the model's words %q", deltas, want)
	}
	if strings.Join(args, "") != `{"text":"hello"}` || len(args) != 2 {
		t.Errorf("argument deltas %q", args)
	}
	final := evs[len(evs)-1].Data["response"].(map[string]any)
	out := final["output"].([]any)
	if final["status"] != "completed" || len(out) != 3 || out[0].(map[string]any)["output"] != "hello" {
		t.Errorf("final response %v", final)
	}

	// A function the client runs streams its arguments too.
	tools := []map[string]any{{"type": "function", "name": "get_weather", "parameters": map[string]any{"type": "object"}}}
	evs = e.stream(context.Background(), map[string]any{"model": "scripted", "input": "weather in Paris?", "tools": tools}, nil)
	checkSequence(t, evs, "response.completed")
	fc := []string{"response.output_item.added", "response.function_call_arguments.delta", "response.function_call_arguments.delta",
		"response.function_call_arguments.done", "response.output_item.done"}
	if items := perItem(evs); len(items) != 1 || !slices.Equal(items[0], fc) {
		t.Fatalf("function call events %v, want %v", items, fc)
	}
	for _, ev := range evs {
		if ev.Name == "response.function_call_arguments.done" && (ev.str("arguments") != `{"city":"Paris"}` || ev.str("name") != "get_weather") {
			t.Errorf("arguments done: %v", ev.Data)
		}
		if ev.Name == "response.output_item.done" {
			it := ev.Data["item"].(map[string]any)
			if it["type"] != "function_call" || it["status"] != "completed" || it["call_id"] == "" || it["arguments"] != `{"city":"Paris"}` {
				t.Errorf("function call item %v", it)
			}
		}
	}
}

// TestTextStreamsAsTheModelWrites: the first word reaches the client while the model
// still holds back the rest of its answer.
func TestTextStreamsAsTheModelWrites(t *testing.T) {
	gate := make(chan struct{})
	e := newEnv(t, map[string][]scripted.Reply{"tell me a story": {{Content: "Once upon a time", Hold: gate}}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	first := ""
	evs := e.stream(ctx, map[string]any{"model": "scripted", "input": "tell me a story"}, func(ev sseEvent) {
		if ev.Name == "response.output_text.delta" && first == "" {
			first = ev.str("delta")
			close(gate) // the model writes the rest only now
		}
	})
	if first != "Once" {
		t.Fatalf("first delta %q: the stream did not deliver the model's first word while it waited", first)
	}
	checkSequence(t, evs, "response.completed")
	final := evs[len(evs)-1].Data["response"].(map[string]any)
	msg := final["output"].([]any)[0].(map[string]any)
	if text := msg["content"].([]any)[0].(map[string]any)["text"]; text != "Once upon a time" {
		t.Errorf("final text %q", text)
	}
}
