package router

import (
	"context"
	"errors"
	"io"
	"sync/atomic"
	"time"

	"github.com/plinth-ai/plinth/shared/provider"
)

// ChatStream starts a streamed completion. Retries and fallbacks happen only before the
// first chunk: ChatStream returns once a deployment has produced one, so the caller can
// commit to a 200 response. Later failures come out of Recv as *provider.Error values
// (an idle or total timeout as kind timeout). Close cancels the upstream request.
func (r *Router) ChatStream(ctx context.Context, t Target, resolve Resolver, req *provider.ChatRequest) (provider.Stream, Served, error) {
	var out provider.Stream
	served, err := r.run(ctx, t, resolve, kindChat, func(ctx context.Context, d *Deployment, t *Target) error {
		s, err := r.open(ctx, d, t, req)
		if err != nil {
			return err
		}
		out = s
		return nil
	})
	if err != nil {
		return nil, served, err
	}
	return out, served, nil
}

// guarded wraps an upstream stream with the attempt's timeouts and breaker.
type guarded struct {
	parent  context.Context
	actx    context.Context
	cancel  context.CancelFunc
	inner   provider.Stream
	first   *provider.ChatChunk
	timer   *time.Timer
	idle    time.Duration
	expired atomic.Bool
	phase   atomic.Value // string: what the timer was waiting for
	b       *breaker
	r       *Router
	done    bool
}

func (r *Router) open(ctx context.Context, d *Deployment, t *Target, req *provider.ChatRequest) (*guarded, error) {
	actx, cancel := withTotal(ctx, t.Timeouts.Total)
	actx, cancel2 := context.WithCancel(actx)
	g := &guarded{parent: ctx, actx: actx, idle: t.Timeouts.Idle, r: r, b: r.breaker(t.ModelID, d.ID)}
	g.cancel = func() { cancel2(); cancel() }
	if ft := t.Timeouts.FirstToken; ft > 0 {
		g.phase.Store("no first chunk within the first-token timeout")
		g.timer = time.AfterFunc(ft, g.expire)
	}
	s, err := d.Chat.ChatStream(actx, req)
	if err != nil {
		err = g.classify(err) // before stop, which cancels the attempt's context
		g.stop()
		return nil, err
	}
	first, err := s.Recv()
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = &provider.Error{Kind: provider.KindUnavailable, Message: "stream ended before its first chunk"}
		} else {
			err = g.classify(err)
		}
		s.Close()
		g.stop()
		return nil, err
	}
	g.inner, g.first = s, first
	g.phase.Store("no chunk within the idle timeout")
	switch {
	case g.timer != nil && g.idle > 0:
		g.timer.Reset(g.idle)
	case g.timer != nil:
		g.timer.Stop()
	case g.idle > 0:
		g.timer = time.AfterFunc(g.idle, g.expire)
	}
	return g, nil
}

func (g *guarded) expire() {
	g.expired.Store(true)
	g.cancel()
}

func (g *guarded) stop() {
	if g.timer != nil {
		g.timer.Stop()
	}
	g.cancel()
}

// classify names the attempt's own timeouts as such.
func (g *guarded) classify(err error) error {
	if g.parent.Err() != nil {
		return err
	}
	if g.expired.Load() {
		pe := asProviderError(err)
		return &provider.Error{Kind: provider.KindTimeout, Provider: pe.Provider, Message: g.phase.Load().(string), Err: err}
	}
	return timeoutErr(g.parent, g.actx, err, "stream exceeded the total timeout")
}

// Recv implements provider.Stream.
func (g *guarded) Recv() (*provider.ChatChunk, error) {
	if g.first != nil {
		c := g.first
		g.first = nil
		return c, nil
	}
	if g.done {
		return nil, io.EOF
	}
	c, err := g.inner.Recv()
	if err != nil {
		g.done = true
		if errors.Is(err, io.EOF) {
			g.stop()
			return nil, io.EOF
		}
		err = g.classify(err)
		g.stop()
		if g.parent.Err() == nil {
			if pe := asProviderError(err); pe.Kind == provider.KindUnavailable || pe.Kind == provider.KindTimeout {
				g.b.failure(g.r.now(), g.r.threshold)
			}
		}
		return nil, err
	}
	if g.idle > 0 && g.timer != nil {
		g.timer.Reset(g.idle)
	}
	return c, nil
}

// Close implements provider.Stream: it stops the timers and cancels the upstream.
func (g *guarded) Close() error {
	g.done = true
	g.first = nil
	err := g.inner.Close()
	g.stop()
	return err
}
