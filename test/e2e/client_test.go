package e2e

import (
	"encoding/json"
	"math"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/shared"
)

const contextPrompt = "Context: The Plinth gateway runs on AWS Lambda behind API Gateway. " +
	"Tenants are stored in Amazon DynamoDB.\n\nQuestion: Where does the gateway run?"

func userChat(model, prompt string) openai.ChatCompletionNewParams {
	return openai.ChatCompletionNewParams{
		Model:     model,
		Messages:  []openai.ChatCompletionMessageParamUnion{openai.UserMessage(prompt)},
		MaxTokens: openai.Int(128),
	}
}

// approvedModelIDs asks the admin API for every approved model's ID and aliases.
func approvedModelIDs(t *testing.T, e *env) (ids, aliases []string) {
	t.Helper()
	resp, err := e.p.Admin(ctxFor(t), http.MethodGet, "/admin/models?status=approved", nil)
	if err != nil || resp.Status != http.StatusOK {
		t.Fatalf("GET /admin/models?status=approved: %v %v", err, resp)
	}
	var list struct {
		Data []struct {
			ID      string   `json:"id"`
			Status  string   `json:"status"`
			Aliases []string `json:"aliases"`
		} `json:"data"`
	}
	if err := resp.JSON(&list); err != nil {
		t.Fatal(err)
	}
	for _, m := range list.Data {
		if m.Status != "approved" {
			t.Errorf("admin list filtered by approved returned %s in status %s", m.ID, m.Status)
		}
		ids = append(ids, m.ID)
		aliases = append(aliases, m.Aliases...)
	}
	return ids, aliases
}

func listIDs(t *testing.T, c openai.Client) []string {
	t.Helper()
	page, err := c.Models.List(ctxFor(t))
	if err != nil {
		t.Fatalf("models.list: %v", err)
	}
	var ids []string
	for _, m := range page.Data {
		if m.Object != "model" {
			t.Errorf("model %s has object %q", m.ID, m.Object)
		}
		ids = append(ids, m.ID)
	}
	slices.Sort(ids)
	return ids
}

func TestModelsListIsWhatTheKeyMayCall(t *testing.T) {
	e := sharedEnv(t)

	t.Run("restricted tenant lists exactly its allowed models", func(t *testing.T) {
		c, rec := newClient(e.p, e.restricted.Key)
		got := listIDs(t, c)
		want := slices.Sorted(slices.Values(restrictedModels))
		if !slices.Equal(got, want) {
			t.Errorf("GET /v1/models for a tenant allowed %v listed %v", want, got)
		}
		if checkExchanges(t, rec.take()) == 0 {
			t.Error("no response body was checked")
		}
	})

	t.Run("open tenant lists every approved model", func(t *testing.T) {
		c, rec := newClient(e.p, e.open.Key)
		got := listIDs(t, c)
		ids, aliases := approvedModelIDs(t, e)
		for _, id := range ids {
			if !slices.Contains(got, id) {
				t.Errorf("approved model %s is missing from /v1/models %v", id, got)
			}
		}
		for _, id := range got {
			if !slices.Contains(ids, id) && !slices.Contains(aliases, id) {
				t.Errorf("/v1/models lists %s, which is not an approved model or alias (%v)", id, ids)
			}
		}
		for _, builtin := range []string{"local-chat", "local-embed"} {
			if !slices.Contains(got, builtin) {
				t.Errorf("built-in model %s is missing from /v1/models %v", builtin, got)
			}
		}
		checkExchanges(t, rec.take())
	})
}

