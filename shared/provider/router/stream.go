package router

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/plinth-ai/plinth/shared/provider"
)

// attempt is one streamed call to one deployment under the attempt's timeouts: the
// first chunk within firstToken, each next one within idle, all within total.
type attempt struct {
	parent  context.Context
	actx    context.Context
	cancel  context.CancelFunc
	inner   provider.Stream
	first   *provider.ChatChunk
	timer   *time.Timer
	idle    time.Duration
	expired atomic.Bool
	phase   atomic.Value // string: what the timer was waiting for
	done    bool
}

// openAttempt starts a stream on d and waits for its first chunk, so a failure before
// any output is known before the caller commits to an answer.
func openAttempt(ctx context.Context, d *Deployment, to Timeouts, firstToken time.Duration, req *provider.ChatRequest) (*attempt, error) {
	actx, cancelTotal := withTotal(ctx, to.Total)
	actx, cancel := context.WithCancel(actx)
	a := &attempt{parent: ctx, actx: actx, idle: to.Idle}
	a.cancel = func() { cancel(); cancelTotal() }
	if firstToken > 0 {
		a.phase.Store("no first chunk within " + firstToken.String())
		a.timer = time.AfterFunc(firstToken, a.expire)
	}
	s, err := d.Chat.ChatStream(actx, req)
	if err != nil {
		err = a.classify(err) // before stop, which cancels the attempt's context
		a.stop()
		return nil, err
	}
	first, err := s.Recv()
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = &provider.Error{Kind: provider.KindUnavailable, Message: "stream ended before its first chunk"}
		} else {
			err = a.classify(err)
		}
		s.Close()
		a.stop()
		return nil, err
	}
	a.inner, a.first = s, first
	a.phase.Store("no chunk within the idle timeout of " + to.Idle.String())
	switch {
	case a.timer != nil && a.idle > 0:
		a.timer.Reset(a.idle)
	case a.timer != nil:
		a.timer.Stop()
	case a.idle > 0:
		a.timer = time.AfterFunc(a.idle, a.expire)
	}
	return a, nil
}

func (a *attempt) expire() {
	a.expired.Store(true)
	a.cancel()
}

func (a *attempt) stop() {
	if a.timer != nil {
		a.timer.Stop()
	}
	a.cancel()
}

// classify names the attempt's own timeouts as such.
func (a *attempt) classify(err error) error {
	if a.parent.Err() != nil {
		return err
	}
	if a.expired.Load() {
		// The timer cancelled the attempt's context; the cancellation is the attempt's,
		// not the caller's, so it is not passed on in the chain.
		pe := asProviderError(err)
		return &provider.Error{Kind: provider.KindTimeout, Provider: pe.Provider, Message: a.phase.Load().(string), Err: fmt.Errorf("%w: %s", ErrTimedOut, err)}
	}
	return timeoutErr(a.parent, a.actx, err, "stream exceeded the total timeout", 0)
}

// Recv returns the next chunk, io.EOF at the end, or a classified error.
func (a *attempt) Recv() (*provider.ChatChunk, error) {
	if a.first != nil {
		c := a.first
		a.first = nil
		return c, nil
	}
	if a.done {
		return nil, io.EOF
	}
	c, err := a.inner.Recv()
	if err != nil {
		a.done = true
		if !errors.Is(err, io.EOF) {
			err = a.classify(err)
		}
		a.stop()
		return nil, err
	}
	if a.idle > 0 && a.timer != nil {
		a.timer.Reset(a.idle)
	}
	return c, nil
}

// Close stops the timers and cancels the upstream.
func (a *attempt) Close() error {
	a.done = true
	a.first = nil
	err := a.inner.Close()
	a.stop()
	return err
}
