package agent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/plinth-ai/plinth/shared/gateway"
	"github.com/plinth-ai/plinth/shared/provider"
	"github.com/plinth-ai/plinth/shared/store"
)

// ResponseRequest is the body of POST /v1/responses (OpenAI's Responses API), with
// Plinth's "agent" extension.
type ResponseRequest struct {
	// Model is a model ID or alias, or "agent:<id>" to run a registered agent.
	Model string `json:"model"`
	// Agent names a registered agent to run (instead of "agent:<id>" in model).
	Agent string `json:"agent,omitempty"`
	// Input is a string (one user message) or an array of input items.
	Input              json.RawMessage   `json:"input"`
	Instructions       string            `json:"instructions,omitempty"`
	Tools              []RequestTool     `json:"tools,omitempty"`
	PreviousResponseID string            `json:"previous_response_id,omitempty"`
	Stream             bool              `json:"stream,omitempty"`
	Temperature        *float64          `json:"temperature,omitempty"`
	MaxOutputTokens    *int              `json:"max_output_tokens,omitempty"`
	ParallelToolCalls  *bool             `json:"parallel_tool_calls,omitempty"`
	ToolChoice         json.RawMessage   `json:"tool_choice,omitempty"`
	Metadata           map[string]string `json:"metadata,omitempty"`
	Store              *bool             `json:"store,omitempty"`
	User               string            `json:"user,omitempty"`
}

