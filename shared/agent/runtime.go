package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/plinth-ai/plinth/shared/gateway"
	"github.com/plinth-ai/plinth/shared/provider"
	"github.com/plinth-ai/plinth/shared/toolhub"
)

// Models answers model steps, whole or streamed; *gateway.Gateway is one.
type Models interface {
	Chat(ctx context.Context, c *gateway.Caller, req *gateway.ChatRequest) (*gateway.ChatResult, error)
	ChatStream(ctx context.Context, c *gateway.Caller, req *gateway.ChatRequest) (*gateway.Stream, error)
}

// Tools lists and calls hub tools; *toolhub.Hub is one.
type Tools interface {
	Visible(ctx context.Context, c *toolhub.Caller) (*toolhub.View, error)
	Call(ctx context.Context, c *toolhub.Caller, name string, p toolhub.CallParams) (json.RawMessage, error)
}

// Run statuses.
const (
	StatusCompleted        = "completed"
	StatusRequiresAction   = "requires_action"   // a function the client executes was called
	StatusRequiresApproval = "requires_approval" // a call waits for a human's approval
	StatusIncomplete       = "incomplete"        // a limit was reached, or a guardrail stopped the answer
	StatusFailed           = "failed"
)

// Usage is what a run spent.
type Usage struct {
	InputTokens  int64   `json:"input_tokens"`
	OutputTokens int64   `json:"output_tokens"`
	CostUSD      float64 `json:"cost_usd"`
	ToolCalls    int     `json:"tool_calls"`
	Steps        int     `json:"steps"`
}

func (u *Usage) add(o Usage) {
	u.InputTokens += o.InputTokens
	u.OutputTokens += o.OutputTokens
	u.CostUSD += o.CostUSD
	u.ToolCalls += o.ToolCalls
	u.Steps += o.Steps
}

// Step is one node of a run's trace: a model step, a tool call, or a call of another
// agent (whose own steps are its children).
type Step struct {
	Kind         string  `json:"kind"` // model, tool, agent
	Name         string  `json:"name"`
	CallID       string  `json:"call_id,omitempty"`
	Model        string  `json:"model,omitempty"`
	Arguments    string  `json:"arguments,omitempty"`
	Output       string  `json:"output,omitempty"`
	Status       string  `json:"status"` // ok, error, blocked, pending, denied, repeated
	Error        string  `json:"error,omitempty"`
	InputTokens  int64   `json:"input_tokens,omitempty"`
	OutputTokens int64   `json:"output_tokens,omitempty"`
	CostUSD      float64 `json:"cost_usd,omitempty"`
	DurationMS   int64   `json:"duration_ms"`
	Children     []Step  `json:"children,omitempty"`
}

// Pending is a call the run waits on.
type Pending struct {
	CallID    string `json:"call_id"`
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
	// Kind is "function" (the client executes it) or "approval" (a hub tool awaiting approval).
	Kind string `json:"kind"`
	// Server is the hub server of an approval's tool.
	Server string `json:"server,omitempty"`
}

// State is a run's whole state, kept between requests.
type State struct {
	Agent        string             `json:"agent,omitempty"`
	AgentVersion int                `json:"agent_version,omitempty"`
	Model        string             `json:"model"`
	Instructions string             `json:"instructions,omitempty"`
	Messages     []provider.Message `json:"messages"`
	Status       string             `json:"status"`
	// Incomplete says why the run stopped early: "max_steps", "budget",
	// "max_output_tokens" or "content_filter".
	Incomplete string         `json:"incomplete,omitempty"`
	Error      string         `json:"error,omitempty"`
	Pending    []Pending      `json:"pending,omitempty"`
	Usage      Usage          `json:"usage"`
	Trace      []Step         `json:"trace,omitempty"`
	Seen       map[string]int `json:"seen,omitempty"`
	// Output is the run's final answer (the last assistant text).
	Output string `json:"output,omitempty"`
}

// Spec is what a run may use.
type Spec struct {
	Def Definition
	// ClientTools are functions the client executes (OpenAI function tools).
	ClientTools []provider.Tool
	// Approval lists hub tools whose calls wait for approval (besides Def.RequireApproval).
	Approval map[string]bool
	// NoApproval lists hub tools that never wait (overrides Def.RequireApproval).
	NoApproval map[string]bool
	// ToolChoice constrains the model steps of this request (the zero value is auto).
	ToolChoice ToolChoice
	// MaxOutputTokens bounds the output tokens of this request's model steps together
	// (0 = no bound); reaching it ends the run as incomplete ("max_output_tokens").
	MaxOutputTokens int
	// Stream streams model steps: their text and call arguments are emitted as they
	// arrive (EventTextDelta, EventCallStart, EventCallDelta).
	Stream bool
}

