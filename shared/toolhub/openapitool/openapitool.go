// Package openapitool serves the tool hub's HTTP APIs described by an OpenAPI 3 document
// (JSON): every operation is a tool whose arguments are the operation's parameters (by
// name) and, when it takes a JSON body, a "body" argument. A call becomes one HTTP
// request with the server's credential; the response body is the tool's result (JSON
// objects also as structured content) and a 4xx/5xx answer is an error result.
package openapitool

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"

	"github.com/plinth-ai/plinth/shared/toolhub"
)

// Backend calls OpenAPI-described APIs.
type Backend struct{ http *http.Client }

// New returns the backend; h makes the calls (bounded by each call's context).
func New(h *http.Client) *Backend {
	if h == nil {
		h = http.DefaultClient
	}
	return &Backend{http: h}
}

var _ toolhub.Backend = (*Backend)(nil)

var methods = []string{"get", "put", "post", "delete", "patch", "head", "options"}

type document struct {
	OpenAPI string `json:"openapi"`
	Servers []struct {
		URL string `json:"url"`
	} `json:"servers"`
	Paths map[string]map[string]json.RawMessage `json:"paths"`
	root  map[string]any
}

type parameter struct {
	Name        string         `json:"name"`
	In          string         `json:"in"`
	Description string         `json:"description"`
	Required    bool           `json:"required"`
	Schema      map[string]any `json:"schema"`
	Ref         string         `json:"$ref"`
}

type operation struct {
	OperationID string            `json:"operationId"`
	Summary     string            `json:"summary"`
	Description string            `json:"description"`
	Parameters  []json.RawMessage `json:"parameters"`
	RequestBody json.RawMessage   `json:"requestBody"`
}

func parse(raw json.RawMessage) (*document, error) {
	var d document
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, fmt.Errorf("%w: openapi must be an OpenAPI 3 document in JSON: %v", toolhub.ErrInvalid, err)
	}
	if !strings.HasPrefix(d.OpenAPI, "3.") {
		return nil, fmt.Errorf("%w: openapi %q: only OpenAPI 3.x documents are supported", toolhub.ErrInvalid, d.OpenAPI)
	}
	if err := json.Unmarshal(raw, &d.root); err != nil {
		return nil, fmt.Errorf("%w: openapi: %v", toolhub.ErrInvalid, err)
	}
	return &d, nil
}

var nonName = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// toolName is the operation's operationId, or its method and path.
func toolName(method, path, id string) string {
	if id == "" {
		id = method + "_" + path
	}
	n := strings.Trim(nonName.ReplaceAllString(id, "_"), "_")
	if len(n) > 64 {
		n = n[:64]
	}
	return n
}

// Discover implements toolhub.Backend: one tool per operation, in path and method order.
func (b *Backend) Discover(_ context.Context, s *toolhub.Server, _ string) (*toolhub.Discovery, error) {
	d, err := parse(s.OpenAPI)
	if err != nil {
		return nil, err
	}
	paths := make([]string, 0, len(d.Paths))
	for p := range d.Paths {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var tools []toolhub.Tool
	seen := map[string]bool{}
	for _, p := range paths {
		item := d.Paths[p]
		var shared []json.RawMessage
		if raw, ok := item["parameters"]; ok {
			_ = json.Unmarshal(raw, &shared)
		}
		for _, m := range methods {
			raw, ok := item[m]
			if !ok {
				continue
			}
			var op operation
			if err := json.Unmarshal(raw, &op); err != nil {
				return nil, fmt.Errorf("%w: openapi %s %s: %v", toolhub.ErrInvalid, m, p, err)
			}
			t, err := d.tool(m, p, &op, shared)
			if err != nil {
				return nil, err
			}
			if seen[t.Name] {
				return nil, fmt.Errorf("%w: openapi: two operations are named %q", toolhub.ErrInvalid, t.Name)
			}
			seen[t.Name] = true
			tools = append(tools, t)
		}
	}
	if len(tools) == 0 {
		return nil, fmt.Errorf("%w: openapi: the document has no operations", toolhub.ErrInvalid)
	}
	return &toolhub.Discovery{Tools: tools}, nil
}

func (d *document) tool(method, path string, op *operation, shared []json.RawMessage) (toolhub.Tool, error) {
	props := map[string]any{}
	var required []string
	in := map[string]string{}
	for _, raw := range append(append([]json.RawMessage(nil), shared...), op.Parameters...) {
		var prm parameter
		if err := json.Unmarshal(raw, &prm); err != nil {
			return toolhub.Tool{}, fmt.Errorf("%w: openapi %s %s: parameter: %v", toolhub.ErrInvalid, method, path, err)
		}
		if prm.Ref != "" {
			r, ok := d.resolve(prm.Ref).(map[string]any)
			if !ok {
				return toolhub.Tool{}, fmt.Errorf("%w: openapi: unresolvable %s", toolhub.ErrInvalid, prm.Ref)
			}
			b, _ := json.Marshal(r)
			_ = json.Unmarshal(b, &prm)
		}
		if prm.In == "cookie" || prm.Name == "" {
			continue
		}
		schema := map[string]any{"type": "string"}
		if prm.Schema != nil {
			schema = d.inline(prm.Schema, 0).(map[string]any)
		}
		if prm.Description != "" {
			schema["description"] = prm.Description
		}
		props[prm.Name] = schema
		in[prm.Name] = prm.In
		if prm.Required || prm.In == "path" {
			required = append(required, prm.Name)
		}
	}
	if len(op.RequestBody) > 0 {
		var rb struct {
			Required bool `json:"required"`
			Content  map[string]struct {
				Schema any `json:"schema"`
			} `json:"content"`
			Ref string `json:"$ref"`
		}
		_ = json.Unmarshal(op.RequestBody, &rb)
		if js, ok := rb.Content["application/json"]; ok {
			schema := any(map[string]any{})
			if js.Schema != nil {
				schema = d.inline(js.Schema, 0)
			}
			props["body"] = schema
			in["body"] = "body"
			if rb.Required {
				required = append(required, "body")
			}
		}
	}
	input := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		sort.Strings(required)
		input["required"] = required
	}
	schema, _ := json.Marshal(input)
	desc := op.Summary
	if op.Description != "" {
		desc = strings.TrimSpace(strings.TrimSpace(desc) + "\n\n" + op.Description)
	}
	return toolhub.Tool{Name: toolName(method, path, op.OperationID), Description: desc, InputSchema: schema,
		Operation: &toolhub.Operation{Method: strings.ToUpper(method), Path: path, In: in}}, nil
}