func TestChatCompletion(t *testing.T) {
	e := sharedEnv(t)
	c, rec := newClient(e.p, e.open.Key)
	res, err := c.Chat.Completions.New(ctxFor(t), userChat("local-chat", contextPrompt))
	if err != nil {
		t.Fatalf("chat.completions.create: %v", err)
	}
	if len(res.Choices) != 1 {
		t.Fatalf("got %d choices, want 1", len(res.Choices))
	}
	msg := res.Choices[0].Message
	if msg.Role != "assistant" {
		t.Errorf("role = %q, want assistant", msg.Role)
	}
	// local-chat is extractive: the answer quotes the context sentence about where the
	// gateway runs.
	if !strings.Contains(msg.Content, "AWS Lambda") {
		t.Errorf("answer %q does not quote the context sentence about AWS Lambda", msg.Content)
	}
	if res.Model != "local-chat" {
		t.Errorf("model = %q, want local-chat", res.Model)
	}
	if res.Choices[0].FinishReason != "stop" {
		t.Errorf("finish_reason = %q, want stop", res.Choices[0].FinishReason)
	}
	u := res.Usage
	if u.PromptTokens <= 0 || u.CompletionTokens <= 0 || u.TotalTokens != u.PromptTokens+u.CompletionTokens {
		t.Errorf("usage = %+v, want positive prompt and completion tokens summing to total", u)
	}
	if !strings.HasPrefix(res.ID, "chatcmpl") {
		t.Logf("completion id %q does not start with chatcmpl (OpenAI's prefix)", res.ID)
	}
	if checkExchanges(t, rec.take()) != 1 {
		t.Error("want exactly one response body checked")
	}
}

func TestChatStreamingWithUsage(t *testing.T) {
	e := sharedEnv(t)
	c, rec := newClient(e.p, e.open.Key)
	ctx := ctxFor(t)

	full, err := c.Chat.Completions.New(ctx, userChat("local-chat", contextPrompt))
	if err != nil {
		t.Fatalf("non-streaming reference call: %v", err)
	}
	rec.take()

	params := userChat("local-chat", contextPrompt)
	params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	stream := c.Chat.Completions.NewStreaming(ctx, params)
	var (
		content    strings.Builder
		chunks     int
		finish     string
		usage      *openai.CompletionUsage
		afterUsage int
		ids        = map[string]bool{}
	)
	for stream.Next() {
		ch := stream.Current()
		chunks++
		ids[ch.ID] = true
		if usage != nil {
			afterUsage++
		}
		for _, choice := range ch.Choices {
			content.WriteString(choice.Delta.Content)
			if choice.FinishReason != "" {
				finish = choice.FinishReason
			}
		}
		if ch.JSON.Usage.Valid() && ch.Usage.TotalTokens > 0 {
			if len(ch.Choices) != 0 {
				t.Errorf("usage chunk carries %d choices, want none", len(ch.Choices))
			}
			u := ch.Usage
			usage = &u
		}
		if ch.Model != "local-chat" {
			t.Errorf("chunk model = %q, want local-chat", ch.Model)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("stream ended with an error: %v", err)
	}
	if chunks < 3 {
		t.Errorf("got %d chunks, want the answer in several chunks plus finish and usage", chunks)
	}
	if len(ids) != 1 {
		t.Errorf("chunks carry %d different ids, want one", len(ids))
	}
	if finish != "stop" {
		t.Errorf("finish_reason = %q, want stop", finish)
	}
	if usage == nil {
		t.Fatal("no usage chunk although stream_options.include_usage was set")
	}
	if afterUsage != 0 {
		t.Errorf("%d chunks came after the usage chunk, want it last", afterUsage)
	}
	if usage.PromptTokens != full.Usage.PromptTokens || usage.CompletionTokens != full.Usage.CompletionTokens {
		t.Errorf("stream usage %+v differs from the non-streaming usage %+v of the same request", usage, full.Usage)
	}
	if content.String() != full.Choices[0].Message.Content {
		t.Errorf("streamed content %q differs from the non-streaming answer %q", content.String(), full.Choices[0].Message.Content)
	}

	exs := rec.take()
	if len(exs) != 1 {
		t.Fatalf("recorded %d responses, want 1", len(exs))
	}
	if ct := exs[0].Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Errorf("Content-Type = %q, want text/event-stream", ct)
	}
	if _, done := sseData(exs[0].Body); !done {
		t.Errorf("stream does not end with data: [DONE]; tail: %q", tailOf(exs[0].Body, 200))
	}
	if !strings.HasSuffix(strings.TrimRight(string(exs[0].Body), "\n"), "data: [DONE]") {
		t.Errorf("data: [DONE] is not the last event; tail: %q", tailOf(exs[0].Body, 200))
	}
	if n := checkExchanges(t, exs); n != chunks {
		t.Errorf("validated %d chunks, the client read %d", n, chunks)
	}
}

