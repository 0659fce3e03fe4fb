package local

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"strings"
	"testing"

	"github.com/plinth-ai/plinth/shared/provider"
	"github.com/plinth-ai/plinth/shared/tokens"
)

func msgs(pairs ...string) []provider.Message {
	var out []provider.Message
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, provider.Message{Role: pairs[i], Content: provider.TextContent(pairs[i+1])})
	}
	return out
}

func intPtr(i int) *int { return &i }

const rabbitContext = `The European rabbit is native to the Iberian Peninsula. Rabbits were introduced to Australia in 1859 by Thomas Austin. Today they are a major agricultural pest. Their burrows are called warrens.`

func TestChatAnswers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		messages []provider.Message
		want     string
	}{
		{"context block in system", msgs("system", "Answer from the sources.\nContext:\n"+rabbitContext, "user", "Who introduced rabbits to Australia?"),
			"Rabbits were introduced to Australia in 1859 by Thomas Austin."},
		{"question marker in one user message", msgs("user", "Context: "+rabbitContext+"\n\nQuestion: What are rabbit burrows called?"),
			"Their burrows are called warrens."},
		{"plain system context", msgs("system", rabbitContext, "user", "Where is the European rabbit native to?"),
			"The European rabbit is native to the Iberian Peninsula."},
		{"tool result is context", []provider.Message{
			{Role: "user", Content: provider.TextContent("What is the weather in Paris?")},
			{Role: "assistant", Content: provider.Content{Null: true}, ToolCalls: []provider.ToolCall{{ID: "c1", Type: "function", Function: provider.FunctionCall{Name: "weather", Arguments: `{"city":"Paris"}`}}}},
			{Role: "tool", ToolCallID: "c1", Content: provider.TextContent("Paris weather: sunny, 21 degrees.")},
			{Role: "user", Content: provider.TextContent("So what is the weather in Paris?")},
		}, "Paris weather: sunny, 21 degrees."},
		{"inline context and question", msgs("user", "Rabbits live in warrens. Foxes hunt them at night. When do foxes hunt?"),
			"Foxes hunt them at night."},
		{"context block then a bare question", msgs("user", "Context:\n"+rabbitContext+"\n\nWhat are rabbit burrows called?"),
			"Their burrows are called warrens."},
		{"numbered sources with citations", msgs("user", "Sources:\n[1] (zoo.txt)\nFoxes hunt at night. Owls sleep by day.\n\n[2] (rabbits.txt, page 3)\n"+rabbitContext+"\n\nQuestion: What are rabbit burrows called?\nAnswer with citations:"),
			"Their burrows are called warrens. [2]"},
		{"numbered sources without a request to cite", msgs("system", "Context:\n[1] Foxes hunt at night.\n\n[2] "+rabbitContext, "user", "What are rabbit burrows called?"),
			"Their burrows are called warrens."},
		{"no context", msgs("user", "What is the capital of France?"), NoContextAnswer},
		{"no match", msgs("system", rabbitContext, "user", "What is quantum chromodynamics?"), NoMatchAnswer},
	}
	m := NewChat()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, err := m.Chat(context.Background(), &provider.ChatRequest{Model: "local-chat", Messages: tt.messages})
			if err != nil {
				t.Fatal(err)
			}
			got := resp.Choices[0].Message.Content.String()
			if got != tt.want {
				t.Errorf("answer = %q, want %q", got, tt.want)
			}
			if resp.Choices[0].FinishReason != "stop" || resp.Object != "chat.completion" || resp.Model != "local-chat" {
				t.Errorf("unexpected envelope %+v", resp)
			}
			u := resp.Usage
			if u.CompletionTokens != tokens.Count(got) || u.PromptTokens == 0 || u.TotalTokens != u.PromptTokens+u.CompletionTokens {
				t.Errorf("usage %+v for answer %q", u, got)
			}
		})
	}
}

