package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/plinth-ai/plinth/shared/provider"
)

// Tool choice modes.
const (
	ChoiceAuto     = "auto"     // the model decides whether to call tools
	ChoiceNone     = "none"     // the model calls no tool; calls it makes anyway are not made
	ChoiceRequired = "required" // the request's first model step must call a tool
)

// ToolChoice is how a request's model steps may use tools (OpenAI's tool_choice).
//
// Allowed, when set, restricts the tools offered to every model step of the request; a
// call of any other tool is answered with a tool error and not made. Required forces the
// request's first model step to call one of the offered tools (a step that does not
// fails the response); later steps decide for themselves, so a forced tool cannot loop
// forever. None offers no tool to the model and makes no call it answers with.
type ToolChoice struct {
	Mode    string
	Allowed []ToolRef
}

// ToolRef names tools a tool choice allows: a function (a client function, an agent
// called as a tool, or a hub tool by its function name), or an MCP server's tools (all of
// them, or Tool only).
type ToolRef struct {
	Function string
	Server   string
	Tool     string
}

func (r ToolRef) String() string {
	if r.Function != "" {
		return "function " + r.Function
	}
	if r.Tool != "" {
		return "tool " + r.Tool + " of MCP server " + r.Server
	}
	return "MCP server " + r.Server
}

func (r ToolRef) matches(b *binding) bool {
	if r.Function != "" {
		return r.Function == b.fn
	}
	if b.server == "" || r.Server != b.server {
		return false
	}
	return r.Tool == "" || r.Tool == b.hub || r.Tool == b.upstream
}

// ParseToolChoice reads OpenAI's tool_choice: "auto", "none", "required",
// {"type":"function","name"}, {"type":"mcp","server_label","name"} or
// {"type":"allowed_tools","mode","tools":[…]}.
func ParseToolChoice(raw json.RawMessage) (ToolChoice, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return ToolChoice{Mode: ChoiceAuto}, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		switch s {
		case ChoiceAuto, ChoiceNone, ChoiceRequired:
			return ToolChoice{Mode: s}, nil
		}
		return ToolChoice{}, fmt.Errorf(`%q is not a tool choice: use "auto", "none", "required" or an object naming a tool`, s)
	}
	var obj struct {
		Type        string            `json:"type"`
		Name        string            `json:"name"`
		ServerLabel string            `json:"server_label"`
		Mode        string            `json:"mode"`
		Tools       []json.RawMessage `json:"tools"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil {
		return ToolChoice{}, errors.New("must be a string or an object")
	}
	if obj.Type == "allowed_tools" {
		if obj.Mode != ChoiceAuto && obj.Mode != ChoiceRequired {
			return ToolChoice{}, errors.New(`allowed_tools needs mode "auto" or "required"`)
		}
		if len(obj.Tools) == 0 {
			return ToolChoice{}, errors.New("allowed_tools needs at least one tool")
		}
		tc := ToolChoice{Mode: obj.Mode}
		for i, t := range obj.Tools {
			ref, err := parseToolRef(t)
			if err != nil {
				return ToolChoice{}, fmt.Errorf("tools[%d]: %w", i, err)
			}
			tc.Allowed = append(tc.Allowed, ref)
		}
		return tc, nil
	}
	ref, err := parseToolRef(raw)
	if err != nil {
		return ToolChoice{}, err
	}
	return ToolChoice{Mode: ChoiceRequired, Allowed: []ToolRef{ref}}, nil
}

func parseToolRef(raw json.RawMessage) (ToolRef, error) {
	var t struct {
		Type        string `json:"type"`
		Name        string `json:"name"`
		ServerLabel string `json:"server_label"`
	}
	if err := json.Unmarshal(raw, &t); err != nil {
		return ToolRef{}, errors.New("must be an object")
	}
	switch t.Type {
	case "function":
		if t.Name == "" {
			return ToolRef{}, errors.New("a function tool choice needs name")
		}
		return ToolRef{Function: t.Name}, nil
	case "mcp":
		if t.ServerLabel == "" {
			return ToolRef{}, errors.New("an mcp tool choice needs server_label")
		}
		return ToolRef{Server: t.ServerLabel, Tool: t.Name}, nil
	}
	return ToolRef{}, fmt.Errorf("type %q is not supported (function, mcp, allowed_tools)", t.Type)
}

// offered returns the function names of the bound tools the choice allows, or an error
// naming a reference that matches no tool of the run.
func (tc ToolChoice) offered(b map[string]*binding) (map[string]bool, error) {
	out := map[string]bool{}
	if tc.Mode == ChoiceNone {
		return out, nil
	}
	if len(tc.Allowed) == 0 {
		for fn := range b {
			out[fn] = true
		}
		return out, nil
	}
	var unknown []string
	for _, ref := range tc.Allowed {
		found := false
		for fn, bd := range b {
			if ref.matches(bd) {
				out[fn], found = true, true
			}
		}
		if !found {
			unknown = append(unknown, ref.String())
		}
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("%w: tool_choice names %s, which is not among this response's tools", ErrInvalid, strings.Join(unknown, ", "))
	}
	return out, nil
}

// request returns the tools a step offers the model and the chat-completions tool_choice
// that goes with them; forced is true for the request's first step.
func (tc ToolChoice) request(defs []provider.Tool, offered map[string]bool, forced bool) ([]provider.Tool, json.RawMessage) {
	switch {
	case len(defs) == 0:
		return nil, nil
	case tc.Mode == ChoiceNone:
		// The tools stay declared (a conversation that used them needs them), unusable.
		return defs, json.RawMessage(`"none"`)
	}
	var tools []provider.Tool
	for _, d := range defs {
		if offered[d.Function.Name] {
			tools = append(tools, d)
		}
	}
	if !forced || tc.Mode != ChoiceRequired || len(tools) == 0 {
		return tools, nil
	}
	if len(tools) == 1 {
		b, _ := json.Marshal(map[string]any{"type": "function", "function": map[string]string{"name": tools[0].Function.Name}})
		return tools, b
	}
	return tools, json.RawMessage(`"required"`)
}
