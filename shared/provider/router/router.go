// Package router sends a model's requests to its deployments: weighted random balancing,
// retries with exponential backoff and full jitter that honour Retry-After, a circuit
// breaker per deployment, a fallback chain to other models, and per-attempt timeouts
// (for streams: time to first chunk, idle time between chunks, total time). The caller's
// context governs everything: when the client goes away, the upstream call is cancelled.
package router

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/plinth-ai/plinth/shared/provider"
)

// Deployment is one upstream serving a model.
type Deployment struct {
	// ID names the deployment within its model; the circuit breaker is kept per model and ID.
	ID string
	// Weight is the share of traffic (0 counts as 1; a negative weight disables it).
	Weight int
	// Chat serves chat completions (nil when the deployment does not).
	Chat provider.ChatModel
	// Embed serves embeddings (nil when the deployment does not).
	Embed provider.EmbeddingModel
}

// Timeouts bound one attempt. Zero means no bound of that kind.
type Timeouts struct {
	// FirstToken bounds the wait for a stream's first chunk.
	FirstToken time.Duration
	// Idle bounds the gap between two chunks of a stream.
	Idle time.Duration
	// Total bounds a whole attempt (a whole stream, or a non-streamed call).
	Total time.Duration
}

// Target is a model ready to route: its deployments and where to go when they fail.
type Target struct {
	ModelID     string
	Deployments []Deployment
	// Fallbacks are model IDs tried in order once this model's retries are exhausted on
	// a fallbackable error (rate limits, 5xx, timeouts, resets, context length; never a
	// content-filter refusal).
	Fallbacks []string
	Timeouts  Timeouts
}

// Resolver turns a fallback model ID into a Target.
type Resolver func(ctx context.Context, modelID string) (Target, error)

// Served says which model and deployment answered, and how many attempts it took.
type Served struct {
	ModelID      string
	DeploymentID string
	Attempts     int
}

// ErrNoDeployment is returned (wrapped in a *provider.Error of kind unavailable) when a
// model has no deployment able to serve the request: none configured for the kind of
// call, or every circuit open.
var ErrNoDeployment = errors.New("no deployment available")

// Router routes requests. It is safe for concurrent use; build one per process.
type Router struct {
	maxAttempts   int
	baseBackoff   time.Duration
	maxBackoff    time.Duration
	maxRetryAfter time.Duration
	threshold     int
	cooldown      time.Duration
	sleep         func(ctx context.Context, d time.Duration) error
	now           func() time.Time
	rand          func() float64
	defaults      Timeouts
	observe       func(Attempt)

	mu       sync.RWMutex
	breakers map[breakerKey]*breaker
}

// Option configures a Router.
type Option func(*Router)

// WithMaxAttempts sets the attempts per model, first try included (default 3).
func WithMaxAttempts(n int) Option {
	return func(r *Router) {
		if n > 0 {
			r.maxAttempts = n
		}
	}
}

// WithBackoff sets the exponential backoff's base and cap (defaults 200ms and 5s). The
// wait before retry k is uniform in [0, min(cap, base·2^k)] (full jitter), or the
// upstream's Retry-After when longer.
func WithBackoff(base, max time.Duration) Option {
	return func(r *Router) { r.baseBackoff, r.maxBackoff = base, max }
}

// WithMaxRetryAfter sets the longest Retry-After the router waits for; a longer one
// sends the request to the fallback chain at once (default 10s).
func WithMaxRetryAfter(d time.Duration) Option { return func(r *Router) { r.maxRetryAfter = d } }

// WithBreaker sets how many consecutive failures open a deployment's circuit and how
// long it stays open before one probe request may pass (defaults 5 and 30s).
func WithBreaker(failures int, cooldown time.Duration) Option {
	return func(r *Router) { r.threshold, r.cooldown = failures, cooldown }
}

// WithSleep replaces the backoff wait (tests make it record and return at once). It
// must return ctx.Err() when ctx ends first.
func WithSleep(f func(ctx context.Context, d time.Duration) error) Option {
	return func(r *Router) { r.sleep = f }
}

