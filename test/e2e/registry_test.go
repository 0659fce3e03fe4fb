package e2e

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"

	"github.com/plinth-ai/plinth/shared/provider/providertest"
	"github.com/plinth-ai/plinth/test/e2e/platformtest"
)

// newUpstream starts a fake OpenAI-compatible upstream for the test.
func newUpstream(t *testing.T, opts ...providertest.Option) *providertest.OpenAIServer {
	t.Helper()
	s := providertest.NewOpenAIServer(opts...)
	t.Cleanup(s.Close)
	return s
}

func registerApproved(t *testing.T, p *platformtest.Platform, model map[string]any) {
	t.Helper()
	ctx := ctxFor(t)
	if _, err := p.RegisterModel(ctx, model); err != nil {
		t.Fatal(err)
	}
	status, err := p.Review(ctx, model["id"].(string), "approve")
	if err != nil {
		t.Fatal(err)
	}
	if status != "approved" {
		t.Fatalf("model %s has status %q after approval", model["id"], status)
	}
}

func statusOf(err error) int {
	var apiErr *openai.Error
	if errors.As(err, &apiErr) {
		return apiErr.StatusCode
	}
	return 0
}

// TestRegisteredModelNeedsReview registers a model served by an OpenAI-compatible
// upstream: it cannot be called (or listed) until approved, then answers under its own
// name through the upstream, for chat, streaming, tools and embeddings.
func TestRegisteredModelNeedsReview(t *testing.T) {
	e := sharedEnv(t)
	ctx := ctxFor(t)
	const reply = "Answer from the reviewed upstream."
	up := newUpstream(t, providertest.WithReply(reply))
	c, rec := newClient(e.p, e.open.Key)

	status, err := e.p.RegisterModel(ctx, platformtest.OpenAIModel("e2e-reviewed", "chat", up.BaseURL(), "upstream-gpt"))
	if err != nil {
		t.Fatal(err)
	}
	if status != "pending-review" {
		t.Errorf("new model status = %q, want pending-review", status)
	}

	_, err = c.Chat.Completions.New(ctx, userChat("e2e-reviewed", "hello"))
	if s := statusOf(err); s != http.StatusForbidden && s != http.StatusNotFound {
		t.Errorf("calling a pending model: got status %d (%v), want 403 or 404", s, err)
	}
	if up.Requests() != 0 {
		t.Errorf("the upstream of a pending model received %d requests", up.Requests())
	}
	if ids := listIDs(t, c); slices.Contains(ids, "e2e-reviewed") {
		t.Errorf("/v1/models lists the pending model: %v", ids)
	}

	status, err = e.p.Review(ctx, "e2e-reviewed", "approve")
	if err != nil {
		t.Fatal(err)
	}
	if status != "approved" {
		t.Fatalf("status after approval = %q", status)
	}
	if ids := listIDs(t, c); !slices.Contains(ids, "e2e-reviewed") {
		t.Errorf("/v1/models does not list the approved model: %v", ids)
	}

	res, err := c.Chat.Completions.New(ctx, userChat("e2e-reviewed", "hello"))
	if err != nil {
		t.Fatalf("calling the approved model: %v", err)
	}
	if res.Model != "e2e-reviewed" {
		t.Errorf("response model = %q, want e2e-reviewed", res.Model)
	}
	if res.Choices[0].Message.Content != reply {
		t.Errorf("content = %q, want the upstream's %q", res.Choices[0].Message.Content, reply)
	}
	body, hdr := up.LastRequest()
	var sent struct {
		Model string `json:"model"`
	}
	if err := json.Unmarshal(body, &sent); err != nil || sent.Model != "upstream-gpt" {
		t.Errorf("upstream received model %q (%v), want the deployment's upstream-gpt", sent.Model, err)
	}
	if got := hdr.Get("Authorization"); got != "Bearer sk-upstream-e2e-reviewed" {
		t.Errorf("upstream Authorization = %q, want the deployment's key", got)
	}
	if hdr.Get("Authorization") == "Bearer "+e.open.Key {
		t.Error("the tenant's platform key leaked to the upstream")
	}

	t.Run("streaming", func(t *testing.T) {
		params := userChat("e2e-reviewed", "hello")
		params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
		stream := c.Chat.Completions.NewStreaming(ctx, params)
		var content strings.Builder
		var usage bool
		for stream.Next() {
			ch := stream.Current()
			if ch.Model != "e2e-reviewed" {
				t.Errorf("chunk model = %q, want e2e-reviewed", ch.Model)
			}
			for _, choice := range ch.Choices {
				content.WriteString(choice.Delta.Content)
			}
			usage = usage || ch.Usage.TotalTokens > 0
		}
		if err := stream.Err(); err != nil {
			t.Fatalf("stream: %v", err)
		}
		if content.String() != reply || !usage {
			t.Errorf("streamed %q (usage %v), want %q with usage", content.String(), usage, reply)
		}
	})

	t.Run("tools", func(t *testing.T) {
		params := userChat("e2e-reviewed", "What is the weather in Paris?")
		params.Tools = []openai.ChatCompletionToolUnionParam{weatherTool}
		params.ToolChoice = openai.ChatCompletionToolChoiceOptionUnionParam{OfAuto: openai.String("required")}
		res, err := c.Chat.Completions.New(ctx, params)
		if err != nil {
			t.Fatalf("tool call: %v", err)
		}
		calls := res.Choices[0].Message.ToolCalls
		if len(calls) != 1 || calls[0].Function.Name != "get_weather" || calls[0].Function.Arguments != `{"location":"Paris"}` {
			t.Fatalf("tool calls = %s, want get_weather({\"location\":\"Paris\"})", res.Choices[0].Message.RawJSON())
		}
		body, _ := up.LastRequest()
		var sent struct {
			Tools []struct {
				Function struct {
					Name       string         `json:"name"`
					Parameters map[string]any `json:"parameters"`
				} `json:"function"`
			} `json:"tools"`
			ToolChoice any `json:"tool_choice"`
		}
		if err := json.Unmarshal(body, &sent); err != nil || len(sent.Tools) != 1 || sent.Tools[0].Function.Name != "get_weather" || sent.Tools[0].Function.Parameters["type"] != "object" {
			t.Errorf("upstream received tools %s", body)
		}

		stream := c.Chat.Completions.NewStreaming(ctx, params)
		acc := openai.ChatCompletionAccumulator{}
		for stream.Next() {
			acc.AddChunk(stream.Current())
		}
		if err := stream.Err(); err != nil {
			t.Fatalf("streamed tool call: %v", err)
		}
		if len(acc.Choices) != 1 || len(acc.Choices[0].Message.ToolCalls) != 1 ||
			acc.Choices[0].Message.ToolCalls[0].Function.Arguments != `{"location":"Paris"}` {
			t.Errorf("streamed tool call accumulated to %+v", acc.Choices)
		}
	})
	checkExchanges(t, rec.take())

	t.Run("embedding model", func(t *testing.T) {
		upE := newUpstream(t, providertest.WithEmbeddingDimensions(8))
		registerApproved(t, e.p, platformtest.OpenAIModel("e2e-upstream-embed", "embedding", upE.BaseURL(), "upstream-embed"))
		for _, format := range []openai.EmbeddingNewParamsEncodingFormat{openai.EmbeddingNewParamsEncodingFormatFloat, openai.EmbeddingNewParamsEncodingFormatBase64} {
			res, err := c.Embeddings.New(ctx, openai.EmbeddingNewParams{
				Model: "e2e-upstream-embed", EncodingFormat: format,
				Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"one", "two"}},
			})
			if err != nil {
				t.Fatalf("%s: %v", format, err)
			}
			if res.Model != "e2e-upstream-embed" || len(res.Data) != 2 {
				t.Fatalf("%s: model %q with %d embeddings", format, res.Model, len(res.Data))
			}
			for i, text := range []string{"one", "two"} {
				want := providertest.Vector(text, 8)
				got := res.Data[i].Embedding
				if len(got) != len(want) {
					t.Fatalf("%s: embedding %d has %d dimensions, want %d", format, i, len(got), len(want))
				}
				for j := range want {
					if float32(got[j]) != want[j] {
						t.Fatalf("%s: embedding %d differs from the upstream's at %d: %v vs %v", format, i, j, got[j], want[j])
					}
				}
			}
		}
		checkExchanges(t, rec.take())
	})
}

