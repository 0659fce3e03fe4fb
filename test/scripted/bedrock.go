package scripted

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"

	"github.com/plinth-ai/plinth/shared/provider"
	"github.com/plinth-ai/plinth/shared/provider/providertest"
)

// Bedrock is a scripted Amazon Bedrock Runtime: POST /model/{modelId}/converse and
// /converse-stream in the wire format AWS documents for the Converse API. Replies with
// calls answer with toolUse blocks and stop reason tool_use; streamed, each toolUse block
// opens with contentBlockStart (toolUseId, name) and its input follows in two
// ToolUseBlockDelta pieces. Like Bedrock, it refuses (ValidationException) a
// conversation whose toolUse blocks are not answered by toolResult blocks in the next
// user turn, and toolUse or toolResult blocks without a toolConfig.
type Bedrock struct {
	*httptest.Server
	script   map[string][]Reply
	mu       sync.Mutex
	requests []provider.ChatRequest
	bodies   []ConverseRequest
	ops      []string
}

// ConverseRequest is the part of a Converse request body the fake reads.
type ConverseRequest struct {
	Messages []struct {
		Role    string         `json:"role"`
		Content []ContentBlock `json:"content"`
	} `json:"messages"`
	System     []struct{ Text string } `json:"system"`
	ToolConfig *struct {
		Tools []struct {
			ToolSpec struct {
				Name        string `json:"name"`
				Description string `json:"description"`
				InputSchema struct {
					JSON json.RawMessage `json:"json"`
				} `json:"inputSchema"`
			} `json:"toolSpec"`
		} `json:"tools"`
		ToolChoice map[string]json.RawMessage `json:"toolChoice"`
	} `json:"toolConfig"`
	InferenceConfig *struct {
		MaxTokens *int `json:"maxTokens"`
	} `json:"inferenceConfig"`
}

// ContentBlock is one content block of a Converse message.
type ContentBlock struct {
	Text    *string `json:"text,omitempty"`
	ToolUse *struct {
		ToolUseID string          `json:"toolUseId"`
		Name      string          `json:"name"`
		Input     json.RawMessage `json:"input"`
	} `json:"toolUse,omitempty"`
	ToolResult *ToolResult `json:"toolResult,omitempty"`
}

// ToolResult is a toolResult block: a call's outcome, status "error" when it failed.
type ToolResult struct {
	ToolUseID string `json:"toolUseId"`
	Content   []struct {
		Text string `json:"text"`
	} `json:"content"`
	Status string `json:"status,omitempty"`
}

// NewBedrock starts a scripted Bedrock with a script (conversation → replies per step).
func NewBedrock(script map[string][]Reply) *Bedrock {
	b := &Bedrock{script: script}
	b.Server = httptest.NewServer(http.HandlerFunc(b.serve))
	return b
}

// Requests returns the requests received so far, as chat requests (a toolResult is a
// tool message, a toolUse a tool call).
func (b *Bedrock) Requests() []provider.ChatRequest {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]provider.ChatRequest(nil), b.requests...)
}

// Bodies returns the Converse requests received so far, as sent.
func (b *Bedrock) Bodies() []ConverseRequest {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]ConverseRequest(nil), b.bodies...)
}

// Operations returns the operations called so far, in order ("converse" or
// "converse-stream").
func (b *Bedrock) Operations() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.ops...)
}

// ToolResults returns every toolResult block of a request.
func (r *ConverseRequest) ToolResults() []ToolResult {
	var out []ToolResult
	for _, m := range r.Messages {
		for _, c := range m.Content {
			if c.ToolResult != nil {
				out = append(out, *c.ToolResult)
			}
		}
	}
	return out
}

func (b *Bedrock) fail(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", typ+":http://internal.amazon.com/coral/com.amazon.bedrock/")
	w.WriteHeader(status)
	m, _ := json.Marshal(map[string]string{"message": msg})
	_, _ = w.Write(m)
}

