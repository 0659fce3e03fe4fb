package gateway

import (
	"context"
	"errors"
	"io"
	"strings"

	"github.com/plinth-ai/plinth/shared/provider"
)

// ChatStream starts one streamed chat completion for c. Refusals before the model is
// called are errors, as for Chat; once it returns, the stream has begun: read it with
// Recv until io.EOF (the completion ended) or an error (it failed midway), and Close it
// in any case. A request the input guardrail blocked, or the cache answered, is a stream
// too (of the policy's message, or of the cached answer).
func (g *Gateway) ChatStream(ctx context.Context, c *Caller, in *ChatRequest) (*Stream, error) {
	cl := g.begin(ctx, c, "chat.completions")
	req := *in
	req.Stream = true
	if err := validateChat(&req.ChatRequest, req.Frame != nil); err != nil {
		cl.finish(err)
		return nil, err
	}
	early, err := cl.prepare(&req)
	if err != nil {
		cl.finish(err)
		return nil, err
	}
	s := &Stream{cl: cl, Deprecated: cl.deprecated, Guardrail: cl.guardrail,
		includeUsage: req.StreamOptions != nil && req.StreamOptions.IncludeUsage}
	if early != nil {
		s.Model, s.CacheHit = early.Served.ModelID, early.CacheHit
		if early.Refused() {
			s.refuse(early.Response)
		} else {
			s.replay(early.Response)
		}
		return s, nil
	}
	up, served, err := g.invoker.ChatStream(ctx, cl.model, &cl.req)
	cl.rec.Deployment = served.DeploymentID
	if err != nil {
		cl.settle(0, 0)
		err = upstreamError(err)
		cl.finish(err)
		return nil, err
	}
	cl.rec.Model = served.ModelID
	s.Model, s.Deployment, s.served, s.up = served.ModelID, served.DeploymentID, served, up
	if g.guard != nil {
		if s.guard = g.guard.OutputStream(ctx, c); s.guard != nil {
			cl.rec.Guarded = true
		}
	}
	return s, nil
}

// Stream is a streamed chat completion in progress. Its exported fields are set before
// the first chunk; Recv yields chunks ready to send, already checked by the output
// guardrail. A Stream is not safe for concurrent use.
type Stream struct {
	// Model is the model answering (a fallback may differ from the one requested);
	// Deployment the deployment serving it ("" for a cached or blocked answer).
	Model, Deployment string
	CacheHit          bool
	Deprecated        bool
	// Guardrail is the input guardrail's intervention, if any; an output intervention
	// is reported on the chunk that ends the stream.
	Guardrail *Guardrail

	cl           *call
	up           provider.Stream
	served       Served
	guard        StreamGuard
	includeUsage bool

	pending []*Chunk
	term    error // io.EOF or the failure, once the stream has ended
	closed  bool

	usage   *provider.Usage
	id      string // identity of the stream for synthesised chunks
	created int64
	text    strings.Builder // the answer, for the cache
	finish  string
	tools   bool
	blocked bool
}

// Recv returns the next chunk, io.EOF once the completion has ended, or the error that
// ended it midway (an *Error: ErrCanceled when the caller's context ended, else an
// upstream kind). After either, the usage is settled and recorded.
func (s *Stream) Recv() (*Chunk, error) {
	for len(s.pending) == 0 {
		if s.term != nil {
			s.cl.finish(nilIfEOF(s.term))
			return nil, s.term
		}
		s.step()
	}
	ch := s.pending[0]
	s.pending = s.pending[1:]
	return ch, nil
}

// Close ends the stream. Closed early (the caller went away), it stops the upstream,
// charges what the provider reported so far (or the whole reservation) and records the
// request as canceled. Close is idempotent.
func (s *Stream) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	if s.term == nil {
		s.end(&Error{Kind: ErrCanceled, Message: "the client went away"})
	}
	s.cl.finish(nilIfEOF(s.term))
	if s.up != nil {
		return s.up.Close()
	}
	return nil
}

