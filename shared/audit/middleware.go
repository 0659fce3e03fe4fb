package audit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/plinth-ai/plinth/shared/auth"
	"github.com/plinth-ai/plinth/shared/httpapi"
)

// captureLimit bounds what Middleware keeps of a request or response body to find
// identifiers in it ("tenant", "id", the error code); bodies are never stored.
const captureLimit = 64 << 10

type mwOptions struct {
	ops     *Operations
	skip    map[string]bool
	include map[string]bool
	now     func() time.Time
}

// MiddlewareOption configures Middleware.
type MiddlewareOption func(*mwOptions)

// WithOperations names actions after the OpenAPI document's operationIds.
func WithOperations(ops *Operations) MiddlewareOption {
	return func(o *mwOptions) { o.ops = ops }
}

// Skip leaves these actions out of the trail (e.g. chat completions, whose every call
// the usage ledger already records).
func Skip(actions ...string) MiddlewareOption {
	return func(o *mwOptions) {
		for _, a := range actions {
			o.skip[a] = true
		}
	}
}

// Include audits these actions although they only read (GET), e.g. reading the audit
// trail itself.
func Include(actions ...string) MiddlewareOption {
	return func(o *mwOptions) {
		for _, a := range actions {
			o.include[a] = true
		}
	}
}

// WithMiddlewareClock sets the clock that stamps events (default time.Now).
func WithMiddlewareClock(now func() time.Time) MiddlewareOption {
	return func(o *mwOptions) { o.now = now }
}

// Middleware records one event for each request to mux that changes something (any
// method but GET, HEAD and OPTIONS) and for the reads named by Include, with the outcome
// the handler answered. It must run after authentication (the actor is the context's
// auth.Principal) and wrap the handler that dispatches to mux. Routes mux does not serve
// are passed through unrecorded.
//
// The event's tenant is the first known of: what the handler set with SetTenant, the
// caller's tenant, the {id} of an /admin/tenants/{id} route, the tenant a POST
// /admin/tenants created (or tried to), a "tenant" field of the JSON
// request body, the "tenant" query parameter. Its resource is what the handler set with
// SetResource, else the request path below /admin/ or /v1/, followed by the "id" a
// successful create answered with.
func Middleware(rec Recorder, mux *http.ServeMux, opts ...MiddlewareOption) func(http.Handler) http.Handler {
	if rec == nil || mux == nil {
		panic("audit.Middleware: nil recorder or mux")
	}
	o := mwOptions{skip: map[string]bool{}, include: map[string]bool{}, now: time.Now}
	for _, f := range opts {
		f(&o)
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			pattern := httpapi.Pattern(mux, r)
			if pattern == "" {
				next.ServeHTTP(w, r)
				return
			}
			action := o.ops.Name(pattern)
			if action == "" {
				action = pattern
			}
			read := r.Method == http.MethodGet || r.Method == http.MethodHead || r.Method == http.MethodOptions
			if o.skip[action] || (read && !o.include[action]) {
				next.ServeHTTP(w, r)
				return
			}
			ctx, n := withNote(r.Context())
			var reqBody *capture
			if r.Body != nil && r.Body != http.NoBody && isJSON(r.Header.Get("Content-Type")) {
				reqBody = &capture{ReadCloser: r.Body}
				r.Body = reqBody
			}
			rw := &recorder{ResponseWriter: w, keep: r.Method == http.MethodPost}
			next.ServeHTTP(rw, r.WithContext(ctx))
			rec.Record(context.WithoutCancel(r.Context()), o.event(r, pattern, action, n, reqBody, rw))
		})
	}
}

