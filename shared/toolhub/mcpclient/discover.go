package mcpclient

import (
	"context"
	"encoding/json"
	"fmt"
)

// Listing is what an MCP server offers, as its list methods report it.
type Listing struct {
	// Init is the server's discover or initialize result; Version the revision spoken.
	Init    json.RawMessage
	Version string
	// Capabilities are the server's advertised capabilities.
	Capabilities      json.RawMessage
	Tools             []json.RawMessage
	Resources         []json.RawMessage
	ResourceTemplates []json.RawMessage
	Prompts           []json.RawMessage
}

// maxPages bounds pagination so a misbehaving server cannot keep a sync busy forever.
const maxPages = 100

// List negotiates with the server and lists its tools, resources, resource templates and
// prompts (each list only when the server advertises the capability), following cursors.
func (c *Client) List(ctx context.Context, ep Endpoint) (*Listing, error) {
	init, version, err := c.Initialized(ctx, ep)
	if err != nil {
		return nil, err
	}
	var head struct {
		Capabilities struct {
			Tools     json.RawMessage `json:"tools"`
			Resources json.RawMessage `json:"resources"`
			Prompts   json.RawMessage `json:"prompts"`
		} `json:"capabilities"`
		RawCaps json.RawMessage `json:"-"`
	}
	if err := json.Unmarshal(init, &head); err != nil {
		return nil, fmt.Errorf("%w: server description: %v", ErrUpstream, err)
	}
	var caps struct {
		Capabilities json.RawMessage `json:"capabilities"`
	}
	_ = json.Unmarshal(init, &caps)
	l := &Listing{Init: init, Version: version, Capabilities: caps.Capabilities}
	if len(head.Capabilities.Tools) > 0 {
		if l.Tools, err = c.listAll(ctx, ep, "tools/list", "tools"); err != nil {
			return nil, err
		}
	}
	if len(head.Capabilities.Resources) > 0 {
		if l.Resources, err = c.listAll(ctx, ep, "resources/list", "resources"); err != nil {
			return nil, err
		}
		if l.ResourceTemplates, err = c.listAll(ctx, ep, "resources/templates/list", "resourceTemplates"); err != nil {
			return nil, err
		}
	}
	if len(head.Capabilities.Prompts) > 0 {
		if l.Prompts, err = c.listAll(ctx, ep, "prompts/list", "prompts"); err != nil {
			return nil, err
		}
	}
	return l, nil
}

func (c *Client) listAll(ctx context.Context, ep Endpoint, method, member string) ([]json.RawMessage, error) {
	var out []json.RawMessage
	cursor := ""
	for page := 0; page < maxPages; page++ {
		params := map[string]any{}
		if cursor != "" {
			params["cursor"] = cursor
		}
		p, _ := json.Marshal(params)
		res, err := c.Call(ctx, ep, method, p, CallOptions{MaxBytes: 8 << 20})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", method, err)
		}
		var r map[string]json.RawMessage
		if err := json.Unmarshal(res, &r); err != nil {
			return nil, fmt.Errorf("%w: %s result: %v", ErrUpstream, method, err)
		}
		var items []json.RawMessage
		if err := json.Unmarshal(r[member], &items); err != nil && len(r[member]) > 0 {
			return nil, fmt.Errorf("%w: %s.%s: %v", ErrUpstream, method, member, err)
		}
		out = append(out, items...)
		cursor = ""
		_ = json.Unmarshal(r["nextCursor"], &cursor)
		if cursor == "" {
			return out, nil
		}
	}
	return nil, fmt.Errorf("%w: %s returned more than %d pages", ErrUpstream, method, maxPages)
}
