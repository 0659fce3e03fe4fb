package openai

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"

	"github.com/plinth-ai/plinth/shared/provider"
)

// wireRequest is the request as encoding/json would send it: the reference the
// hand-written encoder is compared with.
func (c *Client) wireRequest(req *provider.ChatRequest, stream bool) provider.ChatRequest {
	r := *req
	if c.model != "" {
		r.Model = c.model
	}
	r.Stream = stream
	r.StreamOptions = nil
	if stream {
		r.StreamOptions = &includeUsage
	}
	return r
}

var includeUsage = provider.StreamOptions{IncludeUsage: true}

func ptr[T any](v T) *T { return &v }

// TestAppendChatRequestMatchesEncodingJSON holds the hand-written encoder to the JSON
// values encoding/json produces for the same request.
func TestAppendChatRequestMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	full := &provider.ChatRequest{
		Model: "client-model",
		Messages: []provider.Message{
			{Role: "system", Content: provider.TextContent("Be \"brief\" <ok> & \\ \n\t\r \x01 \u2028 caf\u00e9 \xff")},
			{Role: "user", Name: "bob", Content: provider.Content{Parts: []provider.ContentPart{{Type: "text", Text: "look"}, {Type: "image_url", ImageURL: json.RawMessage(`{"url":"data:image/png;base64,AAA="}`)}}}},
			{Role: "assistant", Content: provider.Content{Null: true}, ToolCalls: []provider.ToolCall{{ID: "call_1", Type: "function", Function: provider.FunctionCall{Name: "f", Arguments: `{"x":1}`}}}},
			{Role: "tool", ToolCallID: "call_1", Content: provider.TextContent("42")},
			{Role: "assistant", Content: provider.TextContent(""), Refusal: ptr("no")},
		},
		Temperature: ptr(0.7), TopP: ptr(1e-7), MaxTokens: ptr(100), MaxCompletionTokens: ptr(200),
		Stop: provider.Stop{"a", "b"}, N: ptr(1),
		Tools: []provider.Tool{{Type: "function", Function: provider.FunctionDef{Name: "f", Description: "does f",
			Parameters: json.RawMessage(`{"type": "object"}`), Strict: ptr(true)}}},
		ToolChoice: json.RawMessage(`"auto"`), ParallelToolCalls: ptr(false), ResponseFormat: json.RawMessage(`{"type":"json_object"}`),
		Seed: ptr(int64(-3)), PresencePenalty: ptr(-0.5), FrequencyPenalty: ptr(1e21), User: "u-1",
	}
	tests := []struct {
		name   string
		req    *provider.ChatRequest
		stream bool
	}{
		{"full", full, false},
		{"full streamed", full, true},
		{"minimal", &provider.ChatRequest{Messages: []provider.Message{{Role: "user", Content: provider.TextContent("hi")}}}, false},
		{"no messages", &provider.ChatRequest{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := appendChatRequest(nil, tt.req, "upstream-model", tt.stream)
			if err != nil {
				t.Fatal(err)
			}
			wire := New("http://x/v1", "upstream-model", "").wireRequest(tt.req, tt.stream)
			want, err := json.Marshal(&wire)
			if err != nil {
				t.Fatal(err)
			}
			var g, w any
			if err := json.Unmarshal(got, &g); err != nil {
				t.Fatalf("invalid JSON %s: %v", got, err)
			}
			json.Unmarshal(want, &w)
			if !reflect.DeepEqual(g, w) {
				t.Errorf("\n got %s\nwant %s", got, want)
			}
		})
	}
}

func TestAppendChatRequestRejects(t *testing.T) {
	t.Parallel()
	msgs := []provider.Message{{Role: "user", Content: provider.TextContent("hi")}}
	tests := []struct {
		name string
		req  *provider.ChatRequest
	}{
		{"NaN temperature", &provider.ChatRequest{Messages: msgs, Temperature: ptr(math.NaN())}},
		{"broken tool_choice", &provider.ChatRequest{Messages: msgs, ToolChoice: json.RawMessage(`{"type":`)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := appendChatRequest(nil, tt.req, "m", false); err == nil {
				t.Error("encoded an invalid request")
			}
		})
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "q\"b\\", "\x00\x1f\x7f", "\u2028\u2029", "\xff\xfe", "日本"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := appendString(nil, s)
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("%q encoded as invalid JSON %s", s, got)
		}
		want, _ := json.Marshal(s)
		var wantBack string
		json.Unmarshal(want, &wantBack)
		if back != wantBack {
			t.Fatalf("%q round-trips to %q, encoding/json to %q", s, back, wantBack)
		}
	})
}

func FuzzAppendFloat(f *testing.F) {
	for _, v := range []float64{0, 1, -1.5, 1e-7, 1e21, 123456789.125, 5e-324} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v float64) {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return
		}
		got, err := appendFloatField(nil, "", &v)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(v)
		if string(got) != string(want) {
			t.Fatalf("%v: got %s want %s", v, got, want)
		}
	})
}
