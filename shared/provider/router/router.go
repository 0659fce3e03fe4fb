// Package router sends a model's requests to its deployments: weighted random balancing,
// retries with exponential backoff and full jitter that honour Retry-After, a circuit
// breaker per deployment, a fallback chain to other models, and per-attempt timeouts.
// The caller's context governs everything: when the client goes away, the upstream call
// is cancelled.
//
// A stream that fails after it began is not lost: the router continues it on another
// deployment or the next fallback model, from the text already sent (as an assistant
// prefill where the deployment takes one, else through an instruction to continue), so
// the caller reads one continuous answer. See ChatStream.
//
// Timeouts (per attempt; a model's registry entry may set each):
//   - first token, default 30 s: a stream's first chunk must arrive within it. A
//     non-streamed call has no first token: its answer must arrive within the first-token
//     time plus 50 ms for every output token it may produce (max_tokens, else the model's
//     output cap, else 4,096), and at most 2 minutes, unless the model sets its own total.
//   - idle, default 20 s: the longest silence between two chunks of a stream.
//   - total, default 10 minutes: a whole attempt.
//
// A timed-out deployment is not tried again for the same request (another deployment of
// the model or the fallback is), and when the caller's context has a deadline, an attempt
// that is not the last candidate waits at most half of the time left for its answer, so
// a fallback can still answer within the request's budget.
package router

import (
	"context"
	"errors"
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
	// Prefill says the deployment continues a final assistant message as it stands
	// (assistant prefill). A stream interrupted elsewhere is continued on it that way;
	// otherwise through an instruction turn asking the model to go on.
	Prefill bool
	// Err, when set, says why the deployment cannot serve (a missing API key, no AWS
	// configuration). The router never calls it; a model left with no usable deployment
	// fails as unavailable, so its fallbacks answer.
	Err error
}

// Timeouts bound one attempt. Zero means the router's default; negative, no bound.
type Timeouts struct {
	// FirstToken bounds the wait for a stream's first chunk (and, scaled by the output
	// it may produce, a non-streamed answer).
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
	// MaxOutputTokens is the model's output cap (0 = unknown), which bounds how long a
	// non-streamed answer may take.
	MaxOutputTokens int
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
// call, none correctly configured, or every circuit open.
var ErrNoDeployment = errors.New("no deployment available")

// ErrTimedOut is in the chain of a *provider.Error of kind timeout that an attempt's own
// first-token or idle timeout caused.
var ErrTimedOut = errors.New("upstream attempt timed out")

// Default timeouts, used where a Target leaves one at zero.
const (
	DefaultFirstToken = 30 * time.Second
	DefaultIdle       = 20 * time.Second
	DefaultTotal      = 10 * time.Minute
	// perOutputToken is the slowest generation rate a healthy upstream is expected to
	// sustain (20 tokens a second), which bounds a non-streamed answer.
	perOutputToken = 50 * time.Millisecond
	// defaultOutputCap is assumed when neither the request nor the model caps output.
	defaultOutputCap = 4096
	// maxAnswerWait caps the wait for a non-streamed answer when the model sets no total:
	// a silent upstream is given up within two minutes even for a long answer.
	maxAnswerWait = 2 * time.Minute
)

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
	// noPrefill holds the deployments (breakerKey) that rejected an assistant prefill
	// although configured to take one; they are continued through instructions after.
	noPrefill sync.Map
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
// (defaults: DefaultFirstToken, DefaultIdle, DefaultTotal). A negative default disables
// that bound.
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
		defaults:      Timeouts{FirstToken: DefaultFirstToken, Idle: DefaultIdle, Total: DefaultTotal},
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

// BreakerState reports a deployment's circuit: "closed", "open" or "half-open".
func (r *Router) BreakerState(modelID, deploymentID string) string {
	return r.breaker(modelID, deploymentID).state(r.now(), r.cooldown)
}
