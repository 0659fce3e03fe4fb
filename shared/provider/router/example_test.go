package router_test

import (
	"context"
	"fmt"

	"github.com/plinth-ai/plinth/shared/provider"
	"github.com/plinth-ai/plinth/shared/provider/router"
)

// A model with one local deployment and a fallback, routed once.
func ExampleRouter_Chat() {
	cache := router.NewCache()
	dep, err := cache.Deployment(router.DeploymentSpec{ID: "builtin", Provider: "local", Model: "local-chat"})
	if err != nil {
		panic(err)
	}
	target := router.Target{ModelID: "local-chat", Deployments: []router.Deployment{dep}, Fallbacks: []string{"other-model"}}
	resolve := func(ctx context.Context, id string) (router.Target, error) {
		return router.Target{}, fmt.Errorf("model %s is not in the registry", id)
	}
	r := router.New()
	resp, served, err := r.Chat(context.Background(), target, resolve, &provider.ChatRequest{Messages: []provider.Message{
		{Role: "system", Content: provider.TextContent("Context: Plinth routes requests to model deployments. It retries failures.")},
		{Role: "user", Content: provider.TextContent("What does Plinth route?")},
	}})
	if err != nil {
		panic(err)
	}
	fmt.Println(resp.Choices[0].Message.Content.String())
	fmt.Println(served.ModelID, served.DeploymentID, served.Attempts)
	// Output:
	// Plinth routes requests to model deployments.
	// local-chat builtin 1
}
