package observe

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-xray-sdk-go/daemoncfg"
	"github.com/aws/aws-xray-sdk-go/header"
)

// TraceHeaderName is the HTTP header carrying the X-Ray trace context.
const TraceHeaderName = "X-Amzn-Trace-Id"

// lambdaTraceKey is the context key under which aws-lambda-go stores the invocation's
// trace header (a plain string key: it must equal the runtime's own).
const lambdaTraceKey = "x-amzn-trace-id"

// TraceHeader is a parsed X-Amzn-Trace-Id value.
type TraceHeader struct {
	Root    string
	Parent  string
	Sampled bool
}

// ParseTraceHeader parses "Root=1-…;Parent=…;Sampled=1" with the X-Ray SDK's header
// parser (fields in any order, unknown fields ignored). It reports false when there is
// no Root.
func ParseTraceHeader(s string) (TraceHeader, bool) {
	x := header.FromString(s)
	h := TraceHeader{Root: x.TraceID, Parent: x.ParentID, Sampled: x.SamplingDecision == header.Sampled}
	return h, h.Root != ""
}

// String formats the header for propagation, as the X-Ray SDK writes it.
func (h TraceHeader) String() string {
	d := header.NotSampled
	if h.Sampled {
		d = header.Sampled
	}
	return header.Header{TraceID: h.Root, ParentID: h.Parent, SamplingDecision: d}.String()
}

type subsegmentKey struct{}

// traceHeaderFrom returns the trace context of ctx: the open subsegment's, else the
// Lambda invocation's.
func traceHeaderFrom(ctx context.Context) (TraceHeader, bool) {
	if s, ok := ctx.Value(subsegmentKey{}).(*Subsegment); ok && s != nil {
		return TraceHeader{Root: s.doc.TraceID, Parent: s.doc.ID, Sampled: true}, true
	}
	if v, ok := ctx.Value(lambdaTraceKey).(string); ok && v != "" {
		return ParseTraceHeader(v)
	}
	return TraceHeader{}, false
}

// WithLambdaTraceHeader returns ctx carrying an invocation trace header the way the Lambda
// runtime library does; for handlers invoked outside the runtime (tests, local invoke).
func WithLambdaTraceHeader(ctx context.Context, header string) context.Context {
	//lint:ignore SA1029 the key must equal aws-lambda-go's own string key to be found
	return context.WithValue(ctx, lambdaTraceKey, header)
}

// Tracer sends X-Ray subsegments to the X-Ray daemon over UDP. A nil or disabled Tracer
// is a no-op, so call sites need no guards.
type Tracer struct {
	addr string
	now  func() time.Time

	mu   sync.Mutex
	conn net.Conn
}

// TracerOption configures a Tracer.
type TracerOption func(*Tracer)

// WithDaemonAddress sends to addr ("host:port", or the daemon's "tcp:… udp:…" form)
// instead of the Lambda environment's AWS_XRAY_DAEMON_ADDRESS.
func WithDaemonAddress(addr string) TracerOption { return func(t *Tracer) { t.addr = daemonUDP(addr) } }

// WithTracerClock sets the clock (default time.Now).
func WithTracerClock(now func() time.Time) TracerOption { return func(t *Tracer) { t.now = now } }

// NewTracer returns a tracer for this Lambda function: enabled when the function runs in
// Lambda (LAMBDA_TASK_ROOT) with active tracing (AWS_XRAY_DAEMON_ADDRESS), disabled
// otherwise. Subsegments are recorded only for invocations whose trace is sampled.
func NewTracer(opts ...TracerOption) *Tracer {
	t := &Tracer{now: time.Now}
	if os.Getenv("LAMBDA_TASK_ROOT") != "" {
		t.addr = daemonUDP(os.Getenv("AWS_XRAY_DAEMON_ADDRESS"))
	}
	for _, o := range opts {
		o(t)
	}
	return t
}

