// Package scripted holds chat models that answer from a script: tests drive agent loops
// with them through the real gateway, where a real model would be needed. Server speaks
// OpenAI's chat completions wire format (tool_calls, finish_reason "tool_calls", usage,
// and streamed chat.completion.chunk events with tool-call deltas), as documented by
// OpenAI; Bedrock speaks Amazon Bedrock's Converse and ConverseStream (toolUse,
// toolResult, stop reason tool_use, streamed ToolUseBlockDelta).
//
// A conversation is named by its first user message; its step is the number of assistant
// turns in the request. The script gives, per conversation, the reply of every step. A
// request's output-token limit (max_completion_tokens, max_tokens, maxTokens) cuts the
// reply's text after that many words, with finish reason "length" (Bedrock: max_tokens).
package scripted

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"

	"github.com/plinth-ai/plinth/shared/provider"
)

// Call is a tool call a reply makes.
type Call struct {
	Name      string
	Arguments string
}

// Reply is one step's answer: text, tool calls, or both. Func, when set, computes it from
// the request (to answer with what tools returned).
type Reply struct {
	Content string
	Calls   []Call
	Func    func(req *provider.ChatRequest) Reply
	// Hold, when set, pauses a streamed reply after its first word until it is closed:
	// a test proves with it that words reach the client while the model still writes.
	Hold <-chan struct{}
}

// Server is a scripted OpenAI-compatible model server.
type Server struct {
	*httptest.Server
	script   map[string][]Reply
	mu       sync.Mutex
	requests []provider.ChatRequest
}

// New starts a server with a script (conversation → replies per step).
func New(script map[string][]Reply) *Server {
	s := &Server{script: script}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Requests returns the chat requests received so far.
func (s *Server) Requests() []provider.ChatRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]provider.ChatRequest(nil), s.requests...)
}

// Conversation returns a request's conversation name and step.
func Conversation(req *provider.ChatRequest) (string, int) {
	name, step := "", 0
	for _, m := range req.Messages {
		switch m.Role {
		case "user":
			if name == "" {
				name = m.Content.String()
			}
		case "assistant":
			step++
		}
	}
	return name, step
}

// LastTool returns the content of the request's tool messages after the last assistant
// turn, in order.
func LastTool(req *provider.ChatRequest) []string {
	var out []string
	for _, m := range req.Messages {
		switch m.Role {
		case "assistant":
			out = nil
		case "tool":
			out = append(out, m.Content.String())
		}
	}
	return out
}

// reply picks the scripted reply of a request.
func reply(script map[string][]Reply, req *provider.ChatRequest) Reply {
	name, step := Conversation(req)
	replies, ok := script[name]
	var rep Reply
	switch {
	case !ok:
		rep = Reply{Content: "no script for " + name}
	case step >= len(replies):
		rep = replies[len(replies)-1]
	default:
		rep = replies[step]
	}
	if rep.Func != nil {
		rep = rep.Func(req)
	}
	return rep
}

// words splits text into pieces of one word each, with the spaces before it.
func words(text string) []string {
	var out []string
	for i := 0; i < len(text); {
		j := i
		for j < len(text) && text[j] == ' ' {
			j++
		}
		for j < len(text) && text[j] != ' ' {
			j++
		}
		out = append(out, text[i:j])
		i = j
	}
	return out
}

// answer is what a reply says within a limit of output tokens (0 = none): its text
// pieces, its calls (none when the text was cut) and the finish reason.
func answer(rep Reply, limit int) (pieces []string, calls []Call, finish string, out int) {
	pieces, calls, finish = words(rep.Content), rep.Calls, "stop"
	if len(calls) > 0 {
		finish = "tool_calls"
	}
	if limit > 0 && len(pieces) > limit {
		return pieces[:limit], nil, "length", limit
	}
	return pieces, calls, finish, len(pieces) + 10*len(calls) + 1
}

