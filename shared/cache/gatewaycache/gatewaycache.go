// Package gatewaycache adapts the response cache to the gateway's Cache port.
package gatewaycache

import (
	"context"
	"log/slog"

	"github.com/plinth-ai/plinth/shared/cache"
	"github.com/plinth-ai/plinth/shared/gateway"
	"github.com/plinth-ai/plinth/shared/provider"
	"github.com/plinth-ai/plinth/shared/tenant"
)

// Cache implements gateway.Cache.
type Cache struct {
	c   *cache.Cache
	log *slog.Logger
}

var _ gateway.Cache = (*Cache)(nil)

// New returns the adapter. It panics if c is nil.
func New(c *cache.Cache, log *slog.Logger) *Cache {
	if c == nil {
		panic("gatewaycache.New: nil cache")
	}
	if log == nil {
		log = slog.Default()
	}
	return &Cache{c: c, log: log}
}

func settings(c *gateway.Caller) tenant.CacheSettings {
	if c == nil || c.Tenant == nil {
		return tenant.CacheSettings{}
	}
	return c.Tenant.Cache
}

// Lookup returns the caller's tenant's cached answer. Store failures count as misses
// (and are logged): the cache must never fail a request.
func (a *Cache) Lookup(ctx context.Context, c *gateway.Caller, req *provider.ChatRequest) (*provider.ChatResponse, bool) {
	e, hit, err := a.c.Lookup(ctx, c.Principal.TenantID, req, settings(c))
	if err != nil {
		a.log.Warn("cache lookup failed", "tenant", c.Principal.TenantID, "error", err)
		return nil, false
	}
	if hit == cache.Miss {
		return nil, false
	}
	return e.Response, true
}

// Store caches a complete answer for the caller's tenant.
func (a *Cache) Store(ctx context.Context, c *gateway.Caller, req *provider.ChatRequest, resp *provider.ChatResponse) {
	if err := a.c.Store(ctx, c.Principal.TenantID, req, settings(c), &cache.Entry{Response: resp}); err != nil {
		a.log.Warn("cache store failed", "tenant", c.Principal.TenantID, "error", err)
	}
}