func TestChatStopAndMaxTokens(t *testing.T) {
	t.Parallel()
	base := msgs("system", rabbitContext, "user", "Who introduced rabbits to Australia?")
	tests := []struct {
		name       string
		stop       provider.Stop
		maxTokens  *int
		wantText   string
		wantFinish string
	}{
		{"stop sequence", provider.Stop{" in 1859", "Austin"}, nil, "Rabbits were introduced to Australia", "stop"},
		{"max tokens", nil, intPtr(3), "Rabbits were introduced", "length"},
		{"max tokens not reached", nil, intPtr(100), "Rabbits were introduced to Australia in 1859 by Thomas Austin.", "stop"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := NewChat().Chat(context.Background(), &provider.ChatRequest{Messages: base, Stop: tt.stop, MaxTokens: tt.maxTokens})
			if err != nil {
				t.Fatal(err)
			}
			if got := resp.Choices[0].Message.Content.String(); got != tt.wantText || resp.Choices[0].FinishReason != tt.wantFinish {
				t.Errorf("got %q/%s, want %q/%s", got, resp.Choices[0].FinishReason, tt.wantText, tt.wantFinish)
			}
		})
	}
}

var weatherTools = []provider.Tool{
	{Type: "function", Function: provider.FunctionDef{Name: "lookup_stock", Description: "Stock price for a ticker",
		Parameters: json.RawMessage(`{"type":"object","properties":{"ticker":{"type":"string"}},"required":["ticker"]}`)}},
	{Type: "function", Function: provider.FunctionDef{Name: "get_weather", Description: "Current weather for a city",
		Parameters: json.RawMessage(`{"type":"object","properties":{"city":{"type":"string"},"unit":{"type":"string","enum":["celsius","fahrenheit"]},"days":{"type":"integer"}},"required":["city","unit","days"]}`)}},
}