// daemonUDP returns the daemon's UDP address from an AWS_XRAY_DAEMON_ADDRESS value
// ("host:port" or "tcp:host:port udp:host:port"), parsed by the X-Ray SDK's daemon
// configuration; "" when it is unset or invalid (tracing stays off).
func daemonUDP(v string) string {
	if strings.TrimSpace(v) == "" {
		return ""
	}
	ep, err := daemoncfg.GetDaemonEndpointsFromString(strings.TrimSpace(v))
	if err != nil || ep == nil || ep.UDPAddr == nil {
		return ""
	}
	return ep.UDPAddr.String()
}

// Enabled reports whether the tracer sends anything at all.
func (t *Tracer) Enabled() bool { return t != nil && t.addr != "" }

// Namespaces of subsegments.
const (
	NamespaceAWS    = "aws"
	NamespaceRemote = "remote"
)

// Subsegment is one timed operation inside the invocation's trace.
type Subsegment struct {
	t    *Tracer
	mu   sync.Mutex
	done bool
	doc  segmentDoc
}

type segmentDoc struct {
	Name      string         `json:"name"`
	ID        string         `json:"id"`
	TraceID   string         `json:"trace_id"`
	ParentID  string         `json:"parent_id,omitempty"`
	Type      string         `json:"type"`
	Namespace string         `json:"namespace,omitempty"`
	StartTime float64        `json:"start_time"`
	EndTime   float64        `json:"end_time"`
	HTTP      *httpDoc       `json:"http,omitempty"`
	AWS       map[string]any `json:"aws,omitempty"`
	Error     bool           `json:"error,omitempty"`
	Fault     bool           `json:"fault,omitempty"`
	Throttle  bool           `json:"throttle,omitempty"`
	Cause     *causeDoc      `json:"cause,omitempty"`
}

type httpDoc struct {
	Request  *httpRequestDoc  `json:"request,omitempty"`
	Response *httpResponseDoc `json:"response,omitempty"`
}

type httpRequestDoc struct {
	Method string `json:"method,omitempty"`
	URL    string `json:"url,omitempty"`
}

type httpResponseDoc struct {
	Status        int   `json:"status,omitempty"`
	ContentLength int64 `json:"content_length,omitempty"`
}

type causeDoc struct {
	Exceptions []exceptionDoc `json:"exceptions"`
}

type exceptionDoc struct {
	ID      string `json:"id"`
	Message string `json:"message"`
	Type    string `json:"type,omitempty"`
}

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func epoch(t time.Time) float64 { return float64(t.UnixMicro()) / 1e6 }

// Begin opens a subsegment named name under ctx's trace and returns a context carrying
// it (so nested calls become its children and outbound requests propagate it). It
// returns a nil *Subsegment, whose methods do nothing, when tracing is off or the
// invocation is not sampled.
func (t *Tracer) Begin(ctx context.Context, name, namespace string) (context.Context, *Subsegment) {
	if !t.Enabled() {
		return ctx, nil
	}
	h, ok := traceHeaderFrom(ctx)
	if !ok || !h.Sampled || h.Parent == "" {
		return ctx, nil
	}
	s := &Subsegment{t: t, doc: segmentDoc{
		Name: sanitizeName(name), ID: newID(), TraceID: h.Root, ParentID: h.Parent,
		Type: "subsegment", Namespace: namespace, StartTime: epoch(t.now()),
	}}
	return context.WithValue(ctx, subsegmentKey{}, s), s
}

