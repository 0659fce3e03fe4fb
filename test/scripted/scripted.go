// Package scripted is an OpenAI-compatible chat model that answers from a script: tests
// drive agent loops with it through the real gateway, where a real model would be needed.
// It speaks the chat completions wire format (tool_calls, finish_reason "tool_calls",
// usage), as documented by OpenAI.
//
// A conversation is named by its first user message; its step is the number of assistant
// turns in the request. The script gives, per conversation, the reply of every step.
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

// Reply is one step's answer: text, or tool calls. Func, when set, computes it from the
// request (to answer with what tools returned).
type Reply struct {
	Content string
	Calls   []Call
	Func    func(req *provider.ChatRequest) Reply
}

// Server is a scripted model server.
type Server struct {
	*httptest.Server
	mu       sync.Mutex
	script   map[string][]Reply
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
	name, step := Conversation(&req)
	replies, ok := s.script[name]
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
		rep = rep.Func(&req)
	}
	msg := map[string]any{"role": "assistant", "content": rep.Content}
	finish := "stop"
	if len(rep.Calls) > 0 {
		calls := make([]map[string]any, len(rep.Calls))
		for i, c := range rep.Calls {
			calls[i] = map[string]any{"id": fmt.Sprintf("call_%d_%d", step, i), "type": "function",
				"function": map[string]string{"name": c.Name, "arguments": c.Arguments}}
		}
		msg["tool_calls"] = calls
		msg["content"] = nil
		finish = "tool_calls"
	}
	in := 0
	for _, m := range req.Messages {
		in += len(strings.Fields(m.Content.String())) + 4
	}
	out := len(strings.Fields(rep.Content)) + 10*len(rep.Calls) + 1
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"id": fmt.Sprintf("chatcmpl-scripted-%d", step), "object": "chat.completion", "created": 1700000000, "model": req.Model,
		"choices": []map[string]any{{"index": 0, "message": msg, "finish_reason": finish}},
		"usage":   map[string]int{"prompt_tokens": in, "completion_tokens": out, "total_tokens": in + out},
	})
}
