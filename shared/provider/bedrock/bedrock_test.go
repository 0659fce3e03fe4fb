package bedrock

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"

	"github.com/plinth-ai/plinth/shared/provider"
	"github.com/plinth-ai/plinth/shared/provider/providertest"
)

const claude = "anthropic.claude-3-haiku-20240307-v1:0"

func client(srv *providertest.BedrockServer) *bedrockruntime.Client {
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")}
	return NewClient(cfg, func(o *bedrockruntime.Options) { o.BaseEndpoint = aws.String(srv.URL) })
}

func intPtr(i int) *int { return &i }

func conversation() *provider.ChatRequest {
	temp, topP := 0.2, 0.9
	return &provider.ChatRequest{
		Messages: []provider.Message{
			{Role: "system", Content: provider.TextContent("You are terse.")},
			{Role: "user", Content: provider.TextContent("What's the weather in Paris?")},
			{Role: "assistant", Content: provider.Content{Null: true}, ToolCalls: []provider.ToolCall{{ID: "call_1", Type: "function", Function: provider.FunctionCall{Name: "get_weather", Arguments: `{"location":"Paris"}`}}}},
			{Role: "tool", ToolCallID: "call_1", Content: provider.TextContent(`{"temp_c":21}`)},
			{Role: "user", Content: provider.TextContent("And in words?")},
		},
		Temperature: &temp, TopP: &topP, MaxTokens: intPtr(200), Stop: provider.Stop{"END"},
		Tools: []provider.Tool{{Type: "function", Function: provider.FunctionDef{Name: "get_weather", Description: "Weather for a city",
			Parameters: json.RawMessage(`{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}`)}}},
	}
}

