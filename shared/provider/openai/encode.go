package openai

import (
	"encoding/json"
	"errors"
	"math"
	"strconv"

	"github.com/plinth-ai/plinth/shared/jsonappend"
	"github.com/plinth-ai/plinth/shared/provider"
)

// appendChatRequest writes req as OpenAI's chat-completions JSON, with model and the
// stream flags overridden, without reflection. It writes the same JSON values as
// encoding/json with HTML escaping off (tests compare the two).
func appendChatRequest(b []byte, req *provider.ChatRequest, model string, stream bool) ([]byte, error) {
	var err error
	b = append(b, `{"model":`...)
	b = appendString(b, model)
	if req.Messages == nil {
		b = append(b, `,"messages":null`...)
	} else {
		b = append(b, `,"messages":[`...)
	}
	for i := range req.Messages {
		if i > 0 {
			b = append(b, ',')
		}
		if b, err = appendMessage(b, &req.Messages[i]); err != nil {
			return nil, err
		}
	}
	if req.Messages != nil {
		b = append(b, ']')
	}
	if b, err = appendFloatField(b, `,"temperature":`, req.Temperature); err != nil {
		return nil, err
	}
	if b, err = appendFloatField(b, `,"top_p":`, req.TopP); err != nil {
		return nil, err
	}
	b = appendIntField(b, `,"max_tokens":`, req.MaxTokens)
	b = appendIntField(b, `,"max_completion_tokens":`, req.MaxCompletionTokens)
	if len(req.Stop) > 0 {
		b = append(b, `,"stop":[`...)
		for i, s := range req.Stop {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, s)
		}
		b = append(b, ']')
	}
	b = appendIntField(b, `,"n":`, req.N)
	if stream {
		b = append(b, `,"stream":true,"stream_options":{"include_usage":true}`...)
	}
	if len(req.Tools) > 0 {
		b = append(b, `,"tools":[`...)
		for i := range req.Tools {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = appendTool(b, &req.Tools[i]); err != nil {
				return nil, err
			}
		}
		b = append(b, ']')
	}
	if b, err = appendRawField(b, `,"tool_choice":`, req.ToolChoice); err != nil {
		return nil, err
	}
	b = appendBoolField(b, `,"parallel_tool_calls":`, req.ParallelToolCalls)
	if b, err = appendRawField(b, `,"response_format":`, req.ResponseFormat); err != nil {
		return nil, err
	}
	if req.Seed != nil {
		b = append(b, `,"seed":`...)
		b = strconv.AppendInt(b, *req.Seed, 10)
	}
	if b, err = appendFloatField(b, `,"presence_penalty":`, req.PresencePenalty); err != nil {
		return nil, err
	}
	if b, err = appendFloatField(b, `,"frequency_penalty":`, req.FrequencyPenalty); err != nil {
		return nil, err
	}
	if req.User != "" {
		b = append(b, `,"user":`...)
		b = appendString(b, req.User)
	}
	return append(b, '}'), nil
}

func appendMessage(b []byte, m *provider.Message) ([]byte, error) {
	return appendMessageRefusal(b, m, false)
}

// appendMessageRefusal writes a message; responses (alwaysRefusal) carry "refusal"
// even when null, as provider.Choice's encoding and OpenAI's schema have it.
func appendMessageRefusal(b []byte, m *provider.Message, alwaysRefusal bool) ([]byte, error) {
	b = append(b, `{"role":`...)
	b = appendString(b, m.Role)
	b = append(b, `,"content":`...)
	switch {
	case m.Content.Parts != nil:
		raw, err := json.Marshal(m.Content.Parts)
		if err != nil {
			return nil, err
		}
		b = append(b, raw...)
	case m.Content.Null && m.Content.Text == "":
		b = append(b, "null"...)
	default:
		b = appendString(b, m.Content.Text)
	}
	if m.Name != "" {
		b = append(b, `,"name":`...)
		b = appendString(b, m.Name)
	}
	if len(m.ToolCalls) > 0 {
		b = append(b, `,"tool_calls":[`...)
		for i := range m.ToolCalls {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendToolCall(b, &m.ToolCalls[i])
		}
		b = append(b, ']')
	}
	if m.ToolCallID != "" {
		b = append(b, `,"tool_call_id":`...)
		b = appendString(b, m.ToolCallID)
	}
	switch {
	case m.Refusal != nil:
		b = append(b, `,"refusal":`...)
		b = appendString(b, *m.Refusal)
	case alwaysRefusal:
		b = append(b, `,"refusal":null`...)
	}
	return append(b, '}'), nil
}

func appendToolCall(b []byte, tc *provider.ToolCall) []byte {
	b = append(b, '{')
	first := true
	sep := func() {
		if !first {
			b = append(b, ',')
		}
		first = false
	}
	if tc.Index != nil {
		sep()
		b = append(b, `"index":`...)
		b = strconv.AppendInt(b, int64(*tc.Index), 10)
	}
	if tc.ID != "" {
		sep()
		b = append(b, `"id":`...)
		b = appendString(b, tc.ID)
	}
	if tc.Type != "" {
		sep()
		b = append(b, `"type":`...)
		b = appendString(b, tc.Type)
	}
	sep()
	b = append(b, `"function":{`...)
	if tc.Function.Name != "" {
		b = append(b, `"name":`...)
		b = appendString(b, tc.Function.Name)
		b = append(b, ',')
	}
	b = append(b, `"arguments":`...)
	b = appendString(b, tc.Function.Arguments)
	return append(b, "}}"...)
}

func appendTool(b []byte, t *provider.Tool) ([]byte, error) {
	b = append(b, `{"type":`...)
	b = appendString(b, t.Type)
	b = append(b, `,"function":{"name":`...)
	b = appendString(b, t.Function.Name)
	if t.Function.Description != "" {
		b = append(b, `,"description":`...)
		b = appendString(b, t.Function.Description)
	}
	var err error
	if b, err = appendRawField(b, `,"parameters":`, t.Function.Parameters); err != nil {
		return nil, err
	}
	b = appendBoolField(b, `,"strict":`, t.Function.Strict)
	return append(b, "}}"...), nil
}

var errInvalidRaw = errors.New("invalid JSON in a raw request field")

func appendRawField(b []byte, key string, raw json.RawMessage) ([]byte, error) {
	if len(raw) == 0 {
		return b, nil
	}
	if !json.Valid(raw) {
		return nil, errInvalidRaw
	}
	b = append(b, key...)
	return append(b, raw...), nil
}

func appendIntField(b []byte, key string, v *int) []byte {
	if v == nil {
		return b
	}
	b = append(b, key...)
	return strconv.AppendInt(b, int64(*v), 10)
}

func appendBoolField(b []byte, key string, v *bool) []byte {
	if v == nil {
		return b
	}
	b = append(b, key...)
	return strconv.AppendBool(b, *v)
}

var errBadFloat = errors.New("a number in the request is NaN or infinite")

// appendFloatField formats as encoding/json does: shortest representation, exponent
// form only below 1e-6 or from 1e21.
func appendFloatField(b []byte, key string, v *float64) ([]byte, error) {
	if v == nil {
		return b, nil
	}
	f := *v
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, errBadFloat
	}
	b = append(b, key...)
	return jsonappend.Float(b, f)
}

// appendString appends s as a JSON string, as encoding/json writes it without HTML
// escaping.
func appendString(b []byte, s string) []byte { return jsonappend.String(b, s, false) }