// Resume carries what a paused run waited for.
type Resume struct {
	// Outputs are the client's function results by call ID.
	Outputs map[string]string
	// Approvals are reviewers' decisions by call ID.
	Approvals map[string]bool
}

// Events of a run, in the order a model step makes them.
const (
	// EventTextDelta: a piece of the step's text (Text), as the model streams it.
	EventTextDelta = "text_delta"
	// EventCallStart: the model began a call (Step.Kind "function", "tool" or "agent",
	// Step.Name, Step.CallID) whose arguments stream next.
	EventCallStart = "call_start"
	// EventCallDelta: a piece of a started call's arguments (Text).
	EventCallDelta = "call_delta"
	// EventMessage: the step's whole text (Text); Step is the model step, whose Status
	// is "truncated" or "blocked" when the text was cut short.
	EventMessage = "message"
	// EventCallDropped: a started call that will not be made (its step was cut short).
	EventCallDropped = "call_dropped"
	// EventFunctionCall: a call of a client function, which the run waits for.
	EventFunctionCall = "function_call"
	// EventApprovalRequest: a hub tool call waiting for a reviewer.
	EventApprovalRequest = "approval_request"
	// EventCall: a hub tool or agent call of the step, with its whole arguments, made next.
	EventCall = "call"
	// EventToolCall: a call is being made.
	EventToolCall = "tool_call"
	// EventToolResult: a call's outcome (Text, Step.Status).
	EventToolResult = "tool_result"
)

// Event is one thing a run did, streamed to its caller as it happens.
type Event struct {
	Type string
	Step Step
	Text string
}

// Runtime runs agents.
type Runtime struct {
	models Models
	tools  Tools
	agents *Service
	log    *slog.Logger
	now    func() time.Time
}

// NewRuntime returns a runtime; agents resolves agents called as tools.
func NewRuntime(models Models, tools Tools, agents *Service, log *slog.Logger) *Runtime {
	if models == nil || tools == nil || agents == nil {
		panic("agent.NewRuntime: nil dependency")
	}
	if log == nil {
		log = slog.Default()
	}
	return &Runtime{models: models, tools: tools, agents: agents, log: log, now: time.Now}
}

// binding is one tool the model may call, under an OpenAI-safe function name.
type binding struct {
	fn       string
	hub      string // hub tool name
	upstream string // the tool's name on its server
	agent    string // agent ID
	client   bool
	approval bool
	server   string
	def      provider.Tool
}

// kind is how a call of the binding shows: "function" (the client's), "agent" or "tool"
// (a hub tool), and the name it shows under.
func (bd *binding) kind(fn string) (string, string) {
	switch {
	case bd.client:
		return "function", fn
	case bd.agent != "":
		return "agent", bd.agent
	}
	return "tool", bd.hub
}

var fnUnsafe = regexp.MustCompile(`[^a-zA-Z0-9_-]`)

func fnName(name string, taken map[string]*binding) string {
	n := fnUnsafe.ReplaceAllString(name, "_")
	if len(n) > 60 {
		n = n[:60]
	}
	base := n
	for i := 2; taken[n] != nil; i++ {
		n = fmt.Sprintf("%s_%d", base, i)
	}
	return n
}

