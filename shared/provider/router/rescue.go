package router

import (
	"context"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/plinth-ai/plinth/shared/provider"
)

// ChatStream starts a streamed completion and returns once a deployment has produced its
// first chunk, so the caller can commit to a 200 response; retries and fallbacks before
// that are as for Chat.
//
// The stream it returns (a provider.RoutedStream) survives upstream failures after that:
// when an attempt fails mid-way (a reset, a cut, a stall past the idle timeout, a
// malformed event), the router continues the answer on the next candidate, as it would
// retry or fall back before the first chunk, asking it to go on from the text already
// returned. The caller reads one answer: one id, one role, the text without a gap or a
// repeat, tool calls whole (they are held back until the attempt that makes them
// finishes), each chunk naming the model that produced it, and one closing usage chunk
// that sums every attempt. Recv returns a *provider.Error only when no candidate can go
// on. A failure after the finish reason ends the stream normally: the answer is whole.
// Answers with several choices (n > 1) are not continued. Close cancels the upstream.
func (r *Router) ChatStream(ctx context.Context, t Target, resolve Resolver, req *provider.ChatRequest) (provider.Stream, Served, error) {
	s := &routed{r: r, ctx: ctx, c: r.newChain(t, resolve, kindChat), req: req,
		single: req.N == nil || *req.N <= 1}
	if err := s.advance(); err != nil {
		return nil, s.c.served, err
	}
	return s, s.c.served, nil
}

// routed is the stream ChatStream returns.
type routed struct {
	r      *Router
	ctx    context.Context
	c      *chain
	req    *provider.ChatRequest
	single bool // one choice: the answer can be continued

	cur       *attempt
	curD      *Deployment
	curB      *breaker
	curReq    *provider.ChatRequest
	curModel  string
	curDep    string
	curUsage  *provider.Usage // the usage the current attempt reported, if any
	curOutput int             // bytes of output the current attempt produced
	seam      *seam

	id       string // the answer's identity, kept across attempts
	created  int64
	roleSent bool
	text     strings.Builder // the content returned so far
	held     []*provider.ChatChunk
	finished bool

	spends  []provider.Spend
	pending []*provider.ChatChunk
	done    bool
	err     error
}

var _ provider.RoutedStream = (*routed)(nil)

// advance opens the next candidate that produces a first chunk, continuing the answer
// from the text returned so far.
func (s *routed) advance() error {
	for {
		d, b, err := s.c.next(s.ctx)
		if err != nil {
			return err
		}
		start := time.Now()
		a, req, err := s.open(d)
		s.r.observed(s.c.t.ModelID, d.ID, err, start)
		if err == nil {
			b.success()
			s.cur, s.curD, s.curB, s.curReq = a, d, b, req
			s.curModel, s.curDep = s.c.t.ModelID, d.ID
			s.curUsage, s.curOutput = nil, 0
			s.seam = newSeam(s.text.String(), req != s.req && !s.prefilled(req))
			return nil
		}
		if stop := s.c.fail(s.ctx, d, b, err); stop != nil {
			return stop
		}
	}
}

// open starts an attempt on d. A deployment configured for prefill that refuses one is
// asked again at once with an instruction, and is not sent a prefill again: its refusal
// is never the request's error.
func (s *routed) open(d *Deployment) (*attempt, *provider.ChatRequest, error) {
	key := breakerKey{s.c.t.ModelID, d.ID}
	_, refused := s.r.noPrefill.Load(key)
	prefill := d.Prefill && !refused
	req := continuation(s.req, s.text.String(), s.produced(), prefill)
	a, err := openAttempt(s.ctx, d, s.c.t.Timeouts, s.c.firstTokenBound(s.ctx), req)
	if err == nil || req == s.req || !prefill || s.ctx.Err() != nil {
		return a, req, err
	}
	if pe, ok := provider.AsError(err); !ok || pe.Kind != provider.KindBadRequest {
		return nil, req, err
	}
	s.r.noPrefill.Store(key, true)
	req = continuation(s.req, s.text.String(), s.produced(), false)
	a, err = openAttempt(s.ctx, d, s.c.t.Timeouts, s.c.firstTokenBound(s.ctx), req)
	return a, req, err
}

