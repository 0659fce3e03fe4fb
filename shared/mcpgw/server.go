package mcpgw

//lint:file-ignore SA1019 MCP 2026-07-28 deprecates logging, sampling and roots (SEP-2577), but 2025-11-25 clients and servers still use them and the gateway must carry them

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/plinth-ai/plinth/shared/toolhub"
)

// Name is the gateway's MCP server name.
const Name = "plinth-mcp-gateway"

type cachedServer struct {
	server *mcp.Server
	used   time.Time
}

// maxCachedServers bounds the stateless servers kept between requests.
const maxCachedServers = 1024

// requestServer is the stateless handler's getServer: the caller's virtual server for
// the current view, reused while the view is unchanged.
func (g *Gateway) requestServer(r *http.Request) *mcp.Server {
	c, ok := callerFrom(r.Context())
	if !ok {
		return nil
	}
	view, err := g.hub.Visible(r.Context(), c)
	if err != nil {
		g.log.ErrorContext(r.Context(), "cannot read the caller's tools", "error", err)
		return nil
	}
	key := principalKey(c) + "|" + fingerprint(view)
	now := time.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	if cs, ok := g.cache[key]; ok {
		cs.used = now
		return cs.server
	}
	if len(g.cache) >= maxCachedServers {
		var oldest string
		for k, cs := range g.cache {
			if oldest == "" || cs.used.Before(g.cache[oldest].used) {
				oldest = k
			}
		}
		delete(g.cache, oldest)
	}
	s, _ := g.build(view)
	g.cache[key] = &cachedServer{server: s, used: now}
	return s
}

// fingerprint identifies a view: its tools with their definition hashes and its servers.
func fingerprint(v *toolhub.View) string {
	h := fnv.New64a()
	for _, e := range v.Tools {
		fmt.Fprintf(h, "t:%s:%s:%s\n", e.Name, e.Server.ID, e.Tool.Hash)
	}
	for _, s := range v.Servers {
		fmt.Fprintf(h, "s:%s:%d\n", s.ID, s.Version)
	}
	return fmt.Sprintf("%016x", h.Sum64())
}

// build makes a virtual server for a view and returns what it offers.
func (g *Gateway) build(v *toolhub.View) (*mcp.Server, *features) {
	s := mcp.NewServer(&mcp.Implementation{Name: Name, Version: "1.0.0"}, &mcp.ServerOptions{
		Instructions:       "Tools, resources and prompts this caller is granted on the Plinth tool hub.",
		CompletionHandler:  g.complete,
		SubscribeHandler:   g.subscribe("resources/subscribe"),
		UnsubscribeHandler: g.unsubscribeHandler,
		Capabilities: &mcp.ServerCapabilities{
			Logging:     &mcp.LoggingCapabilities{},
			Completions: &mcp.CompletionCapabilities{},
			Tools:       &mcp.ToolCapabilities{ListChanged: true},
			Prompts:     &mcp.PromptCapabilities{ListChanged: true},
			Resources:   &mcp.ResourceCapabilities{ListChanged: true, Subscribe: true},
		},
		SetCacheable: func(_ context.Context, _ mcp.Request, c *mcp.Cacheable) {
			c.TTLMs = int(g.listTTL / time.Millisecond)
		},
	})
	s.AddReceivingMiddleware(recoverMiddleware(g))
	return s, g.sync(s, v, nil)
}

// features is what a virtual server currently offers, to update it in place: each
// tool, prompt, resource and template by its name (or URI), with a fingerprint of its
// definition and the server providing it.
type features struct {
	tools, prompts, resources, templates map[string]string
}

// sync makes s offer exactly view's features; prev is what it offered before (nil when
// new). Only what is new, changed or gone is touched: every change to the server's lists
// sends its sessions a list_changed notification, so re-adding what is unchanged would
// tell clients their lists changed when they did not.
func (g *Gateway) sync(s *mcp.Server, v *toolhub.View, prev *features) *features {
	if prev == nil {
		prev = &features{}
	}
	next := &features{tools: map[string]string{}, prompts: map[string]string{}, resources: map[string]string{}, templates: map[string]string{}}
	for i := range v.Tools {
		e := v.Tools[i]
		fp := e.Server.ID + "\x00" + e.Tool.Hash
		next.tools[e.Name] = fp
		if prev.tools[e.Name] != fp {
			s.AddTool(sdkTool(&e), g.callTool(e.Name))
		}
	}
	for _, srv := range v.Servers {
		for _, raw := range srv.Resources {
			var r mcp.Resource
			if json.Unmarshal(raw, &r) != nil || r.URI == "" {
				continue
			}
			if _, taken := next.resources[r.URI]; taken {
				continue
			}
			fp := srv.ID + "\x00" + string(raw)
			next.resources[r.URI] = fp
			if prev.resources[r.URI] != fp {
				s.AddResource(&r, g.readResource(srv.ID))
			}
		}
		for _, raw := range srv.ResourceTemplates {
			var t mcp.ResourceTemplate
			if json.Unmarshal(raw, &t) != nil || t.URITemplate == "" {
				continue
			}
			if _, taken := next.templates[t.URITemplate]; taken {
				continue
			}
			fp := srv.ID + "\x00" + string(raw)
			if prev.templates[t.URITemplate] == fp {
				next.templates[t.URITemplate] = fp
				continue
			}
			if err := addTemplate(s, &t, g.readResource(srv.ID)); err != nil {
				g.log.Warn("skipping an upstream resource template", "server", srv.ID, "template", t.URITemplate, "error", err)
				continue
			}
			next.templates[t.URITemplate] = fp
		}
		for _, raw := range srv.Prompts {
			var p mcp.Prompt
			if json.Unmarshal(raw, &p) != nil || p.Name == "" {
				continue
			}
			upstream := p.Name
			p.Name = srv.Prefix + p.Name
			if _, taken := next.prompts[p.Name]; taken {
				continue
			}
			fp := srv.ID + "\x00" + string(raw)
			next.prompts[p.Name] = fp
			if prev.prompts[p.Name] != fp {
				s.AddPrompt(&p, g.getPrompt(srv.ID, upstream))
			}
		}
	}
	if gone := missing(prev.tools, next.tools); len(gone) > 0 {
		s.RemoveTools(gone...)
	}
	if gone := missing(prev.prompts, next.prompts); len(gone) > 0 {
		s.RemovePrompts(gone...)
	}
	if gone := missing(prev.resources, next.resources); len(gone) > 0 {
		s.RemoveResources(gone...)
	}
	if gone := missing(prev.templates, next.templates); len(gone) > 0 {
		s.RemoveResourceTemplates(gone...)
	}
	return next
}

