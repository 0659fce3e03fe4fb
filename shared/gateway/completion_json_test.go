package gateway

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/plinth-ai/plinth/shared/httpapi"
	"github.com/plinth-ai/plinth/shared/provider"
)

// reference is what httpapi.WriteJSON writes for c.
func reference(c Completion) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	httpapi.WriteJSON(w, 200, c)
	return w
}

func TestWriteCompletionMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	zero, two := 0, 2
	refusal, empty := "I <won't> & \"can't\"", ""
	tricky := "Hello & <b>bye</b> \"q\" \\ \b\f\n\r\t\x01\x1f \u2028\u2029 é 😀 \xff\xfe end"
	usage := &provider.Usage{PromptTokens: 12, CompletionTokens: 7, TotalTokens: 19}
	text := func(s string) provider.Message {
		return provider.Message{Role: "assistant", Content: provider.TextContent(s)}
	}
	cases := map[string]*provider.ChatResponse{
		"bench": {ID: "chatcmpl-req_1", Object: "chat.completion", Created: 1765000000, Model: "bench-mock", Usage: usage,
			Choices: []provider.Choice{{Message: text("Hello! How can I help you today?"), FinishReason: "stop", Logprobs: json.RawMessage("null")}}},
		"tricky strings": {ID: tricky, Object: "chat.completion", Model: "m<&>", SystemFingerprint: "fp<" + tricky,
			Choices: []provider.Choice{{Index: 3, Message: provider.Message{Role: "assistant<", Content: provider.TextContent(tricky), Name: tricky,
				ToolCallID: tricky, Refusal: &refusal, ToolError: true}, FinishReason: tricky}}},
		"tool calls": {ID: "c", Created: -5, Choices: []provider.Choice{{Message: provider.Message{Role: "assistant", Content: provider.Content{Null: true},
			ToolCalls: []provider.ToolCall{
				{ID: "call_1", Type: "function", Function: provider.FunctionCall{Name: "f<x>", Arguments: `{"a":"<&>"}`}},
				{Index: &zero, Function: provider.FunctionCall{Arguments: ""}},
				{Index: &two, Type: "function", Function: provider.FunctionCall{Name: "g"}},
				{ID: "only-id", Function: provider.FunctionCall{Name: "h", Arguments: "{}"}},
			}}, FinishReason: "tool_calls"}}},
		"null text content kept": {Choices: []provider.Choice{{Message: provider.Message{Content: provider.Content{Null: true, Text: "t"}}}}},
		"empty refusal":          {Choices: []provider.Choice{{Message: provider.Message{Refusal: &empty}}}},
		"several choices": {Usage: &provider.Usage{}, Choices: []provider.Choice{
			{Message: text("one")}, {Index: 1, Message: text("")}, {Index: 2, Message: text("three"), FinishReason: "length"}}},
		// encoding/json refuses empty raw JSON: the answer is the same 500.
		"empty logprobs": {Choices: []provider.Choice{{Message: text("a"), Logprobs: json.RawMessage{}}}},
		"no choices":     {ID: "x", Choices: []provider.Choice{}},
		"nil choices":    {ID: "x"},
		// Left to encoding/json: the same bytes either way.
		"parts":     {Choices: []provider.Choice{{Message: provider.Message{Content: provider.Content{Parts: []provider.ContentPart{{Type: "text", Text: "<hi>"}}}}}}},
		"logprobs":  {Choices: []provider.Choice{{Message: text("a"), Logprobs: json.RawMessage(`{"content": [ {"token":"<"} ]}`)}}},
		"citations": {ID: "x", Citations: json.RawMessage(`[{"id": "<doc>"}]`), Choices: []provider.Choice{{Message: text("a")}}},
	}
	viaEncodingJSON := map[string]bool{"parts": true, "logprobs": true, "citations": true, "empty logprobs": true}
	for name, r := range cases {
		for _, gr := range []*Guardrail{nil, {Policy: "gr-1", Interventions: []Intervention{{Source: SourceInput, Action: ActionAnonymized}}}} {
			c := Completion{ChatResponse: r, Guardrail: gr}
			if _, ok := appendCompletion(nil, &c); ok != (gr == nil && !viaEncodingJSON[name]) {
				t.Errorf("%s (guardrail %v): encoded without reflection: %v", name, gr != nil, ok)
			}
			w := httptest.NewRecorder()
			writeCompletion(w, c)
			want := reference(c)
			if !bytes.Equal(w.Body.Bytes(), want.Body.Bytes()) {
				t.Errorf("%s (guardrail %v):\n got %s\nwant %s", name, gr != nil, w.Body.Bytes(), want.Body.Bytes())
			}
			if w.Code != want.Code || !reflect.DeepEqual(w.Header(), want.Header()) {
				t.Errorf("%s: status %d, header %v; want %d, %v", name, w.Code, w.Header(), want.Code, want.Header())
			}
		}
	}
}

func BenchmarkWriteCompletion(b *testing.B) {
	c := Completion{ChatResponse: &provider.ChatResponse{ID: "chatcmpl-req_0123456789abcdef01234567", Object: "chat.completion", Created: 1765000000, Model: "bench-mock",
		Usage:   &provider.Usage{PromptTokens: 25, CompletionTokens: 9, TotalTokens: 34},
		Choices: []provider.Choice{{Message: provider.Message{Role: "assistant", Content: provider.TextContent("Hello! How can I help you today?")}, FinishReason: "stop", Logprobs: json.RawMessage("null")}}}}
	for _, enc := range []struct {
		name  string
		write func(http.ResponseWriter, Completion)
	}{
		{"hand", writeCompletion},
		{"encoding-json", func(w http.ResponseWriter, c Completion) { httpapi.WriteJSON(w, http.StatusOK, c) }},
	} {
		b.Run(enc.name, func(b *testing.B) {
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				enc.write(w, c)
			}
		})
	}
}

type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}
