package gateway

import (
	"context"
	"fmt"

	"github.com/plinth-ai/plinth/shared/provider"
	"github.com/plinth-ai/plinth/shared/registry"
)

// maxEmbeddingInputs is OpenAI's limit on inputs per request.
const maxEmbeddingInputs = 2048

// Embed embeds req.Input for c with an embedding model: resolve, reserve, invoke, settle,
// record. Vectors come back in input order.
func (g *Gateway) Embed(ctx context.Context, c *Caller, req *EmbedRequest) (res *EmbedResult, err error) {
	cl := g.begin(ctx, c, "embeddings")
	defer func() { cl.finish(err) }()
	if c == nil {
		return nil, errNoCaller
	}
	if err := validateEmbed(req); err != nil {
		return nil, err
	}
	m, err := g.resolve(ctx, c, req.Model, registry.KindEmbedding)
	if err != nil {
		return nil, err
	}
	cl.model, cl.rec.Model = m, m.ID
	if d := req.Dimensions; d != 0 {
		switch {
		case !m.SupportsDimensions:
			return nil, invalid("dimensions", "model %s does not support the dimensions parameter", m.ID)
		case m.Dimensions > 0 && d > m.Dimensions:
			return nil, invalid("dimensions", "dimensions must be at most %d for model %s", m.Dimensions, m.ID)
		}
	}

	var tokens int64
	for _, s := range req.Input {
		tokens += int64(len(s)+2)/3 + 1
	}
	cl.est = Estimate{Tokens: tokens, USD: m.Prices.Cost(tokens, 0)}
	if err := cl.reserve(); err != nil {
		return nil, err
	}
	resp, served, err := g.invoker.Embed(ctx, m, &provider.EmbeddingRequest{Model: m.ID, Input: req.Input, Dimensions: req.Dimensions, InputType: req.InputType})
	cl.rec.Deployment = served.DeploymentID
	if err != nil {
		cl.settle(0, 0)
		return nil, upstreamError(err)
	}
	rec := cl.rec
	rec.Model = served.ModelID
	if resp.Usage.PromptTokens > 0 {
		rec.InputTokens = int64(resp.Usage.PromptTokens)
	} else {
		rec.InputTokens, rec.Estimated = tokens, true
	}
	rec.CostUSD = served.Prices.Cost(rec.InputTokens, 0)
	cl.settle(rec.InputTokens, rec.CostUSD)

	vecs := make([][]float32, len(req.Input))
	for _, d := range resp.Data {
		if d.Index < 0 || d.Index >= len(vecs) {
			return nil, &Error{Kind: ErrUpstream, Message: fmt.Sprintf("the model provider returned a vector for input %d of %d", d.Index, len(vecs))}
		}
		vecs[d.Index] = d.Embedding
	}
	for i, v := range vecs {
		if v == nil {
			return nil, &Error{Kind: ErrUpstream, Message: fmt.Sprintf("the model provider returned no vector for input %d", i)}
		}
	}
	return &EmbedResult{Vectors: vecs, Model: served.ModelID, Served: served, InputTokens: rec.InputTokens, Estimated: rec.Estimated}, nil
}

func validateEmbed(req *EmbedRequest) error {
	if req.Model == "" {
		return invalid("model", "you must provide a model parameter")
	}
	switch n := len(req.Input); {
	case n == 0:
		return invalid("input", "input must not be empty")
	case n > maxEmbeddingInputs:
		return invalid("input", "input may hold at most %d items", maxEmbeddingInputs)
	}
	for i, s := range req.Input {
		if s == "" {
			if len(req.Input) == 1 {
				return invalid("input", "input must not be empty")
			}
			return invalid(fmt.Sprintf("input[%d]", i), "input[%d] must not be empty", i)
		}
	}
	if req.Dimensions < 0 {
		return invalid("dimensions", "dimensions must be at least 1")
	}
	return nil
}
