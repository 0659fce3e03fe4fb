package openai

import (
	"encoding/json"
	"strconv"

	"github.com/plinth-ai/plinth/shared/provider"
)

// AppendChatChunk appends c as OpenAI's chat.completion.chunk JSON, the same JSON
// values encoding/json writes for it (HTML characters are not escaped), without
// reflection: a gateway relaying a stream writes one per token. Unusual content (array
// message parts, invalid raw JSON) goes through encoding/json.
func AppendChatChunk(dst []byte, c *provider.ChatChunk) ([]byte, error) {
	b, ok := appendChunk(dst, c)
	if ok {
		return b, nil
	}
	raw, err := json.Marshal(c)
	if err != nil {
		return dst, err
	}
	return append(dst, raw...), nil
}

// AppendChatResponse appends r as OpenAI's chat.completion JSON, like AppendChatChunk.
func AppendChatResponse(dst []byte, r *provider.ChatResponse) ([]byte, error) {
	b, ok := appendResponse(dst, r)
	if ok {
		return b, nil
	}
	raw, err := json.Marshal(r)
	if err != nil {
		return dst, err
	}
	return append(dst, raw...), nil
}

func appendHead(b []byte, id, object string, created int64, model string) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, id)
	b = append(b, `,"object":`...)
	b = appendString(b, object)
	b = append(b, `,"created":`...)
	b = strconv.AppendInt(b, created, 10)
	b = append(b, `,"model":`...)
	return appendString(b, model)
}

func appendUsageTail(b []byte, u *provider.Usage, fingerprint string) []byte {
	if u != nil {
		b = append(b, `,"usage":`...)
		b = u.AppendJSON(b)
	}
	if fingerprint != "" {
		b = append(b, `,"system_fingerprint":`...)
		b = appendString(b, fingerprint)
	}
	return append(b, '}')
}

// appendRaw appends raw JSON, reporting false when it is not valid.
func appendRaw(b []byte, raw json.RawMessage) ([]byte, bool) {
	if !json.Valid(raw) {
		return b, false
	}
	return append(b, raw...), true
}

func appendChunk(b []byte, c *provider.ChatChunk) ([]byte, bool) {
	b = appendHead(b, c.ID, c.Object, c.Created, c.Model)
	b = append(b, `,"choices":`...)
	if c.Choices == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range c.Choices {
			ch := &c.Choices[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"index":`...)
			b = strconv.AppendInt(b, int64(ch.Index), 10)
			b = append(b, `,"delta":{`...)
			d := &ch.Delta
			first := true
			field := func(key string) {
				if !first {
					b = append(b, ',')
				}
				first = false
				b = append(b, key...)
			}
			if d.Role != "" {
				field(`"role":`)
				b = appendString(b, d.Role)
			}
			if d.Content != nil {
				field(`"content":`)
				b = appendString(b, *d.Content)
			}
			if len(d.ToolCalls) > 0 {
				field(`"tool_calls":[`)
				for j := range d.ToolCalls {
					if j > 0 {
						b = append(b, ',')
					}
					b = appendToolCall(b, &d.ToolCalls[j])
				}
				b = append(b, ']')
			}
			if d.Refusal != nil {
				field(`"refusal":`)
				b = appendString(b, *d.Refusal)
			}
			b = append(b, `},"finish_reason":`...)
			if ch.FinishReason == nil {
				b = append(b, "null"...)
			} else {
				b = appendString(b, *ch.FinishReason)
			}
			if len(ch.Logprobs) > 0 {
				b = append(b, `,"logprobs":`...)
				var ok bool
				if b, ok = appendRaw(b, ch.Logprobs); !ok {
					return b, false
				}
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return appendUsageTail(b, c.Usage, c.SystemFingerprint), true
}

func appendResponse(b []byte, r *provider.ChatResponse) ([]byte, bool) {
	b = appendHead(b, r.ID, r.Object, r.Created, r.Model)
	b = append(b, `,"choices":`...)
	if r.Choices == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range r.Choices {
			ch := &r.Choices[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"index":`...)
			b = strconv.AppendInt(b, int64(ch.Index), 10)
			b = append(b, `,"message":`...)
			var err error
			if b, err = appendMessageRefusal(b, &ch.Message, true); err != nil {
				return b, false
			}
			b = append(b, `,"finish_reason":`...)
			b = appendString(b, ch.FinishReason)
			b = append(b, `,"logprobs":`...)
			if len(ch.Logprobs) == 0 {
				b = append(b, "null"...)
			} else {
				var ok bool
				if b, ok = appendRaw(b, ch.Logprobs); !ok {
					return b, false
				}
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return appendUsageTail(b, r.Usage, r.SystemFingerprint), true
}
