// Package guardrails plugs the guardrail service into the gateway's Guard port: the
// caller's tenant's policy, cached briefly, judges the caller's messages, the answer,
// and streamed answers by windows. A policy that cannot be applied to a stream fails
// closed, never silently open.
package guardrails

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/plinth-ai/plinth/shared/gateway"
	"github.com/plinth-ai/plinth/shared/guardrail"
	"github.com/plinth-ai/plinth/shared/httpapi"
	"github.com/plinth-ai/plinth/shared/provider"
)

// Guard implements gateway.Guard on the guardrail service. Policies are read through a
// short-lived cache so the request path does not hit the store for them: a stored
// version never changes, and "latest" references see a new version within ttl.
type Guard struct {
	svc *guardrail.Service
	ttl time.Duration

	mu       sync.Mutex
	policies map[policyKey]cachedPolicy
}

// policyKey is a cached policy's tenant and reference.
type policyKey struct{ tenant, ref string }

type cachedPolicy struct {
	p     *guardrail.Policy
	until time.Time
}

// New returns the guard over svc. It panics if svc is nil.
func New(svc *guardrail.Service) *Guard {
	if svc == nil {
		panic("guardrails: nil guardrail service")
	}
	return &Guard{svc: svc, ttl: 10 * time.Second, policies: map[policyKey]cachedPolicy{}}
}

var _ gateway.Guard = (*Guard)(nil)

// policy returns the policy that applies to the caller's tenant: the one it is assigned,
// if the tenant may apply it (its own or a platform-shared one), under the platform's
// guardrail baseline; nil when there is neither.
func (g *Guard) policy(ctx context.Context, c *gateway.Caller, ref string) (*guardrail.Policy, error) {
	now := time.Now()
	tenantID := ""
	if c.Tenant != nil {
		tenantID = c.Tenant.ID
	}
	key := policyKey{tenantID, ref}
	g.mu.Lock()
	cached, ok := g.policies[key]
	g.mu.Unlock()
	if ok && now.Before(cached.until) {
		return cached.p, nil
	}
	p, err := g.svc.PolicyForTenant(ctx, tenantID, ref)
	if errors.Is(err, guardrail.ErrPolicyNotFound) && ref != "" {
		// The tenant's requests cannot be guarded as configured: refuse them, and say why.
		return nil, &httpapi.Error{Status: http.StatusServiceUnavailable, Code: httpapi.CodeGuardrailPolicyMissing,
			Message: fmt.Sprintf("tenant %s is assigned guardrail policy %q, which no longer exists or is not the tenant's; "+
				"requests are refused until a platform admin assigns an existing one (PATCH /admin/tenants/%s)", tenantID, ref, tenantID)}
	}
	if err != nil {
		return nil, err
	}
	g.mu.Lock()
	if len(g.policies) > 4096 {
		clear(g.policies)
	}
	g.policies[key] = cachedPolicy{p: p, until: now.Add(g.ttl)}
	g.mu.Unlock()
	return p, nil
}

func ref(c *gateway.Caller) string {
	if c.Tenant == nil {
		return ""
	}
	return c.Tenant.GuardrailPolicy
}

// Input implements gateway.Guard.
func (g *Guard) Input(ctx context.Context, c *gateway.Caller, msgs []provider.Message) (gateway.GuardVerdict, error) {
	p, err := g.policy(ctx, c, ref(c))
	if err != nil {
		return gateway.GuardVerdict{}, err
	}
	if p == nil {
		out := make([]string, len(msgs))
		for i := range msgs {
			out[i] = msgs[i].Content.String()
		}
		return gateway.GuardVerdict{Texts: out}, nil
	}
	gm := make([]guardrail.Message, len(msgs))
	for i := range msgs {
		gm[i] = guardrail.Message{Role: msgs[i].Role, Text: msgs[i].Content.String()}
	}
	v, err := g.svc.CheckMessagesWith(ctx, p, guardrail.SourceInput, gm)
	return gateway.GuardVerdict(v), err
}

// Output implements gateway.Guard.
func (g *Guard) Output(ctx context.Context, c *gateway.Caller, out []string) (gateway.GuardVerdict, error) {
	p, err := g.policy(ctx, c, ref(c))
	if err != nil {
		return gateway.GuardVerdict{}, err
	}
	if p == nil {
		return gateway.GuardVerdict{Texts: out}, nil
	}
	v, err := g.svc.CheckWith(ctx, p, guardrail.SourceOutput, out)
	return gateway.GuardVerdict(v), err
}

// OutputStream implements gateway.Guard.
func (g *Guard) OutputStream(ctx context.Context, c *gateway.Caller) gateway.StreamGuard {
	p, err := g.policy(ctx, c, ref(c))
	if err != nil {
		return failClosed{msg: "The response was withheld: its guardrail policy could not be loaded."}
	}
	if p == nil {
		return nil
	}
	s, err := g.svc.OutputStreamWith(ctx, p)
	if err != nil {
		return failClosed{msg: "The response was withheld: its guardrail policy could not be applied."}
	}
	if s == nil {
		return nil
	}
	return s
}

// failClosed blocks a stream whose policy cannot be evaluated: output guardrails fail
// closed, never silently open.
type failClosed struct{ msg string }

func (f failClosed) Write(string) (string, bool) { return "", true }
func (f failClosed) Flush() (string, bool)       { return "", true }
func (f failClosed) Findings() map[string]int    { return map[string]int{"GUARDRAIL_UNAVAILABLE": 1} }
func (f failClosed) Message() string             { return f.msg }
func (f failClosed) Filters() []string           { return nil }
