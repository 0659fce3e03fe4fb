package agent

import (
	"sort"
	"strings"
	"sync"
)

// output builds a response's output items as its run makes them and, when the response
// streams, sends the Responses API events announcing each change, in the order OpenAI
// documents: response.created and response.in_progress first; per item
// response.output_item.added, then for a message response.content_part.added, the
// response.output_text.delta events and their .done events, for a function call the
// response.function_call_arguments.delta and .done events, for an MCP call the
// response.mcp_call_arguments.delta and .done events, response.mcp_call.in_progress and
// response.mcp_call.completed (or .failed); then response.output_item.done; the
// terminal response.completed, response.incomplete or response.failed last. Every event
// carries its type and a sequence_number counting from 0.
type output struct {
	mu       sync.Mutex
	resp     *Response
	ref      *specRef
	approved map[string]bool // calls approved by this request's input
	send     func(event string, body map[string]any)
	seq      int
	started  bool
	index    map[string]int        // item ID → output index
	msg      string                // the message item being written ("" when none)
	text     strings.Builder       // its text so far
	calls    map[string]*callState // call ID → its item
}

type callState struct {
	item     string
	argsDone bool
	done     bool
}

func newOutput(resp *Response, ref *specRef, res Resume, send func(string, map[string]any)) *output {
	o := &output{resp: resp, ref: ref, send: send, index: map[string]int{}, calls: map[string]*callState{}, approved: map[string]bool{}}
	for id, ok := range res.Approvals {
		o.approved[id] = ok
	}
	return o
}

// emit sends one event (nothing when the response does not stream); the stream starts
// with its first event.
func (o *output) emit(event string, body map[string]any) {
	if o.send == nil {
		return
	}
	if !o.started {
		o.started = true
		snap := *o.resp
		snap.Output, snap.Usage, snap.Plinth = []OutputItem{}, nil, nil
		o.emit("response.created", map[string]any{"response": snap})
		o.emit("response.in_progress", map[string]any{"response": snap})
	}
	body["type"] = event
	body["sequence_number"] = o.seq
	o.seq++
	o.send(event, body)
}

// on handles one event of the run.
func (o *output) on(e Event) {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch e.Type {
	case EventTextDelta:
		idx := o.openMessage()
		o.text.WriteString(e.Text)
		o.emit("response.output_text.delta", map[string]any{"item_id": o.msg, "output_index": idx, "content_index": 0, "delta": e.Text, "logprobs": []any{}})
	case EventMessage:
		status := "completed"
		if e.Step.Status == "truncated" || e.Step.Status == "blocked" {
			status = "incomplete"
		}
		o.closeMessage(e.Text, status)
	case EventCallStart:
		o.openCall(e.Step)
	case EventCallDelta:
		cs := o.calls[e.Step.CallID]
		if cs == nil {
			return
		}
		idx := o.index[cs.item]
		o.resp.Output[idx].Arguments += e.Text
		name := "response.mcp_call_arguments.delta"
		if o.resp.Output[idx].Type == ItemFunctionCall {
			name = "response.function_call_arguments.delta"
		}
		o.emit(name, map[string]any{"item_id": cs.item, "output_index": idx, "delta": e.Text, "logprobs": []any{}})
	case EventCallDropped:
		if cs := o.calls[e.Step.CallID]; cs != nil && !cs.done {
			o.closeItem(cs, "incomplete")
		}
	case EventFunctionCall:
		cs := o.openCall(e.Step)
		idx := o.index[cs.item]
		o.resp.Output[idx].Arguments = e.Step.Arguments
		o.emit("response.function_call_arguments.done", map[string]any{"item_id": cs.item, "output_index": idx, "name": e.Step.Name, "arguments": e.Step.Arguments})
		cs.argsDone = true
		o.closeItem(cs, "completed")
	case EventApprovalRequest:
		it := OutputItem{ID: "mcpr_" + e.Step.CallID, Type: ItemApprovalRequest, Name: e.Step.Name, Arguments: e.Step.Arguments, ServerLabel: o.ref.Servers[e.Step.Name]}
		cs := &callState{item: it.ID, argsDone: true}
		o.calls[e.Step.CallID] = cs
		o.open(it)
		o.closeItem(cs, "")
	case EventCall:
		o.callArguments(o.openCall(e.Step), e.Step.Arguments)
	case EventToolCall:
		cs := o.openCall(e.Step)
		o.callArguments(cs, e.Step.Arguments)
		o.emit("response.mcp_call.in_progress", map[string]any{"item_id": cs.item, "output_index": o.index[cs.item]})
	case EventToolResult:
		cs := o.openCall(e.Step)
		o.callArguments(cs, e.Step.Arguments)
		idx := o.index[cs.item]
		text := e.Text
		status := "completed"
		if e.Step.Status == "ok" || e.Step.Status == "incomplete" {
			o.resp.Output[idx].Output = &text
		} else {
			o.resp.Output[idx].Error = &text
			status = "failed"
		}
		o.emit("response.mcp_call."+status, map[string]any{"item_id": cs.item, "output_index": idx})
		o.closeItem(cs, status)
	}
}

