// Package routing plugs the model router into the gateway's Invoker port: a registry
// model becomes a routing target of its deployments (weights, retries, breakers,
// fallbacks), with provider clients built once per model version and reused, and keys
// read through a secret.Resolver.
package routing

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/plinth-ai/plinth/shared/gateway"
	"github.com/plinth-ai/plinth/shared/provider"
	"github.com/plinth-ai/plinth/shared/provider/router"
	"github.com/plinth-ai/plinth/shared/registry"
	"github.com/plinth-ai/plinth/shared/secret"
)

// Invoker implements gateway.Invoker on the router: registry entries become routing
// targets whose provider clients are built once per model version and reused.
type Invoker struct {
	router  *router.Router
	models  gateway.Models
	secrets secret.Resolver
	build   []router.BuildOption

	// resolveChat and resolveEmbed reach fallback models of each kind (built once, not
	// per request).
	resolveChat, resolveEmbed router.Resolver

	mu      sync.Mutex
	targets map[string]cachedTarget
	warned  sync.Map // misconfigured deployments already logged, by model, version and deployment
}

type cachedTarget struct {
	version int64
	updated time.Time
	target  router.Target
}

// New returns an Invoker; secrets defaults to secret.Env.
func New(r *router.Router, models gateway.Models, secrets secret.Resolver, opts ...router.BuildOption) *Invoker {
	if r == nil || models == nil {
		panic("routing: nil router or models")
	}
	if secrets == nil {
		secrets = secret.Env
	}
	inv := &Invoker{router: r, models: models, secrets: secrets, build: opts, targets: map[string]cachedTarget{}}
	inv.resolveChat, inv.resolveEmbed = inv.resolve(registry.KindChat), inv.resolve(registry.KindEmbedding)
	return inv
}

var _ gateway.Invoker = (*Invoker)(nil)

func (inv *Invoker) target(ctx context.Context, m *registry.Model) (router.Target, error) {
	inv.mu.Lock()
	c, ok := inv.targets[m.ID]
	inv.mu.Unlock()
	if ok && c.version == m.Version && c.updated.Equal(m.UpdatedAt) {
		return c.target, nil
	}
	t := router.Target{
		ModelID:   m.ID,
		Fallbacks: m.Fallbacks,
		Timeouts: router.Timeouts{
			FirstToken: time.Duration(m.Timeouts.FirstTokenMS) * time.Millisecond,
			Idle:       time.Duration(m.Timeouts.IdleMS) * time.Millisecond,
			Total:      time.Duration(m.Timeouts.TotalMS) * time.Millisecond,
		},
		MaxOutputTokens: m.MaxOutputTokens,
	}
	broken := false
	for _, d := range m.Deployments {
		// A deployment that cannot be built (its key is missing, Bedrock without AWS
		// configuration) is kept with its reason: the router skips it and falls back.
		dep, err := inv.deployment(ctx, m, d)
		if err != nil {
			dep, broken = router.Deployment{ID: d.ID, Weight: d.Weight, Err: err}, true
			if _, seen := inv.warned.LoadOrStore(fmt.Sprintf("%s#%d#%s", m.ID, m.Version, d.ID), true); !seen {
				slog.WarnContext(ctx, "model deployment cannot be called; requests fall back", "model", m.ID, "deployment", d.ID, "error", err)
			}
		}
		t.Deployments = append(t.Deployments, dep)
	}
	if !broken { // a broken deployment is looked at again next time: a secret may come back
		inv.mu.Lock()
		inv.targets[m.ID] = cachedTarget{version: m.Version, updated: m.UpdatedAt, target: t}
		inv.mu.Unlock()
	}
	return t, nil
}

func (inv *Invoker) deployment(ctx context.Context, m *registry.Model, d registry.Deployment) (router.Deployment, error) {
	key, err := inv.secrets(ctx, KeyOf(d))
	if err != nil {
		return router.Deployment{}, err
	}
	opts := inv.build
	if d.Provider == registry.ProviderLocal && m.Dimensions > 0 {
		opts = append(opts[:len(opts):len(opts)], router.WithLocalEmbedDimensions(m.Dimensions))
	}
	dep, err := router.Build(router.DeploymentSpec{
		ID: d.ID, Provider: d.Provider, BaseURL: d.BaseURL, Model: d.Model, APIKey: key,
		Region: d.Region, Weight: d.Weight, APIVersion: d.APIVersion,
	}, opts...)
	dep.Prefill = d.AcceptsPrefill()
	return dep, err
}

