package router

import (
	"context"
	"errors"
	"testing"

	"github.com/plinth-ai/plinth/shared/provider"
	"github.com/plinth-ai/plinth/shared/provider/providertest"
)

func TestBuild(t *testing.T) {
	t.Parallel()
	srv := providertest.NewOpenAIServer(providertest.WithAPIKey("sk"), providertest.WithReply("from upstream"))
	defer srv.Close()
	tests := []struct {
		name    string
		spec    DeploymentSpec
		want    string
		wantErr error
	}{
		{"openai", DeploymentSpec{Provider: "openai", BaseURL: srv.BaseURL(), Model: "gpt-4o-mini", APIKey: "sk", Weight: 2}, "from upstream", nil},
		{"azure", DeploymentSpec{Provider: "openai", BaseURL: srv.URL, Model: "dep", APIKey: "sk", APIVersion: "2024-10-21"}, "from upstream", nil},
		{"local", DeploymentSpec{Provider: "local", Model: "local-chat"}, "", nil},
		{"unknown", DeploymentSpec{Provider: "mystery"}, "", ErrUnknownProvider},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Build(tt.spec)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.ID == "" || d.Weight != tt.spec.Weight || d.Chat == nil || d.Embed == nil {
				t.Fatalf("deployment %+v", d)
			}
			resp, err := d.Chat.Chat(context.Background(), &provider.ChatRequest{Messages: []provider.Message{{Role: "user", Content: provider.TextContent("hello")}}})
			if err != nil {
				t.Fatal(err)
			}
			if tt.want != "" && resp.Choices[0].Message.Content.String() != tt.want {
				t.Errorf("answer %q", resp.Choices[0].Message.Content.String())
			}
		})
	}
}