// WithClock replaces the clock the circuit breakers read.
func WithClock(now func() time.Time) Option { return func(r *Router) { r.now = now } }

// WithRand replaces the source of uniform numbers in [0,1) used for balancing and jitter.
func WithRand(f func() float64) Option { return func(r *Router) { r.rand = f } }

// WithDefaultTimeouts sets the bounds used where a Target leaves a timeout at zero
// (defaults: 120s to the first chunk, 60s between chunks, 10 minutes in total). A
// negative default disables that bound.
func WithDefaultTimeouts(t Timeouts) Option { return func(r *Router) { r.defaults = t } }

// TimeoutsFromMillis builds Timeouts from a registry entry's millisecond fields.
func TimeoutsFromMillis(firstTokenMS, idleMS, totalMS int) Timeouts {
	return Timeouts{
		FirstToken: time.Duration(firstTokenMS) * time.Millisecond,
		Idle:       time.Duration(idleMS) * time.Millisecond,
		Total:      time.Duration(totalMS) * time.Millisecond,
	}
}

// Attempt describes one call to one deployment, for metrics and logs.
type Attempt struct {
	ModelID      string
	DeploymentID string
	// Err is nil when the deployment answered (for a stream: produced its first chunk).
	Err error
	// Latency is the time to the answer, or to a stream's first chunk.
	Latency time.Duration
}

// WithObserver calls f after every attempt, successful or not, on the request's
// goroutine; f must be quick.
func WithObserver(f func(Attempt)) Option { return func(r *Router) { r.observe = f } }

