package agent

import (
	"context"
	"fmt"
	"strings"

	"github.com/plinth-ai/plinth/shared/gateway"
	"github.com/plinth-ai/plinth/shared/provider"
)

// turn is what one request asks of its model steps.
type turn struct {
	choice  ToolChoice
	offered map[string]bool // function names the model is offered
	first   bool            // the next step is the request's first
	limit   int64           // output tokens the request may generate (0 = no limit)
	used    int64
	stream  bool
}

// Run continues st with input (new messages) and what a paused run waited for, until the
// model answers, a limit is reached, or a call needs the client or a reviewer. emit, when
// set, receives what happens as it happens.
func (r *Runtime) Run(ctx context.Context, c *gateway.Caller, spec *Spec, st *State, input []provider.Message, res Resume, emit func(Event)) error {
	if emit == nil {
		emit = func(Event) {}
	}
	b, defs, err := r.bind(ctx, c, spec)
	if err != nil {
		return err
	}
	t, err := newTurn(spec, b)
	if err != nil {
		return err
	}
	if st.Seen == nil {
		st.Seen = map[string]int{}
	}
	st.Model, st.Instructions = spec.Def.Model, spec.Def.Instructions
	if err := r.resume(ctx, c, spec, b, st, res, emit); err != nil {
		return err
	}
	st.Messages = append(st.Messages, input...)
	st.Status, st.Incomplete, st.Error = "", "", ""
	return r.loop(ctx, c, spec, b, defs, st, t, emit)
}

func newTurn(spec *Spec, b map[string]*binding) (*turn, error) {
	choice := spec.ToolChoice
	if choice.Mode == "" {
		choice.Mode = ChoiceAuto
	}
	offered, err := choice.offered(b)
	if err != nil {
		return nil, err
	}
	if spec.MaxOutputTokens < 0 {
		return nil, fmt.Errorf("%w: max_output_tokens must be positive", ErrInvalid)
	}
	return &turn{choice: choice, offered: offered, first: true, limit: int64(spec.MaxOutputTokens), stream: spec.Stream}, nil
}

