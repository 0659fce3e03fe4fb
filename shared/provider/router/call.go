package router

import (
	"context"
	"time"

	"github.com/plinth-ai/plinth/shared/provider"
)

// Chat sends a chat completion through t's deployments and fallbacks.
func (r *Router) Chat(ctx context.Context, t Target, resolve Resolver, req *provider.ChatRequest) (*provider.ChatResponse, Served, error) {
	c := r.newChain(t, resolve, kindChat)
	for {
		d, b, err := c.next(ctx)
		if err != nil {
			return nil, c.served, err
		}
		bound := c.callBound(ctx, outputCap(req.MaxOutputTokens(), c.t.MaxOutputTokens))
		start := time.Now()
		actx, cancel := withTotal(ctx, bound)
		resp, err := d.Chat.Chat(actx, req)
		err = timeoutErr(ctx, actx, err, "no answer within ", bound)
		cancel()
		r.observed(c.t.ModelID, d.ID, err, start)
		if err == nil {
			b.success()
			return resp, c.served, nil
		}
		if stop := c.fail(ctx, d, b, err); stop != nil {
			return nil, c.served, stop
		}
	}
}

// Embed computes embeddings through t's deployments and fallbacks.
func (r *Router) Embed(ctx context.Context, t Target, resolve Resolver, req *provider.EmbeddingRequest) (*provider.EmbeddingResponse, Served, error) {
	c := r.newChain(t, resolve, kindEmbed)
	for {
		d, b, err := c.next(ctx)
		if err != nil {
			return nil, c.served, err
		}
		bound := c.callBound(ctx, 0)
		start := time.Now()
		actx, cancel := withTotal(ctx, bound)
		resp, err := d.Embed.Embed(actx, req)
		err = timeoutErr(ctx, actx, err, "no answer within ", bound)
		cancel()
		r.observed(c.t.ModelID, d.ID, err, start)
		if err == nil {
			b.success()
			return resp, c.served, nil
		}
		if stop := c.fail(ctx, d, b, err); stop != nil {
			return nil, c.served, stop
		}
	}
}

func (r *Router) observed(model, deployment string, err error, start time.Time) {
	if r.observe != nil {
		r.observe(Attempt{ModelID: model, DeploymentID: deployment, Err: err, Latency: time.Since(start)})
	}
}

// outputCap is the most output an answer may have: the request's cap, else the model's,
// else defaultOutputCap.
func outputCap(requested, model int) int {
	switch {
	case requested > 0:
		return requested
	case model > 0:
		return model
	}
	return defaultOutputCap
}

// callBound is how long a non-streamed attempt may take (0 = unbounded): the model's own
// total when it sets one, else the first-token time plus perOutputToken for each token the
// answer may have, at most maxAnswerWait; and, while another candidate remains, half
// of the time the caller's deadline leaves.
func (c *chain) callBound(ctx context.Context, outTokens int) time.Duration {
	to := c.t.Timeouts
	bound := to.Total
	if c.rawTotal == 0 && to.FirstToken > 0 {
		est := min(to.FirstToken+time.Duration(outTokens)*perOutputToken, maxAnswerWait)
		if bound == 0 || est < bound {
			bound = est
		}
	}
	return c.budget(ctx, bound)
}

// firstTokenBound is how long an attempt may wait for a stream's first chunk.
func (c *chain) firstTokenBound(ctx context.Context) time.Duration {
	return c.budget(ctx, c.t.Timeouts.FirstToken)
}

// budget caps d (0 = unbounded) at half of the time left before the caller's deadline
// while another candidate may follow, so that candidate can still answer.
func (c *chain) budget(ctx context.Context, d time.Duration) time.Duration {
	deadline, ok := ctx.Deadline()
	if !ok || !c.more() {
		return d
	}
	half := time.Until(deadline) / 2
	if half <= 0 {
		return d
	}
	if d == 0 || half < d {
		return half
	}
	return d
}

func withTotal(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d > 0 {
		return context.WithTimeout(ctx, d)
	}
	return ctx, func() {}
}

// timeoutErr turns an error caused by the attempt's own deadline (not the caller's) into
// a timeout whose message is msg followed by bound, when not 0 (built only then).
func timeoutErr(parent, actx context.Context, err error, msg string, bound time.Duration) error {
	if err == nil || parent.Err() != nil || actx.Err() == nil {
		return err
	}
	if bound != 0 {
		msg += bound.String()
	}
	pe := asProviderError(err)
	return &provider.Error{Kind: provider.KindTimeout, Provider: pe.Provider, Message: msg, Err: err}
}

func (r *Router) withDefaults(t Timeouts) Timeouts {
	pick := func(v, def time.Duration) time.Duration {
		if v == 0 && def > 0 {
			return def
		}
		if v < 0 {
			return 0
		}
		return v
	}
	return Timeouts{FirstToken: pick(t.FirstToken, r.defaults.FirstToken), Idle: pick(t.Idle, r.defaults.Idle), Total: pick(t.Total, r.defaults.Total)}
}