// sanitizeName keeps the characters X-Ray accepts in names, at most 200 of them.
func sanitizeName(n string) string {
	n = strings.Map(func(r rune) rune {
		if r < 0x20 || strings.ContainsRune(`"<>?\`, r) {
			return '_'
		}
		return r
	}, n)
	if len(n) > 200 {
		n = n[:200]
	}
	if n == "" {
		n = "unnamed"
	}
	return n
}

// Header returns the trace header that continues this subsegment downstream.
func (s *Subsegment) Header() string {
	if s == nil {
		return ""
	}
	return TraceHeader{Root: s.doc.TraceID, Parent: s.doc.ID, Sampled: true}.String()
}

// SetHTTPRequest records the outbound request.
func (s *Subsegment) SetHTTPRequest(method, url string) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.doc.HTTP == nil {
		s.doc.HTTP = &httpDoc{}
	}
	s.doc.HTTP.Request = &httpRequestDoc{Method: method, URL: url}
}

// SetHTTPStatus records the response status (and length when known) and flags 4xx as
// error, 429 as throttle and 5xx as fault.
func (s *Subsegment) SetHTTPStatus(status int, contentLength int64) {
	if s == nil || status == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.doc.HTTP == nil {
		s.doc.HTTP = &httpDoc{}
	}
	if contentLength < 0 {
		contentLength = 0
	}
	s.doc.HTTP.Response = &httpResponseDoc{Status: status, ContentLength: contentLength}
	switch {
	case status == http.StatusTooManyRequests:
		s.doc.Error, s.doc.Throttle = true, true
	case status >= 500:
		s.doc.Fault = true
	case status >= 400:
		s.doc.Error = true
	}
}

// SetAWS records AWS call attributes (operation, region, request_id, table_name, …).
func (s *Subsegment) SetAWS(attrs map[string]any) {
	if s == nil || len(attrs) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.doc.AWS == nil {
		s.doc.AWS = map[string]any{}
	}
	for k, v := range attrs {
		s.doc.AWS[k] = v
	}
}

// Close ends the subsegment and sends it. A non-nil err marks it as a fault (unless a
// 4xx status already classified it) with err as the cause. Close is idempotent.
func (s *Subsegment) Close(err error) {
	if s == nil {
		return
	}
	s.mu.Lock()
	if s.done {
		s.mu.Unlock()
		return
	}
	s.done = true
	s.doc.EndTime = epoch(s.t.now())
	if err != nil && !errors.Is(err, io.EOF) {
		if !s.doc.Error {
			s.doc.Fault = true
		}
		msg := err.Error()
		if len(msg) > 1024 {
			msg = msg[:1024]
		}
		s.doc.Cause = &causeDoc{Exceptions: []exceptionDoc{{ID: newID(), Message: msg}}}
	}
	doc, merr := json.Marshal(&s.doc)
	s.mu.Unlock()
	if merr == nil {
		s.t.send(doc)
	}
}

var daemonHeader = []byte("{\"format\":\"json\",\"version\":1}\n")

// send writes one segment document to the daemon; failures are dropped, as tracing
// must never fail a request.
func (t *Tracer) send(doc []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.conn == nil {
		c, err := net.Dial("udp", t.addr)
		if err != nil {
			return
		}
		t.conn = c
	}
	pkt := make([]byte, 0, len(daemonHeader)+len(doc))
	pkt = append(append(pkt, daemonHeader...), doc...)
	_, _ = t.conn.Write(pkt)
}

// Transport wraps rt (http.DefaultTransport when nil) so each request of a traced
// invocation becomes a "remote" subsegment named after the host, carrying the trace
// header downstream. The subsegment ends when the response body is closed or read to
// its end, so streamed responses are timed whole.
func (t *Tracer) Transport(rt http.RoundTripper) http.RoundTripper {
	if rt == nil {
		rt = http.DefaultTransport
	}
	if !t.Enabled() {
		return rt
	}
	return &tracingTransport{t: t, next: rt}
}

type tracingTransport struct {
	t    *Tracer
	next http.RoundTripper
}

func (tt *tracingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	ctx, seg := tt.t.Begin(r.Context(), r.URL.Host, NamespaceRemote)
	if seg == nil {
		return tt.next.RoundTrip(r)
	}
	r = r.Clone(ctx)
	r.Header.Set(TraceHeaderName, seg.Header())
	u := *r.URL
	u.RawQuery, u.User = "", nil
	seg.SetHTTPRequest(r.Method, u.String())
	resp, err := tt.next.RoundTrip(r)
	if err != nil {
		seg.Close(err)
		return nil, err
	}
	seg.SetHTTPStatus(resp.StatusCode, resp.ContentLength)
	resp.Body = &tracedBody{ReadCloser: resp.Body, seg: seg}
	return resp, nil
}

type tracedBody struct {
	io.ReadCloser
	seg *Subsegment
}

func (b *tracedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		b.seg.Close(err)
	}
	return n, err
}

func (b *tracedBody) Close() error {
	err := b.ReadCloser.Close()
	b.seg.Close(nil)
	return err
}