// Spent returns what the stream was charged, once it has ended (Recv returned io.EOF or
// an error, or Close was called): the input and output tokens and their cost in USD, as
// the usage record has them.
func (s *Stream) Spent() (input, output int64, usd float64) {
	return s.cl.rec.InputTokens, s.cl.rec.OutputTokens, s.cl.rec.CostUSD
}

func nilIfEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

// step reads one upstream chunk and queues what may be sent of it.
func (s *Stream) step() {
	ch, err := s.up.Recv()
	if errors.Is(err, io.EOF) {
		s.end(nil)
		return
	}
	if err != nil {
		if s.cl.ctx.Err() != nil {
			s.end(&Error{Kind: ErrCanceled, Message: "the client closed the request", Err: err})
		} else {
			s.end(upstreamError(err))
		}
		return
	}
	if r, ok := s.up.(provider.RoutedStream); ok && r.Model() != "" {
		// The router continued the answer on another model when the first failed midway:
		// each chunk names the model that produced it.
		s.Model = r.Model()
	}
	ch.Model = s.Model
	if ch.Object == "" {
		ch.Object = "chat.completion.chunk"
	}
	s.id, s.created = ch.ID, ch.Created
	if ch.Usage != nil {
		s.usage = ch.Usage
		ch.Usage = nil // re-emitted at the end if the caller asked for usage
	}
	if len(ch.Choices) == 0 {
		return
	}
	choice := &ch.Choices[0]
	if len(choice.Delta.ToolCalls) > 0 {
		s.tools = true
	}
	if choice.Delta.Content != nil {
		s.text.WriteString(*choice.Delta.Content)
		if s.guard != nil {
			emit, stop := s.guard.Write(*choice.Delta.Content)
			if stop {
				s.block()
				s.end(nil)
				return
			}
			if emit == "" && choice.FinishReason == nil && choice.Delta.Role == "" && len(choice.Delta.ToolCalls) == 0 {
				return
			}
			choice.Delta.Content = &emit
		}
	}
	out := &Chunk{ChatChunk: *ch}
	if choice.FinishReason != nil {
		s.finish = *choice.FinishReason
		if s.guard != nil {
			rest, stop := s.guard.Flush()
			if stop {
				s.block()
				s.end(nil)
				return
			}
			if choice.Delta.Content != nil {
				joined := *choice.Delta.Content + rest
				choice.Delta.Content = &joined
			} else if rest != "" {
				s.pending = append(s.pending, s.textChunk(rest, nil))
			}
		}
		if s.cl.cite != nil {
			out.Citations = s.cl.cite(s.text.String())
		}
	}
	s.pending = append(s.pending, out)
}

// spendOf returns what each upstream attempt of a routed stream consumed (nil for
// another stream).
func spendOf(up provider.Stream) []provider.Spend {
	if r, ok := up.(provider.RoutedStream); ok {
		return r.Spend()
	}
	return nil
}

// textChunk is a synthesised content chunk of the stream.
func (s *Stream) textChunk(text string, finish *string) *Chunk {
	return &Chunk{ChatChunk: provider.ChatChunk{ID: s.id, Object: "chat.completion.chunk", Created: s.created, Model: s.Model,
		Choices: []provider.ChunkChoice{{Delta: provider.Delta{Content: &text}, FinishReason: finish}}}}
}

// block queues the policy's message as the stream's last content: the output guardrail
// stopped it.
func (s *Stream) block() {
	s.cl.intervene(SourceOutput, ActionBlocked, s.guard.Filters())
	reason := "content_filter"
	ch := s.textChunk(s.guard.Message(), &reason)
	ch.Guardrail = s.cl.guardrail
	s.pending = append(s.pending, ch)
	s.blocked = true
	_ = s.up.Close() // stop the upstream generating what nobody will see
}