func TestChatTools(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		choice   string
		wantName string
		wantArgs map[string]any
		wantErr  bool
	}{
		{"required picks the relevant tool", `"required"`, "get_weather", map[string]any{"city": "Paris", "unit": "fahrenheit", "days": float64(3)}, false},
		{"named function", `{"type":"function","function":{"name":"lookup_stock"}}`, "lookup_stock", map[string]any{"ticker": "Paris"}, false},
		{"unknown function", `{"type":"function","function":{"name":"nope"}}`, "", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := &provider.ChatRequest{Messages: msgs("user", "What is the weather in Paris for 3 days, in fahrenheit?"), Tools: weatherTools, ToolChoice: json.RawMessage(tt.choice)}
			resp, err := NewChat().Chat(context.Background(), req)
			if tt.wantErr {
				pe, ok := provider.AsError(err)
				if !ok || pe.Kind != provider.KindBadRequest {
					t.Fatalf("err = %v, want bad request", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ch := resp.Choices[0]
			if ch.FinishReason != "tool_calls" || len(ch.Message.ToolCalls) != 1 || !ch.Message.Content.Null {
				t.Fatalf("choice = %+v", ch)
			}
			tc := ch.Message.ToolCalls[0]
			if tc.Function.Name != tt.wantName || tc.Type != "function" || !strings.HasPrefix(tc.ID, "call_") {
				t.Errorf("tool call = %+v", tc)
			}
			var args map[string]any
			if err := json.Unmarshal([]byte(tc.Function.Arguments), &args); err != nil {
				t.Fatalf("arguments %q: %v", tc.Function.Arguments, err)
			}
			for k, v := range tt.wantArgs {
				if args[k] != v {
					t.Errorf("args[%s] = %v, want %v (all %s)", k, args[k], v, tc.Function.Arguments)
				}
			}
		})
	}
}

// TestToolCallIDsAreUnique: the same request twice gets two tool-call ids, as clients
// key tool results by id across a conversation.
func TestToolCallIDsAreUnique(t *testing.T) {
	t.Parallel()
	m := NewChat()
	seen := map[string]bool{}
	for i := 0; i < 3; i++ {
		req := &provider.ChatRequest{Messages: msgs("user", "What is the weather in Paris?"), Tools: weatherTools, ToolChoice: json.RawMessage(`"required"`)}
		resp, err := m.Chat(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		id := resp.Choices[0].Message.ToolCalls[0].ID
		if seen[id] {
			t.Fatalf("tool-call id %s repeated across requests", id)
		}
		seen[id] = true
	}
}

// TestChatContinuesAPrefill: a final assistant message is continued, not repeated.
func TestChatContinuesAPrefill(t *testing.T) {
	t.Parallel()
	question := "Plinth routes requests to deployments. It retries failures. What does Plinth route?"
	whole, err := NewChat().Chat(context.Background(), &provider.ChatRequest{Messages: msgs("user", question)})
	if err != nil {
		t.Fatal(err)
	}
	full := whole.Choices[0].Message.Content.String()
	cut := len(full) / 2
	req := &provider.ChatRequest{Messages: append(msgs("user", question), provider.Message{Role: "assistant", Content: provider.TextContent(full[:cut])})}
	resp, err := NewChat().Chat(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Choices[0].Message.Content.String(); full[:cut]+got != full {
		t.Errorf("continued %q with %q, want the rest of %q", full[:cut], got, full)
	}
}

func TestChatRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		req  *provider.ChatRequest
	}{
		{"n greater than one", &provider.ChatRequest{Messages: msgs("user", "hi"), N: intPtr(2)}},
		{"no messages", &provider.ChatRequest{}},
		{"tool choice without tools", &provider.ChatRequest{Messages: msgs("user", "hi"), ToolChoice: json.RawMessage(`"required"`)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewChat().Chat(context.Background(), tt.req)
			if pe, ok := provider.AsError(err); !ok || pe.Kind != provider.KindBadRequest {
				t.Errorf("err = %v, want bad request", err)
			}
		})
	}
}

func collect(t *testing.T, s provider.Stream) (text, args, finish string, usage *provider.Usage, n int) {
	t.Helper()
	defer s.Close()
	for {
		ch, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
		if ch.Object != "chat.completion.chunk" {
			t.Errorf("object = %q", ch.Object)
		}
		if ch.Usage != nil {
			if len(ch.Choices) != 0 {
				t.Error("usage chunk has choices")
			}
			usage = ch.Usage
			continue
		}
		if usage != nil {
			t.Error("chunk after usage")
		}
		c := ch.Choices[0]
		if c.Delta.Content != nil {
			text += *c.Delta.Content
		}
		for _, tc := range c.Delta.ToolCalls {
			args += tc.Function.Arguments
		}
		if c.FinishReason != nil {
			finish = *c.FinishReason
		}
	}
}

func TestChatStream(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		req  *provider.ChatRequest
	}{
		{"text", &provider.ChatRequest{Messages: msgs("system", rabbitContext, "user", "Who introduced rabbits to Australia?")}},
		{"truncated", &provider.ChatRequest{Messages: msgs("system", rabbitContext, "user", "Who introduced rabbits to Australia?"), MaxTokens: intPtr(4)}},
		{"tool call", &provider.ChatRequest{Messages: msgs("user", "Weather in Oslo?"), Tools: weatherTools, ToolChoice: json.RawMessage(`"required"`)}},
	}
	m := NewChat()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			whole, err := m.Chat(context.Background(), tt.req)
			if err != nil {
				t.Fatal(err)
			}
			s, err := m.ChatStream(context.Background(), tt.req)
			if err != nil {
				t.Fatal(err)
			}
			text, args, finish, usage, n := collect(t, s)
			wm := whole.Choices[0].Message
			if text != wm.Content.String() || finish != whole.Choices[0].FinishReason {
				t.Errorf("stream %q/%s, whole %q/%s", text, finish, wm.Content.String(), whole.Choices[0].FinishReason)
			}
			if len(wm.ToolCalls) > 0 && args != wm.ToolCalls[0].Function.Arguments {
				t.Errorf("stream args %q, whole %q", args, wm.ToolCalls[0].Function.Arguments)
			}
			if usage == nil || *usage != *whole.Usage {
				t.Errorf("usage %+v, want %+v", usage, whole.Usage)
			}
			if len(wm.ToolCalls) == 0 && n < 3+strings.Count(text, " ") {
				t.Errorf("only %d chunks for %q", n, text)
			}
		})
	}
}

func TestChatStreamCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	s, err := NewChat().ChatStream(ctx, &provider.ChatRequest{Messages: msgs("system", rabbitContext, "user", "rabbits?")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Recv(); err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := s.Recv(); err == nil || errors.Is(err, io.EOF) {
		t.Errorf("Recv after cancel = %v, want an error", err)
	}
}

func cosine(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

func TestEmbed(t *testing.T) {
	t.Parallel()
	m := NewEmbed(0)
	texts := []string{
		"Vitamin D supplementation reduces the risk of fractures in elderly patients.",
		"Elderly patients given vitamin D supplements had fewer fractures.",
		"The stock market closed higher on Tuesday after strong earnings.",
		"",
	}
	resp, err := m.Embed(context.Background(), &provider.EmbeddingRequest{Input: texts})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Data) != len(texts) || resp.Model != EmbedModelID {
		t.Fatalf("got %d vectors, model %q", len(resp.Data), resp.Model)
	}
	for i, d := range resp.Data[:3] {
		if d.Index != i || len(d.Embedding) != DefaultDimensions {
			t.Fatalf("vector %d: index %d len %d", i, d.Index, len(d.Embedding))
		}
		if n := cosine(d.Embedding, d.Embedding); math.Abs(n-1) > 1e-5 {
			t.Errorf("vector %d norm² = %v", i, n)
		}
	}
	v := resp.Data
	if near, far := cosine(v[0].Embedding, v[1].Embedding), cosine(v[0].Embedding, v[2].Embedding); near < 0.3 || near <= far+0.2 {
		t.Errorf("paraphrase similarity %.3f, unrelated %.3f", near, far)
	}
	if cosine(v[3].Embedding, v[3].Embedding) != 0 {
		t.Error("empty text should embed to the zero vector")
	}
	if want := tokens.Count(strings.Join(texts, " ")); resp.Usage.PromptTokens != want || resp.Usage.TotalTokens != want {
		t.Errorf("usage %+v, want %d", resp.Usage, want)
	}
	again, _ := m.Embed(context.Background(), &provider.EmbeddingRequest{Input: texts[:1]})
	for i, x := range again.Data[0].Embedding {
		if x != v[0].Embedding[i] {
			t.Fatal("embedding is not deterministic")
		}
	}
}

func TestEmbedDimensions(t *testing.T) {
	t.Parallel()
	m := NewEmbed(256)
	tests := []struct {
		name    string
		dims    int
		wantLen int
		wantErr bool
	}{
		{"default", 0, 256, false},
		{"shorter", 64, 64, false},
		{"too long", 512, 0, true},
		{"negative", -1, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := m.Embed(context.Background(), &provider.EmbeddingRequest{Input: []string{"graphene conducts heat well"}, Dimensions: tt.dims})
			if tt.wantErr {
				if pe, ok := provider.AsError(err); !ok || pe.Kind != provider.KindBadRequest {
					t.Errorf("err = %v, want bad request", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			e := resp.Data[0].Embedding
			if len(e) != tt.wantLen || math.Abs(cosine(e, e)-1) > 1e-5 {
				t.Errorf("len %d norm² %v", len(e), cosine(e, e))
			}
		})
	}
}

func TestChatResponseFormat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		format string
		want   map[string]any
	}{
		{"json object", `{"type":"json_object"}`, map[string]any{"answer": "Rabbits were introduced to Australia in 1859 by Thomas Austin."}},
		{"json schema", `{"type":"json_schema","json_schema":{"name":"a","schema":{"type":"object","properties":{"answer":{"type":"string"},"year":{"type":"integer"},"confident":{"type":"boolean"}}}}}`,
			map[string]any{"answer": "Rabbits were introduced to Australia in 1859 by Thomas Austin.", "year": float64(0), "confident": false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := &provider.ChatRequest{Messages: msgs("system", rabbitContext, "user", "Who introduced rabbits to Australia?"), ResponseFormat: json.RawMessage(tt.format)}
			resp, err := NewChat().Chat(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]any
			if err := json.Unmarshal([]byte(resp.Choices[0].Message.Content.String()), &got); err != nil {
				t.Fatalf("not JSON: %s", resp.Choices[0].Message.Content.String())
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %v, want %v", k, got[k], v)
				}
			}
		})
	}
}