// TestFallbackAnswers registers model A, whose upstream fails with 500s, with fallbacks
// ["B"]: the caller gets B's answer, named B.
func TestFallbackAnswers(t *testing.T) {
	e := sharedEnv(t)
	ctx := ctxFor(t)
	upA := newUpstream(t, providertest.FailAlways(providertest.ServerError))
	upB := newUpstream(t, providertest.WithReply("answered by B"))
	registerApproved(t, e.p, platformtest.OpenAIModel("e2e-fallback-b", "chat", upB.BaseURL(), "model-b"))
	registerApproved(t, e.p, platformtest.OpenAIModel("e2e-fallback-a", "chat", upA.BaseURL(), "model-a", "e2e-fallback-b"))
	c, rec := newClient(e.p, e.open.Key)

	res, err := c.Chat.Completions.New(ctx, userChat("e2e-fallback-a", "hello"))
	if err != nil {
		t.Fatalf("calling A: %v", err)
	}
	if res.Model != "e2e-fallback-b" || res.Choices[0].Message.Content != "answered by B" {
		t.Errorf("got model %q content %q, want B's answer named e2e-fallback-b", res.Model, res.Choices[0].Message.Content)
	}
	if upA.Requests() == 0 {
		t.Error("A's upstream was never tried")
	}
	if upB.Requests() != 1 {
		t.Errorf("B's upstream got %d requests, want 1", upB.Requests())
	}

	t.Run("streaming", func(t *testing.T) {
		params := userChat("e2e-fallback-a", "hello")
		params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
		stream := c.Chat.Completions.NewStreaming(ctx, params)
		var content strings.Builder
		models := map[string]bool{}
		for stream.Next() {
			ch := stream.Current()
			models[ch.Model] = true
			for _, choice := range ch.Choices {
				content.WriteString(choice.Delta.Content)
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatalf("stream: %v", err)
		}
		if content.String() != "answered by B" || len(models) != 1 || !models["e2e-fallback-b"] {
			t.Errorf("streamed %q from models %v, want B's answer named e2e-fallback-b", content.String(), models)
		}
	})
	checkExchanges(t, rec.take())
}

// TestStreamCutByUpstream: when the upstream dies mid-stream the client sees an error,
// never a stream that looks complete.
func TestStreamCutByUpstream(t *testing.T) {
	e := sharedEnv(t)
	ctx := ctxFor(t)
	up := newUpstream(t, providertest.WithReply("one two three four five six"), providertest.WithCutStream(3))
	registerApproved(t, e.p, platformtest.OpenAIModel("e2e-cut", "chat", up.BaseURL(), "cut"))
	c, rec := newClient(e.p, e.open.Key)

	params := userChat("e2e-cut", "hello")
	params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	stream := c.Chat.Completions.NewStreaming(ctx, params)
	finished := false
	for stream.Next() {
		for _, choice := range stream.Current().Choices {
			finished = finished || choice.FinishReason != ""
		}
	}
	if stream.Err() == nil {
		t.Fatal("a stream cut by the upstream ended without an error for the client")
	}
	if finished {
		t.Error("a cut stream reported a finish_reason")
	}
	exs := rec.take()
	if len(exs) != 1 {
		t.Fatalf("recorded %d responses", len(exs))
	}
	if exs[0].Status == http.StatusOK {
		events, done := sseData(exs[0].Body)
		if done {
			t.Errorf("a cut stream ended with data: [DONE]: %q", exs[0].Body)
		}
		if len(events) == 0 || !strings.Contains(string(events[len(events)-1]), `"error"`) {
			t.Errorf("a cut stream does not end with an error event: %q", exs[0].Body)
		}
	}
	checkExchanges(t, exs)
}
