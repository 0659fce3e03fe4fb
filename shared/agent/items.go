package agent

import (
	"encoding/json"
)

// Output item types of a response.
const (
	ItemMessage         = "message"
	ItemFunctionCall    = "function_call"
	ItemMCPCall         = "mcp_call"
	ItemApprovalRequest = "mcp_approval_request"
)

// OutputItem is one item of a response's output. It is written in the exact shape
// OpenAI documents for its type: a message (id, type, status, role, content), a
// function_call (id, type, status, arguments, call_id, name), an mcp_call (id, type,
// status, arguments, name, server_label, output, error, approval_request_id) or an
// mcp_approval_request (id, type, arguments, name, server_label).
type OutputItem struct {
	ID      string        `json:"id"`
	Type    string        `json:"type"`
	Status  string        `json:"status,omitempty"`
	Role    string        `json:"role,omitempty"`
	Content []ContentPart `json:"content,omitempty"`
	// function_call
	CallID string `json:"call_id,omitempty"`
	// function_call, mcp_call and mcp_approval_request
	Name      string `json:"name,omitempty"`
	Arguments string `json:"arguments,omitempty"`
	// mcp_call and mcp_approval_request
	ServerLabel       string  `json:"server_label,omitempty"`
	Output            *string `json:"output,omitempty"`
	Error             *string `json:"error,omitempty"`
	ApprovalRequestID *string `json:"approval_request_id,omitempty"`
}

// MarshalJSON writes the fields of the item's type, required ones always (an empty
// arguments string, a null output), others never.
func (it OutputItem) MarshalJSON() ([]byte, error) {
	switch it.Type {
	case ItemMessage:
		content := it.Content
		if content == nil {
			content = []ContentPart{}
		}
		return json.Marshal(struct {
			ID      string        `json:"id"`
			Type    string        `json:"type"`
			Status  string        `json:"status"`
			Role    string        `json:"role"`
			Content []ContentPart `json:"content"`
		}{it.ID, it.Type, it.Status, "assistant", content})
	case ItemFunctionCall:
		return json.Marshal(struct {
			ID        string `json:"id"`
			Type      string `json:"type"`
			Status    string `json:"status"`
			Arguments string `json:"arguments"`
			CallID    string `json:"call_id"`
			Name      string `json:"name"`
		}{it.ID, it.Type, it.Status, it.Arguments, it.CallID, it.Name})
	case ItemMCPCall:
		return json.Marshal(struct {
			ID                string  `json:"id"`
			Type              string  `json:"type"`
			Status            string  `json:"status"`
			Arguments         string  `json:"arguments"`
			Name              string  `json:"name"`
			ServerLabel       string  `json:"server_label"`
			Output            *string `json:"output"`
			Error             *string `json:"error"`
			ApprovalRequestID *string `json:"approval_request_id"`
		}{it.ID, it.Type, it.Status, it.Arguments, it.Name, it.ServerLabel, it.Output, it.Error, it.ApprovalRequestID})
	case ItemApprovalRequest:
		return json.Marshal(struct {
			ID          string `json:"id"`
			Type        string `json:"type"`
			Arguments   string `json:"arguments"`
			Name        string `json:"name"`
			ServerLabel string `json:"server_label"`
		}{it.ID, it.Type, it.Arguments, it.Name, it.ServerLabel})
	}
	type plain OutputItem
	return json.Marshal(plain(it))
}

// ContentPart is a message's text: an output_text part.
type ContentPart struct {
	Type        string `json:"type"`
	Text        string `json:"text"`
	Annotations []any  `json:"annotations"`
	Logprobs    []any  `json:"logprobs"`
}

func textPart(text string) ContentPart {
	return ContentPart{Type: "output_text", Text: text, Annotations: []any{}, Logprobs: []any{}}
}

// MarshalJSON writes empty annotations and logprobs as [] (never null).
func (p ContentPart) MarshalJSON() ([]byte, error) {
	type plain ContentPart
	if p.Annotations == nil {
		p.Annotations = []any{}
	}
	if p.Logprobs == nil {
		p.Logprobs = []any{}
	}
	return json.Marshal(plain(p))
}
