package toolhub

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/plinth-ai/plinth/shared/store"
)

// allow counts one call against a grant's calls per minute, atomically with the bound,
// in the tenant's quota partition (kept in memory locally, like other quota counters).
func (h *Hub) allow(ctx context.Context, c *Caller, g *Grant) (time.Duration, error) {
	if h.st == nil {
		return 0, nil
	}
	now := h.now().UTC()
	minute := now.Truncate(time.Minute)
	subject := "tenant"
	if g.KeyID != "" {
		subject = "key:" + g.KeyID
	}
	key := store.Key{PK: "QUOTA#" + g.Tenant, SK: "TOOLS#" + g.Server + "#" + subject + "#" + minute.Format("200601021504")}
	_, err := h.st.Add(ctx, key, []store.Delta{{Name: "calls", By: 1, Max: float64(g.CallsPerMinute), HasMax: true}},
		store.AddOptions{ExpiresAt: minute.Add(2 * time.Minute)})
	if errors.Is(err, store.ErrConditionFailed) {
		return minute.Add(time.Minute).Sub(now), fmt.Errorf("%s on %s: %w", c.Principal.TenantID, g.Server, ErrRateLimited)
	}
	if err != nil {
		return 0, fmt.Errorf("count tool calls: %w", err)
	}
	return 0, nil
}
