package router

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/plinth-ai/plinth/shared/provider"
)

// kind selects which model interface a call needs.
type kind int

const (
	kindChat kind = iota
	kindEmbed
)

func usable(d *Deployment, k kind) bool {
	if d.Weight < 0 || d.Err != nil {
		return false
	}
	if k == kindChat {
		return d.Chat != nil
	}
	return d.Embed != nil
}

// chain walks one request's candidates: the model's deployments, with retries, then each
// fallback model in turn. Every failure, before an answer began or in the middle of a
// stream, goes through fail, and next decides where to go from there.
type chain struct {
	r       *Router
	resolve Resolver
	k       kind

	t        Target
	rawTotal time.Duration // t's own total timeout, before defaults (0 = not set)
	haveT    bool          // t is the model being tried; false: move on to the next fallback
	rest     []string      // fallbacks not yet tried
	attempt  int           // attempts made on t
	tried    []*Deployment
	last     *Deployment

	served  Served
	lastErr error
	pending *provider.Error // the failure next must react to
	stop    error           // a failure that ends the request
}

func (r *Router) newChain(t Target, resolve Resolver, k kind) *chain {
	c := &chain{r: r, resolve: resolve, k: k, rest: t.Fallbacks}
	c.setTarget(t)
	return c
}

func (c *chain) setTarget(t Target) {
	c.rawTotal = t.Timeouts.Total
	t.Timeouts = c.r.withDefaults(t.Timeouts)
	c.t, c.haveT = t, true
	c.attempt, c.tried, c.last = 0, nil, nil
	c.served.ModelID = t.ModelID
}

// more reports whether another candidate may follow when the current attempt times out.
func (c *chain) more() bool {
	return len(c.rest) > 0 || len(c.t.Deployments) > 1
}

// next returns the next deployment to call and its acquired breaker, waiting out a
// backoff when the model's deployments must be tried again, or the error that ends the
// request when no candidate is left.
func (c *chain) next(ctx context.Context) (*Deployment, *breaker, error) {
	for {
		if c.stop != nil {
			return nil, nil, c.stop
		}
		if err := ctx.Err(); err != nil {
			return nil, nil, cancelled(err, c.lastErr)
		}
		if !c.haveT {
			if len(c.rest) == 0 || c.resolve == nil {
				return nil, nil, c.final()
			}
			id := c.rest[0]
			c.rest = c.rest[1:]
			t, err := c.resolve(ctx, id)
			if err != nil {
				continue // an unknown or unapproved fallback is skipped, not fatal
			}
			c.setTarget(t)
		}
		if pe := c.pending; pe != nil {
			c.pending = nil
			if err := c.react(ctx, pe); err != nil {
				return nil, nil, err
			}
			if !c.haveT {
				continue
			}
		}
		d, b := c.r.pick(&c.t, c.k, c.last)
		if d == nil {
			c.lastErr = c.noDeployment()
			c.haveT = false
			continue
		}
		c.attempt++
		c.served.Attempts++
		c.served.ModelID, c.served.DeploymentID = c.t.ModelID, d.ID
		return d, b, nil
	}
}

// react decides, after pe, whether to try the model again (another deployment at once,
// the same one after a backoff), move on to the next fallback, or stop.
func (c *chain) react(ctx context.Context, pe *provider.Error) error {
	if !pe.Fallbackable() {
		c.stop = pe
		return pe
	}
	c.tried = append(c.tried, c.last)
	if c.attempt >= c.r.maxAttempts || pe.RetryAfter > c.r.maxRetryAfter || pe.Kind == provider.KindContextLength {
		c.haveT = false // the model's deployments share its context window
		return nil
	}
	if c.r.hasUntried(&c.t, c.k, c.tried) {
		return nil // another healthy deployment that has not failed yet is tried at once
	}
	if !pe.Retryable() || pe.Kind == provider.KindTimeout {
		// A deployment that refused the call, or just used up a timeout, is not asked again.
		c.haveT = false
		return nil
	}
	delay := c.r.backoff(c.attempt - 1)
	if pe.RetryAfter > delay {
		delay = pe.RetryAfter
	}
	if err := c.r.sleep(ctx, delay); err != nil {
		c.stop = &provider.Error{Kind: provider.KindTimeout, Provider: pe.Provider, Message: "request cancelled during backoff", Err: errors.Join(err, pe)}
		return c.stop
	}
	c.tried = c.tried[:0]
	return nil
}