func (o *mwOptions) event(r *http.Request, pattern, action string, n *note, reqBody *capture, rw *recorder) Event {
	status := rw.status
	if status == 0 {
		status = http.StatusOK
	}
	e := Event{
		Time:      o.now().UTC(),
		Action:    action,
		Method:    r.Method,
		Route:     pattern,
		SourceIP:  sourceIP(r),
		UserAgent: truncate(r.UserAgent(), 256),
		Outcome:   OutcomeOf(status),
		Status:    status,
		RequestID: httpapi.RequestID(r.Context()),
	}
	p, ok := auth.FromContext(r.Context())
	switch {
	case !ok:
		e.Actor, e.ActorType = "anonymous", "anonymous"
	case p.Admin:
		e.Actor, e.ActorType = p.KeyID, ActorAdmin
	case strings.HasPrefix(p.KeyID, "arn:"):
		e.Actor, e.ActorType = p.KeyID, ActorIAM
	default:
		e.Actor, e.ActorType = p.KeyID, ActorAPIKey
	}
	if e.Actor == "" {
		e.Actor = e.ActorType
	}
	var body struct {
		Tenant string `json:"tenant"`
		ID     string `json:"id"`
	}
	if reqBody != nil {
		_ = json.Unmarshal(reqBody.buf.Bytes(), &body)
	}
	params := pathParams(pattern, r.URL.Path)
	var answered struct {
		ID    string `json:"id"`
		Error *struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(rw.buf.Bytes(), &answered)
	if answered.Error != nil {
		e.ErrorCode = answered.Error.Code
	}

	n.mu.Lock()
	defer n.mu.Unlock()
	created := ""
	if pattern == "POST /admin/tenants" {
		created = firstOf(answered.ID, body.ID)
	}
	e.Tenant = firstOf(n.tenant, p.TenantID, tenantParam(pattern, params), created, body.Tenant, r.URL.Query().Get("tenant"))
	e.Resource = n.resource
	if e.Resource == "" {
		e.Resource = resourcePath(r.URL.Path)
		if e.Outcome == OutcomeSuccess && r.Method == http.MethodPost && answered.ID != "" && !strings.HasSuffix(e.Resource, "/"+answered.ID) {
			e.Resource += "/" + answered.ID
		}
	}
	if len(n.details) > 0 {
		e.Details = make(map[string]string, len(n.details))
		for k, v := range n.details {
			e.Details[k] = v
		}
	}
	return e
}

// tenantParam is the {id} of /admin/tenants/{id}/… routes.
func tenantParam(pattern string, params map[string]string) string {
	_, path, _ := strings.Cut(pattern, " ")
	rest, ok := strings.CutPrefix(path, "/admin/tenants/{")
	if !ok {
		return ""
	}
	name, _, _ := strings.Cut(rest, "}")
	return params[strings.TrimSuffix(name, "...")]
}

func resourcePath(path string) string {
	for _, prefix := range []string{"/admin/", "/v1/"} {
		if rest, ok := strings.CutPrefix(path, prefix); ok {
			return truncate(rest, 512)
		}
	}
	return truncate(strings.TrimPrefix(path, "/"), 512)
}

func sourceIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func isJSON(contentType string) bool {
	return contentType == "" || strings.Contains(contentType, "json")
}

func firstOf(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// capture keeps the first captureLimit bytes the handler reads from a body.
type capture struct {
	io.ReadCloser
	buf bytes.Buffer
}

func (c *capture) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	if room := captureLimit - c.buf.Len(); room > 0 && n > 0 {
		c.buf.Write(p[:min(n, room)])
	}
	return n, err
}

// recorder notes the status and keeps the start of the body of POST successes (for the
// created ID) and of errors (for the error code).
type recorder struct {
	http.ResponseWriter
	status int
	keep   bool
	buf    bytes.Buffer
}

func (w *recorder) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *recorder) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if (w.keep || w.status >= 400) && w.buf.Len() < captureLimit {
		w.buf.Write(p[:min(len(p), captureLimit-w.buf.Len())])
	}
	return w.ResponseWriter.Write(p)
}

// Flush lets streamed responses through.
func (w *recorder) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Hijack passes a hijack through when the underlying writer supports it.
func (w *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if h, ok := w.ResponseWriter.(http.Hijacker); ok {
		return h.Hijack()
	}
	return nil, nil, errors.New("audit: response writer cannot hijack")
}

// Unwrap lets http.ResponseController reach the underlying writer (deadlines).
func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }
