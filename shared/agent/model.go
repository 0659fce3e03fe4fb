package agent

import (
	"context"
	"errors"
	"io"
	"sort"
	"strings"

	"github.com/plinth-ai/plinth/shared/gateway"
	"github.com/plinth-ai/plinth/shared/provider"
)

// answer is one model step's answer, however it was made.
type answer struct {
	msg     provider.Message
	finish  string
	model   string
	in, out int64
	cost    float64
	blocked bool
	// streamed are the calls whose items were announced while the answer streamed.
	streamed map[string]bool
}

// ask makes one model step: whole, or streamed when stream is set, with the text and the
// arguments of offered calls emitted as they arrive. kind names how the run handles a
// call of a function ("" for a call it will not stream).
func (r *Runtime) ask(ctx context.Context, c *gateway.Caller, req *gateway.ChatRequest, stream bool, kind func(fn string) (string, string), emit func(Event)) (*answer, error) {
	if !stream {
		out, err := r.models.Chat(ctx, c, req)
		if err != nil {
			return nil, err
		}
		a := &answer{model: out.Response.Model, blocked: out.Refused()}
		if u := out.Response.Usage; u != nil {
			a.in, a.out = int64(u.PromptTokens), int64(u.CompletionTokens)
			a.cost = out.Served.Prices.Cost(a.in, a.out)
		}
		if len(out.Response.Choices) == 0 {
			return a, errors.New("the model answered no choice")
		}
		ch := out.Response.Choices[0]
		a.msg, a.finish = provider.Message{Role: "assistant", Content: ch.Message.Content, ToolCalls: ch.Message.ToolCalls}, ch.FinishReason
		return a, nil
	}
	req.StreamOptions = &provider.StreamOptions{IncludeUsage: true}
	s, err := r.models.ChatStream(ctx, c, req)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	a := &answer{model: s.Model, streamed: map[string]bool{}}
	var text strings.Builder
	calls := map[int]*provider.ToolCall{}
	for {
		ch, err := s.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if ch.Guardrail.Blocked() {
			a.blocked = true
		}
		if ch.Model != "" {
			a.model = ch.Model
		}
		if len(ch.Choices) == 0 {
			continue
		}
		choice := ch.Choices[0]
		if d := choice.Delta.Content; d != nil && *d != "" {
			text.WriteString(*d)
			emit(Event{Type: EventTextDelta, Text: *d})
		}
		for _, tc := range choice.Delta.ToolCalls {
			i := len(calls)
			if tc.Index != nil {
				i = *tc.Index
			}
			call := calls[i]
			if call == nil {
				call = &provider.ToolCall{Type: "function"}
				calls[i] = call
			}
			if tc.ID != "" {
				call.ID = tc.ID
			}
			if tc.Function.Name != "" {
				call.Function.Name += tc.Function.Name
			}
			call.Function.Arguments += tc.Function.Arguments
			if !a.streamed[call.ID] && call.ID != "" && call.Function.Name != "" {
				if k, name := kind(call.Function.Name); k != "" {
					a.streamed[call.ID] = true
					emit(Event{Type: EventCallStart, Step: Step{Kind: k, Name: name, CallID: call.ID}})
					if call.Function.Arguments != "" {
						emit(Event{Type: EventCallDelta, Step: Step{CallID: call.ID}, Text: call.Function.Arguments})
					}
					continue
				}
			}
			if a.streamed[call.ID] && tc.Function.Arguments != "" {
				emit(Event{Type: EventCallDelta, Step: Step{CallID: call.ID}, Text: tc.Function.Arguments})
			}
		}
		if choice.FinishReason != nil {
			a.finish = *choice.FinishReason
		}
	}
	a.in, a.out, a.cost = s.Spent()
	a.msg = provider.Message{Role: "assistant", Content: provider.TextContent(text.String())}
	idx := make([]int, 0, len(calls))
	for i := range calls {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	for _, i := range idx {
		a.msg.ToolCalls = append(a.msg.ToolCalls, *calls[i])
	}
	if len(a.msg.ToolCalls) > 0 && text.Len() == 0 {
		a.msg.Content = provider.Content{Null: true}
	}
	return a, nil
}
