package providertest

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// TestOpenAIClientReadsTheFake drives the fake with OpenAI's own Go SDK: whatever the
// SDK reads, the gateway's clients will read too.
func TestOpenAIClientReadsTheFake(t *testing.T) {
	t.Parallel()
	srv := NewOpenAIServer(WithAPIKey("sk-test"), WithReply(`Quote "this" & <that>.`), WithEmbeddingDimensions(4))
	defer srv.Close()
	c := openai.NewClient(option.WithBaseURL(srv.BaseURL()), option.WithAPIKey("sk-test"), option.WithMaxRetries(0))
	ctx := context.Background()
	params := openai.ChatCompletionNewParams{Model: "gpt-4o-mini", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}}

	t.Run("chat", func(t *testing.T) {
		resp, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "gpt-4o-mini", Messages: params.Messages})
		if err != nil {
			t.Fatal(err)
		}
		if resp.Choices[0].Message.Content != `Quote "this" & <that>.` || resp.Choices[0].FinishReason != "stop" || resp.Usage.CompletionTokens != 4 || resp.Model != "gpt-4o-mini" {
			t.Errorf("response %s", resp.RawJSON())
		}
	})
	t.Run("stream", func(t *testing.T) {
		s := c.Chat.Completions.NewStreaming(ctx, params)
		acc := openai.ChatCompletionAccumulator{}
		chunks := 0
		for s.Next() {
			acc.AddChunk(s.Current())
			chunks++
		}
		if err := s.Err(); err != nil {
			t.Fatal(err)
		}
		if acc.Choices[0].Message.Content != `Quote "this" & <that>.` || acc.Usage.TotalTokens == 0 || chunks != 7 {
			t.Errorf("accumulated %q usage %+v chunks %d", acc.Choices[0].Message.Content, acc.Usage, chunks)
		}
	})
	t.Run("tools", func(t *testing.T) {
		p := openai.ChatCompletionNewParams{Model: "gpt-4o-mini", Messages: params.Messages,
			Tools:      []openai.ChatCompletionToolUnionParam{openai.ChatCompletionFunctionTool(openai.FunctionDefinitionParam{Name: "get_weather"})},
			ToolChoice: openai.ChatCompletionToolChoiceOptionUnionParam{OfAuto: openai.String("required")}}
		resp, err := c.Chat.Completions.New(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		tc := resp.Choices[0].Message.ToolCalls
		if len(tc) != 1 || tc[0].Function.Name != "get_weather" || !json.Valid([]byte(tc[0].Function.Arguments)) {
			t.Errorf("response %s", resp.RawJSON())
		}
	})
	t.Run("embeddings base64", func(t *testing.T) {
		resp, err := c.Embeddings.New(ctx, openai.EmbeddingNewParams{Model: "text-embedding-3-small",
			Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"a", "b"}}, EncodingFormat: openai.EmbeddingNewParamsEncodingFormatBase64})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Data) != 2 || resp.Usage.PromptTokens != 2 {
			t.Errorf("response %s", resp.RawJSON())
		}
	})
	t.Run("rate limit error", func(t *testing.T) {
		limited := NewOpenAIServer(FailAlways(RateLimited(2 * time.Second)))
		defer limited.Close()
		lc := openai.NewClient(option.WithBaseURL(limited.BaseURL()), option.WithAPIKey("k"), option.WithMaxRetries(0))
		_, err := lc.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "m", Messages: params.Messages})
		var apiErr *openai.Error
		if !asError(err, &apiErr) || apiErr.StatusCode != 429 || apiErr.Code != "rate_limit_exceeded" || apiErr.Response.Header.Get("Retry-After") != "2" {
			t.Errorf("err = %v", err)
		}
	})
}

func asError(err error, target **openai.Error) bool {
	return errors.As(err, target)
}