// resume answers the calls a paused run waited for.
func (r *Runtime) resume(ctx context.Context, c *gateway.Caller, spec *Spec, b map[string]*binding, st *State, res Resume, emit func(Event)) error {
	if len(st.Pending) == 0 {
		return nil
	}
	var missing []string
	var approved []provider.ToolCall
	results := map[string]result{}
	for _, p := range st.Pending {
		switch p.Kind {
		case "function":
			out, ok := res.Outputs[p.CallID]
			if !ok {
				missing = append(missing, p.CallID)
				continue
			}
			results[p.CallID] = result{text: out}
		case "approval":
			ok, decided := res.Approvals[p.CallID]
			switch {
			case !decided:
				missing = append(missing, p.CallID)
			case ok:
				approved = append(approved, provider.ToolCall{ID: p.CallID, Type: "function", Function: provider.FunctionCall{Name: p.Name, Arguments: p.Arguments}})
			default:
				results[p.CallID] = result{text: "Error: a reviewer did not approve this call; it was not made.", failed: true}
				st.Trace = append(st.Trace, Step{Kind: "tool", Name: p.Name, CallID: p.CallID, Arguments: p.Arguments, Status: "denied"})
			}
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: the previous response waits for outputs or approvals of calls %s", ErrInvalid, strings.Join(missing, ", "))
	}
	if len(approved) > 0 {
		steps, outs := r.execute(ctx, c, spec, b, st, approved, true, emit)
		for i, call := range approved {
			results[call.ID] = result{text: outs[i], failed: failed(steps[i])}
		}
		st.Trace = append(st.Trace, steps...)
	}
	// Tool messages follow the assistant turn in the order of its calls.
	for _, p := range st.Pending {
		st.Messages = append(st.Messages, toolMessage(p.CallID, results[p.CallID]))
	}
	st.Pending = nil
	return nil
}

func (r *Runtime) loop(ctx context.Context, c *gateway.Caller, spec *Spec, b map[string]*binding, defs []provider.Tool, st *State, t *turn, emit func(Event)) error {
	for {
		s, err := r.step(ctx, c, spec, b, defs, st, t, emit)
		if err != nil || s.done {
			return err
		}
		steps, outs := r.execute(ctx, c, spec, b, st, s.now, false, emit)
		results := map[string]result{}
		for _, a := range s.answered {
			st.Trace = append(st.Trace, a.step)
			results[a.call.ID] = result{text: a.output, failed: true}
		}
		st.Trace = append(st.Trace, steps...)
		for i, call := range s.now {
			results[call.ID] = result{text: outs[i], failed: failed(steps[i])}
		}
		// The tool messages of the calls answered now are kept; a waiting call's message
		// follows when the run resumes.
		last := st.Messages[len(st.Messages)-1]
		st.Messages = append(st.Messages, pendingResults(last.ToolCalls, results)...)
		if len(s.pending) > 0 {
			st.Pending = s.pending
			st.Status = StatusRequiresAction
			for _, p := range s.pending {
				if p.Kind == "approval" {
					st.Status = StatusRequiresApproval
				}
			}
			return nil
		}
	}
}

// stepped is what a model step left to do.
type stepped struct {
	now      []provider.ToolCall // calls to make now
	pending  []Pending           // calls that wait for the client or a reviewer
	answered []answeredCall      // calls answered without being made
	done     bool                // the run ended (State.Status says how)
}

// answeredCall is a call the run refused to make, with what the model is told.
type answeredCall struct {
	call   provider.ToolCall
	step   Step
	output string
}

// step makes one model step: it checks the limits, asks the model, records the step and
// its answer, and sorts the answer's tool calls into those to make now, those that wait
// for the client or a reviewer, and those refused. t is the request's turn (nil for
// steps of durable runs: every tool offered, nothing streamed).
func (r *Runtime) step(ctx context.Context, c *gateway.Caller, spec *Spec, b map[string]*binding, defs []provider.Tool, st *State, t *turn, emit func(Event)) (*stepped, error) {
	if emit == nil {
		emit = func(Event) {}
	}
	if t == nil {
		var err error
		if t, err = newTurn(&Spec{}, b); err != nil {
			return nil, err
		}
	}
	out := &stepped{}
	end := func(status, why string) (*stepped, error) {
		st.Status, st.Incomplete = status, why
		out.done = true
		return out, nil
	}
	budget := spec.Def.Budget
	switch {
	case st.Usage.Steps >= spec.Def.Steps():
		return end(StatusIncomplete, "max_steps")
	case over(budget, st.Usage):
		return end(StatusIncomplete, "budget")
	case t.limit > 0 && t.used >= t.limit:
		return end(StatusIncomplete, "max_output_tokens")
	}
	msgs := st.Messages
	if st.Instructions != "" {
		msgs = append([]provider.Message{{Role: "system", Content: provider.TextContent(st.Instructions)}}, msgs...)
	}
	forced := t.first && t.choice.Mode == ChoiceRequired
	t.first = false
	tools, choice := t.choice.request(defs, t.offered, forced)
	req := &gateway.ChatRequest{ChatRequest: provider.ChatRequest{Model: spec.Def.Model, Messages: msgs, Tools: tools, ToolChoice: choice, Temperature: spec.Def.Temperature}}
	if t.limit > 0 {
		n := int(t.limit - t.used)
		req.MaxCompletionTokens = &n
	}
	streamed := func(fn string) (string, string) {
		bd := b[fn]
		if bd == nil || !t.offered[fn] || bd.approval {
			return "", ""
		}
		return bd.kind(fn)
	}
	start := r.now()
	a, err := r.ask(ctx, c, req, t.stream, streamed, emit)
	ms := Step{Kind: "model", Name: spec.Def.Model, Status: "ok", DurationMS: r.now().Sub(start).Milliseconds()}
	if a != nil {
		ms.Model, ms.InputTokens, ms.OutputTokens, ms.CostUSD = a.model, a.in, a.out, a.cost
		st.Usage.add(Usage{InputTokens: a.in, OutputTokens: a.out, CostUSD: a.cost, Steps: 1})
		t.used += a.out
	}
	if err != nil {
		ms.Status, ms.Error = "error", err.Error()
		st.Trace = append(st.Trace, ms)
		st.Status, st.Error = StatusFailed, err.Error()
		out.done = true
		return out, err
	}
	switch {
	case a.blocked:
		ms.Status = "blocked"
	case a.finish == "length":
		ms.Status = "truncated"
	}
	text := a.msg.Content.String()
	ms.Output = text
	calls := a.msg.ToolCalls
	if len(calls) > 0 && (ms.Status != "ok" || t.choice.Mode == ChoiceNone) {
		// An answer cut short may have its calls cut too; with tool_choice none no call
		// is made. Either way the calls are not made and leave the conversation.
		for _, call := range calls {
			if a.streamed[call.ID] {
				emit(Event{Type: EventCallDropped, Step: Step{CallID: call.ID}})
			}
		}
		if ms.Status == "ok" {
			ms.Error = fmt.Sprintf("the model called %d tool(s) although tool_choice is none; no call was made", len(calls))
		}
		calls = nil
	}
	st.Trace = append(st.Trace, ms)
	content := a.msg.Content
	if len(calls) == 0 && content.Null {
		content = provider.TextContent(text)
	}
	st.Messages = append(st.Messages, provider.Message{Role: "assistant", Content: content, ToolCalls: calls})
	if text != "" {
		st.Output = text
		emit(Event{Type: EventMessage, Step: ms, Text: text})
	}
	switch ms.Status {
	case "blocked":
		return end(StatusIncomplete, "content_filter")
	case "truncated":
		return end(StatusIncomplete, "max_output_tokens")
	}
	if forced && !callsAny(calls, t.offered) {
		err := fmt.Errorf("the model did not call %s although tool_choice required it", choiceTarget(t.choice))
		st.Status, st.Error = StatusFailed, err.Error()
		out.done = true
		return out, err
	}
	if len(calls) == 0 {
		return end(StatusCompleted, "")
	}
	if budget.MaxToolCalls > 0 && st.Usage.ToolCalls+len(calls) > budget.MaxToolCalls {
		for _, call := range calls {
			st.Messages = append(st.Messages, toolMessage(call.ID, result{text: "Error: the run's budget of tool calls is used up; the call was not made.", failed: true}))
		}
		return end(StatusIncomplete, "budget")
	}
	for _, call := range calls {
		fn := call.Function.Name
		bd := b[fn]
		switch {
		case bd == nil || !t.offered[fn]:
			why := fmt.Sprintf("there is no tool named %q", fn)
			if bd != nil {
				why = fmt.Sprintf("the tool %s is not offered in this response (tool_choice)", fn)
			}
			out.answered = append(out.answered, answeredCall{call: call, output: "Error: " + why + "; the call was not made.",
				step: Step{Kind: "tool", Name: fn, CallID: call.ID, Arguments: call.Function.Arguments, Status: "error", Error: why}})
		case bd.client:
			out.pending = append(out.pending, Pending{CallID: call.ID, Name: fn, Arguments: call.Function.Arguments, Kind: "function"})
			emit(Event{Type: EventFunctionCall, Step: Step{Kind: "function", Name: fn, CallID: call.ID, Arguments: call.Function.Arguments, Status: "pending"}})
		case bd.approval:
			out.pending = append(out.pending, Pending{CallID: call.ID, Name: bd.hub, Arguments: call.Function.Arguments, Kind: "approval", Server: bd.server})
			emit(Event{Type: EventApprovalRequest, Step: Step{Kind: "tool", Name: bd.hub, CallID: call.ID, Arguments: call.Function.Arguments, Status: "pending"}})
		default:
			out.now = append(out.now, call)
			kind, name := bd.kind(fn)
			emit(Event{Type: EventCall, Step: Step{Kind: kind, Name: name, CallID: call.ID, Arguments: call.Function.Arguments, Status: "pending"}})
		}
	}
	return out, nil
}

// callsAny reports whether any call is of an offered tool.
func callsAny(calls []provider.ToolCall, offered map[string]bool) bool {
	for _, c := range calls {
		if offered[c.Function.Name] {
			return true
		}
	}
	return false
}

func choiceTarget(tc ToolChoice) string {
	if len(tc.Allowed) == 0 {
		return "a tool"
	}
	names := make([]string, len(tc.Allowed))
	for i, r := range tc.Allowed {
		names[i] = r.String()
	}
	return strings.Join(names, " or ")
}

// result is what a call answers the model with; failed marks a call that failed or was
// not made.
type result struct {
	text   string
	failed bool
}

// failed reports whether a call's trace step is a failure the model should be told of as
// one (an agent that stopped early still answered).
func failed(s Step) bool { return s.Status != "ok" && s.Status != "incomplete" }

// toolMessage is the tool message answering a call.
func toolMessage(callID string, r result) provider.Message {
	return provider.Message{Role: "tool", ToolCallID: callID, Content: provider.TextContent(r.text), ToolError: r.failed}
}

// pendingResults are the tool messages of a step's calls that were answered while others
// of the step wait; the waiting calls' messages follow when the run resumes.
func pendingResults(calls []provider.ToolCall, done map[string]result) []provider.Message {
	var out []provider.Message
	for _, call := range calls {
		if res, ok := done[call.ID]; ok {
			out = append(out, toolMessage(call.ID, res))
		}
	}
	return out
}

func over(b Budget, u Usage) bool {
	return (b.MaxTokens > 0 && u.InputTokens+u.OutputTokens >= b.MaxTokens) || (b.MaxUSD > 0 && u.CostUSD >= b.MaxUSD)
}
