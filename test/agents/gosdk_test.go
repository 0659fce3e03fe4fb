package agents

import (
	"context"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/respjson"
	"github.com/openai/openai-go/v3/responses"

	"github.com/plinth-ai/plinth/test/scripted"
)

var fieldType = reflect.TypeOf(respjson.Field{})

// requireShape fails for every field the Go SDK marks api:"required" that the platform
// left out or sent with another JSON type, through nested objects, arrays and unions
// (resolved to their variant with AsAny).
func requireShape(t *testing.T, path string, v reflect.Value) {
	t.Helper()
	if m := v.MethodByName("AsAny"); m.IsValid() && m.Type().NumIn() == 0 {
		variant := m.Call(nil)[0]
		if variant.IsNil() {
			t.Errorf("%s: a variant the SDK does not know: %s", path, rawOf(v))
			return
		}
		requireShape(t, path, variant.Elem())
		return
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			requireShape(t, path, v.Elem())
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			requireShape(t, path+"["+strconv.Itoa(i)+"]", v.Index(i))
		}
	case reflect.Struct:
		meta := v.FieldByName("JSON")
		if !meta.IsValid() {
			return
		}
		for i := 0; i < v.NumField(); i++ {
			f := v.Type().Field(i)
			m := meta.FieldByName(f.Name)
			if f.Name == "JSON" || !m.IsValid() || m.Type() != fieldType {
				continue
			}
			field := m.Interface().(respjson.Field)
			name := path + "." + strings.Split(f.Tag.Get("json"), ",")[0]
			switch raw := field.Raw(); {
			case raw == respjson.Omitted && f.Tag.Get("api") == "required":
				t.Errorf("%s is missing", name)
			case raw != respjson.Omitted && raw != respjson.Null && !field.Valid():
				t.Errorf("%s = %s does not parse as %s", name, raw, f.Type)
			case field.Valid():
				requireShape(t, name, v.Field(i))
			}
		}
	}
}

func rawOf(v reflect.Value) string {
	if m := v.MethodByName("RawJSON"); m.IsValid() {
		return m.Call(nil)[0].String()
	}
	return ""
}

