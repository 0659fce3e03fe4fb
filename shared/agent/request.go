package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/plinth-ai/plinth/shared/fault"
	"github.com/plinth-ai/plinth/shared/gateway"
	"github.com/plinth-ai/plinth/shared/provider"
)

// spec resolves what the response runs: a continued response's spec, a registered agent,
// or a model with the request's instructions and tools.
func (rs *Responses) spec(ctx context.Context, c *gateway.Caller, req *ResponseRequest, prev *stored) (*specRef, error) {
	if prev != nil {
		ref := prev.Spec
		return &ref, nil
	}
	agentID := req.Agent
	if id, ok := strings.CutPrefix(req.Model, "agent:"); ok {
		agentID = id
	}
	ref := &specRef{Approval: map[string]bool{}, NoApproval: map[string]bool{}, Servers: map[string]string{}}
	if agentID != "" {
		def, err := rs.agents.For(ctx, c.Principal.TenantID, agentID)
		if err != nil {
			return nil, err
		}
		if req.Instructions != "" {
			def.Instructions = strings.TrimSpace(def.Instructions + "\n\n" + req.Instructions)
		}
		ref.Def = def
	} else {
		if req.Model == "" {
			return nil, fmt.Errorf("%w: model is required", ErrInvalid)
		}
		ref.Def = Definition{Model: req.Model, Instructions: req.Instructions}
	}
	if req.Temperature != nil {
		ref.Def.Temperature = req.Temperature
	}
	for i, t := range req.Tools {
		switch t.Type {
		case "function":
			fn, err := functionTool(i, t)
			if err != nil {
				return nil, err
			}
			ref.ClientTools = append(ref.ClientTools, fn)
		case "mcp":
			if err := rs.mcpTool(ctx, c, ref, i, t); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("%w: tools[%d].type %q is not supported (function, mcp)", ErrInvalid, i, t.Type)
		}
	}
	// A registered agent's tools show under the catalog servers that offer them.
	if len(ref.Def.Tools) > 0 {
		view, err := rs.rt.tools.Visible(ctx, hubCaller(ctx, c))
		if err != nil {
			return nil, err
		}
		for _, name := range ref.Def.Tools {
			if ref.Servers[name] != "" {
				continue
			}
			ref.Servers[name] = "plinth"
			if e, ok := view.Lookup(name); ok {
				ref.Servers[name] = e.Server.ID
			}
		}
	}
	return ref, nil
}

// functionTool reads a function tool the client executes.
func functionTool(i int, t RequestTool) (provider.Tool, error) {
	if t.Name == "" {
		return provider.Tool{}, fault.New(ErrInvalid, fmt.Sprintf("tools[%d].name", i), "tools[%d].name is required", i)
	}
	params := t.Parameters
	if len(params) == 0 {
		params = json.RawMessage(`{"type":"object","properties":{}}`)
	}
	return provider.Tool{Type: "function", Function: provider.FunctionDef{Name: t.Name, Description: t.Description, Parameters: params, Strict: t.Strict}}, nil
}

// mcpTool adds the tools of a catalog server the request names by server_label.
func (rs *Responses) mcpTool(ctx context.Context, c *gateway.Caller, ref *specRef, i int, t RequestTool) error {
	if t.ServerLabel == "" {
		return fmt.Errorf("%w: tools[%d].server_label is required: it names a server of the tool catalog", ErrInvalid, i)
	}
	if t.ServerURL != "" {
		u, err := url.Parse(t.ServerURL)
		if err != nil || !strings.HasSuffix(u.Path, "/mcp") {
			return fmt.Errorf("%w: tools[%d].server_url: only servers of the tool catalog are called; name one by server_label (server_url may be omitted or be this platform's /mcp)", ErrInvalid, i)
		}
	}
	view, err := rs.rt.tools.Visible(ctx, hubCaller(ctx, c))
	if err != nil {
		return err
	}
	allowed, err := names(t.AllowedTools)
	if err != nil {
		return fmt.Errorf("%w: tools[%d].allowed_tools: %v", ErrInvalid, i, err)
	}
	var found []string
	for _, e := range view.Tools {
		if e.Server.ID != t.ServerLabel || (len(allowed) > 0 && !contains(allowed, e.Name) && !contains(allowed, e.Tool.Name)) {
			continue
		}
		found = append(found, e.Name)
	}
	if len(found) == 0 {
		return fmt.Errorf("%w: tools[%d]: server %q offers no tools to this key", ErrInvalid, i, t.ServerLabel)
	}
	always, never, err := approvals(t.RequireApproval)
	if err != nil {
		return fmt.Errorf("%w: tools[%d].require_approval: %v", ErrInvalid, i, err)
	}
	for _, name := range found {
		ref.Def.Tools = append(ref.Def.Tools, name)
		ref.Servers[name] = t.ServerLabel
		switch {
		case always == nil && never == nil: // the default: every call waits
			ref.Approval[name] = true
		case always != nil && (len(always) == 0 || contains(always, name)):
			ref.Approval[name] = true
		case never != nil && (len(never) == 0 || contains(never, name)):
			ref.NoApproval[name] = true
		default:
			ref.Approval[name] = true
		}
	}
	return nil
}