func tailOf(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[len(b)-n:])
}

var weatherTool = openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
	Name:        "get_weather",
	Description: openai.String("Current weather for a city"),
	Parameters: shared.FunctionParameters{
		"type":       "object",
		"properties": map[string]any{"location": map[string]any{"type": "string", "description": "City name"}},
		"required":   []string{"location"},
	},
})

// TestToolsRoundTrip forces a tool call, answers it with a tool message and expects a
// text answer that uses the tool's result.
func TestToolsRoundTrip(t *testing.T) {
	e := sharedEnv(t)
	c, rec := newClient(e.p, e.open.Key)
	ctx := ctxFor(t)

	params := userChat("local-chat", "What is the weather in Paris today?")
	params.Tools = []openai.ChatCompletionToolUnionParam{weatherTool}
	params.ToolChoice = openai.ChatCompletionToolChoiceOptionUnionParam{OfAuto: openai.String("required")}
	first, err := c.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatalf("chat with tool_choice=required: %v", err)
	}
	if first.Choices[0].FinishReason != "tool_calls" {
		t.Errorf("finish_reason = %q, want tool_calls", first.Choices[0].FinishReason)
	}
	calls := first.Choices[0].Message.ToolCalls
	if len(calls) != 1 {
		t.Fatalf("got %d tool calls, want 1: %s", len(calls), first.RawJSON())
	}
	call := calls[0]
	if call.Type != "function" || call.Function.Name != "get_weather" || call.ID == "" {
		t.Errorf("tool call = %+v, want a get_weather function call with an id", call)
	}
	var args map[string]any
	if err := json.Unmarshal([]byte(call.Function.Arguments), &args); err != nil {
		t.Errorf("tool arguments %q are not JSON: %v", call.Function.Arguments, err)
	}

	params2 := userChat("local-chat", "What is the weather in Paris today?")
	params2.Tools = []openai.ChatCompletionToolUnionParam{weatherTool}
	params2.Messages = append(params2.Messages,
		first.Choices[0].Message.ToParam(),
		openai.ToolMessage("The weather in Paris is sunny and 21 degrees.", call.ID))
	second, err := c.Chat.Completions.New(ctx, params2)
	if err != nil {
		t.Fatalf("chat with the tool result: %v", err)
	}
	if second.Choices[0].FinishReason != "stop" || len(second.Choices[0].Message.ToolCalls) != 0 {
		t.Errorf("second turn: finish_reason %q with %d tool calls, want a plain answer", second.Choices[0].FinishReason, len(second.Choices[0].Message.ToolCalls))
	}
	if !strings.Contains(second.Choices[0].Message.Content, "sunny") {
		t.Errorf("answer %q does not use the tool result", second.Choices[0].Message.Content)
	}
	if checkExchanges(t, rec.take()) != 2 {
		t.Error("want two response bodies checked")
	}
}

func norm(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x * x
	}
	return math.Sqrt(s)
}

