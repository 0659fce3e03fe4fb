package openai

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/plinth-ai/plinth/shared/provider"
)

func sameJSON(t *testing.T, got []byte, v any) {
	t.Helper()
	want, err := json.Marshal(v)
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
}

func TestAppendChatChunk(t *testing.T) {
	t.Parallel()
	zero, one := 0, 1
	tests := []struct {
		name string
		c    *provider.ChatChunk
	}{
		{"role", &provider.ChatChunk{ID: "c1", Object: "chat.completion.chunk", Created: 7, Model: "m", SystemFingerprint: "fp",
			Choices: []provider.ChunkChoice{{Delta: provider.Delta{Role: "assistant", Content: ptr("")}}}}},
		{"content", &provider.ChatChunk{ID: "c1", Object: "chat.completion.chunk", Model: "m",
			Choices: []provider.ChunkChoice{{Delta: provider.Delta{Content: ptr(" <b>\"hi\"</b> \u2028 \x01")}}}}},
		{"finish with logprobs", &provider.ChatChunk{ID: "c1", Choices: []provider.ChunkChoice{{Index: 1, Delta: provider.Delta{Refusal: ptr("no")}, FinishReason: ptr("stop"), Logprobs: json.RawMessage(`{"content":[]}`)}}}},
		{"tool calls", &provider.ChatChunk{ID: "c1", Choices: []provider.ChunkChoice{{Delta: provider.Delta{ToolCalls: []provider.ToolCall{
			{Index: &zero, ID: "call_1", Type: "function", Function: provider.FunctionCall{Name: "f"}},
			{Index: &one, Function: provider.FunctionCall{Arguments: `{"a":`}}}}}}}},
		{"usage", &provider.ChatChunk{ID: "c1", Object: "chat.completion.chunk", Choices: []provider.ChunkChoice{}, Usage: &provider.Usage{PromptTokens: 3, CompletionTokens: 4, TotalTokens: 7}}},
		{"nil choices", &provider.ChatChunk{ID: "c1"}},
		{"bad logprobs fall back", &provider.ChatChunk{ID: "c1", Choices: []provider.ChunkChoice{{Logprobs: json.RawMessage(`{"x":`)}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := AppendChatChunk([]byte("data: "), tt.c)
			if tt.name == "bad logprobs fall back" {
				if err == nil {
					t.Error("invalid raw JSON accepted")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got[:6]) != "data: " {
				t.Fatal("prefix lost")
			}
			sameJSON(t, got[6:], tt.c)
		})
	}
}

func TestAppendChatResponse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		r    *provider.ChatResponse
	}{
		{"text", &provider.ChatResponse{ID: "r1", Object: "chat.completion", Created: 9, Model: "m", Usage: &provider.Usage{PromptTokens: 1, CompletionTokens: 2, TotalTokens: 3},
			Choices: []provider.Choice{{Message: provider.Message{Role: "assistant", Content: provider.TextContent("Hello & <bye>")}, FinishReason: "stop", Logprobs: json.RawMessage("null")}}}},
		{"tool call", &provider.ChatResponse{ID: "r1", Object: "chat.completion", Choices: []provider.Choice{{Message: provider.Message{Role: "assistant", Content: provider.Content{Null: true},
			ToolCalls: []provider.ToolCall{{ID: "call_1", Type: "function", Function: provider.FunctionCall{Name: "f", Arguments: `{"x":1}`}}}}, FinishReason: "tool_calls"}}}},
		{"refusal and fingerprint", &provider.ChatResponse{ID: "r1", SystemFingerprint: "fp", Choices: []provider.Choice{{Message: provider.Message{Role: "assistant", Refusal: ptr("no")}, FinishReason: "content_filter"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := AppendChatResponse(nil, tt.r)
			if err != nil {
				t.Fatal(err)
			}
			sameJSON(t, got, tt.r)
		})
	}
}

func BenchmarkAppendChatChunk(b *testing.B) {
	c := &provider.ChatChunk{ID: "chatcmpl-1", Object: "chat.completion.chunk", Created: 1795595445, Model: "gpt-4o-mini",
		Choices: []provider.ChunkChoice{{Delta: provider.Delta{Content: ptr(" upstream.")}}}}
	for _, tt := range []struct {
		name string
		f    func([]byte) []byte
	}{
		{"append", func(dst []byte) []byte { out, _ := AppendChatChunk(dst, c); return out }},
		{"encoding-json", func(dst []byte) []byte { out, _ := json.Marshal(c); return append(dst, out...) }},
	} {
		b.Run(tt.name, func(b *testing.B) {
			buf := make([]byte, 0, 512)
			b.ReportAllocs()
			for b.Loop() {
				buf = tt.f(buf[:0])
			}
		})
	}
}

// FuzzChunkRoundTrip decodes upstream chunks and re-encodes them, holding the encoder to
// encoding/json's values for whatever the decoder produces.
func FuzzChunkRoundTrip(f *testing.F) {
	for _, p := range chunkPayloads {
		f.Add([]byte(p))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, _, err := decodeChunk(b)
		if err != nil {
			return
		}
		want, err := json.Marshal(c)
		if err != nil {
			return // a raw field encoding/json refuses too
		}
		got, err := AppendChatChunk(nil, c)
		if err != nil {
			t.Fatalf("append failed where encoding/json succeeded: %v", err)
		}
		var g, w any
		if err := json.Unmarshal(got, &g); err != nil {
			t.Fatalf("invalid JSON %s", got)
		}
		json.Unmarshal(want, &w)
		if !reflect.DeepEqual(g, w) {
			t.Fatalf("\n got %s\nwant %s", got, want)
		}
	})
}
