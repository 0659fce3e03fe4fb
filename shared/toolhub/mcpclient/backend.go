package mcpclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/plinth-ai/plinth/shared/toolhub"
)

// Backend serves the tool hub's MCP servers through a Client.
type Backend struct{ c *Client }

// NewBackend returns the hub backend for MCP servers.
func NewBackend(c *Client) *Backend {
	if c == nil {
		panic("mcpclient.NewBackend: nil client")
	}
	return &Backend{c: c}
}

var _ toolhub.Backend = (*Backend)(nil)

func endpoint(s *toolhub.Server, secret string) Endpoint {
	ep := Endpoint{URL: s.URL}
	if secret == "" || s.Credential == nil {
		return ep
	}
	ep.Header = s.Credential.Header
	if ep.Header == "" {
		ep.Header = "Authorization"
	}
	scheme := s.Credential.Scheme
	if scheme == "" && ep.Header == "Authorization" {
		scheme = "Bearer"
	}
	ep.Value = secret
	if scheme != "" {
		ep.Value = scheme + " " + secret
	}
	return ep
}

// Discover implements toolhub.Backend.
func (b *Backend) Discover(ctx context.Context, s *toolhub.Server, secret string) (*toolhub.Discovery, error) {
	l, err := b.c.List(ctx, endpoint(s, secret))
	if err != nil {
		return nil, hubErr(err)
	}
	d := &toolhub.Discovery{Resources: l.Resources, ResourceTemplates: l.ResourceTemplates, Prompts: l.Prompts, Capabilities: l.Capabilities}
	for _, raw := range l.Tools {
		var t struct {
			Name         string          `json:"name"`
			Title        string          `json:"title"`
			Description  string          `json:"description"`
			InputSchema  json.RawMessage `json:"inputSchema"`
			OutputSchema json.RawMessage `json:"outputSchema"`
			Annotations  json.RawMessage `json:"annotations"`
		}
		if err := json.Unmarshal(raw, &t); err != nil {
			return nil, fmt.Errorf("%w: tools/list entry: %v", toolhub.ErrUpstream, err)
		}
		d.Tools = append(d.Tools, toolhub.Tool{Name: t.Name, Title: t.Title, Description: t.Description,
			InputSchema: t.InputSchema, OutputSchema: t.OutputSchema, Annotations: t.Annotations})
	}
	return d, nil
}

// Invoke implements toolhub.Backend.
func (b *Backend) Invoke(ctx context.Context, s *toolhub.Server, in *toolhub.Invocation) (json.RawMessage, error) {
	opts := CallOptions{MaxBytes: int64(in.MaxBytes), ClientCapabilities: in.ClientCapabilities, LogLevel: in.LogLevel}
	if in.Relay != nil {
		opts.Relay = in.Relay
	}
	if in.Tool != nil {
		opts.ParamHeaders = paramHeaders(in.Tool.InputSchema, in.Params)
	}
	ep := endpoint(s, in.Secret)
	if in.Method == "resources/subscribe" || in.Method == "resources/unsubscribe" {
		// 2026-07-28 replaced these with subscriptions/listen streams, which the gateway
		// does not open upstream: the subscription is acknowledged, but that revision's
		// servers' resource updates do not reach the client.
		if _, version, err := b.c.Initialized(ctx, ep); err == nil && version == Modern {
			return json.RawMessage(`{}`), nil
		}
	}
	res, err := b.c.Call(ctx, ep, in.Method, in.Params, opts)
	if err != nil {
		return nil, hubErr(err)
	}
	return res, nil
}

func hubErr(err error) error {
	var re *RPCError
	switch {
	case errors.As(err, &re):
		return &toolhub.RPCError{Code: re.Code, Message: re.Message, Data: re.Data}
	case errors.Is(err, ErrTooLarge):
		return fmt.Errorf("%w: %v", toolhub.ErrTooLarge, err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	default:
		return fmt.Errorf("%w: %v", toolhub.ErrUpstream, err)
	}
}

// paramHeaders maps the arguments whose schema property carries "x-mcp-header" to the
// Mcp-Param headers a 2026-07-28 server expects with them.
func paramHeaders(schema, params json.RawMessage) map[string]string {
	var s struct {
		Properties map[string]struct {
			Header string `json:"x-mcp-header"`
		} `json:"properties"`
	}
	if json.Unmarshal(schema, &s) != nil {
		return nil
	}
	var p struct {
		Arguments map[string]json.RawMessage `json:"arguments"`
	}
	var out map[string]string
	for name, prop := range s.Properties {
		if prop.Header == "" {
			continue
		}
		if p.Arguments == nil && json.Unmarshal(params, &p) != nil {
			return nil
		}
		raw, ok := p.Arguments[name]
		if !ok || string(raw) == "null" {
			continue
		}
		var v any
		if json.Unmarshal(raw, &v) != nil {
			continue
		}
		if out == nil {
			out = map[string]string{}
		}
		switch x := v.(type) {
		case string:
			out[prop.Header] = x
		case bool:
			out[prop.Header] = strconv.FormatBool(x)
		case float64:
			out[prop.Header] = string(raw)
		}
	}
	return out
}
