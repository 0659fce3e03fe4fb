package platform

import (
	"net/http"
	"sync"

	"github.com/plinth-ai/plinth/shared/mcpgw"
	"github.com/plinth-ai/plinth/shared/toolhub"
)

// awsTools is the tool hub and MCP gateway of the AWS functions, built once per instance.
type awsTools struct {
	once sync.Once
	svc  *toolhub.Service
	gw   *mcpgw.Gateway
	err  error
}

// tools builds the catalog, the hub (with the guardrail tools; knowledge-base and
// evaluation tools answer that they are unavailable in the gateway function) and the MCP
// gateway. On Lambda, 2026-07-28 clients are served statelessly by any instance; a
// 2025-11-25 session lives in the instance that opened it, and a client whose request
// reaches another instance is told (404) to initialize again, as the transport specifies.
func (a *AWS) tools() (*toolhub.Service, *mcpgw.Gateway, error) {
	a.toolParts.once.Do(func() {
		guards, err := a.guardrails()
		if err != nil {
			a.toolParts.err = err
			return
		}
		svc, hub, _ := newToolHub(a.Store, a.Tenants, guards, a.Usage, a.Audit, a.Log, a.Secrets.Resolve, builtinPorts(nil, guards, nil))
		a.toolParts.svc = svc
		a.toolParts.gw = mcpgw.New(hub, a.authenticator(), mcpgw.WithLogger(a.Log))
	})
	return a.toolParts.svc, a.toolParts.gw, a.toolParts.err
}

// mountTools serves /mcp, its OAuth metadata and GET /v1/tools in the gateway function.
func (a *AWS) mountTools(root, v1 *http.ServeMux) error {
	_, gw, err := a.tools()
	if err != nil {
		return err
	}
	mountMCP(root, v1, gw)
	return nil
}
