package providertest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"testing"

	"github.com/plinth-ai/plinth/shared/provider"
)

// ContractPrompt is the conversation the contract suites send. Models that answer
// from the prompt (local-chat) answer it with the first context sentence.
var ContractPrompt = []provider.Message{
	{Role: "system", Content: provider.TextContent("Context: The quick brown fox jumps over the lazy dog near the river bank. Owls sleep during the day.")},
	{Role: "user", Content: provider.TextContent("What does the quick brown fox jump over?")},
}

var contractTool = provider.Tool{Type: "function", Function: provider.FunctionDef{
	Name: "get_weather", Description: "Current weather for a city",
	Parameters: json.RawMessage(`{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}`),
}}

// RunChatContract checks that a provider.ChatModel keeps the port's promises: OpenAI's
// response and chunk shapes, usage on both paths (streams end with a usage chunk, then
// io.EOF), max_tokens ending in "length", forced tool calls with JSON arguments, and
// context cancellation. Every chat adapter runs it; newModel must answer ContractPrompt
// with at least three words.
func RunChatContract(t *testing.T, newModel func(t *testing.T) provider.ChatModel) {
	t.Helper()
	ctx := context.Background()
	req := func() *provider.ChatRequest {
		return &provider.ChatRequest{Model: "contract-model", Messages: ContractPrompt}
	}

	t.Run("chat", func(t *testing.T) {
		resp, err := newModel(t).Chat(ctx, req())
		if err != nil {
			t.Fatal(err)
		}
		if resp.Object != "chat.completion" || resp.ID == "" || len(resp.Choices) != 1 {
			t.Fatalf("envelope %+v", resp)
		}
		c := resp.Choices[0]
		if c.Message.Role != "assistant" || c.Message.Content.String() == "" || c.FinishReason != "stop" {
			t.Errorf("choice %+v", c)
		}
		checkUsage(t, resp.Usage)
	})

	t.Run("stream matches chat", func(t *testing.T) {
		m := newModel(t)
		whole, err := m.Chat(ctx, req())
		if err != nil {
			t.Fatal(err)
		}
		s, err := m.ChatStream(ctx, req())
		if err != nil {
			t.Fatal(err)
		}
		got := collectStream(t, s)
		if got.text != whole.Choices[0].Message.Content.String() || got.finish != "stop" || !got.roleFirst {
			t.Errorf("stream text %q finish %q role first %v; chat text %q", got.text, got.finish, got.roleFirst, whole.Choices[0].Message.Content.String())
		}
		checkUsage(t, got.usage)
	})

	t.Run("max tokens", func(t *testing.T) {
		r := req()
		two := 2
		r.MaxTokens = &two
		resp, err := newModel(t).Chat(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Choices[0].FinishReason != "length" || resp.Usage == nil || resp.Usage.CompletionTokens > 2 {
			t.Errorf("finish %q usage %+v", resp.Choices[0].FinishReason, resp.Usage)
		}
	})

	t.Run("forced tool call", func(t *testing.T) {
		r := req()
		r.Tools = []provider.Tool{contractTool}
		r.ToolChoice = json.RawMessage(`{"type":"function","function":{"name":"get_weather"}}`)
		m := newModel(t)
		resp, err := m.Chat(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		c := resp.Choices[0]
		if c.FinishReason != "tool_calls" || len(c.Message.ToolCalls) != 1 {
			t.Fatalf("choice %+v", c)
		}
		tc := c.Message.ToolCalls[0]
		if tc.ID == "" || tc.Type != "function" || tc.Function.Name != "get_weather" || !json.Valid([]byte(tc.Function.Arguments)) {
			t.Errorf("tool call %+v", tc)
		}
		s, err := m.ChatStream(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		got := collectStream(t, s)
		if got.finish != "tool_calls" || got.toolName != "get_weather" || got.toolID == "" || !json.Valid([]byte(got.args)) {
			t.Errorf("streamed tool call: name %q id %q args %q finish %q", got.toolName, got.toolID, got.args, got.finish)
		}
	})

	t.Run("cancelled context", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := newModel(t).Chat(cctx, req()); err == nil {
			t.Error("Chat succeeded on a cancelled context")
		}
	})

	t.Run("close mid-stream", func(t *testing.T) {
		s, err := newModel(t).ChatStream(ctx, req())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Recv(); err != nil {
			t.Fatal(err)
		}
		s.Close()
		if _, err := s.Recv(); err == nil {
			t.Error("Recv after Close returned a chunk")
		}
	})
}

func checkUsage(t *testing.T, u *provider.Usage) {
	t.Helper()
	if u == nil || u.PromptTokens <= 0 || u.CompletionTokens <= 0 || u.TotalTokens != u.PromptTokens+u.CompletionTokens {
		t.Errorf("usage %+v", u)
	}
}

type streamed struct {
	text, args, finish, toolName, toolID string
	roleFirst                            bool
	usage                                *provider.Usage
}

func collectStream(t *testing.T, s provider.Stream) streamed {
	t.Helper()
	defer s.Close()
	var out streamed
	for n := 0; ; n++ {
		ch, err := s.Recv()
		if errors.Is(err, io.EOF) {
			if out.usage == nil {
				t.Error("stream ended without a usage chunk")
			}
			if _, err := s.Recv(); !errors.Is(err, io.EOF) {
				t.Errorf("Recv after the end = %v, want io.EOF", err)
			}
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if ch.Object != "chat.completion.chunk" {
			t.Errorf("chunk object %q", ch.Object)
		}
		if out.usage != nil {
			t.Error("chunk after the usage chunk")
		}
		if ch.Usage != nil {
			if len(ch.Choices) != 0 {
				t.Error("usage chunk with choices")
			}
			out.usage = ch.Usage
			continue
		}
		for _, c := range ch.Choices {
			if n == 0 && c.Delta.Role == "assistant" {
				out.roleFirst = true
			}
			if c.Delta.Content != nil {
				out.text += *c.Delta.Content
			}
			for _, tc := range c.Delta.ToolCalls {
				if tc.Function.Name != "" {
					out.toolName = tc.Function.Name
				}
				if tc.ID != "" {
					out.toolID = tc.ID
				}
				out.args += tc.Function.Arguments
			}
			if c.FinishReason != nil {
				out.finish = *c.FinishReason
			}
		}
	}
}

// RunEmbeddingContract checks that a provider.EmbeddingModel returns one vector per
// input, in order, of one dimension, with usage.
func RunEmbeddingContract(t *testing.T, newModel func(t *testing.T) provider.EmbeddingModel) {
	t.Helper()
	t.Run("embed", func(t *testing.T) {
		inputs := []string{"first text", "the second text", "third"}
		resp, err := newModel(t).Embed(context.Background(), &provider.EmbeddingRequest{Model: "contract-model", Input: inputs})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Data) != len(inputs) {
			t.Fatalf("%d vectors for %d inputs", len(resp.Data), len(inputs))
		}
		for i, d := range resp.Data {
			if d.Index != i || len(d.Embedding) == 0 || len(d.Embedding) != len(resp.Data[0].Embedding) {
				t.Errorf("vector %d: index %d, %d dimensions", i, d.Index, len(d.Embedding))
			}
		}
		if resp.Usage.PromptTokens <= 0 || resp.Usage.TotalTokens < resp.Usage.PromptTokens {
			t.Errorf("usage %+v", resp.Usage)
		}
	})
	t.Run("cancelled context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		many := make([]string, 200)
		for i := range many {
			many[i] = "text"
		}
		if _, err := newModel(t).Embed(ctx, &provider.EmbeddingRequest{Input: many}); err == nil {
			t.Error("Embed succeeded on a cancelled context")
		}
	})
}
