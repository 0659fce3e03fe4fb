package gateway

import (
	"context"
	"fmt"

	"github.com/plinth-ai/plinth/shared/registry"
)

// availability is implemented by invokers that know whether a model can answer at all:
// one of its deployments, or of its fallbacks', is configured so it can be called.
type availability interface {
	Available(ctx context.Context, m *registry.Model) bool
}

// Models returns the model names (IDs and aliases) c may invoke, decided by the same
// policy function as invocation: exactly what a call would admit.
func (g *Gateway) Models(ctx context.Context, c *Caller) ([]ModelInfo, error) {
	if c == nil {
		return nil, errNoCaller
	}
	models, err := g.models.Snapshot(ctx)
	if err != nil {
		return nil, fmt.Errorf("list models: %w", err)
	}
	avail, _ := g.invoker.(availability)
	out := make([]ModelInfo, 0, len(models))
	for _, m := range models {
		if !m.Status.Invocable() || !c.sees(m) || avail != nil && !avail.Available(ctx, m) {
			continue
		}
		names := append([]string{m.ID}, m.Aliases...)
		for _, name := range names {
			if c.allowed(m, name) != nil {
				continue
			}
			out = append(out, ModelInfo{ID: name, Created: m.CreatedAt.Unix(), OwnedBy: owner(m), Kind: m.Kind})
		}
	}
	return out, nil
}

// Model returns one model name c may invoke, or an error matching ErrModelNotFound.
func (g *Gateway) Model(ctx context.Context, c *Caller, id string) (ModelInfo, error) {
	list, err := g.Models(ctx, c)
	if err != nil {
		return ModelInfo{}, err
	}
	for _, m := range list {
		if m.ID == id {
			return m, nil
		}
	}
	return ModelInfo{}, &Error{Kind: ErrModelNotFound, Param: "model",
		Message: "The model `" + id + "` does not exist or you do not have access to it."}
}

func owner(m *registry.Model) string {
	if m.Owner != "" {
		return m.Owner
	}
	return "plinth"
}
