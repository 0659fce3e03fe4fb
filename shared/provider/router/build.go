package router

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/plinth-ai/plinth/shared/provider"
	"github.com/plinth-ai/plinth/shared/provider/local"
	"github.com/plinth-ai/plinth/shared/provider/openai"
)

// DeploymentSpec is a registry deployment entry: where and how to reach a model.
type DeploymentSpec struct {
	ID string
	// Provider is "openai" (any OpenAI-compatible URL), "azure" (Azure OpenAI), "bedrock" or "local".
	Provider string
	BaseURL  string
	// Model is the provider's model ID: an OpenAI model name, an Azure deployment name, a
	// Bedrock model or inference-profile ID, or local-chat / local-embed.
	Model  string
	APIKey string
	Region string
	Weight int
	// APIVersion, when set on an "openai" deployment, selects Azure OpenAI's
	// deployment-path API with this api-version.
	APIVersion string
}

// ErrUnknownProvider is returned by Build for a provider name it does not know.
var ErrUnknownProvider = errors.New("unknown provider")

// BuildOption configures Build.
type BuildOption func(*buildOptions)

type buildOptions struct {
	httpClient *http.Client
	stdlibHTTP bool
	bedrock    func(spec DeploymentSpec) (Deployment, error)
	embedDim   int
	localChat  func(model string) provider.ChatModel
}

// WithLocalChat serves local chat deployments whose model fn recognises (fn returns
// nil for the others, which local-chat serves): the trainable local-tune and the
// models fine-tuned from it.
func WithLocalChat(fn func(model string) provider.ChatModel) BuildOption {
	return func(o *buildOptions) { o.localChat = fn }
}

// WithSharedHTTPClient makes OpenAI-compatible deployments share one HTTP client and
// its connection pool (recommended: build it once with openai.NewHTTPClient).
func WithSharedHTTPClient(c *http.Client) BuildOption {
	return func(o *buildOptions) { o.httpClient = c }
}

// WithStdlibUpstreamHTTP sends plain-http upstream requests through net/http (and so
// through the shared client's transport, e.g. a tracing one) instead of the OpenAI
// adapter's leaner HTTP/1.1 client. https upstreams always use net/http.
func WithStdlibUpstreamHTTP() BuildOption { return func(o *buildOptions) { o.stdlibHTTP = true } }

// WithLocalEmbedDimensions sets local-embed's vector size (default local.DefaultDimensions).
func WithLocalEmbedDimensions(n int) BuildOption { return func(o *buildOptions) { o.embedDim = n } }

// Build turns a registry deployment entry into a Deployment with the matching adapter.
func Build(spec DeploymentSpec, opts ...BuildOption) (Deployment, error) {
	var o buildOptions
	for _, opt := range opts {
		opt(&o)
	}
	d := Deployment{ID: spec.ID, Weight: spec.Weight}
	if d.ID == "" {
		d.ID = spec.Provider + ":" + spec.BaseURL + ":" + spec.Model
	}
	switch strings.ToLower(spec.Provider) {
	case "openai", "azure":
		if spec.BaseURL == "" {
			return Deployment{}, fmt.Errorf("deployment %s: an openai deployment needs a base_url", d.ID)
		}
		var copts []openai.Option
		if o.httpClient != nil {
			copts = append(copts, openai.WithHTTPClient(o.httpClient))
		}
		if o.stdlibHTTP {
			copts = append(copts, openai.WithStdlibHTTP())
		}
		if strings.EqualFold(spec.Provider, "azure") || spec.APIVersion != "" {
			copts = append(copts, openai.WithAzure(spec.APIVersion), openai.WithName("azure"))
		}
		c := openai.New(spec.BaseURL, spec.Model, spec.APIKey, copts...)
		d.Chat, d.Embed = c, c
	case "local":
		d.Chat, d.Embed = local.NewChat(), local.NewEmbed(o.embedDim)
		if o.localChat != nil {
			if m := o.localChat(spec.Model); m != nil {
				d.Chat, d.Embed = m, nil
			}
		}
	case "bedrock":
		if o.bedrock == nil {
			return Deployment{}, fmt.Errorf("deployment %s: bedrock needs AWS configuration (WithAWSConfig)", d.ID)
		}
		bd, err := o.bedrock(spec)
		if err != nil {
			return Deployment{}, fmt.Errorf("deployment %s: %w", d.ID, err)
		}
		bd.ID, bd.Weight = d.ID, d.Weight
		return bd, nil
	default:
		return Deployment{}, fmt.Errorf("deployment %s: %w %q", d.ID, ErrUnknownProvider, spec.Provider)
	}
	return d, nil
}
