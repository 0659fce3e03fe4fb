// Package fault gives every domain package the same few kinds of failure (not found,
// already exists, invalid, changed concurrently) and a way to carry a message a person
// can act on: which resource, what is wrong, what to do. It knows nothing of HTTP; the
// edge (package httpapi) maps the kinds to statuses and codes once for the whole API.
//
// A package keeps its own sentinels, made with Sentinel so that both tests hold:
//
//	var ErrNotFound = fault.Sentinel("rag: not found", fault.ErrNotFound)
//	errors.Is(err, rag.ErrNotFound) && errors.Is(err, fault.ErrNotFound)
//
// and reports failures with New, whose message is what the API shows:
//
//	return fault.New(ErrNotFound, "tenant", "tenant %q does not exist; create it with POST /admin/tenants", id)
package fault

import (
	"errors"
	"fmt"
	"strings"
)

// The kinds of failure. Package sentinels wrap one of them.
var (
	// ErrNotFound: the named resource does not exist (or is not the caller's).
	ErrNotFound = errors.New("not found")
	// ErrExists: a resource with the same identity already exists.
	ErrExists = errors.New("already exists")
	// ErrInvalid: the request is malformed or fails validation.
	ErrInvalid = errors.New("invalid")
	// ErrConflict: the resource changed concurrently; retrying may succeed.
	ErrConflict = errors.New("changed concurrently")
	// ErrAmbiguous: the ID names resources of several tenants; the request must say
	// whose (an admin route's ?tenant=).
	ErrAmbiguous = errors.New("ambiguous")
	// ErrUnavailable: something the request needs cannot be used now, e.g. the key a
	// tenant's data is encrypted with is disabled; the message says what.
	ErrUnavailable = errors.New("unavailable")
	// ErrModelNotFound: the not-found of a model, which OpenAI's API (and so this one)
	// names apart from other resources. It is an ErrNotFound.
	ErrModelNotFound = fmt.Errorf("model %w", ErrNotFound)
)

var kinds = []error{ErrNotFound, ErrExists, ErrInvalid, ErrConflict, ErrAmbiguous, ErrModelNotFound, ErrUnavailable}

// sentinel is a package's own sentinel error of a kind.
type sentinel struct {
	text string
	kind error
}

func (s *sentinel) Error() string { return s.text }
func (s *sentinel) Unwrap() error { return s.kind }

// Sentinel returns a package sentinel with its own text, of kind: errors.Is matches the
// sentinel and the kind.
func Sentinel(text string, kind error) error { return &sentinel{text: text, kind: kind} }

// Error is a failure of a kind with a message for people and, when a request field is at
// fault, its name.
type Error struct {
	// Kind is one of the kinds, or a package sentinel wrapping one.
	Kind error
	// Param names the request field at fault ("tenant", "allowed_models[1]"), if any.
	Param string
	// Msg says which resource, what is wrong and what to do.
	Msg string
}

// Error returns the message.
func (e *Error) Error() string { return e.Msg }

// Unwrap returns the kind, so errors.Is matches it and what it wraps.
func (e *Error) Unwrap() error { return e.Kind }

// New returns an *Error of kind about param (may be empty) with a formatted message.
func New(kind error, param, format string, args ...any) *Error {
	return &Error{Kind: kind, Param: param, Msg: fmt.Sprintf(format, args...)}
}

// Message returns the message to show for err: the innermost *Error's (context that
// callers wrapped around it is for logs), else err's text without the text of the
// sentinel or kind it ends or starts with ("tenant acme has no knowledge base: rag: not
// found", "rag: invalid request: query is required").
func Message(err error) string {
	var fe *Error
	if errors.As(err, &fe) {
		for {
			var inner *Error
			if !errors.As(fe.Kind, &inner) {
				return fe.Msg
			}
			fe = inner
		}
	}
	msg := err.Error()
	for e := err; e != nil; e = errors.Unwrap(e) {
		if _, ok := e.(*sentinel); ok || isKind(e) {
			if e == err {
				return msg
			}
			if trimmed, ok := strings.CutSuffix(msg, ": "+e.Error()); ok {
				return trimmed
			}
			if trimmed, ok := strings.CutPrefix(msg, e.Error()+": "); ok {
				return trimmed
			}
			return msg
		}
	}
	return msg
}

// WithParam returns err naming param as the request field at fault, keeping its kind
// and message: a check that knows what is wrong (a model does not exist) but not where
// the caller named it.
func WithParam(err error, param string) error {
	if err == nil {
		return nil
	}
	var fe *Error
	if errors.As(err, &fe) {
		out := *fe
		out.Param = param
		return &out
	}
	return &Error{Kind: err, Param: param, Msg: Message(err)}
}

// Param returns the request field the innermost *Error names, or "".
func Param(err error) string {
	param := ""
	for e := err; e != nil; e = errors.Unwrap(e) {
		if fe, ok := e.(*Error); ok && fe.Param != "" {
			param = fe.Param
		}
	}
	return param
}

func isKind(err error) bool {
	for _, k := range kinds {
		if err == k {
			return true
		}
	}
	return false
}