func inputTokens(req *provider.ChatRequest) int {
	in := 0
	for _, m := range req.Messages {
		in += len(strings.Fields(m.Content.String())) + 4
	}
	return in
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if !strings.HasSuffix(r.URL.Path, "/chat/completions") {
		http.Error(w, `{"error":{"message":"not found","type":"invalid_request_error"}}`, http.StatusNotFound)
		return
	}
	var req provider.ChatRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, `{"error":{"message":"bad json","type":"invalid_request_error"}}`, http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.requests = append(s.requests, req)
	s.mu.Unlock()
	_, step := Conversation(&req)
	rep := reply(s.script, &req)
	pieces, calls, finish, out := answer(rep, req.MaxOutputTokens())
	in := inputTokens(&req)
	id := fmt.Sprintf("chatcmpl-scripted-%d", step)
	toolCalls := make([]map[string]any, len(calls))
	for i, c := range calls {
		toolCalls[i] = map[string]any{"id": fmt.Sprintf("call_%d_%d", step, i), "type": "function",
			"function": map[string]string{"name": c.Name, "arguments": c.Arguments}}
	}
	usage := map[string]int{"prompt_tokens": in, "completion_tokens": out, "total_tokens": in + out}
	if req.Stream {
		s.stream(w, r, &req, id, pieces, toolCalls, finish, usage, rep.Hold)
		return
	}
	msg := map[string]any{"role": "assistant", "content": strings.Join(pieces, "")}
	if len(toolCalls) > 0 {
		msg["tool_calls"] = toolCalls
		if len(pieces) == 0 {
			msg["content"] = nil
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"id": id, "object": "chat.completion", "created": 1700000000, "model": req.Model,
		"choices": []map[string]any{{"index": 0, "message": msg, "finish_reason": finish}},
		"usage":   usage,
	})
}

// stream answers as chat.completion.chunk events: the role, the text word by word, each
// tool call's id and name and then its arguments in two pieces, the finish reason, the
// usage when asked for, and [DONE].
func (s *Server) stream(w http.ResponseWriter, r *http.Request, req *provider.ChatRequest, id string, pieces []string, calls []map[string]any, finish string, usage map[string]int, hold <-chan struct{}) {
	w.Header().Set("Content-Type", "text/event-stream")
	fl, _ := w.(http.Flusher)
	send := func(delta map[string]any, fin any, extra map[string]any) {
		ch := map[string]any{"id": id, "object": "chat.completion.chunk", "created": 1700000000, "model": req.Model,
			"choices": []map[string]any{{"index": 0, "delta": delta, "finish_reason": fin}}}
		if delta == nil {
			ch["choices"] = []map[string]any{}
		}
		for k, v := range extra {
			ch[k] = v
		}
		b, _ := json.Marshal(ch)
		fmt.Fprintf(w, "data: %s\n\n", b)
		if fl != nil {
			fl.Flush()
		}
	}
	send(map[string]any{"role": "assistant", "content": ""}, nil, nil)
	for i, p := range pieces {
		send(map[string]any{"content": p}, nil, nil)
		if i == 0 && hold != nil {
			select {
			case <-hold:
			case <-r.Context().Done():
				return
			}
		}
	}
	for i, c := range calls {
		fn := c["function"].(map[string]string)
		args := fn["arguments"]
		half := len(args) / 2
		send(map[string]any{"tool_calls": []map[string]any{{"index": i, "id": c["id"], "type": "function",
			"function": map[string]string{"name": fn["name"], "arguments": ""}}}}, nil, nil)
		for _, part := range []string{args[:half], args[half:]} {
			send(map[string]any{"tool_calls": []map[string]any{{"index": i, "function": map[string]string{"arguments": part}}}}, nil, nil)
		}
	}
	send(map[string]any{}, finish, nil)
	if req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
		send(nil, nil, map[string]any{"usage": usage})
	}
	fmt.Fprint(w, "data: [DONE]\n\n")
}
