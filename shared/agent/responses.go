package agent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/plinth-ai/plinth/shared/fault"
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

// MarshalJSON writes the tool as responses echo it: a function with its parameters and
// strict (null when unset), an MCP server without its headers (they may hold secrets).
func (t RequestTool) MarshalJSON() ([]byte, error) {
	switch t.Type {
	case "function":
		params := t.Parameters
		if len(params) == 0 {
			params = json.RawMessage("null")
		}
		return json.Marshal(struct {
			Type        string          `json:"type"`
			Name        string          `json:"name"`
			Description string          `json:"description,omitempty"`
			Parameters  json.RawMessage `json:"parameters"`
			Strict      *bool           `json:"strict"`
		}{t.Type, t.Name, t.Description, params, t.Strict})
	case "mcp":
		return json.Marshal(struct {
			Type            string          `json:"type"`
			ServerLabel     string          `json:"server_label"`
			ServerURL       string          `json:"server_url,omitempty"`
			AllowedTools    json.RawMessage `json:"allowed_tools,omitempty"`
			RequireApproval json.RawMessage `json:"require_approval,omitempty"`
		}{t.Type, t.ServerLabel, t.ServerURL, t.AllowedTools, t.RequireApproval})
	}
	type plain RequestTool
	return json.Marshal(plain(t))
}

// Response is OpenAI's response object, every documented field present, with Plinth's
// run record under "plinth".
type Response struct {
	ID                 string             `json:"id"`
	Object             string             `json:"object"`
	CreatedAt          int64              `json:"created_at"`
	Status             string             `json:"status"`
	AccessPrograms     AccessPrograms     `json:"access_programs"`
	Background         bool               `json:"background"`
	CompletedAt        *int64             `json:"completed_at"`
	Error              *ResponseError     `json:"error"`
	IncompleteDetails  *IncompleteDetails `json:"incomplete_details"`
	Instructions       *string            `json:"instructions"`
	MaxOutputTokens    *int               `json:"max_output_tokens"`
	MaxToolCalls       *int               `json:"max_tool_calls"`
	Model              string             `json:"model"`
	Output             []OutputItem       `json:"output"`
	ParallelToolCalls  bool               `json:"parallel_tool_calls"`
	PreviousResponseID *string            `json:"previous_response_id"`
	Reasoning          ReasoningConfig    `json:"reasoning"`
	Store              bool               `json:"store"`
	Temperature        *float64           `json:"temperature"`
	Text               TextConfig         `json:"text"`
	ToolChoice         json.RawMessage    `json:"tool_choice"`
	Tools              []RequestTool      `json:"tools"`
	TopP               *float64           `json:"top_p"`
	Truncation         string             `json:"truncation"`
	Usage              *ResponseUsage     `json:"usage"`
	User               *string            `json:"user"`
	Metadata           map[string]string  `json:"metadata"`
	Plinth             *RunRecord         `json:"plinth,omitempty"`
}

// AccessPrograms names a response's access programs: the standard one.
type AccessPrograms struct {
	Cyber string `json:"cyber"`
}

// ReasoningConfig is a response's reasoning settings (none: the platform's models do not
// expose reasoning).
type ReasoningConfig struct {
	Effort  *string `json:"effort"`
	Summary *string `json:"summary"`
}

// TextConfig is a response's text format: plain text.
type TextConfig struct {
	Format struct {
		Type string `json:"type"`
	} `json:"format"`
}

// ResponseUsage is a response's token usage.
type ResponseUsage struct {
	InputTokens         int64         `json:"input_tokens"`
	InputTokensDetails  InputDetails  `json:"input_tokens_details"`
	OutputTokens        int64         `json:"output_tokens"`
	OutputTokensDetails OutputDetails `json:"output_tokens_details"`
	TotalTokens         int64         `json:"total_tokens"`
}

// InputDetails breaks input usage down as OpenAI reports it.
type InputDetails struct {
	CachedTokens     int64 `json:"cached_tokens"`
	CacheWriteTokens int64 `json:"cache_write_tokens"`
}

// OutputDetails breaks output usage down as OpenAI reports it.
type OutputDetails struct {
	ReasoningTokens int64 `json:"reasoning_tokens"`
}

// IncompleteDetails says why a response stopped early: "max_output_tokens",
// "content_filter", or Plinth's run limits "max_steps" and "budget".
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