// open adds an item and announces it.
func (o *output) open(it OutputItem) int {
	idx := len(o.resp.Output)
	o.resp.Output = append(o.resp.Output, it)
	o.index[it.ID] = idx
	o.emit("response.output_item.added", map[string]any{"output_index": idx, "item": it})
	return idx
}

// openMessage returns the index of the message being written, adding it (with its one
// output_text part) first if none is.
func (o *output) openMessage() int {
	if o.msg != "" {
		return o.index[o.msg]
	}
	o.msg = newID("msg_")
	idx := o.open(OutputItem{ID: o.msg, Type: ItemMessage, Status: "in_progress", Content: []ContentPart{}})
	o.emit("response.content_part.added", map[string]any{"item_id": o.msg, "output_index": idx, "content_index": 0, "part": textPart("")})
	return idx
}

func (o *output) closeMessage(text, status string) {
	idx := o.openMessage()
	part := textPart(text)
	it := &o.resp.Output[idx]
	it.Status, it.Content = status, []ContentPart{part}
	o.emit("response.output_text.done", map[string]any{"item_id": o.msg, "output_index": idx, "content_index": 0, "text": text, "logprobs": []any{}})
	o.emit("response.content_part.done", map[string]any{"item_id": o.msg, "output_index": idx, "content_index": 0, "part": part})
	o.emit("response.output_item.done", map[string]any{"output_index": idx, "item": *it})
	o.msg = ""
	o.text.Reset()
}

// openCall returns a call's item state, adding the item (arguments still empty) first if
// the call has none: a function_call for a client function, an mcp_call otherwise.
func (o *output) openCall(s Step) *callState {
	if cs := o.calls[s.CallID]; cs != nil {
		return cs
	}
	var it OutputItem
	if s.Kind == "function" {
		it = OutputItem{ID: "fc_" + s.CallID, Type: ItemFunctionCall, Status: "in_progress", CallID: s.CallID, Name: s.Name}
	} else {
		it = OutputItem{ID: "mcp_" + s.CallID, Type: ItemMCPCall, Status: "in_progress", Name: s.Name, ServerLabel: label(o.ref, s)}
		if o.approved[s.CallID] {
			req := "mcpr_" + s.CallID
			it.ApprovalRequestID = &req
		}
	}
	cs := &callState{item: it.ID}
	o.calls[s.CallID] = cs
	o.open(it)
	return cs
}

// callArguments settles an MCP call's arguments once.
func (o *output) callArguments(cs *callState, args string) {
	if cs.argsDone {
		return
	}
	cs.argsDone = true
	idx := o.index[cs.item]
	o.resp.Output[idx].Arguments = args
	o.emit("response.mcp_call_arguments.done", map[string]any{"item_id": cs.item, "output_index": idx, "arguments": args})
}

// closeItem finishes an item with a status ("" keeps the item's own).
func (o *output) closeItem(cs *callState, status string) {
	idx := o.index[cs.item]
	it := &o.resp.Output[idx]
	if status != "" {
		it.Status = status
	}
	cs.done = true
	o.emit("response.output_item.done", map[string]any{"output_index": idx, "item": *it})
}

// finish closes what the run left open (it stopped midway): the message being written
// and calls never made end as incomplete.
func (o *output) finish() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.msg != "" {
		o.closeMessage(o.text.String(), "incomplete")
	}
	var open []*callState
	for _, cs := range o.calls {
		if !cs.done {
			open = append(open, cs)
		}
	}
	sort.Slice(open, func(i, j int) bool { return o.index[open[i].item] < o.index[open[j].item] })
	for _, cs := range open {
		o.closeItem(cs, "incomplete")
	}
}

// end sends the terminal event with the whole response.
func (o *output) end() {
	o.mu.Lock()
	defer o.mu.Unlock()
	name := "response.completed"
	switch o.resp.Status {
	case "incomplete":
		name = "response.incomplete"
	case "failed":
		name = "response.failed"
	}
	o.emit(name, map[string]any{"response": *o.resp})
}

// fail ends a stream that cannot complete with an error event.
func (o *output) fail(err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.emit("error", map[string]any{"code": "server_error", "message": err.Error(), "param": nil})
}
