package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/plinth-ai/plinth/shared/auth"
	"github.com/plinth-ai/plinth/shared/fault"
	"github.com/plinth-ai/plinth/shared/gateway"
	"github.com/plinth-ai/plinth/shared/provider"
	"github.com/plinth-ai/plinth/shared/store"
)

// A durable run is an agent run executed by the agent state machine
// (statemachines/agent.asl.json): each model step and each tool call is a task, so a
// long run survives restarts, and a call that needs approval parks the run on a task
// token for as long as a reviewer takes. The run's state lives in the store; the state
// machine carries only the run's ID.

// RunStatus values of a durable run.
const (
	RunRunning          = "running"
	RunRequiresApproval = "requires_approval"
	RunRequiresAction   = "requires_action"
	RunCompleted        = "completed"
	RunIncomplete       = "incomplete"
	RunFailed           = "failed"
)

// DurableRun is a durable run's record.
type DurableRun struct {
	ID           string `json:"id"`
	Tenant       string `json:"tenant"`
	Agent        string `json:"agent"`
	AgentVersion int    `json:"agent_version"`
	Status       string `json:"status"`
	// Incomplete names the limit that stopped an incomplete run; Error why a run failed.
	Incomplete string `json:"incomplete,omitempty"`
	Error      string `json:"error,omitempty"`
	Output     string `json:"output,omitempty"`
	// Approvals are the calls waiting for a reviewer (while requires_approval).
	Approvals []Pending `json:"approvals,omitempty"`
	// Functions are the calls of the client's functions waiting for their outputs
	// (while requires_action): post them to /v1/agent-runs/{id}/outputs.
	Functions []Pending `json:"functions,omitempty"`
	// Decisions are reviewers' decisions by call ID.
	Decisions   map[string]Decision `json:"decisions,omitempty"`
	Usage       Usage               `json:"usage"`
	Trace       []Step              `json:"trace"`
	ExecutionID string              `json:"execution_id,omitempty"`
	CreatedAt   time.Time           `json:"created_at"`
	UpdatedAt   time.Time           `json:"updated_at"`
}

// Decision is a reviewer's decision on one call.
type Decision struct {
	Approve  bool      `json:"approve"`
	Reviewer string    `json:"reviewer,omitempty"`
	At       time.Time `json:"at"`
}

// storedRun is the stored form of a run: the record and what the tasks need.
type storedRun struct {
	Run       DurableRun     `json:"run"`
	Principal auth.Principal `json:"principal"`
	State     State          `json:"state"`
	Def       Definition     `json:"def"`
	// ClientTools are the functions the client executes, given when the run started.
	ClientTools []provider.Tool `json:"client_tools,omitempty"`
	// Outputs are the client's function outputs by call ID, until the step collects them.
	Outputs map[string]string `json:"outputs,omitempty"`
	Calls   []string          `json:"calls,omitempty"`
	Token   string            `json:"token,omitempty"`
}

// ready reports whether every call the run waits for is answered: approvals decided and
// the client's function outputs given.
func (s *storedRun) ready() bool {
	for _, p := range s.Run.Approvals {
		if _, ok := s.Run.Decisions[p.CallID]; !ok {
			return false
		}
	}
	for _, p := range s.Run.Functions {
		if _, ok := s.Outputs[p.CallID]; !ok {
			return false
		}
	}
	return true
}

// waiting reports whether the run waits for approvals or function outputs.
func (s *storedRun) waiting() bool {
	return s.Run.Status == RunRequiresApproval || s.Run.Status == RunRequiresAction
}

// status is the run's status while it waits: requires_action while a function output is
// missing, requires_approval while only decisions are.
func (s *storedRun) waitStatus() string {
	for _, p := range s.Run.Functions {
		if _, ok := s.Outputs[p.CallID]; !ok {
			return RunRequiresAction
		}
	}
	return RunRequiresApproval
}

// Callers rebuilds a run's caller in a task, from its tenant and key.
type Callers func(ctx context.Context, tenantID, keyID string) (*gateway.Caller, error)

// TaskTokens completes a waiting task; the embedded executor and Step Functions have it.
type TaskTokens interface {
	SendTaskSuccess(ctx context.Context, token string, output json.RawMessage) error
}

// Durable runs agents on the agent state machine.
type Durable struct {
	rt      *Runtime
	st      store.Store
	callers Callers
	start   func(ctx context.Context, input json.RawMessage) (string, error)
	tokens  TaskTokens
	now     func() time.Time
}

