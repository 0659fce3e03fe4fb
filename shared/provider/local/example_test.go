package local_test

import (
	"context"
	"fmt"

	"github.com/plinth-ai/plinth/shared/provider"
	"github.com/plinth-ai/plinth/shared/provider/local"
	"github.com/plinth-ai/plinth/shared/tokens"
)

func ExampleNewChat() {
	m := local.NewChat()
	resp, err := m.Chat(context.Background(), &provider.ChatRequest{Messages: []provider.Message{
		{Role: "user", Content: provider.TextContent("Context: The Loire is the longest river in France. Paris lies on the Seine.\n\nQuestion: Which river is the longest in France?")},
	}})
	if err != nil {
		panic(err)
	}
	fmt.Println(resp.Choices[0].Message.Content.String())
	fmt.Println(resp.Usage.CompletionTokens == tokens.Count(resp.Choices[0].Message.Content.String()))
	// Output:
	// The Loire is the longest river in France.
	// true
}

func ExampleNewEmbed() {
	m := local.NewEmbed(256)
	resp, err := m.Embed(context.Background(), &provider.EmbeddingRequest{Input: []string{"hashing embedder"}, Dimensions: 64})
	if err != nil {
		panic(err)
	}
	fmt.Println(len(resp.Data[0].Embedding), resp.Usage.PromptTokens)
	// Output: 64 2
}