// fail records a failed attempt on d (b is its breaker). It returns an error when the
// failure ends the request: the caller's context is done.
func (c *chain) fail(ctx context.Context, d *Deployment, b *breaker, err error) error {
	pe := asProviderError(err)
	if ctx.Err() != nil {
		b.release()
		c.stop = cancelled(ctx.Err(), err)
		return c.stop
	}
	switch pe.Kind {
	case provider.KindUnavailable, provider.KindTimeout, provider.KindAuth, provider.KindNotFound:
		b.failure(c.r.now(), c.r.threshold) // the deployment is down or misconfigured
	default:
		b.release() // the request, not the deployment, was at fault
	}
	c.lastErr, c.pending, c.last = pe, pe, d
	return nil
}

// cancelled is the error of a request whose caller went away or ran out of time.
func cancelled(ctxErr, cause error) error {
	var name string
	if pe, ok := provider.AsError(cause); ok {
		name = pe.Provider
	}
	return &provider.Error{Kind: provider.KindTimeout, Provider: name, Message: "request cancelled: " + ctxErr.Error(), Err: errors.Join(ctxErr, cause)}
}

// final is the error of a request no candidate could answer.
func (c *chain) final() error {
	if c.lastErr != nil {
		return c.lastErr
	}
	return c.noDeployment()
}

// noDeployment explains why the current model has nothing to call. The reasons of
// misconfigured deployments stay in the error chain for the operator's log; the message,
// which reaches API clients, only counts them.
func (c *chain) noDeployment() error {
	var broken []error
	for i := range c.t.Deployments {
		if d := &c.t.Deployments[i]; d.Err != nil {
			broken = append(broken, fmt.Errorf("deployment %s: %w", d.ID, d.Err))
		}
	}
	if len(broken) > 0 {
		return &provider.Error{Kind: provider.KindUnavailable, Err: errors.Join(append([]error{ErrNoDeployment}, broken...)...),
			Message: fmt.Sprintf("model %s has no working deployment: %d of %d %s misconfigured", c.t.ModelID, len(broken), len(c.t.Deployments), plural(len(broken), "is", "are"))}
	}
	return &provider.Error{Kind: provider.KindUnavailable, Err: ErrNoDeployment,
		Message: fmt.Sprintf("model %s: every deployment's circuit is open or none serves this call", c.t.ModelID)}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func (r *Router) hasUntried(t *Target, k kind, tried []*Deployment) bool {
	now := r.now()
	for i := range t.Deployments {
		d := &t.Deployments[i]
		if !usable(d, k) || contains(tried, d) {
			continue
		}
		if r.breaker(t.ModelID, d.ID).available(now, r.cooldown) {
			return true
		}
	}
	return false
}

func contains(ds []*Deployment, d *Deployment) bool {
	for _, x := range ds {
		if x == d {
			return true
		}
	}
	return false
}

// backoff is full jitter: uniform in [0, min(max, base·2^attempt)].
func (r *Router) backoff(attempt int) time.Duration {
	ceil := r.baseBackoff << attempt
	if ceil > r.maxBackoff || ceil <= 0 {
		ceil = r.maxBackoff
	}
	return time.Duration(r.rand() * float64(ceil))
}

func asProviderError(err error) *provider.Error {
	if pe, ok := provider.AsError(err); ok {
		return pe
	}
	return &provider.Error{Kind: provider.KindUnavailable, Message: err.Error(), Err: err}
}

// pick chooses a deployment by weight among those whose circuit lets a request through,
// avoiding avoid when another is available, and acquires its breaker.
func (r *Router) pick(t *Target, k kind, avoid *Deployment) (*Deployment, *breaker) {
	now := r.now()
	for tries := 0; tries < len(t.Deployments)+1; tries++ {
		total := 0
		others := false
		for i := range t.Deployments {
			d := &t.Deployments[i]
			if usable(d, k) && d != avoid && r.breaker(t.ModelID, d.ID).available(now, r.cooldown) {
				others = true
				break
			}
		}
		for i := range t.Deployments {
			d := &t.Deployments[i]
			if !usable(d, k) || (others && d == avoid) || !r.breaker(t.ModelID, d.ID).available(now, r.cooldown) {
				continue
			}
			total += weight(d)
		}
		if total == 0 {
			return nil, nil
		}
		x := int(r.rand() * float64(total))
		var chosen *Deployment
		for i := range t.Deployments {
			d := &t.Deployments[i]
			if !usable(d, k) || (others && d == avoid) || !r.breaker(t.ModelID, d.ID).available(now, r.cooldown) {
				continue
			}
			chosen = d
			x -= weight(d)
			if x < 0 {
				break
			}
		}
		b := r.breaker(t.ModelID, chosen.ID)
		if b.acquire(now, r.cooldown) {
			return chosen, b
		}
		// Another request took the half-open probe first: choose again.
	}
	return nil, nil
}

func weight(d *Deployment) int {
	if d.Weight <= 0 {
		return 1
	}
	return d.Weight
}