// prefilled reports whether req continues the answer by prefill.
func (s *routed) prefilled(req *provider.ChatRequest) bool {
	return len(req.Messages) > 0 && req.Messages[len(req.Messages)-1].Role == "assistant"
}

// produced is the output already spent on the answer, in tokens.
func (s *routed) produced() int {
	n := 0
	for _, sp := range s.spends {
		n += sp.Usage.CompletionTokens
	}
	return n
}

// Recv implements provider.Stream.
func (s *routed) Recv() (*provider.ChatChunk, error) {
	for {
		if len(s.pending) > 0 {
			c := s.pending[0]
			s.pending = s.pending[1:]
			return c, nil
		}
		if s.done {
			if s.err != nil {
				return nil, s.err
			}
			return nil, io.EOF
		}
		c, err := s.cur.Recv()
		if err != nil {
			s.attemptEnded(err)
			continue
		}
		if out := s.relay(c); out != nil {
			return out, nil
		}
	}
}

// relay turns an attempt's chunk into the answer's, or returns nil when it holds nothing
// to pass on now.
func (s *routed) relay(c *provider.ChatChunk) *provider.ChatChunk {
	if c.Usage != nil {
		u := *c.Usage
		s.curUsage = &u
		c.Usage = nil
	}
	if len(c.Choices) == 0 {
		return nil
	}
	if s.id == "" {
		s.id, s.created = c.ID, c.Created
	}
	c.ID, c.Created, c.Model = s.id, s.created, s.curModel
	if !s.single {
		s.countOutput(c)
		return c
	}
	ch := &c.Choices[0]
	if ch.Delta.Role != "" {
		if s.roleSent {
			ch.Delta.Role = ""
		}
		s.roleSent = true
	}
	if p := ch.Delta.Content; p != nil {
		s.curOutput += len(*p)
		text := s.seam.feed(*p)
		if ch.FinishReason != nil {
			text += s.seam.flush()
		}
		s.text.WriteString(text)
		ch.Delta.Content = &text
	} else if ch.FinishReason != nil {
		if rest := s.seam.flush(); rest != "" {
			s.text.WriteString(rest)
			ch.Delta.Content = &rest
		}
	}
	if len(ch.Delta.ToolCalls) > 0 {
		for _, tc := range ch.Delta.ToolCalls {
			s.curOutput += len(tc.Function.Name) + len(tc.Function.Arguments)
		}
		calls := &provider.ChatChunk{ID: c.ID, Object: c.Object, Created: c.Created, Model: c.Model, SystemFingerprint: c.SystemFingerprint,
			Choices: []provider.ChunkChoice{{Index: ch.Index, Delta: provider.Delta{ToolCalls: ch.Delta.ToolCalls}}}}
		s.held = append(s.held, calls)
		ch.Delta.ToolCalls = nil
	}
	if ch.FinishReason != nil {
		s.finished = true
		s.pending = append(s.pending, s.held...)
		s.held = nil
		if !emptyDelta(ch) {
			// Text that came with the finish goes before the held tool calls.
			finish := *ch
			finish.Delta = provider.Delta{}
			ch.FinishReason = nil
			s.pending = append(s.pending, &provider.ChatChunk{ID: c.ID, Object: c.Object, Created: c.Created, Model: c.Model,
				SystemFingerprint: c.SystemFingerprint, Choices: []provider.ChunkChoice{finish}})
			return c
		}
		s.pending = append(s.pending, c)
		return nil
	}
	if emptyDelta(ch) && ch.Delta.Refusal == nil && len(ch.Logprobs) == 0 {
		return nil
	}
	return c
}

