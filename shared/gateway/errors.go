package gateway

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/plinth-ai/plinth/shared/provider"
	"github.com/plinth-ai/plinth/shared/quota"
)

// Sentinel errors of the service. Every error Chat, ChatStream, Embed and the model
// listing return matches one of them (or quota.ErrRateLimited / quota.ErrBudgetExceeded,
// or ErrInternal's family for failures of the platform itself) with errors.Is; an
// *Error in the chain carries the request field at fault and when a retry may succeed.
var (
	// ErrInvalidRequest means the request itself is malformed (Error.Param names the field).
	ErrInvalidRequest = errors.New("invalid request")
	// ErrModelNotFound means no model or alias of that name exists.
	ErrModelNotFound = errors.New("model not found")
	// ErrModelNotAllowed means the caller's tenant or key may not call the model.
	ErrModelNotAllowed = errors.New("model not allowed")
	// ErrModelNotApproved means the model exists but is not approved for use.
	ErrModelNotApproved = errors.New("model not approved")
	// ErrModelKind means the model is of the wrong kind (an embedding model for chat).
	ErrModelKind = errors.New("wrong kind of model")
	// ErrInsufficientScope means the caller's key lacks a scope the request needs.
	ErrInsufficientScope = errors.New("insufficient scope")
	// ErrKnowledgeBaseNotFound means a grounded request names a knowledge base the
	// caller's tenant does not have.
	ErrKnowledgeBaseNotFound = errors.New("knowledge base not found")
	// ErrGroundingUnavailable means this gateway has no grounder for knowledge bases.
	ErrGroundingUnavailable = errors.New("grounding unavailable")
	// ErrGuardrailUnavailable means the caller's guardrail policy could not be applied;
	// the request is refused rather than let through unguarded.
	ErrGuardrailUnavailable = errors.New("guardrail unavailable")
	// ErrCanceled means the caller went away (its context ended) before the answer.
	ErrCanceled = errors.New("request canceled")

	// ErrUpstream means the model provider failed. The errors below are kinds of it:
	// errors.Is(err, ErrUpstream) holds for each of them too.
	ErrUpstream = errors.New("model provider failed")
	// ErrUpstreamRateLimited means every deployment of the model is rate limited.
	ErrUpstreamRateLimited = errors.New("model provider rate limited")
	// ErrUpstreamTimeout means the model provider did not answer in time.
	ErrUpstreamTimeout = errors.New("model provider timed out")
	// ErrUpstreamUnavailable means the model provider is unavailable.
	ErrUpstreamUnavailable = errors.New("model provider unavailable")
	// ErrUpstreamRejected means the provider refused the request as invalid.
	ErrUpstreamRejected = errors.New("model provider rejected the request")
	// ErrContextLength means the prompt and output exceed the model's context window.
	ErrContextLength = errors.New("context length exceeded")
	// ErrContentFiltered means the provider's own content filter refused the request.
	ErrContentFiltered = errors.New("refused by the provider's content filter")
)

// upstreamKinds are the sentinels that are kinds of ErrUpstream.
var upstreamKinds = map[error]bool{
	ErrUpstreamRateLimited: true, ErrUpstreamTimeout: true, ErrUpstreamUnavailable: true,
	ErrUpstreamRejected: true, ErrContextLength: true, ErrContentFiltered: true,
}

// Error is a request the gateway refused or could not complete. Kind is one of the
// sentinels above (errors.Is matches it); Err, when set, is the cause (a
// *provider.Error for upstream failures, so provider.AsError still finds it).
type Error struct {
	Kind error
	// Param names the request field at fault ("model", "messages[2].role", ...).
	Param string
	// Message says what went wrong in words a caller can act on.
	Message string
	// RetryAfter, when positive, is when a retry may succeed.
	RetryAfter time.Duration
	Err        error
}

func (e *Error) Error() string {
	if e.Message != "" {
		return e.Message
	}
	if e.Err != nil {
		return e.Kind.Error() + ": " + e.Err.Error()
	}
	return e.Kind.Error()
}

// Is matches the error's kind, and ErrUpstream for every upstream kind.
func (e *Error) Is(target error) bool {
	return target == e.Kind || (target == ErrUpstream && upstreamKinds[e.Kind])
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// invalid is an ErrInvalidRequest naming param.
func invalid(param, format string, args ...any) *Error {
	return &Error{Kind: ErrInvalidRequest, Param: param, Message: fmt.Sprintf(format, args...)}
}

// upstreamError classifies a provider failure.
func upstreamError(err error) error {
	if errors.Is(err, context.Canceled) {
		return &Error{Kind: ErrCanceled, Message: "the client closed the request", Err: err}
	}
	var ge *Error
	if errors.As(err, &ge) {
		return err
	}
	pe, ok := provider.AsError(err)
	if !ok {
		return &Error{Kind: ErrUpstream, Message: "the model provider failed: " + err.Error(), Err: err}
	}
	msg := pe.Message
	if msg == "" {
		msg = pe.Error()
	}
	switch pe.Kind {
	case provider.KindBadRequest:
		return &Error{Kind: ErrUpstreamRejected, Message: msg, Err: err}
	case provider.KindContextLength:
		return &Error{Kind: ErrContextLength, Param: "messages", Message: msg, Err: err}
	case provider.KindContentFilter:
		return &Error{Kind: ErrContentFiltered, Message: msg, Err: err}
	case provider.KindRateLimited:
		return &Error{Kind: ErrUpstreamRateLimited, Message: "every deployment of the model is rate limited: " + msg, RetryAfter: max(pe.RetryAfter, time.Second), Err: err}
	case provider.KindTimeout:
		return &Error{Kind: ErrUpstreamTimeout, Message: "the model provider timed out: " + msg, Err: err}
	case provider.KindUnavailable:
		return &Error{Kind: ErrUpstreamUnavailable, Message: "the model provider is unavailable: " + msg, RetryAfter: pe.RetryAfter, Err: err}
	default:
		return &Error{Kind: ErrUpstream, Message: "the model provider failed: " + msg, Err: err}
	}
}

// Permanent reports whether retrying the same request cannot succeed: the gateway
// refused the request itself (invalid, unknown or forbidden model, missing scope), the
// provider rejected it, or it alone exceeds a quota limit. Rate limits, exhausted budgets,
// timeouts and unavailable providers are not permanent. Callers that retry (ingestion,
// evaluation) use it to fail fast.
func Permanent(err error) bool {
	var le *quota.LimitError
	if errors.As(err, &le) {
		return le.TooLarge
	}
	var ge *Error
	if errors.As(err, &ge) {
		switch ge.Kind {
		case ErrUpstreamRateLimited, ErrUpstreamTimeout, ErrUpstreamUnavailable, ErrCanceled, ErrGuardrailUnavailable:
			return false
		case ErrUpstream:
			pe, ok := provider.AsError(err)
			return ok && !pe.Retryable()
		}
		return true
	}
	if pe, ok := provider.AsError(err); ok {
		return !pe.Retryable()
	}
	return false
}

// RetryAfter returns how long err says to wait before a retry, or 0.
func RetryAfter(err error) time.Duration {
	var le *quota.LimitError
	if errors.As(err, &le) {
		return le.RetryAfter
	}
	var ge *Error
	if errors.As(err, &ge) && ge.RetryAfter > 0 {
		return ge.RetryAfter
	}
	if pe, ok := provider.AsError(err); ok {
		return pe.RetryAfter
	}
	return 0
}