func missing(prev, next map[string]string) []string {
	var out []string
	for k := range prev {
		if _, ok := next[k]; !ok {
			out = append(out, k)
		}
	}
	return out
}

// addTemplate adds a template, turning the SDK's panic on a malformed template into an error.
func addTemplate(s *mcp.Server, t *mcp.ResourceTemplate, h mcp.ResourceHandler) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("%v", v)
		}
	}()
	s.AddResourceTemplate(t, h)
	return nil
}

func sdkTool(e *toolhub.Exposed) *mcp.Tool {
	t := &mcp.Tool{Name: e.Name, Title: e.Tool.Title, Description: e.Tool.Description, InputSchema: e.Tool.InputSchema}
	if len(e.Tool.OutputSchema) > 0 {
		t.OutputSchema = e.Tool.OutputSchema
	}
	if len(e.Tool.Annotations) > 0 {
		var a mcp.ToolAnnotations
		if json.Unmarshal(e.Tool.Annotations, &a) == nil {
			t.Annotations = &a
		}
	}
	return t
}

// recoverMiddleware turns a panic in any handler into an internal error for that request:
// the SDK's own handlers do not recover.
func recoverMiddleware(g *Gateway) mcp.Middleware {
	return func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (res mcp.Result, err error) {
			defer func() {
				if v := recover(); v != nil {
					g.log.ErrorContext(ctx, "panic in an mcp handler", "method", method, "panic", fmt.Sprint(v))
					res, err = nil, &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: "internal error"}
				}
			}()
			return next(ctx, method, req)
		}
	}
}

// callTool is the handler of one exposed tool: the hub's call pipeline.
func (g *Gateway) callTool(name string) mcp.ToolHandler {
	return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		c, ok := callerFrom(ctx)
		if !ok {
			return nil, &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: "no caller"}
		}
		p := toolhub.CallParams{Arguments: req.Params.Arguments, RequestState: req.Params.RequestState,
			Relay: &relay{ss: req.Session, log: g.log}}
		if len(req.Params.Meta) > 0 {
			p.Meta, _ = json.Marshal(req.Params.Meta)
		}
		if len(req.Params.InputResponses) > 0 {
			p.InputResponses = marshalResponses(req.Params.InputResponses)
		}
		if caps := req.ClientCapabilities(); caps != nil {
			p.ClientCapabilities, _ = json.Marshal(caps)
		}
		p.LogLevel = logLevel(req)
		res, err := g.hub.Call(ctx, c, name, p)
		if err != nil {
			return nil, rpcError(err, name)
		}
		var out mcp.CallToolResult
		if err := json.Unmarshal(res, &out); err != nil {
			return nil, &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: "the tool server's result is not a CallToolResult: " + err.Error()}
		}
		return &out, nil
	}
}

// marshalResponses encodes a client's input responses for the upstream (the SDK decoded
// them into typed values).
func marshalResponses(m mcp.InputResponseMap) json.RawMessage {
	raw := make(map[string]any, len(m))
	for k, v := range m {
		raw[k] = v
	}
	b, _ := json.Marshal(raw)
	return b
}

// rpcError maps hub refusals to JSON-RPC errors. A tool the caller may not use is as
// unknown as one that does not exist.
func rpcError(err error, name string) error {
	var re *toolhub.RPCError
	switch {
	case errors.As(err, &re):
		return &jsonrpc.Error{Code: re.Code, Message: re.Message, Data: re.Data}
	case errors.Is(err, toolhub.ErrNotGranted), errors.Is(err, toolhub.ErrNotApproved):
		return &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: fmt.Sprintf("unknown tool %q", name)}
	case errors.Is(err, toolhub.ErrInvalid), errors.Is(err, toolhub.ErrTooLarge):
		return &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: strings.TrimPrefix(err.Error(), "toolhub: ")}
	case errors.Is(err, context.Canceled):
		return err
	default:
		return &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: "the tool hub failed: " + err.Error()}
	}
}

// logLevel is the level of log messages to ask an upstream for: a 2026-07-28 request's
// own _meta level (none when absent), and for sessions of older revisions every message,
// which the session's logging/setLevel then filters.
func logLevel(req *mcp.CallToolRequest) string {
	if req.ProtocolVersion() < "2026-07-28" {
		return "debug"
	}
	lvl, _ := req.Params.Meta["io.modelcontextprotocol/logLevel"].(string)
	return lvl
}
