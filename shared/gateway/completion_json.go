package gateway

import (
	"encoding/json"
	"net/http"
	"strconv"
	"sync"

	"github.com/plinth-ai/plinth/shared/httpapi"
	"github.com/plinth-ai/plinth/shared/jsonappend"
	"github.com/plinth-ai/plinth/shared/provider"
)

// writeCompletion answers a chat completion with status 200: the response httpapi.WriteJSON
// writes for it, without reflection for the common shapes (text or tool-call answers,
// no citations, no guardrail intervention); the rest goes through httpapi.WriteJSON.
func writeCompletion(w http.ResponseWriter, c Completion) {
	bp := completionBufs.Get().(*[]byte)
	b, ok := appendCompletion((*bp)[:0], &c)
	if !ok {
		completionBufs.Put(bp)
		httpapi.WriteJSON(w, http.StatusOK, c)
		return
	}
	httpapi.WriteEncodedJSON(w, http.StatusOK, b)
	if cap(b) <= 64<<10 {
		*bp = b
		completionBufs.Put(bp)
	}
}

var completionBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// appendCompletion appends c as encoding/json's Encoder (HTML characters not escaped)
// writes it, newline included, reporting false for what it leaves to encoding/json.
// Choices are written as provider.Choice's MarshalJSON writes them: through json.Marshal,
// so with HTML characters escaped, and with the message's fields ahead of "refusal"
// after the choice's own.
func appendCompletion(b []byte, c *Completion) ([]byte, bool) {
	r := c.ChatResponse
	if r == nil || c.Guardrail != nil || len(r.Citations) > 0 {
		return b, false
	}
	b = append(b, `{"id":`...)
	b = jsonappend.String(b, r.ID, false)
	b = append(b, `,"object":`...)
	b = jsonappend.String(b, r.Object, false)
	b = append(b, `,"created":`...)
	b = strconv.AppendInt(b, r.Created, 10)
	b = append(b, `,"model":`...)
	b = jsonappend.String(b, r.Model, false)
	b = append(b, `,"choices":`...)
	if r.Choices == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range r.Choices {
			if i > 0 {
				b = append(b, ',')
			}
			var ok bool
			if b, ok = appendChoice(b, &r.Choices[i]); !ok {
				return b, false
			}
		}
		b = append(b, ']')
	}
	if u := r.Usage; u != nil {
		b = append(b, `,"usage":`...)
		b = u.AppendJSON(b)
	}
	if r.SystemFingerprint != "" {
		b = append(b, `,"system_fingerprint":`...)
		b = jsonappend.String(b, r.SystemFingerprint, false)
	}
	return append(b, '}', '\n'), true
}

func appendChoice(b []byte, ch *provider.Choice) ([]byte, bool) {
	m := &ch.Message
	if m.Content.Parts != nil || (ch.Logprobs != nil && string(ch.Logprobs) != "null") {
		return b, false
	}
	b = append(b, `{"index":`...)
	b = strconv.AppendInt(b, int64(ch.Index), 10)
	b = append(b, `,"finish_reason":`...)
	b = jsonappend.String(b, ch.FinishReason, true)
	b = append(b, `,"logprobs":null,"message":{"role":`...)
	b = jsonappend.String(b, m.Role, true)
	b = append(b, `,"content":`...)
	if m.Content.Null && m.Content.Text == "" {
		b = append(b, "null"...)
	} else {
		b = jsonappend.String(b, m.Content.Text, true)
	}
	if m.Name != "" {
		b = append(b, `,"name":`...)
		b = jsonappend.String(b, m.Name, true)
	}
	if len(m.ToolCalls) > 0 {
		b = append(b, `,"tool_calls":[`...)
		for i := range m.ToolCalls {
			tc := &m.ToolCalls[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '{')
			first := true
			if tc.Index != nil {
				b = append(b, `"index":`...)
				b = strconv.AppendInt(b, int64(*tc.Index), 10)
				first = false
			}
			if tc.ID != "" {
				if !first {
					b = append(b, ',')
				}
				b = append(b, `"id":`...)
				b = jsonappend.String(b, tc.ID, true)
				first = false
			}
			if tc.Type != "" {
				if !first {
					b = append(b, ',')
				}
				b = append(b, `"type":`...)
				b = jsonappend.String(b, tc.Type, true)
				first = false
			}
			if !first {
				b = append(b, ',')
			}
			b = append(b, `"function":{`...)
			if tc.Function.Name != "" {
				b = append(b, `"name":`...)
				b = jsonappend.String(b, tc.Function.Name, true)
				b = append(b, ',')
			}
			b = append(b, `"arguments":`...)
			b = jsonappend.String(b, tc.Function.Arguments, true)
			b = append(b, '}', '}')
		}
		b = append(b, ']')
	}
	if m.ToolCallID != "" {
		b = append(b, `,"tool_call_id":`...)
		b = jsonappend.String(b, m.ToolCallID, true)
	}
	if m.ToolError {
		b = append(b, `,"tool_error":true`...)
	}
	b = append(b, `,"refusal":`...)
	if m.Refusal == nil {
		b = append(b, "null"...)
	} else {
		b = jsonappend.String(b, *m.Refusal, true)
	}
	return append(b, '}', '}'), true
}

var _ json.Marshaler = provider.Choice{} // the encoding appendChoice reproduces