func (b *Bedrock) serve(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.TrimPrefix(r.URL.EscapedPath(), "/"), "/")
	if r.Method != http.MethodPost || len(parts) != 3 || parts[0] != "model" || (parts[2] != "converse" && parts[2] != "converse-stream") {
		b.fail(w, http.StatusNotFound, "UnknownOperationException", "unknown operation "+r.URL.Path)
		return
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential=") {
		b.fail(w, http.StatusForbidden, "UnrecognizedClientException", "The security token included in the request is invalid.")
		return
	}
	modelID, _ := url.PathUnescape(parts[1])
	raw, _ := io.ReadAll(r.Body)
	var body ConverseRequest
	if err := json.Unmarshal(raw, &body); err != nil || len(body.Messages) == 0 {
		b.fail(w, http.StatusBadRequest, "ValidationException", "The provided request is not valid")
		return
	}
	req, err := body.chat(modelID)
	if err != nil {
		b.fail(w, http.StatusBadRequest, "ValidationException", err.Error())
		return
	}
	b.mu.Lock()
	b.requests = append(b.requests, *req)
	b.bodies = append(b.bodies, body)
	b.ops = append(b.ops, parts[2])
	b.mu.Unlock()
	_, step := Conversation(req)
	rep := reply(b.script, req)
	limit := 0
	if body.InferenceConfig != nil && body.InferenceConfig.MaxTokens != nil {
		limit = *body.InferenceConfig.MaxTokens
	}
	pieces, calls, finish, out := answer(rep, limit)
	stop := map[string]string{"stop": "end_turn", "tool_calls": "tool_use", "length": "max_tokens"}[finish]
	in := inputTokens(req)
	if parts[2] == "converse" {
		var content []any
		if text := strings.Join(pieces, ""); text != "" {
			content = append(content, map[string]any{"text": text})
		}
		for i, c := range calls {
			content = append(content, map[string]any{"toolUse": map[string]any{"toolUseId": toolUseID(step, i), "name": c.Name, "input": json.RawMessage(c.Arguments)}})
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"output":     map[string]any{"message": map[string]any{"role": "assistant", "content": content}},
			"stopReason": stop,
			"usage":      map[string]int{"inputTokens": in, "outputTokens": out, "totalTokens": in + out},
			"metrics":    map[string]int{"latencyMs": 42},
		})
		return
	}
	w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
	w.WriteHeader(http.StatusOK)
	fl, _ := w.(http.Flusher)
	send := func(typ string, payload any) {
		p, _ := json.Marshal(payload)
		_, _ = w.Write(providertest.EventMessage(typ, p))
		if fl != nil {
			fl.Flush()
		}
	}
	send("messageStart", map[string]any{"role": "assistant"})
	block := 0
	if len(pieces) > 0 {
		for _, p := range pieces {
			send("contentBlockDelta", map[string]any{"contentBlockIndex": 0, "delta": map[string]any{"text": p}})
		}
		send("contentBlockStop", map[string]any{"contentBlockIndex": 0})
		block++
	}
	for i, c := range calls {
		send("contentBlockStart", map[string]any{"contentBlockIndex": block, "start": map[string]any{"toolUse": map[string]any{"toolUseId": toolUseID(step, i), "name": c.Name}}})
		half := len(c.Arguments) / 2
		for _, piece := range []string{c.Arguments[:half], c.Arguments[half:]} {
			send("contentBlockDelta", map[string]any{"contentBlockIndex": block, "delta": map[string]any{"toolUse": map[string]any{"input": piece}}})
		}
		send("contentBlockStop", map[string]any{"contentBlockIndex": block})
		block++
	}
	send("messageStop", map[string]any{"stopReason": stop})
	send("metadata", map[string]any{"usage": map[string]int{"inputTokens": in, "outputTokens": out, "totalTokens": in + out}, "metrics": map[string]int{"latencyMs": 42}})
}

func toolUseID(step, i int) string { return fmt.Sprintf("tooluse_%d_%d", step, i) }

// chat reads a Converse request as a chat request, checking its tool blocks as Bedrock
// does.
func (r *ConverseRequest) chat(modelID string) (*provider.ChatRequest, error) {
	req := &provider.ChatRequest{Model: modelID}
	for _, s := range r.System {
		req.Messages = append(req.Messages, provider.Message{Role: "system", Content: provider.TextContent(s.Text)})
	}
	if r.ToolConfig != nil {
		for _, t := range r.ToolConfig.Tools {
			req.Tools = append(req.Tools, provider.Tool{Type: "function", Function: provider.FunctionDef{Name: t.ToolSpec.Name, Description: t.ToolSpec.Description, Parameters: t.ToolSpec.InputSchema.JSON}})
		}
	}
	var open []string // toolUse IDs the next user turn must answer
	for i, m := range r.Messages {
		if i > 0 && r.Messages[i-1].Role == m.Role {
			return nil, fmt.Errorf("messages[%d]: a conversation must alternate between user and assistant roles", i)
		}
		var text strings.Builder
		var calls []provider.ToolCall
		answered := map[string]bool{}
		for _, c := range m.Content {
			switch {
			case c.Text != nil:
				text.WriteString(*c.Text)
			case c.ToolUse != nil:
				if m.Role != "assistant" {
					return nil, fmt.Errorf("messages[%d]: toolUse blocks belong to assistant turns", i)
				}
				calls = append(calls, provider.ToolCall{ID: c.ToolUse.ToolUseID, Type: "function", Function: provider.FunctionCall{Name: c.ToolUse.Name, Arguments: string(c.ToolUse.Input)}})
			case c.ToolResult != nil:
				var out strings.Builder
				for _, p := range c.ToolResult.Content {
					out.WriteString(p.Text)
				}
				answered[c.ToolResult.ToolUseID] = true
				req.Messages = append(req.Messages, provider.Message{Role: "tool", ToolCallID: c.ToolResult.ToolUseID, Content: provider.TextContent(out.String())})
			}
		}
		if (len(calls) > 0 || len(answered) > 0) && r.ToolConfig == nil {
			return nil, fmt.Errorf("messages[%d]: toolUse and toolResult blocks need a toolConfig", i)
		}
		for _, id := range open {
			if !answered[id] {
				return nil, fmt.Errorf("messages[%d]: the toolUse %s of the previous turn has no toolResult", i, id)
			}
		}
		open = nil
		switch m.Role {
		case "assistant":
			req.Messages = append(req.Messages, provider.Message{Role: "assistant", Content: provider.TextContent(text.String()), ToolCalls: calls})
			for _, c := range calls {
				open = append(open, c.ID)
			}
		case "user":
			if text.Len() > 0 {
				req.Messages = append(req.Messages, provider.Message{Role: "user", Content: provider.TextContent(text.String())})
			}
		}
	}
	return req, nil
}