func emptyDelta(ch *provider.ChunkChoice) bool {
	d := &ch.Delta
	return d.Role == "" && (d.Content == nil || *d.Content == "") && len(d.ToolCalls) == 0 && d.Refusal == nil
}

func (s *routed) countOutput(c *provider.ChatChunk) {
	for i := range c.Choices {
		if p := c.Choices[i].Delta.Content; p != nil {
			s.curOutput += len(*p)
		}
	}
}

// attemptEnded settles the current attempt, which ended with err (io.EOF when whole),
// and moves on to the next candidate when the answer is not complete.
func (s *routed) attemptEnded(err error) {
	s.spends = append(s.spends, s.spend())
	d, b := s.curD, s.curB
	s.cur.Close()
	if errors.Is(err, io.EOF) || s.finished {
		s.finish()
		return
	}
	if !s.single || s.ctx.Err() != nil {
		s.end(s.stopErr(err))
		return
	}
	// The answer is not complete: what the attempt held back was never returned.
	s.held = nil
	if stop := s.c.fail(s.ctx, d, b, err); stop != nil {
		s.end(stop)
		return
	}
	if err := s.advance(); err != nil {
		s.end(err)
	}
}

func (s *routed) stopErr(err error) error {
	if s.ctx.Err() != nil {
		return cancelled(s.ctx.Err(), err)
	}
	return err
}

// finish ends the answer: whatever is still held, then one usage chunk for every attempt.
func (s *routed) finish() {
	if rest := s.seam.flush(); rest != "" && s.single {
		s.text.WriteString(rest)
		s.pending = append(s.pending, s.chunk([]provider.ChunkChoice{{Delta: provider.Delta{Content: &rest}}}))
	}
	s.pending = append(s.pending, s.held...)
	s.held = nil
	total := provider.Usage{}
	for _, sp := range s.spends {
		total.PromptTokens += sp.Usage.PromptTokens
		total.CompletionTokens += sp.Usage.CompletionTokens
	}
	total.TotalTokens = total.PromptTokens + total.CompletionTokens
	u := s.chunk([]provider.ChunkChoice{})
	u.Usage = &total
	s.pending = append(s.pending, u)
	s.done = true
}

func (s *routed) end(err error) {
	s.done, s.err = true, err
}

func (s *routed) chunk(choices []provider.ChunkChoice) *provider.ChatChunk {
	return &provider.ChatChunk{ID: s.id, Object: "chat.completion.chunk", Created: s.created, Model: s.curModel, Choices: choices}
}

// spend is what the current attempt consumed: its reported usage, else an over-estimate.
func (s *routed) spend() provider.Spend {
	sp := provider.Spend{ModelID: s.curModel, DeploymentID: s.curDep}
	if s.curUsage != nil {
		sp.Usage = *s.curUsage
		return sp
	}
	sp.Estimated = true
	sp.Usage.PromptTokens = provider.EstimatePromptTokens(s.curReq)
	if s.curOutput > 0 {
		sp.Usage.CompletionTokens = (s.curOutput + 3) / 3
	}
	sp.Usage.TotalTokens = sp.Usage.PromptTokens + sp.Usage.CompletionTokens
	return sp
}

// Model implements provider.RoutedStream.
func (s *routed) Model() string { return s.curModel }

// Deployment implements provider.RoutedStream.
func (s *routed) Deployment() string { return s.curDep }

// Spend implements provider.RoutedStream. Before the stream ends it includes the
// current attempt as far as it went.
func (s *routed) Spend() []provider.Spend {
	if s.done || s.cur == nil {
		return append([]provider.Spend(nil), s.spends...)
	}
	return append(append([]provider.Spend(nil), s.spends...), s.spend())
}

// Close implements provider.Stream: it cancels the current upstream attempt.
func (s *routed) Close() error {
	if s.cur == nil || s.cur.done {
		s.done = true
		return nil
	}
	if !s.done {
		s.spends = append(s.spends, s.spend())
		s.done = true
	}
	return s.cur.Close()
}
