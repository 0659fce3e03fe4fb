package platform

import (
	"context"
	"errors"
	"fmt"

	"github.com/plinth-ai/plinth/shared/customize"
	"github.com/plinth-ai/plinth/shared/eval"
	"github.com/plinth-ai/plinth/shared/gateway"
	"github.com/plinth-ai/plinth/shared/provider"
	"github.com/plinth-ai/plinth/shared/rag"
)

// Platform features call the gateway service directly, as the tenant they act for:
// the tenant's model policy, quotas, guardrails, cache and usage apply to them exactly
// as to an application's calls.

// evalTarget invokes a suite's target model as the suite's tenant. Evaluation may also
// score the tenant's own models still pending review (the customisation flow's
// comparison before approval); nothing else can call them.
func evalTarget(gw *gateway.Gateway) eval.TargetFunc {
	return func(ctx context.Context, tenantID string, req *provider.ChatRequest) (*provider.ChatResponse, error) {
		c, err := gw.CallerFor(ctx, tenantID, gateway.KeyEvaluation)
		if err != nil {
			return nil, err
		}
		c.Candidates = true
		res, err := gw.Chat(ctx, c, &gateway.ChatRequest{ChatRequest: *req})
		if err != nil {
			return nil, err
		}
		return res.Response, nil
	}
}

// evalJudge invokes a judge model as the suite's tenant. The judge's prompt is the
// platform's rubric, not the tenant's words: the input guardrail does not judge it.
func evalJudge(gw *gateway.Gateway) eval.TargetFunc {
	return func(ctx context.Context, tenantID string, req *provider.ChatRequest) (*provider.ChatResponse, error) {
		c, err := gw.CallerFor(ctx, tenantID, gateway.KeyEvaluation)
		if err != nil {
			return nil, err
		}
		rubric := req.Messages
		r := *req
		r.Messages = nil
		res, err := gw.Chat(ctx, c, &gateway.ChatRequest{ChatRequest: r, Frame: func([]provider.Message) []provider.Message { return rubric }})
		if err != nil {
			return nil, err
		}
		return res.Response, nil
	}
}

// synthesisChat writes synthetic training data with a model the tenant may call, as
// the tenant: the prompt (instructions around the knowledge base's passage) is the
// platform's, so the input guardrail does not judge it.
func synthesisChat(gw *gateway.Gateway) customize.Generator {
	return func(ctx context.Context, tenantID string, req *provider.ChatRequest) (*provider.ChatResponse, error) {
		c, err := gw.CallerFor(ctx, tenantID, "platform:customization")
		if err != nil {
			return nil, err
		}
		prompt := req.Messages
		r := *req
		r.Messages = nil
		res, err := gw.Chat(ctx, c, &gateway.ChatRequest{ChatRequest: r, Frame: func([]provider.Message) []provider.Message { return prompt }})
		if errors.Is(err, gateway.ErrModelNotFound) || errors.Is(err, gateway.ErrModelNotAllowed) || errors.Is(err, gateway.ErrModelNotApproved) || errors.Is(err, gateway.ErrModelKind) {
			return nil, fmt.Errorf("%w: %v", customize.ErrForbidden, err)
		}
		if err != nil {
			return nil, err
		}
		if res.Refused() {
			return nil, fmt.Errorf("the output guardrail withheld the generated pairs")
		}
		return res.Response, nil
	}
}

// ragChat answers grounded questions as the knowledge base's tenant.
func ragChat(gw *gateway.Gateway) rag.ChatFunc {
	return func(ctx context.Context, tenantID string, req *gateway.ChatRequest) (*gateway.ChatResult, error) {
		c, err := gw.CallerFor(ctx, tenantID, gateway.KeyRAG)
		if err != nil {
			return nil, err
		}
		return gw.Chat(ctx, c, req)
	}
}

// ragEmbedders embeds documents and queries with the knowledge base's embedding model,
// as its tenant.
func ragEmbedders(gw *gateway.Gateway) rag.EmbedderResolver {
	return func(_ context.Context, tenantID, model string) (rag.Embedder, error) {
		return rag.EmbedderFunc(func(ctx context.Context, texts []string, inputType string) ([][]float32, error) {
			key := gateway.KeyIngestion
			if inputType == "search_query" {
				key = gateway.KeyRAG
			}
			c, err := gw.CallerFor(ctx, tenantID, key)
			if err != nil {
				return nil, err
			}
			res, err := gw.Embed(ctx, c, &gateway.EmbedRequest{Model: model, Input: texts, InputType: inputType})
			if err != nil {
				return nil, fmt.Errorf("embed %d texts with %s: %w", len(texts), model, err)
			}
			return res.Vectors, nil
		}), nil
	}
}