// NewDurable returns durable runs over the runtime; start starts the agent state machine
// with an input, tokens completes its approval tasks.
func NewDurable(rt *Runtime, st store.Store, callers Callers, start func(context.Context, json.RawMessage) (string, error), tokens TaskTokens) *Durable {
	if rt == nil || st == nil || callers == nil || start == nil || tokens == nil {
		panic("agent.NewDurable: nil dependency")
	}
	return &Durable{rt: rt, st: st, callers: callers, start: start, tokens: tokens, now: time.Now}
}

func runPK(tenantID string) string                   { return "AGENTRUN#" + tenantID }
func callPK(tenantID, runID string) string           { return "AGENTRUN#" + tenantID + "#" + runID }
func callSK(callID string) string                    { return "CALL#" + callID }
func (d *Durable) key(tenantID, id string) store.Key { return store.Key{PK: runPK(tenantID), SK: id} }

func (d *Durable) load(ctx context.Context, tenantID, id string) (*storedRun, int64, error) {
	it, err := d.st.Get(ctx, d.key(tenantID, id))
	if errors.Is(err, store.ErrNotFound) {
		return nil, 0, fmt.Errorf("run %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, 0, err
	}
	var s storedRun
	if err := json.Unmarshal(it.Data, &s); err != nil {
		return nil, 0, fmt.Errorf("decode run %s: %w", id, err)
	}
	if s.State.Seen == nil {
		s.State.Seen = map[string]int{}
	}
	return &s, it.Version, nil
}

func (d *Durable) save(ctx context.Context, s *storedRun, version int64) error {
	s.Run.UpdatedAt = d.now().UTC()
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	cond := store.WriteOptions{Cond: store.IfVersion, Version: version}
	_, err = d.st.Put(ctx, store.Item{Key: d.key(s.Run.Tenant, s.Run.ID), Data: b}, cond)
	if errors.Is(err, store.ErrConditionFailed) {
		return fmt.Errorf("run %s was changed concurrently: %w", s.Run.ID, ErrConflict)
	}
	return err
}

// Start starts a durable run of an agent of the caller's tenant with a user message.
// tools are functions the client executes: a call of one pauses the run (requires_action)
// until the client posts its output.
func (d *Durable) Start(ctx context.Context, c *gateway.Caller, agentID, input string, tools []provider.Tool) (*DurableRun, error) {
	def, err := d.rt.agents.For(ctx, c.Principal.TenantID, agentID)
	if err != nil {
		return nil, err
	}
	if input == "" {
		return nil, fmt.Errorf("%w: input is required", ErrInvalid)
	}
	if _, _, err := d.rt.bind(ctx, c, &Spec{Def: def, ClientTools: tools}); err != nil {
		return nil, err
	}
	now := d.now().UTC()
	s := &storedRun{
		Run:         DurableRun{ID: newID("run_"), Tenant: c.Principal.TenantID, Agent: def.ID, AgentVersion: def.Version, Status: RunRunning, CreatedAt: now, UpdatedAt: now, Trace: []Step{}},
		Principal:   c.Principal,
		State:       State{Agent: def.ID, AgentVersion: def.Version, Model: def.Model, Instructions: def.Instructions, Messages: []provider.Message{{Role: "user", Content: provider.TextContent(input)}}, Seen: map[string]int{}},
		Def:         def,
		ClientTools: tools,
	}
	if err := d.save(ctx, s, 0); err != nil {
		return nil, err
	}
	in, _ := json.Marshal(map[string]string{"tenant": s.Run.Tenant, "run_id": s.Run.ID})
	exec, err := d.start(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("start the agent state machine: %w", err)
	}
	// The execution's ID is kept beside the run: the run itself is the tasks' to write.
	b, _ := json.Marshal(exec)
	if _, err := d.st.Put(ctx, store.Item{Key: d.execKey(s.Run.Tenant, s.Run.ID), Data: b}, store.WriteOptions{}); err != nil {
		return nil, fmt.Errorf("record the run's execution: %w", err)
	}
	out := s.Run
	out.ExecutionID = exec
	return &out, nil
}

func (d *Durable) execKey(tenantID, id string) store.Key {
	return store.Key{PK: callPK(tenantID, id), SK: "EXECUTION"}
}

// Get returns a run of the caller's tenant.
func (d *Durable) Get(ctx context.Context, c *gateway.Caller, id string) (*DurableRun, error) {
	s, _, err := d.load(ctx, c.Principal.TenantID, id)
	if err != nil {
		return nil, err
	}
	if it, err := d.st.Get(ctx, d.execKey(c.Principal.TenantID, id)); err == nil {
		_ = json.Unmarshal(it.Data, &s.Run.ExecutionID)
	}
	return &s.Run, nil
}

// Decide records a reviewer's decision on a waiting call; once every waiting call is
// answered, the run goes on.
func (d *Durable) Decide(ctx context.Context, c *gateway.Caller, id, callID string, approve bool, reviewer string) (*DurableRun, error) {
	if reviewer == "" {
		reviewer = c.Principal.KeyID
	}
	return d.answer(ctx, c, id, callID, "approval", func(s *storedRun) {
		if s.Run.Decisions == nil {
			s.Run.Decisions = map[string]Decision{}
		}
		s.Run.Decisions[callID] = Decision{Approve: approve, Reviewer: reviewer, At: d.now().UTC()}
	})
}

// Output records the client's output of a waiting call of one of its functions; once
// every waiting call is answered, the run goes on.
func (d *Durable) Output(ctx context.Context, c *gateway.Caller, id, callID, output string) (*DurableRun, error) {
	return d.answer(ctx, c, id, callID, "function", func(s *storedRun) {
		if s.Outputs == nil {
			s.Outputs = map[string]string{}
		}
		s.Outputs[callID] = output
	})
}

// answer records what a waiting call of the kind ("approval" or "function") waited for,
// and resumes the run once nothing else is missing.
func (d *Durable) answer(ctx context.Context, c *gateway.Caller, id, callID, kind string, record func(*storedRun)) (*DurableRun, error) {
	for attempt := 0; ; attempt++ {
		s, v, err := d.load(ctx, c.Principal.TenantID, id)
		if err != nil {
			return nil, err
		}
		if !s.waiting() {
			return nil, fmt.Errorf("%w: run %s is %s, not waiting for approvals or function outputs", ErrConflict, id, s.Run.Status)
		}
		list, what := s.Run.Approvals, "an approval"
		if kind == "function" {
			list, what = s.Run.Functions, "the output of a function"
		}
		found := false
		for _, p := range list {
			found = found || p.CallID == callID
		}
		if !found {
			return nil, fault.New(ErrInvalid, "call_id", "run %s does not wait for %s of call %q; GET the run for the calls it waits for", id, what, callID)
		}
		record(s)
		token := ""
		if s.ready() && s.Token != "" {
			token, s.Token = s.Token, ""
			s.Run.Status = RunRunning
		} else if !s.ready() {
			s.Run.Status = s.waitStatus()
		}
		err = d.save(ctx, s, v)
		if errors.Is(err, ErrConflict) && attempt < 5 {
			continue
		}
		if err != nil {
			return nil, err
		}
		if token != "" {
			if err := d.tokens.SendTaskSuccess(ctx, token, json.RawMessage(`{}`)); err != nil {
				return nil, fmt.Errorf("resume run %s: %w", id, err)
			}
		}
		out := s.Run
		return &out, nil
	}
}

// TaskInput is what the agent state machine passes its tasks.
type TaskInput struct {
	Tenant string   `json:"tenant"`
	RunID  string   `json:"run_id"`
	CallID string   `json:"call_id,omitempty"`
	Token  string   `json:"token,omitempty"`
	Next   string   `json:"next,omitempty"`
	Calls  []string `json:"calls,omitempty"`
	// Error is what a Catch put in $.error: {"Error","Cause"}.
	Error json.RawMessage `json:"error,omitempty"`
}

// Tasks returns the agent state machine's tasks by placeholder.
func (d *Durable) Tasks() map[string]func(context.Context, json.RawMessage) (json.RawMessage, error) {
	wrap := func(f func(context.Context, TaskInput) (any, error)) func(context.Context, json.RawMessage) (json.RawMessage, error) {
		return func(ctx context.Context, raw json.RawMessage) (json.RawMessage, error) {
			var in TaskInput
			if err := json.Unmarshal(raw, &in); err != nil || in.Tenant == "" || in.RunID == "" {
				return nil, fmt.Errorf("agent task input needs tenant and run_id: %s", raw)
			}
			out, err := f(ctx, in)
			if err != nil {
				return nil, err
			}
			return json.Marshal(out)
		}
	}
	return map[string]func(context.Context, json.RawMessage) (json.RawMessage, error){
		"AgentModelStepFunctionArn":       wrap(d.modelStep),
		"AgentRequestApprovalFunctionArn": wrap(d.requestApproval),
		"AgentToolCallFunctionArn":        wrap(d.toolCall),
		"AgentCollectFunctionArn":         wrap(d.collect),
		"AgentFailFunctionArn":            wrap(d.fail),
	}
}

func (d *Durable) caller(ctx context.Context, s *storedRun) (*gateway.Caller, error) {
	return d.callers(ctx, s.Run.Tenant, s.Principal.KeyID)
}

// modelStep makes one model step and says what comes next.
func (d *Durable) modelStep(ctx context.Context, in TaskInput) (any, error) {
	s, v, err := d.load(ctx, in.Tenant, in.RunID)
	if err != nil {
		return nil, err
	}
	c, err := d.caller(ctx, s)
	if err != nil {
		return nil, err
	}
	spec := &Spec{Def: s.Def, ClientTools: s.ClientTools}
	b, defs, err := d.rt.bind(ctx, c, spec)
	if err != nil {
		return nil, err
	}
	res, stepErr := d.rt.step(ctx, c, spec, b, defs, &s.State, nil, nil)
	if res == nil {
		return nil, stepErr
	}
	now, pending := res.now, res.pending
	out := TaskInput{Tenant: in.Tenant, RunID: in.RunID, Next: "done"}
	// Calls answered without being made get their results now; collect adds them.
	for _, a := range res.answered {
		b, _ := json.Marshal(callResult{CallID: a.call.ID, Step: a.step, Output: a.output})
		if _, err := d.st.Put(ctx, store.Item{Key: store.Key{PK: callPK(in.Tenant, in.RunID), SK: callSK(a.call.ID)}, Data: b}, store.WriteOptions{}); err != nil {
			return nil, err
		}
	}
	switch {
	case res.done:
		s.Run.Status = map[string]string{StatusCompleted: RunCompleted, StatusIncomplete: RunIncomplete, StatusFailed: RunFailed}[s.State.Status]
		s.Run.Incomplete, s.Run.Error = s.State.Incomplete, s.State.Error
	case len(pending) > 0:
		s.Run.Approvals, s.Run.Functions = nil, nil
		for _, p := range pending {
			if p.Kind == "function" {
				s.Run.Functions = append(s.Run.Functions, p)
			} else {
				s.Run.Approvals = append(s.Run.Approvals, p)
			}
		}
		s.Run.Status = s.waitStatus()
		out.Next = "approval"
	default:
		out.Next = "tools"
	}
	s.Calls = nil
	for _, c := range now {
		s.Calls = append(s.Calls, c.ID)
	}
	for _, p := range pending {
		s.Calls = append(s.Calls, p.CallID)
	}
	out.Calls = s.Calls
	d.sync(s)
	if err := d.save(ctx, s, v); err != nil {
		return nil, err
	}
	if stepErr != nil {
		return nil, stepErr
	}
	return out, nil
}

// sync copies the state's progress into the run record.
func (d *Durable) sync(s *storedRun) {
	s.Run.Usage, s.Run.Trace, s.Run.Output = s.State.Usage, s.State.Trace, s.State.Output
	if s.Run.Trace == nil {
		s.Run.Trace = []Step{}
	}
}

// requestApproval parks the run: the token goes with the run until every waiting call is
// decided (or straight back when the decisions came first).
func (d *Durable) requestApproval(ctx context.Context, in TaskInput) (any, error) {
	for attempt := 0; ; attempt++ {
		s, v, err := d.load(ctx, in.Tenant, in.RunID)
		if err != nil {
			return nil, err
		}
		decided := s.ready()
		if decided {
			s.Run.Status = RunRunning
		} else {
			s.Token = in.Token
		}
		err = d.save(ctx, s, v)
		if errors.Is(err, ErrConflict) && attempt < 5 {
			continue
		}
		if err != nil {
			return nil, err
		}
		if decided {
			return nil, d.tokens.SendTaskSuccess(ctx, in.Token, json.RawMessage(`{}`))
		}
		return map[string]string{}, nil
	}
}

// toolCall makes one call of the last model step and stores its result.
func (d *Durable) toolCall(ctx context.Context, in TaskInput) (any, error) {
	s, _, err := d.load(ctx, in.Tenant, in.RunID)
	if err != nil {
		return nil, err
	}
	var call *provider.ToolCall
	if n := len(s.State.Messages); n > 0 {
		for i := range s.State.Messages[n-1].ToolCalls {
			if tc := &s.State.Messages[n-1].ToolCalls[i]; tc.ID == in.CallID {
				call = tc
			}
		}
	}
	if call == nil {
		return nil, fmt.Errorf("run %s has no call %s in its last step", in.RunID, in.CallID)
	}
	res := callResult{CallID: in.CallID}
	out, isFunction := s.Outputs[in.CallID]
	if dec, ok := s.Run.Decisions[in.CallID]; isFunction {
		res.Step = Step{Kind: "function", Name: call.Function.Name, CallID: call.ID, Arguments: call.Function.Arguments, Status: "ok", Output: clip(out, 4000)}
		res.Output = out
	} else if ok && !dec.Approve {
		res.Step = Step{Kind: "tool", Name: call.Function.Name, CallID: call.ID, Arguments: call.Function.Arguments, Status: "denied"}
		res.Output = "Error: a reviewer did not approve this call; it was not made."
	} else {
		c, err := d.caller(ctx, s)
		if err != nil {
			return nil, err
		}
		spec := &Spec{Def: s.Def, ClientTools: s.ClientTools}
		b, _, err := d.rt.bind(ctx, c, spec)
		if err != nil {
			return nil, err
		}
		bd := b[call.Function.Name]
		if bd == nil {
			bd = hubBinding(b, call.Function.Name)
		}
		key := call.Function.Name + "\x00" + canonical(call.Function.Arguments)
		if s.State.Seen[key] >= 2 {
			res.Step = Step{Kind: "tool", Name: call.Function.Name, CallID: call.ID, Arguments: call.Function.Arguments, Status: "repeated"}
			res.Output = "Error: this exact call was already made twice with the same arguments and was not made again. Use the earlier result, or change the arguments."
		} else {
			res.Step, res.Output, res.Usage = d.rt.call(ctx, c, bd, *call)
		}
	}
	b, _ := json.Marshal(res)
	if _, err := d.st.Put(ctx, store.Item{Key: store.Key{PK: callPK(in.Tenant, in.RunID), SK: callSK(in.CallID)}, Data: b}, store.WriteOptions{}); err != nil {
		return nil, err
	}
	return map[string]string{"call_id": in.CallID}, nil
}

type callResult struct {
	CallID string `json:"call_id"`
	Step   Step   `json:"step"`
	Output string `json:"output"`
	Usage  Usage  `json:"usage"`
}

// collect adds the step's results to the conversation in the order the model asked.
func (d *Durable) collect(ctx context.Context, in TaskInput) (any, error) {
	s, v, err := d.load(ctx, in.Tenant, in.RunID)
	if err != nil {
		return nil, err
	}
	items, err := d.st.Query(ctx, callPK(in.Tenant, in.RunID), store.QueryOptions{Prefix: "CALL#"})
	if err != nil {
		return nil, err
	}
	results := map[string]callResult{}
	for _, it := range items {
		var r callResult
		if json.Unmarshal(it.Data, &r) == nil {
			results[r.CallID] = r
		}
	}
	var last provider.Message
	if n := len(s.State.Messages); n > 0 {
		last = s.State.Messages[n-1]
	}
	order := make([]string, 0, len(last.ToolCalls))
	for _, tc := range last.ToolCalls {
		order = append(order, tc.ID)
	}
	for _, id := range order {
		r, ok := results[id]
		if !ok {
			return nil, fmt.Errorf("run %s: call %s has no result", in.RunID, id)
		}
		key := r.Step.Name + "\x00" + canonical(r.Step.Arguments)
		s.State.Seen[key]++
		s.State.Usage.ToolCalls++
		s.State.Usage.add(Usage{InputTokens: r.Usage.InputTokens, OutputTokens: r.Usage.OutputTokens, CostUSD: r.Usage.CostUSD})
		s.State.Trace = append(s.State.Trace, r.Step)
		s.State.Messages = append(s.State.Messages, toolMessage(id, result{text: r.Output, failed: failed(r.Step)}))
		_ = d.st.Delete(ctx, store.Key{PK: callPK(in.Tenant, in.RunID), SK: callSK(id)}, store.WriteOptions{})
	}
	s.Run.Approvals, s.Run.Decisions, s.Run.Functions, s.Outputs, s.Calls = nil, nil, nil, nil, nil
	s.Run.Status = RunRunning
	d.sync(s)
	if err := d.save(ctx, s, v); err != nil {
		return nil, err
	}
	return TaskInput{Tenant: in.Tenant, RunID: in.RunID}, nil
}

// fail records why the state machine gave up on the run.
func (d *Durable) fail(ctx context.Context, in TaskInput) (any, error) {
	s, v, err := d.load(ctx, in.Tenant, in.RunID)
	if err != nil {
		return nil, err
	}
	s.Run.Status = RunFailed
	var e struct{ Error, Cause string }
	if json.Unmarshal(in.Error, &e) == nil && e.Error != "" {
		s.Run.Error = e.Error + ": " + e.Cause
	}
	if s.Run.Error == "" {
		s.Run.Error = "the run's state machine failed"
	}
	d.sync(s)
	return map[string]string{}, d.save(ctx, s, v)
}