// names reads allowed_tools: an array of names or {"tool_names":[…]}.
func names(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var list []string
	if json.Unmarshal(raw, &list) == nil {
		return list, nil
	}
	var obj struct {
		ToolNames []string `json:"tool_names"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, errors.New(`must be an array of tool names or {"tool_names":[…]}`)
	}
	return obj.ToolNames, nil
}

// approvals reads require_approval: "always" and "never" apply to every tool; the object
// form lists tools (an empty non-nil list means every tool).
func approvals(raw json.RawMessage) (always, never []string, err error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		switch s {
		case "always":
			return []string{}, nil, nil
		case "never":
			return nil, []string{}, nil
		}
		return nil, nil, fmt.Errorf(`%q must be "always" or "never"`, s)
	}
	var obj struct {
		Always *struct {
			ToolNames []string `json:"tool_names"`
		} `json:"always"`
		Never *struct {
			ToolNames []string `json:"tool_names"`
		} `json:"never"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, nil, errors.New(`must be "always", "never" or {"always":{"tool_names":[…]},"never":{"tool_names":[…]}}`)
	}
	if obj.Always != nil {
		always = append([]string{}, obj.Always.ToolNames...)
		if len(always) == 0 {
			always = nil
		}
	}
	if obj.Never != nil {
		never = append([]string{}, obj.Never.ToolNames...)
		if len(never) == 0 {
			never = nil
		}
	}
	if always == nil && never == nil {
		return []string{}, nil, nil
	}
	return always, never, nil
}

// parseInput reads a request's input: new messages, function outputs and approvals.
func parseInput(raw json.RawMessage) ([]provider.Message, Resume, error) {
	res := Resume{Outputs: map[string]string{}, Approvals: map[string]bool{}}
	if len(raw) == 0 || string(raw) == "null" {
		return nil, res, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []provider.Message{{Role: "user", Content: provider.TextContent(s)}}, res, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, res, fmt.Errorf("%w: input must be a string or an array of items", ErrInvalid)
	}
	var msgs []provider.Message
	for i, it := range items {
		var head struct {
			Type              string          `json:"type"`
			Role              string          `json:"role"`
			Content           json.RawMessage `json:"content"`
			CallID            string          `json:"call_id"`
			Output            json.RawMessage `json:"output"`
			ApprovalRequestID string          `json:"approval_request_id"`
			Approve           *bool           `json:"approve"`
		}
		if err := json.Unmarshal(it, &head); err != nil {
			return nil, res, fmt.Errorf("%w: input[%d] is not an object", ErrInvalid, i)
		}
		switch {
		case head.Type == "function_call_output":
			if head.CallID == "" {
				return nil, res, fmt.Errorf("%w: input[%d].call_id is required", ErrInvalid, i)
			}
			var out string
			if json.Unmarshal(head.Output, &out) != nil {
				out = string(head.Output)
			}
			res.Outputs[head.CallID] = out
		case head.Type == "mcp_approval_response":
			if head.Approve == nil || !strings.HasPrefix(head.ApprovalRequestID, "mcpr_") {
				return nil, res, fmt.Errorf("%w: input[%d] needs approve and the approval_request_id of an mcp_approval_request", ErrInvalid, i)
			}
			res.Approvals[strings.TrimPrefix(head.ApprovalRequestID, "mcpr_")] = *head.Approve
		case head.Type == "message" || head.Type == "":
			switch head.Role {
			case "user", "system", "developer", "assistant":
			default:
				return nil, res, fmt.Errorf("%w: input[%d].role %q must be user, system, developer or assistant", ErrInvalid, i, head.Role)
			}
			text, err := inputText(head.Content)
			if err != nil {
				return nil, res, fmt.Errorf("%w: input[%d].content: %v", ErrInvalid, i, err)
			}
			role := head.Role
			if role == "developer" {
				role = "system"
			}
			msgs = append(msgs, provider.Message{Role: role, Content: provider.TextContent(text)})
		default:
			return nil, res, fmt.Errorf("%w: input[%d].type %q is not supported (message, function_call_output, mcp_approval_response)", ErrInvalid, i, head.Type)
		}
	}
	return msgs, res, nil
}

// inputText reads a message's content: a string or input_text/output_text parts.
func inputText(raw json.RawMessage) (string, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", errors.New("must be a string or an array of text parts")
	}
	var b strings.Builder
	for _, p := range parts {
		switch p.Type {
		case "input_text", "output_text", "text":
			if b.Len() > 0 {
				b.WriteString("\n")
			}
			b.WriteString(p.Text)
		default:
			return "", fmt.Errorf("part type %q is not supported (input_text)", p.Type)
		}
	}
	return b.String(), nil
}