// TestOpenAIGoClient drives /v1/responses with openai-go/v3 unchanged: responses.New,
// NewStreaming and Get parse, every field the SDK requires is present with its type, on
// the response object, its items and every streamed event.
func TestOpenAIGoClient(t *testing.T) {
	e := newEnv(t, map[string][]scripted.Reply{
		"greet twice":       {{Calls: []scripted.Call{echo("hello"), echo("world")}}, {Func: reportTools}},
		"weather in Paris?": {{Calls: []scripted.Call{{Name: "get_weather", Arguments: `{"city":"Paris"}`}}}, {Func: reportTools}},
		"a long story":      {{Content: strings.Repeat("word ", 40)}},
	})
	e.agent(map[string]any{"id": "helper", "tools": []string{"echo"}})
	client := openai.NewClient(option.WithBaseURL(e.srv.URL+"/v1"), option.WithAPIKey(e.key), option.WithMaxRetries(0))
	ctx := context.Background()

	r, err := client.Responses.New(ctx, responses.ResponseNewParams{Model: "agent:helper",
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("greet twice")}})
	if err != nil {
		t.Fatal(err)
	}
	requireShape(t, "response", reflect.ValueOf(r))
	if r.OutputText() != "tools said: hello | world" || r.Status != responses.ResponseStatusCompleted {
		t.Errorf("agent run: %s %q", r.Status, r.OutputText())
	}
	var kinds []string
	for _, it := range r.Output {
		kinds = append(kinds, it.Type)
	}
	if !slices.Equal(kinds, []string{"mcp_call", "mcp_call", "message"}) || r.Output[0].AsMcpCall().Output != "hello" || r.Output[0].AsMcpCall().ServerLabel != "tools" {
		t.Errorf("items %v: %s", kinds, r.Output[0].RawJSON())
	}

	// The same run streamed: every event parses, the text arrives as deltas.
	agentStream := client.Responses.NewStreaming(ctx, responses.ResponseNewParams{Model: "agent:helper",
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("greet twice")}})
	var text string
	seen := map[string]bool{}
	for agentStream.Next() {
		ev := agentStream.Current()
		seen[ev.Type] = true
		requireShape(t, ev.Type, reflect.ValueOf(ev))
		if ev.Type == "response.output_text.delta" {
			text += ev.AsResponseOutputTextDelta().Delta
		}
	}
	if err := agentStream.Err(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"response.output_text.delta", "response.content_part.added", "response.mcp_call_arguments.delta", "response.mcp_call.completed"} {
		if !seen[want] {
			t.Errorf("no %s event", want)
		}
	}
	if text != "tools said: hello | world" {
		t.Errorf("streamed text %q", text)
	}

	// A forced client function, streamed: arguments as deltas, then the output returned.
	weather := responses.ToolParamOfFunction("get_weather", map[string]any{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}}, false)
	stream := client.Responses.NewStreaming(ctx, responses.ResponseNewParams{Model: "scripted",
		Input:      responses.ResponseNewParamsInputUnion{OfString: openai.String("weather in Paris?")},
		Tools:      []responses.ToolUnionParam{weather},
		ToolChoice: responses.ResponseNewParamsToolChoiceUnion{OfFunctionTool: &responses.ToolChoiceFunctionParam{Name: "get_weather"}}})
	var args string
	var done *responses.Response
	seq := int64(0)
	for stream.Next() {
		ev := stream.Current()
		requireShape(t, ev.Type, reflect.ValueOf(ev))
		if ev.SequenceNumber != seq {
			t.Errorf("%s: sequence_number %d, want %d", ev.Type, ev.SequenceNumber, seq)
		}
		seq++
		switch ev.Type {
		case "response.function_call_arguments.delta":
			args += ev.AsResponseFunctionCallArgumentsDelta().Delta
		case "response.completed":
			c := ev.AsResponseCompleted().Response
			done = &c
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if done == nil || args != `{"city":"Paris"}` || done.ToolChoice.Name != "get_weather" {
		t.Fatalf("streamed function call: args %q, final %v", args, done)
	}
	call := done.Output[0].AsFunctionCall()
	output := responses.ResponseInputItemParamOfFunctionCallOutput("18°C, sunny")
	output.OfFunctionCallOutput.CallID = openai.String(call.CallID)
	r2, err := client.Responses.New(ctx, responses.ResponseNewParams{Model: "scripted", PreviousResponseID: openai.String(done.ID),
		Input: responses.ResponseNewParamsInputUnion{OfInputItemList: responses.ResponseInputParam{output}}})
	if err != nil {
		t.Fatal(err)
	}
	if r2.OutputText() != "tools said: 18°C, sunny" || r2.PreviousResponseID != done.ID {
		t.Errorf("after the function output: %q (previous %s)", r2.OutputText(), r2.PreviousResponseID)
	}

	// max_output_tokens: incomplete, with the reason the SDK knows.
	r3, err := client.Responses.New(ctx, responses.ResponseNewParams{Model: "scripted", MaxOutputTokens: openai.Int(16),
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("a long story")}})
	if err != nil {
		t.Fatal(err)
	}
	requireShape(t, "incomplete response", reflect.ValueOf(r3))
	if r3.Status != responses.ResponseStatusIncomplete || r3.IncompleteDetails.Reason != "max_output_tokens" || r3.MaxOutputTokens != 16 {
		t.Errorf("max_output_tokens: %s %+v %d", r3.Status, r3.IncompleteDetails, r3.MaxOutputTokens)
	}
	got, err := client.Responses.Get(ctx, r.ID, responses.ResponseGetParams{})
	if err != nil {
		t.Fatal(err)
	}
	requireShape(t, "retrieved", reflect.ValueOf(got))
	if got.OutputText() != r.OutputText() {
		t.Errorf("retrieved %q", got.OutputText())
	}
}