// New returns a Router.
func New(opts ...Option) *Router {
	r := &Router{
		maxAttempts:   3,
		baseBackoff:   200 * time.Millisecond,
		maxBackoff:    5 * time.Second,
		maxRetryAfter: 10 * time.Second,
		threshold:     5,
		cooldown:      30 * time.Second,
		sleep:         sleepCtx,
		now:           time.Now,
		rand:          rand.Float64,
		defaults:      Timeouts{FirstToken: 120 * time.Second, Idle: 60 * time.Second, Total: 10 * time.Minute},
		breakers:      map[breakerKey]*breaker{},
	}
	for _, o := range opts {
		o(r)
	}
	return r
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// kind selects which model interface a call needs.
type kind int

const (
	kindChat kind = iota
	kindEmbed
)

func usable(d *Deployment, k kind) bool {
	if d.Weight < 0 {
		return false
	}
	if k == kindChat {
		return d.Chat != nil
	}
	return d.Embed != nil
}

// attemptFunc makes one call to one deployment. It returns whether the deployment should
// be counted healthy (for the breaker) along with the error.
type attemptFunc func(ctx context.Context, d *Deployment, t *Target) error

// run drives the retry and fallback loop, calling try for each attempt.
func (r *Router) run(ctx context.Context, t Target, resolve Resolver, k kind, try attemptFunc) (Served, error) {
	served := Served{}
	var lastErr error
	fallbacks := t.Fallbacks
	for i := 0; ; i++ {
		if i > 0 {
			if i > len(fallbacks) {
				return served, lastErr
			}
			if resolve == nil {
				return served, lastErr
			}
			next, err := resolve(ctx, fallbacks[i-1])
			if err != nil {
				continue // an unknown or unapproved fallback is skipped, not fatal
			}
			t = next
		}
		served.ModelID = t.ModelID
		t.Timeouts = r.withDefaults(t.Timeouts)
		err := r.tryModel(ctx, &t, k, try, &served)
		if err == nil {
			return served, nil
		}
		lastErr = err
		if ctx.Err() != nil {
			return served, err
		}
		pe, ok := provider.AsError(err)
		if !ok || !pe.Fallbackable() {
			return served, err
		}
	}
}

// tryModel makes up to maxAttempts attempts on t's deployments.
func (r *Router) tryModel(ctx context.Context, t *Target, k kind, try attemptFunc, served *Served) error {
	var tried []*Deployment
	var last *Deployment
	for attempt := 0; attempt < r.maxAttempts; attempt++ {
		d, b := r.pick(t, k, last)
		if d == nil {
			return &provider.Error{Kind: provider.KindUnavailable, Message: fmt.Sprintf("model %s: every deployment's circuit is open or none serves this call", t.ModelID), Err: ErrNoDeployment}
		}
		served.Attempts++
		served.DeploymentID = d.ID
		var start time.Time
		if r.observe != nil {
			start = time.Now()
		}
		err := try(ctx, d, t)
		if r.observe != nil {
			r.observe(Attempt{ModelID: t.ModelID, DeploymentID: d.ID, Err: err, Latency: time.Since(start)})
		}
		if err == nil {
			b.success()
			return nil
		}
		pe := asProviderError(err)
		if ctx.Err() != nil {
			b.release()
			return &provider.Error{Kind: provider.KindTimeout, Provider: pe.Provider, Message: "request cancelled: " + ctx.Err().Error(), Err: errors.Join(ctx.Err(), err)}
		}
		if pe.Kind == provider.KindUnavailable || pe.Kind == provider.KindTimeout {
			b.failure(r.now(), r.threshold)
		} else {
			b.release()
		}
		if !pe.Retryable() || attempt == r.maxAttempts-1 {
			return pe
		}
		if pe.RetryAfter > r.maxRetryAfter {
			return pe
		}
		tried = append(tried, d)
		last = d
		// Another healthy deployment that has not failed yet is tried at once; the same
		// one waits out the backoff.
		if !r.hasUntried(t, k, tried) {
			delay := r.backoff(attempt)
			if pe.RetryAfter > delay {
				delay = pe.RetryAfter
			}
			if err := r.sleep(ctx, delay); err != nil {
				return &provider.Error{Kind: provider.KindTimeout, Provider: pe.Provider, Message: "request cancelled during backoff", Err: errors.Join(err, pe)}
			}
			tried = tried[:0]
		}
	}
	return nil // unreachable: the loop returns on its last attempt
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

// Chat sends a chat completion through t's deployments and fallbacks.
func (r *Router) Chat(ctx context.Context, t Target, resolve Resolver, req *provider.ChatRequest) (*provider.ChatResponse, Served, error) {
	var resp *provider.ChatResponse
	served, err := r.run(ctx, t, resolve, kindChat, func(ctx context.Context, d *Deployment, t *Target) error {
		actx, cancel := withTotal(ctx, t.Timeouts.Total)
		defer cancel()
		var err error
		resp, err = d.Chat.Chat(actx, req)
		return timeoutErr(ctx, actx, err, "no response within the total timeout")
	})
	if err != nil {
		return nil, served, err
	}
	return resp, served, nil
}

// Embed computes embeddings through t's deployments and fallbacks.
func (r *Router) Embed(ctx context.Context, t Target, resolve Resolver, req *provider.EmbeddingRequest) (*provider.EmbeddingResponse, Served, error) {
	var resp *provider.EmbeddingResponse
	served, err := r.run(ctx, t, resolve, kindEmbed, func(ctx context.Context, d *Deployment, t *Target) error {
		actx, cancel := withTotal(ctx, t.Timeouts.Total)
		defer cancel()
		var err error
		resp, err = d.Embed.Embed(actx, req)
		return timeoutErr(ctx, actx, err, "no response within the total timeout")
	})
	if err != nil {
		return nil, served, err
	}
	return resp, served, nil
}

func withTotal(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d > 0 {
		return context.WithTimeout(ctx, d)
	}
	return ctx, func() {}
}

// timeoutErr turns an error caused by the attempt's own deadline (not the caller's) into
// a timeout.
func timeoutErr(parent, actx context.Context, err error, msg string) error {
	if err == nil || parent.Err() != nil || actx.Err() == nil {
		return err
	}
	pe := asProviderError(err)
	return &provider.Error{Kind: provider.KindTimeout, Provider: pe.Provider, Message: msg, Err: err}
}

// BreakerState reports a deployment's circuit: "closed", "open" or "half-open".
func (r *Router) BreakerState(modelID, deploymentID string) string {
	return r.breaker(modelID, deploymentID).state(r.now(), r.cooldown)
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