// bind resolves the spec's tools for the caller. A named tool the caller may not use is
// an error: a run never silently goes without a tool it was given.
func (r *Runtime) bind(ctx context.Context, c *gateway.Caller, spec *Spec) (map[string]*binding, []provider.Tool, error) {
	out := map[string]*binding{}
	var defs []provider.Tool
	if len(spec.Def.Tools) > 0 {
		view, err := r.tools.Visible(ctx, hubCaller(ctx, c))
		if err != nil {
			return nil, nil, err
		}
		var missing []string
		for _, name := range spec.Def.Tools {
			e, ok := view.Lookup(name)
			if !ok {
				missing = append(missing, name)
				continue
			}
			b := &binding{hub: name, upstream: e.Tool.Name, server: e.Server.ID}
			b.approval = (contains(spec.Def.RequireApproval, name) || spec.Approval[name]) && !spec.NoApproval[name]
			b.fn = fnName(name, out)
			b.def = provider.Tool{Type: "function", Function: provider.FunctionDef{Name: b.fn, Description: e.Tool.Description, Parameters: e.Tool.InputSchema}}
			out[b.fn] = b
			defs = append(defs, b.def)
		}
		if len(missing) > 0 {
			sort.Strings(missing)
			return nil, nil, fmt.Errorf("%w: tools not available to this key: %s", ErrInvalid, strings.Join(missing, ", "))
		}
	}
	for _, id := range spec.Def.Agents {
		sub, err := r.agents.For(ctx, c.Principal.TenantID, id)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: agent %s calls agent %s: %v", ErrInvalid, spec.Def.ID, id, err)
		}
		b := &binding{agent: id}
		b.fn = fnName("agent_"+id, out)
		desc := sub.Description
		if desc == "" {
			desc = "Asks the " + id + " agent"
		}
		b.def = provider.Tool{Type: "function", Function: provider.FunctionDef{Name: b.fn, Description: desc,
			Parameters: json.RawMessage(`{"type":"object","properties":{"input":{"type":"string","description":"What to ask the agent"}},"required":["input"]}`)}}
		out[b.fn] = b
		defs = append(defs, b.def)
	}
	for _, t := range spec.ClientTools {
		if out[t.Function.Name] != nil {
			return nil, nil, fmt.Errorf("%w: function %s has the name of another tool", ErrInvalid, t.Function.Name)
		}
		b := &binding{fn: t.Function.Name, client: true, def: t}
		out[b.fn] = b
		defs = append(defs, t)
	}
	return out, defs, nil
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// hubCaller is the tool hub's view of a gateway caller.
func hubCaller(ctx context.Context, c *gateway.Caller) *toolhub.Caller {
	return &toolhub.Caller{Principal: c.Principal, Tenant: c.Tenant, RequestID: requestID(ctx)}
}

// maxParallel bounds the tool calls of one step that run at once.
const maxParallel = 8

// execute makes calls in parallel and returns their trace steps and the text each
// answers the model with (failures as "Error: …", never as errors of the run).
func (r *Runtime) execute(ctx context.Context, c *gateway.Caller, spec *Spec, b map[string]*binding, st *State, calls []provider.ToolCall, approved bool, emit func(Event)) ([]Step, []string) {
	steps := make([]Step, len(calls))
	outs := make([]string, len(calls))
	sem := make(chan struct{}, maxParallel)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i, call := range calls {
		bd := b[call.Function.Name]
		if approved {
			bd = hubBinding(b, call.Function.Name)
		}
		key := call.Function.Name + "\x00" + canonical(call.Function.Arguments)
		st.Seen[key]++
		st.Usage.ToolCalls++
		if st.Seen[key] > 2 {
			steps[i] = Step{Kind: "tool", Name: call.Function.Name, CallID: call.ID, Arguments: call.Function.Arguments, Status: "repeated"}
			outs[i] = "Error: this exact call was already made twice with the same arguments and was not made again. Use the earlier result, or change the arguments."
			emit(Event{Type: EventToolResult, Step: steps[i], Text: outs[i]})
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			kind, name := "tool", call.Function.Name
			if bd != nil {
				kind, name = bd.kind(call.Function.Name)
			}
			emit(Event{Type: EventToolCall, Step: Step{Kind: kind, Name: name, CallID: call.ID, Arguments: call.Function.Arguments, Status: "running"}})
			s, out, sub := r.call(ctx, c, bd, call)
			steps[i], outs[i] = s, out
			mu.Lock()
			st.Usage.add(sub)
			mu.Unlock()
			emit(Event{Type: EventToolResult, Step: s, Text: out})
		}()
	}
	wg.Wait()
	return steps, outs
}

// hubBinding finds the binding of an approved hub tool by its hub name.
func hubBinding(b map[string]*binding, hub string) *binding {
	for _, bd := range b {
		if bd.hub == hub {
			return bd
		}
	}
	return &binding{hub: hub}
}

