package platform

import (
	"context"
	"encoding/json"

	"github.com/plinth-ai/plinth/shared/agent"
	"github.com/plinth-ai/plinth/shared/registry"
	"github.com/plinth-ai/plinth/statemachines"
)

// Agenting is the agent registry, the Responses API that runs agents, and durable runs
// on the agent state machine (nil when the platform's flows cannot complete task tokens).
type Agenting struct {
	Registry  *agent.Service
	Responses *agent.Responses
	Durable   *agent.Durable
}

// Agents builds the agent registry and runtime: model steps through the gateway service,
// tool calls through the tool hub, responses and runs kept in the store.
func Agents(p *Platform) (*Agenting, error) {
	return part(p, partAgents, func() (*Agenting, error) {
		gw, err := Gateway(p)
		if err != nil {
			return nil, err
		}
		tools, err := Tools(p)
		if err != nil {
			return nil, err
		}
		st := p.b.Data.Store
		refs := references{p}
		reg := agent.NewService(st, agent.WithReferences(agent.References{
			Tenant: refs.tenantExists,
			ChatModel: func(ctx context.Context, id string) error {
				return refs.modelOfKind(ctx, id, registry.KindChat)
			},
		}))
		rt := agent.NewRuntime(gw, tools.Hub, reg, p.log)
		a := &Agenting{Registry: reg, Responses: agent.NewResponses(rt, reg, st)}
		deployed := true
		if h, ok := p.b.Flows.(interface{ Has(machine string) bool }); ok {
			deployed = h.Has(statemachines.Agent)
		}
		if tokens, ok := p.b.Flows.(agent.TaskTokens); ok && deployed {
			start := func(ctx context.Context, in json.RawMessage) (string, error) {
				return p.startFlow(ctx, statemachines.Agent, in)
			}
			a.Durable = agent.NewDurable(rt, st, gw.CallerFor, start, tokens)
		}
		return a, nil
	})
}

// AgentsAPI serves /admin/agents, the Responses API (/v1/responses) and durable runs
// (/v1/agent-runs) where the flows support them.
func AgentsAPI(p *Platform, m *Muxes) error {
	a, err := Agents(p)
	if err != nil {
		return err
	}
	agent.AdminRoutes(m.Admin, a.Registry)
	agent.Routes(m.V1, a.Responses)
	if a.Durable != nil {
		agent.RunRoutes(m.V1, a.Durable)
	}
	return nil
}

// AgentTasks are the agent state machine's tasks (nil without durable runs).
func AgentTasks(p *Platform) (map[string]TaskFunc, error) {
	a, err := Agents(p)
	if err != nil || a.Durable == nil {
		return nil, err
	}
	out := map[string]TaskFunc{}
	for k, f := range a.Durable.Tasks() {
		out[k] = f
	}
	return auditAgentTasks(p, out), nil
}
