// Package gatewayquota adapts quota.Quotas to the gateway's Quota port.
package gatewayquota

import (
	"context"
	"errors"

	"github.com/plinth-ai/plinth/shared/gateway"
	"github.com/plinth-ai/plinth/shared/quota"
)

// Quota implements gateway.Quota.
type Quota struct{ q *quota.Quotas }

var _ gateway.Quota = (*Quota)(nil)

// New returns the adapter. It panics if q is nil.
func New(q *quota.Quotas) *Quota {
	if q == nil {
		panic("gatewayquota.New: nil quotas")
	}
	return &Quota{q: q}
}

// Reserve holds the estimate against the caller's tenant and key limits. Refusals match
// quota.ErrRateLimited or quota.ErrBudgetExceeded (a *quota.LimitError in the chain).
func (a *Quota) Reserve(ctx context.Context, c *gateway.Caller, model string, est gateway.Estimate) (gateway.Reservation, error) {
	if c == nil || c.Tenant == nil {
		return nil, errors.New("gatewayquota: caller has no tenant")
	}
	r, err := a.q.Reserve(ctx, quota.ReserveRequest{Tenant: c.Tenant.ID, KeyID: c.Principal.KeyID, Limits: c.Tenant.Limits, KeyLimits: c.KeyLimits, EstTokens: est.Tokens, EstUSD: est.USD})
	if err != nil {
		return nil, err
	}
	return reservation{q: a.q, r: r}, nil
}

type reservation struct {
	q *quota.Quotas
	r *quota.Reservation
}

// Settle reconciles the reservation with the actual usage.
func (r reservation) Settle(ctx context.Context, tokens int64, usd float64) error {
	return r.q.Reconcile(ctx, r.r, tokens, usd)
}
