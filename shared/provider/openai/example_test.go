package openai_test

import (
	"context"
	"fmt"

	"github.com/plinth-ai/plinth/shared/provider"
	"github.com/plinth-ai/plinth/shared/provider/openai"
	"github.com/plinth-ai/plinth/shared/provider/providertest"
)

func ExampleNew() {
	upstream := providertest.NewOpenAIServer(providertest.WithReply("Hi there."))
	defer upstream.Close()

	c := openai.New(upstream.BaseURL(), "gpt-4o-mini", "sk-example")
	resp, err := c.Chat(context.Background(), &provider.ChatRequest{Messages: []provider.Message{
		{Role: "user", Content: provider.TextContent("Say hi")},
	}})
	if err != nil {
		panic(err)
	}
	fmt.Println(resp.Model, resp.Choices[0].Message.Content.String(), resp.Usage.TotalTokens > 0)
	// Output: gpt-4o-mini Hi there. true
}