func TestEmbeddings(t *testing.T) {
	e := sharedEnv(t)
	c, rec := newClient(e.p, e.open.Key)
	ctx := ctxFor(t)
	inputs := []string{"tenants are stored in DynamoDB", "the gateway runs on Lambda"}

	newParams := func(format openai.EmbeddingNewParamsEncodingFormat, dims int64) openai.EmbeddingNewParams {
		p := openai.EmbeddingNewParams{
			Model:          "local-embed",
			Input:          openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: inputs},
			EncodingFormat: format,
		}
		if dims > 0 {
			p.Dimensions = openai.Int(dims)
		}
		return p
	}

	floats, err := c.Embeddings.New(ctx, newParams(openai.EmbeddingNewParamsEncodingFormatFloat, 0))
	if err != nil {
		t.Fatalf("embeddings (float): %v", err)
	}
	if len(floats.Data) != len(inputs) {
		t.Fatalf("got %d embeddings for %d inputs", len(floats.Data), len(inputs))
	}
	for i, d := range floats.Data {
		if d.Index != int64(i) {
			t.Errorf("embedding %d has index %d", i, d.Index)
		}
		if len(d.Embedding) != 1024 {
			t.Errorf("embedding %d has %d dimensions, want 1024", i, len(d.Embedding))
		}
		if n := norm(d.Embedding); math.Abs(n-1) > 1e-3 {
			t.Errorf("embedding %d has norm %f, want L2-normalised", i, n)
		}
	}
	if floats.Model != "local-embed" || floats.Usage.PromptTokens <= 0 || floats.Usage.TotalTokens < floats.Usage.PromptTokens {
		t.Errorf("model %q usage %+v, want local-embed with positive usage", floats.Model, floats.Usage)
	}
	if checkExchanges(t, rec.take()) != 1 {
		t.Error("float response not checked")
	}

	t.Run("base64 encodes the same vectors", func(t *testing.T) {
		b64, err := c.Embeddings.New(ctx, newParams(openai.EmbeddingNewParamsEncodingFormatBase64, 0))
		if err != nil {
			t.Fatalf("embeddings (base64): %v", err)
		}
		exs := rec.take()
		if len(exs) != 1 {
			t.Fatalf("recorded %d responses", len(exs))
		}
		var raw struct {
			Data []struct {
				Embedding json.RawMessage `json:"embedding"`
			} `json:"data"`
		}
		if err := json.Unmarshal(exs[0].Body, &raw); err != nil {
			t.Fatal(err)
		}
		for i, d := range raw.Data {
			if len(d.Embedding) == 0 || d.Embedding[0] != '"' {
				t.Errorf("embedding %d is %.40s…, want a base64 string", i, d.Embedding)
			}
		}
		for i := range b64.Data {
			if len(b64.Data[i].Embedding) != 1024 {
				t.Fatalf("decoded base64 embedding %d has %d dimensions", i, len(b64.Data[i].Embedding))
			}
			for j, x := range b64.Data[i].Embedding {
				if float32(x) != float32(floats.Data[i].Embedding[j]) {
					t.Fatalf("base64 embedding %d differs from the float one at %d: %v vs %v", i, j, x, floats.Data[i].Embedding[j])
				}
			}
		}
		checkExchanges(t, exs)
	})

	t.Run("dimensions shortens and renormalises", func(t *testing.T) {
		for _, format := range []openai.EmbeddingNewParamsEncodingFormat{openai.EmbeddingNewParamsEncodingFormatFloat, openai.EmbeddingNewParamsEncodingFormatBase64} {
			res, err := c.Embeddings.New(ctx, newParams(format, 64))
			if err != nil {
				t.Fatalf("embeddings (%s, dimensions 64): %v", format, err)
			}
			for i, d := range res.Data {
				if len(d.Embedding) != 64 {
					t.Errorf("%s: embedding %d has %d dimensions, want 64", format, i, len(d.Embedding))
				}
				if n := norm(d.Embedding); math.Abs(n-1) > 1e-3 {
					t.Errorf("%s: embedding %d has norm %f, want 1", format, i, n)
				}
			}
		}
		checkExchanges(t, rec.take())
	})

	t.Run("single string input", func(t *testing.T) {
		res, err := c.Embeddings.New(ctx, openai.EmbeddingNewParams{
			Model: "local-embed", Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String(inputs[0])},
			EncodingFormat: openai.EmbeddingNewParamsEncodingFormatFloat,
		})
		if err != nil {
			t.Fatalf("embeddings (string input): %v", err)
		}
		if len(res.Data) != 1 {
			t.Fatalf("got %d embeddings for one string", len(res.Data))
		}
		for j, x := range res.Data[0].Embedding {
			if float32(x) != float32(floats.Data[0].Embedding[j]) {
				t.Fatalf("string input embeds differently from the same text in an array at %d", j)
			}
		}
		checkExchanges(t, rec.take())
	})
}
