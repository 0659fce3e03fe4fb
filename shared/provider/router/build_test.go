package router

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/plinth-ai/plinth/shared/provider"
	"github.com/plinth-ai/plinth/shared/provider/providertest"
)

func TestBuild(t *testing.T) {
	t.Parallel()
	srv := providertest.NewOpenAIServer(providertest.WithAPIKey("sk"), providertest.WithReply("from upstream"))
	defer srv.Close()
	br := providertest.NewBedrockServer(providertest.WithBedrockReply("from bedrock"))
	defer br.Close()
	awsCfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", "")}
	tests := []struct {
		name    string
		spec    DeploymentSpec
		want    string
		wantErr error
	}{
		{"openai", DeploymentSpec{Provider: "openai", BaseURL: srv.BaseURL(), Model: "gpt-4o-mini", APIKey: "sk", Weight: 2}, "from upstream", nil},
		{"azure", DeploymentSpec{Provider: "openai", BaseURL: srv.URL, Model: "dep", APIKey: "sk", APIVersion: "2024-10-21"}, "from upstream", nil},
		{"local", DeploymentSpec{Provider: "local", Model: "local-chat"}, "", nil},
		{"bedrock", DeploymentSpec{Provider: "bedrock", BaseURL: br.URL, Region: "eu-west-1", Model: "anthropic.claude-3-haiku-20240307-v1:0"}, "from bedrock", nil},
		{"unknown", DeploymentSpec{Provider: "mystery"}, "", ErrUnknownProvider},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Build(tt.spec, WithAWSConfig(awsCfg), WithStdlibUpstreamHTTP())
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

func TestBuildBedrockNeedsConfig(t *testing.T) {
	t.Parallel()
	if _, err := Build(DeploymentSpec{Provider: "bedrock", Model: "m"}); err == nil {
		t.Error("bedrock deployment built without AWS configuration")
	}
}

func TestCacheBuildsOnce(t *testing.T) {
	t.Parallel()
	c := NewCache()
	spec := DeploymentSpec{Provider: "openai", BaseURL: "http://127.0.0.1:1/v1", Model: "m"}
	a, err := c.Deployment(spec)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := c.Deployment(spec)
	if a.Chat != b.Chat {
		t.Error("the same spec built twice")
	}
	c.Forget(spec)
	if d, _ := c.Deployment(spec); d.Chat == a.Chat {
		t.Error("Forget kept the old deployment")
	}
	if _, err := c.Deployment(DeploymentSpec{Provider: "nope"}); err == nil {
		t.Error("unknown provider built")
	}
}