// end settles the request and queues the stream's last chunks; failure, when not nil,
// is what ended it.
func (s *Stream) end(failure error) {
	if s.term != nil {
		return
	}
	cl := s.cl
	if s.guard != nil {
		cl.rec.Guardrail = mergeCounts(cl.rec.Guardrail, s.guard.Findings())
		if !s.blocked && failure == nil && s.finish == "" {
			// The upstream ended without a finish reason: release what was held back.
			if rest, stop := s.guard.Flush(); stop {
				s.block()
			} else if rest != "" {
				s.pending = append(s.pending, s.textChunk(rest, nil))
			}
		}
	}
	if spends := spendOf(s.up); len(spends) > 0 {
		cl.chargeAttempts(spends, s.served)
	} else {
		cl.charge(s.usage, s.served.Prices)
	}
	if failure != nil {
		s.term = failure
		return
	}
	if s.includeUsage {
		u := s.usage
		if u == nil {
			u = &provider.Usage{}
		}
		s.pending = append(s.pending, &Chunk{ChatChunk: provider.ChatChunk{ID: s.id, Object: "chat.completion.chunk", Created: s.created,
			Model: s.Model, Choices: []provider.ChunkChoice{}, Usage: u}})
	}
	s.term = io.EOF
	if !s.blocked && !s.tools && s.finish != "" && cl.useCache {
		resp := &provider.ChatResponse{ID: s.id, Object: "chat.completion", Created: s.created, Model: s.Model,
			Choices: []provider.Choice{{Message: provider.Message{Role: "assistant", Content: provider.TextContent(s.text.String())}, FinishReason: s.finish, Logprobs: nullJSON}},
			Usage:   s.usage}
		cl.store(resp)
	}
}

// replay queues a whole answer (cached, or the input guardrail's refusal) as a stream.
func (s *Stream) replay(resp *provider.ChatResponse) {
	for _, choice := range resp.Choices {
		content := choice.Message.Content.String()
		finish := choice.FinishReason
		s.pending = append(s.pending,
			&Chunk{ChatChunk: provider.ChatChunk{ID: resp.ID, Object: "chat.completion.chunk", Created: resp.Created, Model: resp.Model,
				Choices: []provider.ChunkChoice{{Index: choice.Index, Delta: provider.Delta{Role: "assistant", Content: &content}}}}},
			&Chunk{ChatChunk: provider.ChatChunk{ID: resp.ID, Object: "chat.completion.chunk", Created: resp.Created, Model: resp.Model,
				Choices: []provider.ChunkChoice{{Index: choice.Index, Delta: provider.Delta{}, FinishReason: &finish}}}})
	}
	s.endWhole(resp)
}

// refuse queues the input guardrail's refusal: one chunk with the policy's message and
// finish reason content_filter.
func (s *Stream) refuse(resp *provider.ChatResponse) {
	msg := resp.Choices[0].Message.Content.String()
	finish := "content_filter"
	s.pending = append(s.pending, &Chunk{ChatChunk: provider.ChatChunk{ID: resp.ID, Object: "chat.completion.chunk", Created: resp.Created, Model: resp.Model,
		Choices: []provider.ChunkChoice{{Delta: provider.Delta{Role: "assistant", Content: &msg}, FinishReason: &finish}}}, Guardrail: s.Guardrail})
	s.endWhole(resp)
}

// endWhole ends the stream of a whole answer, with its usage chunk if asked for.
func (s *Stream) endWhole(resp *provider.ChatResponse) {
	if s.includeUsage {
		u := resp.Usage
		if u == nil {
			u = &provider.Usage{}
		}
		s.pending = append(s.pending, &Chunk{ChatChunk: provider.ChatChunk{ID: resp.ID, Object: "chat.completion.chunk", Created: resp.Created,
			Model: resp.Model, Choices: []provider.ChunkChoice{}, Usage: u}})
	}
	s.term = io.EOF
}