// RequestTool is one tool of a request: a function the client executes, or an MCP
// server of the tool catalog named by server_label.
type RequestTool struct {
	Type        string          `json:"type"`
	Name        string          `json:"name,omitempty"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
	ServerLabel string          `json:"server_label,omitempty"`
	ServerURL   string          `json:"server_url,omitempty"`
	// AllowedTools is an array of tool names or {"tool_names":[…]}.
	AllowedTools json.RawMessage `json:"allowed_tools,omitempty"`
	// RequireApproval is "always", "never" or {"always":{"tool_names":[…]},"never":{"tool_names":[…]}}.
	RequireApproval json.RawMessage   `json:"require_approval,omitempty"`
	Headers         map[string]string `json:"headers,omitempty"`
}

// Response is OpenAI's response object, with Plinth's run record under "plinth".
type Response struct {
	ID                 string             `json:"id"`
	Object             string             `json:"object"`
	CreatedAt          int64              `json:"created_at"`
	Status             string             `json:"status"`
	Model              string             `json:"model"`
	Output             []OutputItem       `json:"output"`
	Usage              *ResponseUsage     `json:"usage,omitempty"`
	PreviousResponseID *string            `json:"previous_response_id"`
	Instructions       *string            `json:"instructions"`
	Tools              []RequestTool      `json:"tools"`
	ParallelToolCalls  bool               `json:"parallel_tool_calls"`
	Metadata           map[string]string  `json:"metadata"`
	IncompleteDetails  *IncompleteDetails `json:"incomplete_details"`
	Error              *ResponseError     `json:"error"`
	Plinth             *RunRecord         `json:"plinth,omitempty"`
}

// ResponseUsage is a response's token usage.
type ResponseUsage struct {
	InputTokens         int64        `json:"input_tokens"`
	OutputTokens        int64        `json:"output_tokens"`
	TotalTokens         int64        `json:"total_tokens"`
	InputTokensDetails  TokenDetails `json:"input_tokens_details"`
	OutputTokensDetails TokenDetails `json:"output_tokens_details"`
}

// TokenDetails breaks usage down as OpenAI reports it.
type TokenDetails struct {
	CachedTokens    int64 `json:"cached_tokens"`
	ReasoningTokens int64 `json:"reasoning_tokens"`
}

// IncompleteDetails says why a response stopped early.
type IncompleteDetails struct {
	Reason string `json:"reason"`
}

// ResponseError is a failed response's error.
type ResponseError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// RunRecord is Plinth's record of a run: the agent and version, spend, and the tree of
// steps, tool calls and called agents.
type RunRecord struct {
	Agent        string  `json:"agent,omitempty"`
	AgentVersion int     `json:"agent_version,omitempty"`
	Status       string  `json:"status"`
	CostUSD      float64 `json:"cost_usd"`
	ToolCalls    int     `json:"tool_calls"`
	Steps        int     `json:"steps"`
	Trace        []Step  `json:"trace"`
}

// OutputItem is one item of a response's output.
type OutputItem struct {
	ID      string        `json:"id"`
	Type    string        `json:"type"` // message, function_call, mcp_call, mcp_approval_request
	Status  string        `json:"status,omitempty"`
	Role    string        `json:"role,omitempty"`
	Content []ContentPart `json:"content,omitempty"`
	// function_call
	CallID string `json:"call_id,omitempty"`
	Name   string `json:"name,omitempty"`
	// function_call, mcp_call and mcp_approval_request
	Arguments string `json:"arguments,omitempty"`
	// mcp_call and mcp_approval_request
	ServerLabel string  `json:"server_label,omitempty"`
	Output      *string `json:"output,omitempty"`
	Error       *string `json:"error,omitempty"`
}

// ContentPart is a message's text.
type ContentPart struct {
	Type        string `json:"type"`
	Text        string `json:"text"`
	Annotations []any  `json:"annotations"`
}

// stored is what the platform keeps of a response: the object and the run's state.
type stored struct {
	Response Response `json:"response"`
	State    State    `json:"state"`
	Spec     specRef  `json:"spec"`
}

// specRef is what a continued response reuses of the request that started the run.
type specRef struct {
	Def         Definition        `json:"def"`
	ClientTools []provider.Tool   `json:"client_tools,omitempty"`
	Approval    map[string]bool   `json:"approval,omitempty"`
	NoApproval  map[string]bool   `json:"no_approval,omitempty"`
	Servers     map[string]string `json:"servers,omitempty"` // hub tool → server label
}

// Responses serves the Responses API over the runtime.
type Responses struct {
	rt     *Runtime
	agents *Service
	st     store.Store
	ttl    time.Duration
	now    func() time.Time
}

// NewResponses returns the Responses API; responses are kept in st for 30 days.
func NewResponses(rt *Runtime, agents *Service, st store.Store) *Responses {
	if rt == nil || agents == nil || st == nil {
		panic("agent.NewResponses: nil dependency")
	}
	return &Responses{rt: rt, agents: agents, st: st, ttl: 30 * 24 * time.Hour, now: time.Now}
}

func responsePK(tenantID string) string { return "RESPONSE#" + tenantID }

func newID(prefix string) string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// Get returns a stored response of the caller's tenant.
func (rs *Responses) Get(ctx context.Context, c *gateway.Caller, id string) (*Response, error) {
	s, err := rs.load(ctx, c, id)
	if err != nil {
		return nil, err
	}
	return &s.Response, nil
}

func (rs *Responses) load(ctx context.Context, c *gateway.Caller, id string) (*stored, error) {
	it, err := rs.st.Get(ctx, store.Key{PK: responsePK(c.Principal.TenantID), SK: id})
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("response %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	var s stored
	if err := json.Unmarshal(it.Data, &s); err != nil {
		return nil, fmt.Errorf("decode response %s: %w", id, err)
	}
	return &s, nil
}

func (rs *Responses) save(ctx context.Context, c *gateway.Caller, s *stored) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	if len(b) > 350<<10 {
		return fmt.Errorf("%w: the conversation (%d KiB) is too long to keep; start a new one", ErrInvalid, len(b)>>10)
	}
	_, err = rs.st.Put(ctx, store.Item{Key: store.Key{PK: responsePK(c.Principal.TenantID), SK: s.Response.ID}, Data: b,
		ExpiresAt: rs.now().Add(rs.ttl)}, store.WriteOptions{})
	return err
}

// Stream receives a response as it is made: Start once the request is accepted, then
// every output item when it is added and when it is done.
type Stream struct {
	Start func(*Response)
	Item  func(kind string, item OutputItem)
}

// Create runs a response. s, when set, receives it as it is made (for streaming); the
// returned response holds everything.
func (rs *Responses) Create(ctx context.Context, c *gateway.Caller, req *ResponseRequest, s *Stream) (*Response, error) {
	emit := func(string, OutputItem) {}
	if s != nil && s.Item != nil {
		emit = s.Item
	}
	var prev *stored
	if req.PreviousResponseID != "" {
		p, err := rs.load(ctx, c, req.PreviousResponseID)
		if err != nil {
			return nil, err
		}
		prev = p
	}
	input, resume, err := parseInput(req.Input)
	if err != nil {
		return nil, err
	}
	ref, err := rs.spec(ctx, c, req, prev)
	if err != nil {
		return nil, err
	}
	st := &State{Agent: ref.Def.ID, AgentVersion: ref.Def.Version}
	if prev != nil {
		st = &prev.State
		st.Trace = nil
		st.Usage = Usage{}
	}
	resp := &Response{ID: newID("resp_"), Object: "response", CreatedAt: rs.now().Unix(), Model: ref.Def.Model,
		Tools: req.Tools, Metadata: req.Metadata, ParallelToolCalls: true, Output: []OutputItem{}}
	if req.PreviousResponseID != "" {
		p := req.PreviousResponseID
		resp.PreviousResponseID = &p
	}
	if ref.Def.Instructions != "" {
		ins := ref.Def.Instructions
		resp.Instructions = &ins
	}
	if ref.Def.ID != "" {
		resp.Model = "agent:" + ref.Def.ID
	}
	if s != nil && s.Start != nil {
		s.Start(resp)
	}
	items := map[string]int{}
	add := func(it OutputItem) {
		if i, ok := items[it.ID]; ok {
			resp.Output[i] = it
			emit("done", it)
			return
		}
		items[it.ID] = len(resp.Output)
		resp.Output = append(resp.Output, it)
		emit("added", it)
	}
	onEvent := func(e Event) {
		switch e.Type {
		case "message":
			add(OutputItem{ID: newID("msg_"), Type: "message", Status: "completed", Role: "assistant",
				Content: []ContentPart{{Type: "output_text", Text: e.Text, Annotations: []any{}}}})
		case "function_call":
			add(OutputItem{ID: "fc_" + e.Step.CallID, Type: "function_call", Status: "completed", CallID: e.Step.CallID, Name: e.Step.Name, Arguments: e.Step.Arguments})
		case "approval_request":
			add(OutputItem{ID: "mcpr_" + e.Step.CallID, Type: "mcp_approval_request", Name: e.Step.Name, Arguments: e.Step.Arguments, ServerLabel: ref.Servers[e.Step.Name]})
		case "tool_call":
			add(OutputItem{ID: "mcp_" + e.Step.CallID, Type: "mcp_call", Status: "in_progress", Name: toolName(e.Step), Arguments: e.Step.Arguments, ServerLabel: label(ref, e.Step)})
		case "tool_result":
			it := OutputItem{ID: "mcp_" + e.Step.CallID, Type: "mcp_call", Status: "completed", Name: toolName(e.Step), Arguments: e.Step.Arguments, ServerLabel: label(ref, e.Step)}
			out := e.Text
			if e.Step.Status == "ok" {
				it.Output = &out
			} else {
				it.Error = &out
				it.Status = "failed"
			}
			add(it)
		}
	}
	spec := &Spec{Def: ref.Def, ClientTools: ref.ClientTools, Approval: ref.Approval, NoApproval: ref.NoApproval}
	runErr := rs.rt.Run(ctx, c, spec, st, input, resume, onEvent)
	if runErr != nil && errors.Is(runErr, ErrInvalid) {
		return nil, runErr
	}
	resp.Status = "completed"
	switch st.Status {
	case StatusIncomplete:
		resp.Status = "incomplete"
		resp.IncompleteDetails = &IncompleteDetails{Reason: st.Incomplete}
	case StatusFailed:
		resp.Status = "failed"
		resp.Error = &ResponseError{Code: "server_error", Message: st.Error}
	}
	resp.Usage = &ResponseUsage{InputTokens: st.Usage.InputTokens, OutputTokens: st.Usage.OutputTokens, TotalTokens: st.Usage.InputTokens + st.Usage.OutputTokens}
	resp.Plinth = &RunRecord{Agent: ref.Def.ID, AgentVersion: ref.Def.Version, Status: st.Status, CostUSD: st.Usage.CostUSD,
		ToolCalls: st.Usage.ToolCalls, Steps: st.Usage.Steps, Trace: st.Trace}
	if req.Store == nil || *req.Store || len(st.Pending) > 0 {
		if err := rs.save(ctx, c, &stored{Response: *resp, State: *st, Spec: *ref}); err != nil {
			return nil, err
		}
	}
	if runErr != nil {
		return resp, runErr
	}
	return resp, nil
}

func toolName(s Step) string { return s.Name }

func label(ref *specRef, s Step) string {
	if s.Kind == "agent" {
		return "agents"
	}
	if l := ref.Servers[s.Name]; l != "" {
		return l
	}
	return "plinth"
}

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
			if t.Name == "" {
				return nil, fmt.Errorf("%w: tools[%d].name is required", ErrInvalid, i)
			}
			params := t.Parameters
			if len(params) == 0 {
				params = json.RawMessage(`{"type":"object","properties":{}}`)
			}
			ref.ClientTools = append(ref.ClientTools, provider.Tool{Type: "function", Function: provider.FunctionDef{Name: t.Name, Description: t.Description, Parameters: params}})
		case "mcp":
			if err := rs.mcpTool(ctx, c, ref, i, t); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("%w: tools[%d].type %q is not supported (function, mcp)", ErrInvalid, i, t.Type)
		}
	}
	for _, name := range ref.Def.Tools {
		if ref.Servers[name] == "" {
			ref.Servers[name] = "plinth"
		}
	}
	return ref, nil
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