// TestConverseWire checks the request Bedrock receives, field by field, in its own JSON.
func TestConverseWire(t *testing.T) {
	t.Parallel()
	srv := providertest.NewBedrockServer(providertest.WithBedrockReply("It is sunny."))
	defer srv.Close()
	resp, err := NewChat(client(srv), claude).Chat(context.Background(), conversation())
	if err != nil {
		t.Fatal(err)
	}
	last := srv.LastRequest()
	if last.Operation != "converse" || last.ModelID != claude {
		t.Fatalf("operation %q model %q", last.Operation, last.ModelID)
	}
	if !strings.HasPrefix(last.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/") || !strings.Contains(last.Header.Get("Authorization"), "/bedrock/aws4_request") {
		t.Errorf("not SigV4-signed for bedrock: %q", last.Header.Get("Authorization"))
	}
	var got map[string]any
	if err := json.Unmarshal(last.Body, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{}
	json.Unmarshal([]byte(`{
		"system":[{"text":"You are terse."}],
		"messages":[
			{"role":"user","content":[{"text":"What's the weather in Paris?"}]},
			{"role":"assistant","content":[{"toolUse":{"toolUseId":"call_1","name":"get_weather","input":{"location":"Paris"}}}]},
			{"role":"user","content":[{"toolResult":{"toolUseId":"call_1","content":[{"text":"{\"temp_c\":21}"}]}},{"text":"And in words?"}]}
		],
		"inferenceConfig":{"maxTokens":200,"stopSequences":["END"],"temperature":0.2,"topP":0.9},
		"toolConfig":{"tools":[{"toolSpec":{"name":"get_weather","description":"Weather for a city","inputSchema":{"json":{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}}}}],"toolChoice":{"auto":{}}}
	}`), &want)
	for _, key := range []string{"system", "messages", "toolConfig"} {
		g, _ := json.Marshal(got[key])
		w, _ := json.Marshal(want[key])
		if string(g) != string(w) {
			t.Errorf("%s:\n got %s\nwant %s", key, g, w)
		}
	}
	ic, _ := got["inferenceConfig"].(map[string]any)
	if ic["maxTokens"] != float64(200) || ic["topP"] == nil || ic["temperature"] == nil || len(ic["stopSequences"].([]any)) != 1 {
		t.Errorf("inferenceConfig %v", ic)
	}
	if got := resp.Choices[0].Message.Content.String(); got != "It is sunny." || resp.Choices[0].FinishReason != "stop" || resp.Model != claude {
		t.Errorf("response %+v", resp)
	}
	if resp.Usage == nil || resp.Usage.CompletionTokens != 3 || resp.Usage.TotalTokens != resp.Usage.PromptTokens+3 || resp.ID != "chatcmpl-req-converse" {
		t.Errorf("usage %+v id %s", resp.Usage, resp.ID)
	}
}

func TestConverseToolUse(t *testing.T) {
	t.Parallel()
	srv := providertest.NewBedrockServer()
	defer srv.Close()
	tests := []struct {
		name       string
		choice     string
		wantChoice string
	}{
		{"required", `"required"`, `{"any":{}}`},
		{"named", `{"type":"function","function":{"name":"get_weather"}}`, `{"tool":{"name":"get_weather"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := &provider.ChatRequest{Messages: []provider.Message{{Role: "user", Content: provider.TextContent("Weather in Paris?")}},
				Tools: conversation().Tools, ToolChoice: json.RawMessage(tt.choice)}
			resp, err := NewChat(client(srv), claude).Chat(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			var body struct {
				ToolConfig struct {
					ToolChoice json.RawMessage `json:"toolChoice"`
				} `json:"toolConfig"`
			}
			json.Unmarshal(srv.LastRequest().Body, &body)
			if string(body.ToolConfig.ToolChoice) != tt.wantChoice {
				t.Errorf("toolChoice %s, want %s", body.ToolConfig.ToolChoice, tt.wantChoice)
			}
			ch := resp.Choices[0]
			if ch.FinishReason != "tool_calls" || len(ch.Message.ToolCalls) != 1 || !ch.Message.Content.Null {
				t.Fatalf("choice %+v", ch)
			}
			tc := ch.Message.ToolCalls[0]
			var args map[string]any
			if tc.ID != "tooluse_mock1" || tc.Function.Name != "get_weather" || json.Unmarshal([]byte(tc.Function.Arguments), &args) != nil || args["location"] != "Paris" {
				t.Errorf("tool call %+v", tc)
			}
		})
	}
}

func drain(t *testing.T, s provider.Stream) (text, args, finish string, usage *provider.Usage, err error) {
	t.Helper()
	defer s.Close()
	for {
		ch, e := s.Recv()
		if errors.Is(e, io.EOF) {
			return
		}
		if e != nil {
			err = e
			return
		}
		if ch.Usage != nil {
			usage = ch.Usage
		}
		for _, c := range ch.Choices {
			if c.Delta.Content != nil {
				text += *c.Delta.Content
			}
			for _, tc := range c.Delta.ToolCalls {
				if tc.Index == nil || *tc.Index != 0 {
					t.Errorf("tool call index %v", tc.Index)
				}
				args += tc.Function.Arguments
			}
			if c.FinishReason != nil {
				finish = *c.FinishReason
			}
		}
	}
}

func TestConverseStream(t *testing.T) {
	t.Parallel()
	srv := providertest.NewBedrockServer(providertest.WithBedrockReply("one two three four five"))
	defer srv.Close()
	c := NewChat(client(srv), claude)
	tests := []struct {
		name       string
		req        *provider.ChatRequest
		wantText   string
		wantArgs   string
		wantFinish string
		wantOut    int
	}{
		{"text", &provider.ChatRequest{Messages: []provider.Message{{Role: "user", Content: provider.TextContent("count")}}}, "one two three four five", "", "stop", 5},
		{"max tokens", &provider.ChatRequest{Messages: []provider.Message{{Role: "user", Content: provider.TextContent("count")}}, MaxTokens: intPtr(2)}, "one two", "", "length", 2},
		{"tool use", &provider.ChatRequest{Messages: []provider.Message{{Role: "user", Content: provider.TextContent("weather?")}}, Tools: conversation().Tools, ToolChoice: json.RawMessage(`"required"`)}, "", `{"location":"Paris"}`, "tool_calls", 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := c.ChatStream(context.Background(), tt.req)
			if err != nil {
				t.Fatal(err)
			}
			text, args, finish, usage, err := drain(t, s)
			if err != nil {
				t.Fatal(err)
			}
			if text != tt.wantText || args != tt.wantArgs || finish != tt.wantFinish || usage == nil || usage.CompletionTokens != tt.wantOut {
				t.Errorf("text %q args %q finish %q usage %+v", text, args, finish, usage)
			}
			if op := srv.LastRequest().Operation; op != "converse-stream" {
				t.Errorf("operation %q", op)
			}
		})
	}
}

// TestStreamReasoningIsProgress: a model thinking before it answers streams reasoning
// deltas; each reaches the caller as a chunk without choices (so an idle timeout does not
// take the thinking for silence), and none of its text leaks into the answer.
func TestStreamReasoningIsProgress(t *testing.T) {
	t.Parallel()
	srv := providertest.NewBedrockServer(providertest.WithBedrockReply("Paris."), providertest.WithBedrockReasoning("the capital of France is Paris"))
	defer srv.Close()
	s, err := NewChat(client(srv), claude).ChatStream(context.Background(), &provider.ChatRequest{Messages: []provider.Message{{Role: "user", Content: provider.TextContent("capital?")}}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	empty, text := 0, ""
	for {
		c, err := s.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Choices) == 0 && c.Usage == nil {
			empty++
		}
		for _, ch := range c.Choices {
			if ch.Delta.Content != nil {
				text += *ch.Delta.Content
			}
		}
	}
	if empty != 6 || text != "Paris." {
		t.Errorf("%d progress chunks, text %q: want one per reasoning word and the answer alone", empty, text)
	}
}

func TestStreamException(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		typ  string
		want provider.ErrorKind
	}{
		{"model stream error", "modelStreamErrorException", provider.KindUnavailable},
		{"throttling", "throttlingException", provider.KindRateLimited},
		{"internal", "internalServerException", provider.KindUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := providertest.NewBedrockServer(providertest.WithStreamException(3, tt.typ, "stream broke"))
			defer srv.Close()
			s, err := NewChat(client(srv), claude).ChatStream(context.Background(), &provider.ChatRequest{Messages: []provider.Message{{Role: "user", Content: provider.TextContent("go")}}})
			if err != nil {
				t.Fatal(err)
			}
			text, _, _, _, err := drain(t, s)
			pe, ok := provider.AsError(err)
			if !ok || pe.Kind != tt.want || text != "Hello from" {
				t.Errorf("text %q err %v", text, err)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		failure providertest.BedrockFailure
		want    provider.ErrorKind
	}{
		{"throttling", providertest.BedrockThrottling, provider.KindRateLimited},
		{"model timeout", providertest.BedrockModelTimeout, provider.KindTimeout},
		{"unavailable", providertest.BedrockUnavailable, provider.KindUnavailable},
		{"internal", providertest.BedrockInternal, provider.KindUnavailable},
		{"too long", providertest.BedrockTooLong, provider.KindContextLength},
		{"invalid", providertest.BedrockInvalid, provider.KindBadRequest},
		{"access denied", providertest.BedrockDenied, provider.KindAuth},
		{"not found", providertest.BedrockNotFound, provider.KindNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := providertest.NewBedrockServer(providertest.BedrockFailFirst(tt.failure, tt.failure, tt.failure))
			defer srv.Close()
			c := client(srv)
			req := &provider.ChatRequest{Messages: []provider.Message{{Role: "user", Content: provider.TextContent("hi")}}}
			calls := []func() error{
				func() error { _, err := NewChat(c, claude).Chat(context.Background(), req); return err },
				func() error { _, err := NewChat(c, claude).ChatStream(context.Background(), req); return err },
				func() error {
					_, err := NewEmbed(c, "amazon.titan-embed-text-v2:0").Embed(context.Background(), &provider.EmbeddingRequest{Input: []string{"x"}})
					return err
				},
			}
			for i, call := range calls {
				pe, ok := provider.AsError(call())
				if !ok || pe.Kind != tt.want || pe.Status != tt.failure.Status || pe.Code != tt.failure.Type || pe.Provider != "bedrock" {
					t.Errorf("call %d: error %+v", i, pe)
				}
			}
			if srv.Requests() != 3 {
				t.Errorf("%d requests: the SDK must not retry on its own", srv.Requests())
			}
		})
	}
}

func TestTitanEmbed(t *testing.T) {
	t.Parallel()
	srv := providertest.NewBedrockServer()
	defer srv.Close()
	e := NewEmbed(client(srv), "amazon.titan-embed-text-v2:0")
	inputs := []string{"alpha beta", "gamma", "delta epsilon zeta", "eta", "theta", "iota"}
	resp, err := e.Embed(context.Background(), &provider.EmbeddingRequest{Input: inputs, Dimensions: 256})
	if err != nil {
		t.Fatal(err)
	}
	for i, in := range inputs {
		want := providertest.Vector(in, 256)
		got := resp.Data[i].Embedding
		if resp.Data[i].Index != i || len(got) != 256 || got[0] != want[0] || got[255] != want[255] {
			t.Fatalf("vector %d wrong", i)
		}
	}
	if resp.Usage.PromptTokens != 9 || resp.Usage.TotalTokens != 9 {
		t.Errorf("usage %+v", resp.Usage)
	}
	var body map[string]any
	json.Unmarshal(srv.LastRequest().Body, &body)
	if body["dimensions"] != float64(256) || body["normalize"] != true || body["inputText"] == nil {
		t.Errorf("body %v", body)
	}
	if _, err := e.Embed(context.Background(), &provider.EmbeddingRequest{Input: []string{"x"}, Dimensions: 300}); err == nil {
		t.Error("dimensions 300 accepted")
	}
}

func TestCohereEmbed(t *testing.T) {
	t.Parallel()
	srv := providertest.NewBedrockServer()
	defer srv.Close()
	e := NewEmbed(client(srv), "cohere.embed-english-v3")
	inputs := make([]string, 100) // two calls: 96 + 4
	for i := range inputs {
		inputs[i] = "text number " + string(rune('a'+i%26))
	}
	resp, err := e.Embed(context.Background(), &provider.EmbeddingRequest{Input: inputs, InputType: "search_query"})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Data) != 100 || srv.Requests() != 2 {
		t.Fatalf("%d vectors in %d calls", len(resp.Data), srv.Requests())
	}
	for _, i := range []int{0, 95, 96, 99} {
		want := providertest.Vector("search_query:"+inputs[i], 1024)
		if resp.Data[i].Index != i || resp.Data[i].Embedding[3] != want[3] {
			t.Errorf("vector %d wrong", i)
		}
	}
	var body map[string]any
	json.Unmarshal(srv.LastRequest().Body, &body)
	if body["input_type"] != "search_query" || len(body["texts"].([]any)) != 4 {
		t.Errorf("body %v", body)
	}
	if resp.Usage.PromptTokens == 0 {
		t.Error("no usage estimate")
	}
}

func TestStreamCut(t *testing.T) {
	t.Parallel()
	srv := providertest.NewBedrockServer(providertest.WithBedrockStreamCut(2))
	defer srv.Close()
	s, err := NewChat(client(srv), claude).ChatStream(context.Background(), &provider.ChatRequest{Messages: []provider.Message{{Role: "user", Content: provider.TextContent("go")}}})
	if err != nil {
		t.Fatal(err)
	}
	text, _, _, _, err := drain(t, s)
	if pe, ok := provider.AsError(err); !ok || pe.Kind != provider.KindUnavailable || text != "Hello" {
		t.Errorf("text %q err %v", text, err)
	}
}

func TestConverseRejects(t *testing.T) {
	t.Parallel()
	srv := providertest.NewBedrockServer()
	defer srv.Close()
	c := NewChat(client(srv), claude)
	user := provider.Message{Role: "user", Content: provider.TextContent("hi")}
	two := 2
	tests := []struct {
		name string
		req  *provider.ChatRequest
	}{
		{"n greater than one", &provider.ChatRequest{Messages: []provider.Message{user}, N: &two}},
		{"only a system prompt", &provider.ChatRequest{Messages: []provider.Message{{Role: "system", Content: provider.TextContent("x")}}}},
		{"bad tool arguments", &provider.ChatRequest{Messages: []provider.Message{user, {Role: "assistant", ToolCalls: []provider.ToolCall{{ID: "c", Function: provider.FunctionCall{Name: "f", Arguments: "not json"}}}}}}},
		{"tool message without id", &provider.ChatRequest{Messages: []provider.Message{user, {Role: "tool", Content: provider.TextContent("x")}}}},
		{"image by web URL", &provider.ChatRequest{Messages: []provider.Message{{Role: "user", Content: provider.Content{Parts: []provider.ContentPart{{Type: "image_url", ImageURL: json.RawMessage(`{"url":"https://example.com/cat.png"}`)}}}}}}},
		{"audio part", &provider.ChatRequest{Messages: []provider.Message{{Role: "user", Content: provider.Content{Parts: []provider.ContentPart{{Type: "input_audio"}}}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Chat(context.Background(), tt.req)
			if pe, ok := provider.AsError(err); !ok || pe.Kind != provider.KindBadRequest {
				t.Errorf("err = %v, want bad request", err)
			}
		})
	}
	if srv.Requests() != 0 {
		t.Errorf("%d invalid requests reached Bedrock", srv.Requests())
	}
}

func TestConverseImage(t *testing.T) {
	t.Parallel()
	srv := providertest.NewBedrockServer()
	defer srv.Close()
	req := &provider.ChatRequest{Messages: []provider.Message{{Role: "user", Content: provider.Content{Parts: []provider.ContentPart{
		{Type: "text", Text: "What is this?"},
		{Type: "image_url", ImageURL: json.RawMessage(`{"url":"data:image/png;base64,iVBORw0KGgo=","detail":"low"}`)},
	}}}}}
	if _, err := NewChat(client(srv), claude).Chat(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	var body struct {
		Messages []struct {
			Content []json.RawMessage `json:"content"`
		} `json:"messages"`
	}
	json.Unmarshal(srv.LastRequest().Body, &body)
	if len(body.Messages) != 1 || len(body.Messages[0].Content) != 2 || string(body.Messages[0].Content[1]) != `{"image":{"format":"png","source":{"bytes":"iVBORw0KGgo="}}}` {
		t.Errorf("content %s", body.Messages)
	}
}

// TestToolErrorStatus: a tool message that reports a failed call reaches Bedrock as a
// toolResult with status "error"; a successful one has no status.
func TestToolErrorStatus(t *testing.T) {
	t.Parallel()
	srv := providertest.NewBedrockServer()
	defer srv.Close()
	req := conversation()
	req.Messages[2].ToolCalls = append(req.Messages[2].ToolCalls, provider.ToolCall{ID: "call_2", Type: "function", Function: provider.FunctionCall{Name: "get_weather", Arguments: `{"location":"Atlantis"}`}})
	req.Messages = append(req.Messages[:4], append([]provider.Message{{Role: "tool", ToolCallID: "call_2", ToolError: true, Content: provider.TextContent("Error: no such city")}}, req.Messages[4:]...)...)
	if _, err := NewChat(client(srv), claude).Chat(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	var body struct {
		Messages []struct {
			Content []struct {
				ToolResult *struct {
					ToolUseID string  `json:"toolUseId"`
					Status    *string `json:"status"`
				} `json:"toolResult"`
			} `json:"content"`
		} `json:"messages"`
	}
	if err := json.Unmarshal(srv.LastRequest().Body, &body); err != nil {
		t.Fatal(err)
	}
	status := map[string]string{}
	for _, m := range body.Messages {
		for _, c := range m.Content {
			if r := c.ToolResult; r != nil {
				status[r.ToolUseID] = "none"
				if r.Status != nil {
					status[r.ToolUseID] = *r.Status
				}
			}
		}
	}
	if status["call_1"] != "none" || status["call_2"] != "error" {
		t.Errorf("toolResult statuses %v, want call_1 none, call_2 error", status)
	}
}
