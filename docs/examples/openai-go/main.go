// Command openai-go calls Plinth with OpenAI's own Go SDK, unchanged: a chat completion, a
// stream and embeddings. It reads the platform's URL and an API key from PLINTH and KEY
// (eval "$(make -s env)" sets both).
//
//	go run ./docs/examples/openai-go
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "openai-go:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	base, key := os.Getenv("PLINTH"), os.Getenv("KEY")
	if base == "" || key == "" {
		return fmt.Errorf(`set PLINTH and KEY first: eval "$(make -s env)"`)
	}
	client := openai.NewClient(option.WithBaseURL(base+"/v1"), option.WithAPIKey(key))

	resp, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model:    "local-chat",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Plinth is a platform. What is Plinth?")},
	})
	if err != nil {
		return err
	}
	fmt.Println("chat:", resp.Choices[0].Message.Content)

	stream := client.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
		Model:    "local-chat",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Streams arrive in chunks. How do streams arrive?")},
	})
	var acc openai.ChatCompletionAccumulator
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		return err
	}
	fmt.Println("stream:", acc.Choices[0].Message.Content)

	emb, err := client.Embeddings.New(ctx, openai.EmbeddingNewParams{
		Model: "local-embed",
		Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"a first text", "a second"}},
	})
	if err != nil {
		return err
	}
	fmt.Printf("embeddings: %d vectors of %d dimensions\n", len(emb.Data), len(emb.Data[0].Embedding))
	return nil
}