// Available reports whether m can answer at all: one of its deployments, or of its
// fallbacks' (in turn), is configured so it can be called. /v1/models lists only such
// models.
func (inv *Invoker) Available(ctx context.Context, m *registry.Model) bool {
	return inv.available(ctx, m, map[string]bool{})
}

func (inv *Invoker) available(ctx context.Context, m *registry.Model, seen map[string]bool) bool {
	if seen[m.ID] {
		return false
	}
	seen[m.ID] = true
	t, err := inv.target(ctx, m)
	if err != nil {
		return false
	}
	for _, d := range t.Deployments {
		if d.Err == nil && d.Weight >= 0 {
			return true
		}
	}
	for _, id := range m.Fallbacks {
		f, err := inv.models.Resolve(ctx, id)
		if err == nil && f.Status.Invocable() && f.Kind == m.Kind && inv.available(ctx, f, seen) {
			return true
		}
	}
	return false
}

// resolve is the router's way to reach fallback models: only invocable models of the
// same kind are eligible.
func (inv *Invoker) resolve(kind registry.Kind) router.Resolver {
	return func(ctx context.Context, id string) (router.Target, error) {
		m, err := inv.models.Resolve(ctx, id)
		if err != nil {
			return router.Target{}, err
		}
		if !m.Status.Invocable() || m.Kind != kind {
			return router.Target{}, fmt.Errorf("fallback %s: %w", id, registry.ErrNotInvocable)
		}
		return inv.target(ctx, m)
	}
}

// served describes who answered a request for m; the prices are those of the model that
// answered (m itself, unless a fallback did).
func (inv *Invoker) served(ctx context.Context, m *registry.Model, s router.Served) gateway.Served {
	out := gateway.Served{ModelID: s.ModelID, DeploymentID: s.DeploymentID, Attempts: s.Attempts}
	if s.ModelID == m.ID {
		out.Prices = m.Prices
	} else if m, err := inv.models.Resolve(ctx, s.ModelID); err == nil {
		out.Prices = m.Prices
	}
	return out
}

// Chat implements gateway.Invoker.
func (inv *Invoker) Chat(ctx context.Context, m *registry.Model, req *provider.ChatRequest) (*provider.ChatResponse, gateway.Served, error) {
	t, err := inv.target(ctx, m)
	if err != nil {
		return nil, gateway.Served{ModelID: m.ID}, err
	}
	resp, s, err := inv.router.Chat(ctx, t, inv.resolveChat, req)
	return resp, inv.served(ctx, m, s), err
}

// ChatStream implements gateway.Invoker.
func (inv *Invoker) ChatStream(ctx context.Context, m *registry.Model, req *provider.ChatRequest) (provider.Stream, gateway.Served, error) {
	t, err := inv.target(ctx, m)
	if err != nil {
		return nil, gateway.Served{ModelID: m.ID}, err
	}
	st, s, err := inv.router.ChatStream(ctx, t, inv.resolveChat, req)
	return st, inv.served(ctx, m, s), err
}

// Embed implements gateway.Invoker.
func (inv *Invoker) Embed(ctx context.Context, m *registry.Model, req *provider.EmbeddingRequest) (*provider.EmbeddingResponse, gateway.Served, error) {
	t, err := inv.target(ctx, m)
	if err != nil {
		return nil, gateway.Served{ModelID: m.ID}, err
	}
	resp, s, err := inv.router.Embed(ctx, t, inv.resolveEmbed, req)
	return resp, inv.served(ctx, m, s), err
}

// KeyOf says where a deployment's provider API key is kept.
func KeyOf(d registry.Deployment) secret.Ref {
	return secret.Ref{Owner: "deployment " + d.ID, Value: d.APIKey, Env: d.APIKeyEnv, Secret: d.APIKeySecret}
}
