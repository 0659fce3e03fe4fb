package mcpgw

import (
	"encoding/json"
	"net/http"

	"github.com/plinth-ai/plinth/shared/gateway"
	"github.com/plinth-ai/plinth/shared/httpapi"
	"github.com/plinth-ai/plinth/shared/toolhub"
)

// ToolInfo is one tool in GET /v1/tools.
type ToolInfo struct {
	// Name is the name to call it by (on /mcp, or in an agent's tools).
	Name         string          `json:"name"`
	Title        string          `json:"title,omitempty"`
	Description  string          `json:"description,omitempty"`
	InputSchema  json.RawMessage `json:"input_schema"`
	OutputSchema json.RawMessage `json:"output_schema,omitempty"`
	Server       string          `json:"server"`
	Kind         toolhub.Kind    `json:"kind"`
	Hash         string          `json:"hash"`
}

// ToolList is the body of GET /v1/tools.
type ToolList struct {
	Object string     `json:"object"`
	Data   []ToolInfo `json:"data"`
}

// ToolRoutes mounts GET /v1/tools on mux (behind the /v1 authentication): the caller's
// tools, decided by the same policy as /mcp's tools/list and tools/call.
func (g *Gateway) ToolRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/tools", func(w http.ResponseWriter, r *http.Request) {
		gc, ok := gateway.CallerFrom(r.Context())
		if !ok {
			httpapi.WriteError(w, httpapi.Errorf(http.StatusUnauthorized, httpapi.CodeInvalidAPIKey, "no valid credentials were supplied"))
			return
		}
		v, err := g.hub.Visible(r.Context(), &toolhub.Caller{Principal: gc.Principal, Tenant: gc.Tenant})
		if err != nil {
			httpapi.WriteError(w, err)
			return
		}
		out := ToolList{Object: "list", Data: make([]ToolInfo, 0, len(v.Tools))}
		for _, e := range v.Tools {
			out.Data = append(out.Data, ToolInfo{Name: e.Name, Title: e.Tool.Title, Description: e.Tool.Description,
				InputSchema: e.Tool.InputSchema, OutputSchema: e.Tool.OutputSchema, Server: e.Server.ID, Kind: e.Server.Kind, Hash: e.Tool.Hash})
		}
		httpapi.WriteJSON(w, http.StatusOK, out)
	})
}
