// Package httpapi holds the HTTP conventions every Plinth handler shares: JSON bodies,
// OpenAI-shaped errors ({"error":{"message","type","code","param"}}), request IDs and
// bounded body decoding.
package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/plinth-ai/plinth/shared/fault"
)

// MaxBodyBytes is the default request body limit.
const MaxBodyBytes = 4 << 20

// ErrorBody is OpenAI's error object.
type ErrorBody struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

type errorEnvelope struct {
	Error ErrorBody `json:"error"`
}

// Error is an API error carrying its HTTP status. Handlers return or write it; the
// status decides OpenAI's error type unless Type is set.
type Error struct {
	Status     int
	Type       string
	Code       string
	Param      string
	Message    string
	RetryAfter time.Duration
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

// Errorf builds an *Error with a formatted message.
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// BadRequest is a 400 invalid_request_error naming the offending parameter.
func BadRequest(param, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Param: param, Message: fmt.Sprintf(format, args...)}
}

// typeFor maps a status to OpenAI's error type.
func typeFor(status int) string {
	switch {
	case status == http.StatusUnauthorized:
		return "authentication_error"
	case status == http.StatusForbidden:
		return "permission_error"
	case status == http.StatusNotFound:
		return "not_found_error"
	case status == http.StatusTooManyRequests:
		return "rate_limit_error"
	case status >= 500:
		return "api_error"
	default:
		return "invalid_request_error"
	}
}

// WriteError writes err in OpenAI's error shape. A non-*Error becomes a 500 whose message
// does not leak internals.
func WriteError(w http.ResponseWriter, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "internal error"}
		// A dependency that is unavailable says so, whichever handler met it: a
		// silo tenant whose key is disabled reads nothing, and is told why.
		if errors.Is(err, fault.ErrUnavailable) {
			e = &Error{Status: http.StatusServiceUnavailable, Code: CodeServiceUnavailable, Message: fault.Message(err)}
		}
	}
	typ := e.Type
	if typ == "" {
		typ = typeFor(e.Status)
	}
	body := ErrorBody{Message: e.Message, Type: typ}
	if e.Code != "" {
		c := e.Code
		body.Code = &c
	}
	if e.Param != "" {
		p := e.Param
		body.Param = &p
	}
	if e.RetryAfter > 0 {
		secs := int((e.RetryAfter + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
	}
	WriteJSON(w, e.Status, errorEnvelope{Error: body})
}

// WriteJSON writes v as a JSON response with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	buf := jsonBuffers.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= maxPooledBuffer {
			buf.Reset()
			jsonBuffers.Put(buf)
		}
	}()
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		WriteError(w, &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "the response could not be encoded"})
		return
	}
	WriteEncodedJSON(w, status, buf.Bytes())
}

// WriteEncodedJSON writes b, a JSON value encoded as WriteJSON encodes it (with its
// newline), as a response with status: for handlers with their own encoder.
func WriteEncodedJSON(w http.ResponseWriter, status int, b []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// jsonBuffers holds encoding buffers between responses: the encoder marshals a whole
// value before writing anyway, and a response whose length is known goes out with a
// Content-Length in one write, also when the handler flushes it early.
var jsonBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

const maxPooledBuffer = 64 << 10

// DecodeJSON reads a JSON body of at most limit bytes (MaxBodyBytes when 0) into v,
// returning a 413 or 400 *Error on oversize or malformed input. Unknown fields are allowed,
// as OpenAI clients send vendor extensions.
func DecodeJSON(w http.ResponseWriter, r *http.Request, v any, limit int64) error {
	if limit <= 0 {
		limit = MaxBodyBytes
	}
	if ct := r.Header.Get("Content-Type"); strings.HasPrefix(ct, "multipart/") {
		return &Error{Status: http.StatusUnsupportedMediaType, Code: CodeUnsupportedMediaType, Message: "request body must be JSON, not " + ct}
	}
	body := http.MaxBytesReader(w, r.Body, limit)
	dec := json.NewDecoder(body)
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			return &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeRequestTooLarge, Message: fmt.Sprintf("request body exceeds %d bytes", limit)}
		case errors.Is(err, os.ErrDeadlineExceeded):
			return &Error{Status: http.StatusRequestTimeout, Code: CodeRequestTimeout, Message: "the request body did not arrive in time"}
		case errors.Is(err, io.EOF):
			return &Error{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Message: "request body is empty; expected a JSON object"}
		default:
			return &Error{Status: http.StatusBadRequest, Code: CodeInvalidJSON, Message: "request body is not valid JSON: " + err.Error()}
		}
	}
	if dec.More() {
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalidJSON, Message: "request body has data after the JSON object"}
	}
	return nil
}

type requestIDKey struct{}

// requestInfo is what the server's middleware keeps about one request in its context:
// its ID, and the last route a mux matched for it (see Pattern).
type requestInfo struct {
	id string

	mu    sync.Mutex
	route routeMemo
}

// routeMemo is one mux's pattern for one request's method, host and URL.
type routeMemo struct {
	mux           *http.ServeMux
	url           *url.URL
	method, host  string
	path, rawPath string
	pattern       string
}

func (m *routeMemo) matches(mux *http.ServeMux, r *http.Request) bool {
	return m.mux == mux && m.url == r.URL && m.method == r.Method && m.host == r.Host &&
		m.path == r.URL.Path && m.rawPath == r.URL.RawPath
}

// WithRequestID returns ctx carrying the request ID.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, &requestInfo{id: id})
}

// RequestID returns the request ID set by the server middleware, or "".
func RequestID(ctx context.Context) string {
	if ri, ok := ctx.Value(requestIDKey{}).(*requestInfo); ok {
		return ri.id
	}
	return ""
}

// Pattern returns the pattern of mux's route for r, "" when none matches (as
// mux.Handler reports it). The middleware in front of one mux (route logging, audit,
// access) share one lookup per request: the last one is kept with the request ID (see
// WithRequestID) and reused while the request's method, host and URL are unchanged.
func Pattern(mux *http.ServeMux, r *http.Request) string {
	ri, _ := r.Context().Value(requestIDKey{}).(*requestInfo)
	if ri == nil {
		_, pattern := mux.Handler(r)
		return pattern
	}
	ri.mu.Lock()
	if ri.route.matches(mux, r) {
		pattern := ri.route.pattern
		ri.mu.Unlock()
		return pattern
	}
	ri.mu.Unlock()
	_, pattern := mux.Handler(r)
	ri.mu.Lock()
	ri.route = routeMemo{mux: mux, url: r.URL, method: r.Method, host: r.Host, path: r.URL.Path, rawPath: r.URL.RawPath, pattern: pattern}
	ri.mu.Unlock()
	return pattern
}
