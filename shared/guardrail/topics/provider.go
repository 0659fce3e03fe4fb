package topics

import (
	"context"
	"fmt"

	"github.com/plinth-ai/plinth/shared/provider"
)

// ProviderEmbedder adapts a provider embedding model (a deployment of an embedding model
// in the registry) to Embedder.
type ProviderEmbedder struct {
	Model provider.EmbeddingModel
	// Name is the model name sent in the request.
	Name string
}

// Embed returns one vector per text, in order.
func (p ProviderEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	resp, err := p.Model.Embed(ctx, &provider.EmbeddingRequest{Model: p.Name, Input: texts})
	if err != nil {
		return nil, fmt.Errorf("embed %d texts with %s: %w", len(texts), p.Name, err)
	}
	out := make([][]float32, len(texts))
	for _, d := range resp.Data {
		if d.Index < 0 || d.Index >= len(out) {
			return nil, fmt.Errorf("embed with %s: index %d out of range", p.Name, d.Index)
		}
		out[d.Index] = d.Embedding
	}
	for i, v := range out {
		if v == nil {
			return nil, fmt.Errorf("embed with %s: no vector for input %d", p.Name, i)
		}
	}
	return out, nil
}
