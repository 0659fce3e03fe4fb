package platform

import (
	"github.com/plinth-ai/plinth/shared/agent"
)

// Agenting is the agent registry and the Responses API that runs agents.
type Agenting struct {
	Registry  *agent.Service
	Responses *agent.Responses
}

// Agents builds the agent registry and runtime: model steps through the gateway service,
// tool calls through the tool hub, responses kept in the store.
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
		reg := agent.NewService(st)
		rt := agent.NewRuntime(gw, tools.Hub, reg, p.log)
		return &Agenting{Registry: reg, Responses: agent.NewResponses(rt, reg, st)}, nil
	})
}

// AgentsAPI serves /admin/agents and the Responses API (/v1/responses).
func AgentsAPI(p *Platform, m *Muxes) error {
	a, err := Agents(p)
	if err != nil {
		return err
	}
	agent.AdminRoutes(m.Admin, a.Registry)
	agent.Routes(m.V1, a.Responses)
	return nil
}
