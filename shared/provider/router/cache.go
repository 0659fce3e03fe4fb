package router

import (
	"sync"

	"github.com/plinth-ai/plinth/shared/provider/openai"
)

// Cache builds each distinct deployment once and hands out the same adapters after,
// so connection pools and clients live across requests. All OpenAI-compatible
// deployments share one HTTP client unless an option gives another. Safe for
// concurrent use.
type Cache struct {
	opts []BuildOption
	mu   sync.RWMutex
	deps map[DeploymentSpec]Deployment
}

// NewCache returns an empty Cache whose builds use opts.
func NewCache(opts ...BuildOption) *Cache {
	all := append([]BuildOption{WithSharedHTTPClient(openai.NewHTTPClient())}, opts...)
	return &Cache{opts: all, deps: map[DeploymentSpec]Deployment{}}
}

// Deployment returns the deployment for spec, building it on first use.
func (c *Cache) Deployment(spec DeploymentSpec) (Deployment, error) {
	c.mu.RLock()
	d, ok := c.deps[spec]
	c.mu.RUnlock()
	if ok {
		return d, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if d, ok := c.deps[spec]; ok {
		return d, nil
	}
	d, err := Build(spec, c.opts...)
	if err != nil {
		return Deployment{}, err
	}
	c.deps[spec] = d
	return d, nil
}

// Forget drops a cached deployment (after its registry entry changed or was removed).
func (c *Cache) Forget(spec DeploymentSpec) {
	c.mu.Lock()
	delete(c.deps, spec)
	c.mu.Unlock()
}