// call makes one call and returns its trace step, the model-facing output, and the usage
// of a called agent.
func (r *Runtime) call(ctx context.Context, c *gateway.Caller, bd *binding, call provider.ToolCall) (Step, string, Usage) {
	start := r.now()
	s := Step{Kind: "tool", Name: call.Function.Name, CallID: call.ID, Arguments: call.Function.Arguments, Status: "ok"}
	finish := func(out string) (Step, string, Usage) {
		s.DurationMS = r.now().Sub(start).Milliseconds()
		s.Output = clip(out, 4000)
		return s, out, Usage{}
	}
	if bd == nil {
		s.Status, s.Error = "error", "unknown tool"
		return finish(fmt.Sprintf("Error: there is no tool named %q.", call.Function.Name))
	}
	if bd.agent != "" {
		return r.callAgent(ctx, c, bd.agent, call, start)
	}
	s.Name = bd.hub
	args := json.RawMessage(call.Function.Arguments)
	if strings.TrimSpace(call.Function.Arguments) == "" {
		args = json.RawMessage(`{}`)
	}
	if !json.Valid(args) {
		s.Status, s.Error = "error", "arguments are not JSON"
		return finish("Error: the arguments are not valid JSON: " + clip(call.Function.Arguments, 200))
	}
	res, err := r.tools.Call(ctx, hubCaller(ctx, c), bd.hub, toolhub.CallParams{Arguments: args})
	if err != nil {
		s.Status, s.Error = "error", err.Error()
		return finish("Error: " + strings.TrimPrefix(err.Error(), "toolhub: "))
	}
	text, isErr := resultText(res)
	if isErr {
		s.Status = "error"
		return finish("Error: " + text)
	}
	return finish(text)
}

// callAgent runs another agent as a tool, with its own budget, and records its steps as
// children of this call.
func (r *Runtime) callAgent(ctx context.Context, c *gateway.Caller, id string, call provider.ToolCall, start time.Time) (Step, string, Usage) {
	s := Step{Kind: "agent", Name: id, CallID: call.ID, Arguments: call.Function.Arguments, Status: "ok"}
	var in struct {
		Input string `json:"input"`
	}
	_ = json.Unmarshal([]byte(call.Function.Arguments), &in)
	def, err := r.agents.For(ctx, c.Principal.TenantID, id)
	if err != nil {
		s.Status, s.Error = "error", err.Error()
		s.DurationMS = r.now().Sub(start).Milliseconds()
		return s, "Error: the agent " + id + " is not available.", Usage{}
	}
	sub := &State{Agent: def.ID, AgentVersion: def.Version}
	err = r.Run(ctx, c, &Spec{Def: def}, sub, []provider.Message{{Role: "user", Content: provider.TextContent(in.Input)}}, Resume{}, nil)
	s.Children = sub.Trace
	s.InputTokens, s.OutputTokens, s.CostUSD = sub.Usage.InputTokens, sub.Usage.OutputTokens, sub.Usage.CostUSD
	s.DurationMS = r.now().Sub(start).Milliseconds()
	out := sub.Output
	switch {
	case err != nil:
		s.Status, s.Error = "error", err.Error()
		out = "Error: the agent " + id + " failed: " + err.Error()
	case sub.Status == StatusIncomplete:
		s.Status = "incomplete"
		out = "The agent " + id + " stopped early (" + sub.Incomplete + "). Its last answer: " + sub.Output
	case sub.Status != StatusCompleted:
		s.Status = "error"
		out = "Error: the agent " + id + " needs input it cannot get when called as a tool."
	}
	s.Output = clip(out, 4000)
	u := sub.Usage
	u.Steps = 0 // a sub-agent's steps are its own; the parent counts its model steps
	return s, out, u
}

// resultText flattens a CallToolResult for the model.
func resultText(res json.RawMessage) (string, bool) {
	var r struct {
		Content []struct {
			Type     string `json:"type"`
			Text     string `json:"text"`
			MIMEType string `json:"mimeType"`
			Resource *struct {
				URI  string `json:"uri"`
				Text string `json:"text"`
			} `json:"resource"`
		} `json:"content"`
		StructuredContent json.RawMessage `json:"structuredContent"`
		IsError           bool            `json:"isError"`
	}
	if err := json.Unmarshal(res, &r); err != nil {
		return string(res), false
	}
	var parts []string
	for _, c := range r.Content {
		switch c.Type {
		case "text":
			parts = append(parts, c.Text)
		case "resource":
			if c.Resource != nil {
				parts = append(parts, c.Resource.Text)
			}
		default:
			parts = append(parts, "["+c.Type+" "+c.MIMEType+"]")
		}
	}
	if len(parts) == 0 && len(r.StructuredContent) > 0 {
		parts = append(parts, string(r.StructuredContent))
	}
	return strings.Join(parts, "\n"), r.IsError
}

func canonical(args string) string {
	var v any
	if json.Unmarshal([]byte(args), &v) != nil {
		return args
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

type requestIDKey struct{}

// WithRequestID returns ctx carrying the request ID tool calls are recorded under.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}