// Create runs a response. send, when set, streams it: it receives the Responses API's
// events (name and body) as the run makes them, the terminal response.completed,
// response.incomplete or response.failed last. The returned response holds everything.
// An error with no response means the request was refused before anything was sent.
func (rs *Responses) Create(ctx context.Context, c *gateway.Caller, req *ResponseRequest, send func(event string, body map[string]any)) (*Response, error) {
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
	choice, err := ParseToolChoice(req.ToolChoice)
	if err != nil {
		return nil, fault.New(ErrInvalid, "tool_choice", "tool_choice: %v", err)
	}
	if req.MaxOutputTokens != nil && *req.MaxOutputTokens < 1 {
		return nil, fault.New(ErrInvalid, "max_output_tokens", "max_output_tokens must be at least 1")
	}
	st := &State{Agent: ref.Def.ID, AgentVersion: ref.Def.Version}
	if prev != nil {
		st = &prev.State
		st.Trace = nil
		st.Usage = Usage{}
	}
	resp := rs.newResponse(req, ref)
	out := newOutput(resp, ref, resume, send)
	spec := &Spec{Def: ref.Def, ClientTools: ref.ClientTools, Approval: ref.Approval, NoApproval: ref.NoApproval,
		ToolChoice: choice, Stream: send != nil}
	if req.MaxOutputTokens != nil {
		spec.MaxOutputTokens = *req.MaxOutputTokens
	}
	runErr := rs.rt.Run(ctx, c, spec, st, input, resume, out.on)
	if runErr != nil && (errors.Is(runErr, ErrInvalid) || refusedBeforeOutput(runErr, st, out)) {
		// Refused before the model said anything: the caller gets the error itself
		// (a 429 with Retry-After, a 403, ...), as from chat completions.
		if !out.started {
			return nil, runErr
		}
	}
	out.finish()
	rs.conclude(resp, st, ref, runErr)
	if req.Store == nil || *req.Store || len(st.Pending) > 0 {
		if err := rs.save(ctx, c, &stored{Response: *resp, State: *st, Spec: *ref}); err != nil {
			out.fail(err)
			return resp, err
		}
	}
	out.end()
	return resp, runErr
}

// refusedBeforeOutput reports whether the run failed on a refusal of its first model
// call (quota, permission, an unknown model) before producing any output.
func refusedBeforeOutput(err error, st *State, out *output) bool {
	ae, ok := gateway.APIError(err)
	return ok && ae.Status < http.StatusInternalServerError && st.Usage.Steps <= 1 && len(out.resp.Output) == 0
}

// newResponse is the response object a request starts.
func (rs *Responses) newResponse(req *ResponseRequest, ref *specRef) *Response {
	resp := &Response{ID: newID("resp_"), Object: "response", CreatedAt: rs.now().Unix(), Status: "in_progress", Model: ref.Def.Model,
		Tools: req.Tools, Metadata: req.Metadata, ParallelToolCalls: true, Output: []OutputItem{}, Truncation: "disabled",
		Temperature: req.Temperature, MaxOutputTokens: req.MaxOutputTokens, Store: req.Store == nil || *req.Store,
		ToolChoice: json.RawMessage(`"auto"`), AccessPrograms: AccessPrograms{Cyber: "standard"}}
	resp.Text.Format.Type = "text"
	if resp.Tools == nil {
		resp.Tools = []RequestTool{}
	}
	if resp.Metadata == nil {
		resp.Metadata = map[string]string{}
	}
	if len(req.ToolChoice) > 0 && string(req.ToolChoice) != "null" {
		resp.ToolChoice = req.ToolChoice
	}
	if req.User != "" {
		u := req.User
		resp.User = &u
	}
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
	return resp
}

// conclude sets a finished run's status, usage and record on its response.
func (rs *Responses) conclude(resp *Response, st *State, ref *specRef, runErr error) {
	resp.Status = "completed"
	switch st.Status {
	case StatusIncomplete:
		resp.Status = "incomplete"
		resp.IncompleteDetails = &IncompleteDetails{Reason: st.Incomplete}
	case StatusFailed:
		resp.Status = "failed"
		msg := st.Error
		if msg == "" && runErr != nil {
			msg = runErr.Error()
		}
		resp.Error = &ResponseError{Code: errorCode(runErr), Message: msg}
	}
	if resp.Status == "completed" {
		at := rs.now().Unix()
		resp.CompletedAt = &at
	}
	resp.Usage = &ResponseUsage{InputTokens: st.Usage.InputTokens, OutputTokens: st.Usage.OutputTokens, TotalTokens: st.Usage.InputTokens + st.Usage.OutputTokens}
	resp.Plinth = &RunRecord{Agent: ref.Def.ID, AgentVersion: ref.Def.Version, Status: st.Status, CostUSD: st.Usage.CostUSD,
		ToolCalls: st.Usage.ToolCalls, Steps: st.Usage.Steps, Trace: st.Trace}
}

// errorCode is the code of a failed response's error, in OpenAI's vocabulary.
func errorCode(err error) string {
	if ae, ok := gateway.APIError(err); ok && ae.Status == http.StatusTooManyRequests {
		return "rate_limit_exceeded"
	}
	return "server_error"
}

func label(ref *specRef, s Step) string {
	if s.Kind == "agent" {
		return "agents"
	}
	if l := ref.Servers[s.Name]; l != "" {
		return l
	}
	return "plinth"
}
