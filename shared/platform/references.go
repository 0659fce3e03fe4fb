package platform

import (
	"context"
	"errors"
	"fmt"

	"github.com/plinth-ai/plinth/shared/eval"
	"github.com/plinth-ai/plinth/shared/fault"
	"github.com/plinth-ai/plinth/shared/guardrail"
	"github.com/plinth-ai/plinth/shared/rag"
	"github.com/plinth-ai/plinth/shared/registry"
	"github.com/plinth-ai/plinth/shared/tenant"
)

// references are the checks every capability runs when a resource names another: a
// tenant's allowed models and guardrail policy, a knowledge base's tenant and embedding
// model, a suite's tenant, models, knowledge base and prompt. Each answers nil or an
// error of package fault's kinds whose message says what is wrong and what to do.
type references struct{ p *Platform }

func (r references) tenantRefs() tenant.References {
	return tenant.References{Model: r.anyModel, GuardrailPolicy: r.guardrailPolicy, IsolationTier: r.tierChange}
}

// tierChange refuses to move a tenant between the pool and a cell of its own in place
// where silo tenants have cells: its data would stay behind.
func (r references) tierChange(_ context.Context, id string, from, to tenant.IsolationTier) error {
	if r.p.b.Cells == nil {
		return nil
	}
	if from == tenant.TierPool {
		return fault.New(fault.ErrInvalid, "isolation_tier", "tenant %s's isolation_tier cannot change in place: its data lives in the pool; "+
			"move it into a cell of its own with POST /admin/tenants/%s/migration {\"isolation_tier\":\"silo\"}", id, id)
	}
	return fault.New(fault.ErrInvalid, "isolation_tier", "tenant %s's isolation_tier cannot change from %s to %s: moving a tenant out of its own cell is not supported", id, from, to)
}

// anyModel checks that a model ID or alias is in the registry.
func (r references) anyModel(ctx context.Context, id string) error {
	_, err := r.p.Registry.Resolve(ctx, id)
	return err
}

// modelOfKind checks that a model ID or alias is in the registry and of kind.
func (r references) modelOfKind(ctx context.Context, id string, kind registry.Kind) error {
	m, err := r.p.Registry.Resolve(ctx, id)
	if err != nil {
		return err
	}
	if m.Kind != kind {
		return fault.New(fault.ErrInvalid, "", "model %q is %s; name %s", id, m.Kind.Noun(), kind.Noun())
	}
	return nil
}

// guardrailPolicy checks that the tenant may apply the policy reference: it exists and is
// the tenant's own or platform-shared.
func (r references) guardrailPolicy(ctx context.Context, tenantID, ref string) error {
	g, err := Guardrails(r.p)
	if err != nil {
		return err
	}
	_, err = g.PolicyByRefFor(ctx, tenantID, ref)
	if errors.Is(err, guardrail.ErrPolicyNotFound) {
		return fault.New(fault.ErrNotFound, "", "guardrail policy %q does not exist or is another tenant's; "+
			"list the policies with GET /admin/guardrail-policies, or create one with POST /admin/guardrail-policies", ref)
	}
	return err
}

// tenantExists checks that a tenant exists.
func (r references) tenantExists(ctx context.Context, id string) error {
	_, err := r.p.Tenants.GetTenant(ctx, id)
	return err
}

func (r references) ragRefs() rag.References {
	return rag.References{
		Tenant: r.tenantExists,
		EmbeddingModel: func(ctx context.Context, id string) error {
			return r.modelOfKind(ctx, id, registry.KindEmbedding)
		},
		Tenants: r.tenantIDs,
	}
}

// tenantIDs lists every tenant's ID.
func (r references) tenantIDs(ctx context.Context) ([]string, error) {
	ts, err := r.p.Tenants.ListTenants(ctx)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(ts))
	for i, t := range ts {
		ids[i] = t.ID
	}
	return ids, nil
}

func (r references) evalRefs() eval.References {
	return eval.References{
		Tenant: r.tenantExists,
		ChatModel: func(ctx context.Context, id string) error {
			return r.modelOfKind(ctx, id, registry.KindChat)
		},
		KnowledgeBase: func(ctx context.Context, tenantID, kb string) error {
			svc, err := RAG(r.p)
			if err != nil {
				return fmt.Errorf("knowledge bases are not available here: %w", fault.ErrInvalid)
			}
			_, err = svc.GetKnowledgeBase(ctx, tenantID, kb)
			return err
		},
		Prompt: func(ctx context.Context, id string, version int) error {
			_, err := r.p.Registry.Prompt(ctx, id, version)
			return err
		},
	}
}