// resolve follows a local JSON pointer ("#/components/schemas/X").
func (d *document) resolve(ref string) any {
	if !strings.HasPrefix(ref, "#/") {
		return nil
	}
	var cur any = d.root
	for _, part := range strings.Split(ref[2:], "/") {
		part = strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[part]
	}
	return cur
}

// inline replaces local $refs with their targets so a tool's schema stands alone; cycles
// deeper than 8 levels become open objects.
func (d *document) inline(v any, depth int) any {
	switch x := v.(type) {
	case map[string]any:
		if ref, ok := x["$ref"].(string); ok {
			if depth > 8 {
				return map[string]any{"type": "object"}
			}
			if target := d.resolve(ref); target != nil {
				return d.inline(target, depth+1)
			}
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = d.inline(e, depth)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = d.inline(e, depth)
		}
		return out
	default:
		return v
	}
}

// Invoke implements toolhub.Backend.
func (b *Backend) Invoke(ctx context.Context, s *toolhub.Server, in *toolhub.Invocation) (json.RawMessage, error) {
	if in.Method != "tools/call" || in.Tool == nil || in.Tool.Operation == nil {
		return nil, &toolhub.RPCError{Code: -32601, Message: in.Method + " is not available on an HTTP API"}
	}
	var p struct {
		Arguments map[string]json.RawMessage `json:"arguments"`
	}
	if err := json.Unmarshal(in.Params, &p); err != nil {
		return nil, fmt.Errorf("%w: arguments: %v", toolhub.ErrInvalid, err)
	}
	base := s.URL
	if base == "" {
		d, err := parse(s.OpenAPI)
		if err != nil {
			return nil, err
		}
		if len(d.Servers) == 0 {
			return nil, fmt.Errorf("%w: %s has neither a url nor servers in its document", toolhub.ErrUpstream, s.ID)
		}
		base = d.Servers[0].URL
	}
	op := in.Tool.Operation
	path := op.Path
	q := url.Values{}
	hdr := http.Header{}
	var body io.Reader
	for name, where := range op.In {
		raw, ok := p.Arguments[name]
		if !ok {
			continue
		}
		switch where {
		case "body":
			body = bytes.NewReader(raw)
		case "path":
			path = strings.ReplaceAll(path, "{"+name+"}", url.PathEscape(scalar(raw)))
		case "query":
			q.Set(name, scalar(raw))
		case "header":
			hdr.Set(name, scalar(raw))
		}
	}
	if strings.Contains(path, "{") {
		return toolError(fmt.Sprintf("missing path arguments for %s", op.Path)), nil
	}
	u := strings.TrimSuffix(base, "/") + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, op.Method, u, body)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", toolhub.ErrUpstream, err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.Header.Set("Accept", "application/json, text/plain;q=0.9, */*;q=0.5")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if in.Secret != "" && s.Credential != nil {
		h, scheme := s.Credential.Header, s.Credential.Scheme
		if h == "" {
			h = "Authorization"
		}
		if scheme == "" && h == "Authorization" {
			scheme = "Bearer"
		}
		v := in.Secret
		if scheme != "" {
			v = scheme + " " + v
		}
		req.Header.Set(h, v)
	}
	resp, err := b.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w: %s %s: %v", toolhub.ErrUpstream, op.Method, op.Path, err)
	}
	defer resp.Body.Close()
	max := in.MaxBytes
	if max <= 0 {
		max = toolhub.DefaultMaxResultBytes
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, int64(max)+1))
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w: reading the response: %v", toolhub.ErrUpstream, err)
	}
	if len(data) > max {
		return nil, fmt.Errorf("%w: the response exceeds %d bytes", toolhub.ErrTooLarge, max)
	}
	return result(resp.StatusCode, data), nil
}

func scalar(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(bytes.TrimSpace(raw))
}

// result turns an HTTP answer into a CallToolResult.
func result(status int, body []byte) json.RawMessage {
	res := map[string]any{}
	text := string(body)
	if status >= 400 {
		text = fmt.Sprintf("HTTP %d %s: %s", status, http.StatusText(status), text)
		res["isError"] = true
	}
	res["content"] = []map[string]string{{"type": "text", "text": text}}
	var obj map[string]any
	if status < 400 && json.Unmarshal(body, &obj) == nil {
		res["structuredContent"] = obj
	}
	b, _ := json.Marshal(res)
	return b
}

func toolError(msg string) json.RawMessage {
	b, _ := json.Marshal(map[string]any{"content": []map[string]string{{"type": "text", "text": msg}}, "isError": true})
	return b
}
