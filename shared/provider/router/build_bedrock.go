package router

import (
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"

	"github.com/plinth-ai/plinth/shared/provider/bedrock"
)

// WithAWSConfig enables "bedrock" deployments, signed with cfg's credentials. A
// deployment's Region overrides cfg's and its BaseURL, when set, replaces the endpoint
// (a VPC endpoint, or a fake in tests). Clients are shared per region and endpoint.
func WithAWSConfig(cfg aws.Config) BuildOption {
	var mu sync.Mutex
	clients := map[[2]string]*bedrockruntime.Client{}
	clientFor := func(region, endpoint string) *bedrockruntime.Client {
		mu.Lock()
		defer mu.Unlock()
		k := [2]string{region, endpoint}
		if c := clients[k]; c != nil {
			return c
		}
		c := bedrock.NewClient(cfg, func(o *bedrockruntime.Options) {
			if region != "" {
				o.Region = region
			}
			if endpoint != "" {
				o.BaseEndpoint = aws.String(endpoint)
			}
		})
		clients[k] = c
		return c
	}
	return func(o *buildOptions) {
		o.bedrock = func(spec DeploymentSpec) (Deployment, error) {
			c := clientFor(spec.Region, spec.BaseURL)
			return Deployment{Chat: bedrock.NewChat(c, spec.Model), Embed: bedrock.NewEmbed(c, spec.Model)}, nil
		}
	}
}
