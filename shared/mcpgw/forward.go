package mcpgw

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/plinth-ai/plinth/shared/toolhub"
)

// forward sends a method other than tools/call to the upstream that owns what it names.
func (g *Gateway) forward(ctx context.Context, ss *mcp.ServerSession, serverID, method string, params any, out any) error {
	c, ok := callerFrom(ctx)
	if !ok {
		return &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: "no caller"}
	}
	raw, err := json.Marshal(params)
	if err != nil {
		return &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: err.Error()}
	}
	p := toolhub.CallParams{Relay: &relay{ss: ss, log: g.log}}
	res, err := g.hub.Forward(ctx, c, serverID, method, raw, p)
	if err != nil {
		return rpcError(err, method)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(res, out); err != nil {
		return &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: "the upstream's " + method + " result is malformed: " + err.Error()}
	}
	return nil
}

func (g *Gateway) readResource(serverID string) mcp.ResourceHandler {
	return func(ctx context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
		var out mcp.ReadResourceResult
		if err := g.forward(ctx, req.Session, serverID, "resources/read", req.Params, &out); err != nil {
			return nil, err
		}
		return &out, nil
	}
}

func (g *Gateway) getPrompt(serverID, upstream string) mcp.PromptHandler {
	return func(ctx context.Context, req *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
		p := *req.Params
		p.Name = upstream
		var out mcp.GetPromptResult
		if err := g.forward(ctx, req.Session, serverID, "prompts/get", &p, &out); err != nil {
			return nil, err
		}
		return &out, nil
	}
}

// owner finds the granted server that offers a prompt (by caller-visible name), a
// resource or a resource template.
func (g *Gateway) owner(ctx context.Context, c *toolhub.Caller, prompt, uri string) (*toolhub.Server, string, bool) {
	v, err := g.hub.Visible(ctx, c)
	if err != nil {
		return nil, "", false
	}
	for _, s := range v.Servers {
		if prompt != "" && strings.HasPrefix(prompt, s.Prefix) {
			for _, raw := range s.Prompts {
				var p struct {
					Name string `json:"name"`
				}
				if json.Unmarshal(raw, &p) == nil && s.Prefix+p.Name == prompt {
					return s, p.Name, true
				}
			}
		}
		if uri != "" {
			for _, list := range [][]json.RawMessage{s.Resources, s.ResourceTemplates} {
				for _, raw := range list {
					var r struct {
						URI         string `json:"uri"`
						URITemplate string `json:"uriTemplate"`
					}
					if json.Unmarshal(raw, &r) == nil && (r.URI == uri || r.URITemplate == uri || templatePrefixMatch(r.URITemplate, uri)) {
						return s, "", true
					}
				}
			}
		}
	}
	return nil, "", false
}

// templatePrefixMatch reports whether uri starts with a template's literal part.
func templatePrefixMatch(tmpl, uri string) bool {
	if tmpl == "" {
		return false
	}
	lit, _, _ := strings.Cut(tmpl, "{")
	return lit != "" && strings.HasPrefix(uri, lit)
}

func (g *Gateway) complete(ctx context.Context, req *mcp.CompleteRequest) (*mcp.CompleteResult, error) {
	c, ok := callerFrom(ctx)
	if !ok || req.Params == nil || req.Params.Ref == nil {
		return &mcp.CompleteResult{Completion: mcp.CompletionResultDetails{Values: []string{}}}, nil
	}
	p := *req.Params
	ref := *p.Ref
	s, upstream, found := g.owner(ctx, c, ref.Name, ref.URI)
	if !found {
		return &mcp.CompleteResult{Completion: mcp.CompletionResultDetails{Values: []string{}}}, nil
	}
	if upstream != "" {
		ref.Name = upstream
	}
	p.Ref = &ref
	var out mcp.CompleteResult
	if err := g.forward(ctx, req.Session, s.ID, "completion/complete", &p, &out); err != nil {
		return nil, err
	}
	if out.Completion.Values == nil {
		out.Completion.Values = []string{}
	}
	return &out, nil
}

func (g *Gateway) subscribe(method string) func(context.Context, *mcp.SubscribeRequest) error {
	return func(ctx context.Context, req *mcp.SubscribeRequest) error {
		c, ok := callerFrom(ctx)
		if !ok {
			return &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: "no caller"}
		}
		s, _, found := g.owner(ctx, c, "", req.Params.URI)
		if !found {
			return mcp.ResourceNotFoundError(req.Params.URI)
		}
		return g.forward(ctx, req.Session, s.ID, method, req.Params, nil)
	}
}

func (g *Gateway) unsubscribeHandler(ctx context.Context, req *mcp.UnsubscribeRequest) error {
	c, ok := callerFrom(ctx)
	if !ok {
		return &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: "no caller"}
	}
	s, _, found := g.owner(ctx, c, "", req.Params.URI)
	if !found {
		return mcp.ResourceNotFoundError(req.Params.URI)
	}
	return g.forward(ctx, req.Session, s.ID, "resources/unsubscribe", req.Params, nil)
}
