package cache

import (
	"sort"

	"github.com/plinth-ai/plinth/shared/provider"
)

// ReplayChunks returns the chunk sequence to send as SSE for a cached entry: the
// recorded stream when there is one, else chunks synthesised from the response (a role
// and content chunk and a finish chunk per choice, then a usage chunk with no choices when
// the response has usage). The caller writes them as "data: …" events, omits the usage
// chunk unless the client asked for stream_options.include_usage, and ends with [DONE].
func ReplayChunks(e *Entry) []provider.ChatChunk {
	if e == nil || e.Response == nil {
		return nil
	}
	if len(e.Chunks) > 0 {
		return append([]provider.ChatChunk(nil), e.Chunks...)
	}
	r := e.Response
	head := func() provider.ChatChunk {
		return provider.ChatChunk{ID: r.ID, Object: "chat.completion.chunk", Created: r.Created, Model: r.Model, SystemFingerprint: r.SystemFingerprint}
	}
	var out []provider.ChatChunk
	for _, ch := range r.Choices {
		c := head()
		d := provider.Delta{Role: "assistant", Refusal: ch.Message.Refusal}
		if text := ch.Message.Content.String(); text != "" || len(ch.Message.ToolCalls) == 0 {
			d.Content = &text
		}
		for i, tc := range ch.Message.ToolCalls {
			idx := i
			tc.Index = &idx
			d.ToolCalls = append(d.ToolCalls, tc)
		}
		c.Choices = []provider.ChunkChoice{{Index: ch.Index, Delta: d}}
		out = append(out, c)
		fin := head()
		reason := ch.FinishReason
		fin.Choices = []provider.ChunkChoice{{Index: ch.Index, FinishReason: &reason}}
		out = append(out, fin)
	}
	if r.Usage != nil {
		u := head()
		usage := *r.Usage
		u.Choices = []provider.ChunkChoice{}
		u.Usage = &usage
		out = append(out, u)
	}
	return out
}

// Assemble builds the whole response a chunk sequence amounts to (content and refusals
// concatenated, tool-call arguments joined by index, the last finish reason, the usage),
// so a streamed answer can be cached and later served to non-streaming clients too.
func Assemble(chunks []provider.ChatChunk) *provider.ChatResponse {
	if len(chunks) == 0 {
		return nil
	}
	r := &provider.ChatResponse{ID: chunks[0].ID, Object: "chat.completion", Created: chunks[0].Created, Model: chunks[0].Model, SystemFingerprint: chunks[0].SystemFingerprint}
	type acc struct {
		role, text, refusal string
		hasRefusal          bool
		calls               map[int]*provider.ToolCall
		finish              string
	}
	choices := map[int]*acc{}
	for _, ch := range chunks {
		if ch.Usage != nil {
			u := *ch.Usage
			r.Usage = &u
		}
		for _, c := range ch.Choices {
			a := choices[c.Index]
			if a == nil {
				a = &acc{role: "assistant", calls: map[int]*provider.ToolCall{}}
				choices[c.Index] = a
			}
			if c.Delta.Role != "" {
				a.role = c.Delta.Role
			}
			if c.Delta.Content != nil {
				a.text += *c.Delta.Content
			}
			if c.Delta.Refusal != nil {
				a.refusal += *c.Delta.Refusal
				a.hasRefusal = true
			}
			for i, tc := range c.Delta.ToolCalls {
				idx := i
				if tc.Index != nil {
					idx = *tc.Index
				}
				cur := a.calls[idx]
				if cur == nil {
					cur = &provider.ToolCall{}
					a.calls[idx] = cur
				}
				if tc.ID != "" {
					cur.ID = tc.ID
				}
				if tc.Type != "" {
					cur.Type = tc.Type
				}
				if tc.Function.Name != "" {
					cur.Function.Name = tc.Function.Name
				}
				cur.Function.Arguments += tc.Function.Arguments
			}
			if c.FinishReason != nil {
				a.finish = *c.FinishReason
			}
		}
	}
	idxs := make([]int, 0, len(choices))
	for i := range choices {
		idxs = append(idxs, i)
	}
	sort.Ints(idxs)
	for _, i := range idxs {
		a := choices[i]
		m := provider.Message{Role: a.role, Content: provider.TextContent(a.text)}
		if a.hasRefusal {
			ref := a.refusal
			m.Refusal = &ref
		}
		if len(a.calls) > 0 {
			if a.text == "" {
				m.Content = provider.Content{Null: true}
			}
			ks := make([]int, 0, len(a.calls))
			for k := range a.calls {
				ks = append(ks, k)
			}
			sort.Ints(ks)
			for _, k := range ks {
				m.ToolCalls = append(m.ToolCalls, *a.calls[k])
			}
		}
		r.Choices = append(r.Choices, provider.Choice{Index: i, Message: m, FinishReason: a.finish})
	}
	return r
}
