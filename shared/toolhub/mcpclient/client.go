package mcpclient

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Metadata keys of 2026-07-28 requests.
const (
	metaProtocolVersion    = "io.modelcontextprotocol/protocolVersion"
	metaClientCapabilities = "io.modelcontextprotocol/clientCapabilities"
	metaClientInfo         = "io.modelcontextprotocol/clientInfo"
	metaLogLevel           = "io.modelcontextprotocol/logLevel"
	metaPrefix             = "io.modelcontextprotocol/"
)

// ErrUpstream wraps failures to reach or understand an upstream (as opposed to the
// JSON-RPC errors it answers with, returned as *RPCError).
var ErrUpstream = errors.New("mcp upstream failed")

// ErrTooLarge is returned when an upstream's response exceeds CallOptions.MaxBytes.
var ErrTooLarge = errors.New("mcp upstream response exceeds the size cap")

// Endpoint is one upstream MCP server.
type Endpoint struct {
	URL string
	// Header and Value are the upstream's credential ("" = none).
	Header, Value string
}

func (e Endpoint) key() string {
	h := sha256.Sum256([]byte(e.URL + "\x00" + e.Header + "\x00" + e.Value))
	return hex.EncodeToString(h[:16])
}

// Relay receives what an upstream sends to the client while one call runs.
type Relay interface {
	// Notify passes on a notification (progress, log message).
	Notify(ctx context.Context, method string, params json.RawMessage)
	// Request passes on a request the upstream makes of the client (2025-11-25 sampling,
	// elicitation, roots) and returns the client's result or error.
	Request(ctx context.Context, method string, params json.RawMessage) (json.RawMessage, error)
}

// CallOptions qualify one call.
type CallOptions struct {
	// MaxBytes caps the bytes read from the upstream for this call (0 = 4 MiB).
	MaxBytes int64
	// Relay receives notifications and requests the upstream sends during the call.
	Relay Relay
	// ClientCapabilities are the calling client's capabilities, declared to a 2026-07-28
	// upstream in the request's _meta (nil = none).
	ClientCapabilities json.RawMessage
	// LogLevel asks a 2026-07-28 upstream for log messages at or above it ("" = none).
	LogLevel string
	// ParamHeaders are Mcp-Param-* headers (name without prefix → value) for tools whose
	// schema maps arguments to headers.
	ParamHeaders map[string]string
}

// Client calls MCP servers. It is safe for concurrent use; one Client serves every
// upstream, keeping a negotiated connection state (and, for 2025-11-25, a session) per
// endpoint.
type Client struct {
	http    *http.Client
	name    string
	version string
	log     *slog.Logger
	nextID  atomic.Int64

	mu    sync.Mutex
	conns map[string]*conn
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sets the HTTP client (default: a pooled client without an overall timeout;
// calls are bounded by their contexts).
func WithHTTPClient(h *http.Client) Option { return func(c *Client) { c.http = h } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(c *Client) { c.log = l } }

// WithImplementation sets the clientInfo the client presents.
func WithImplementation(name, version string) Option {
	return func(c *Client) { c.name, c.version = name, version }
}

// New returns a client.
func New(opts ...Option) *Client {
	c := &Client{name: "plinth-mcp-gateway", version: "1.0.0", conns: map[string]*conn{}}
	for _, o := range opts {
		o(c)
	}
	if c.http == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 64
		c.http = &http.Client{Transport: t}
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	return c
}

// conn is what the client knows of one endpoint.
type conn struct {
	ep Endpoint

	mu      sync.Mutex
	ready   bool
	version string
	session string
	init    json.RawMessage // the discover or initialize result
}

func (c *Client) conn(ep Endpoint) *conn {
	k := ep.key()
	c.mu.Lock()
	defer c.mu.Unlock()
	cn, ok := c.conns[k]
	if !ok {
		cn = &conn{ep: ep}
		c.conns[k] = cn
	}
	return cn
}

// Forget drops what the client knows of an endpoint (closing its session), so the next
// call negotiates afresh, e.g. after the server's URL or credential changed.
func (c *Client) Forget(ctx context.Context, ep Endpoint) {
	k := ep.key()
	c.mu.Lock()
	cn := c.conns[k]
	delete(c.conns, k)
	c.mu.Unlock()
	if cn != nil {
		c.closeSession(ctx, cn)
	}
}

// Close ends every 2025-11-25 session the client holds.
func (c *Client) Close(ctx context.Context) {
	c.mu.Lock()
	conns := c.conns
	c.conns = map[string]*conn{}
	c.mu.Unlock()
	for _, cn := range conns {
		c.closeSession(ctx, cn)
	}
}

func (c *Client) closeSession(ctx context.Context, cn *conn) {
	cn.mu.Lock()
	sid := cn.session
	cn.session, cn.ready = "", false
	cn.mu.Unlock()
	if sid == "" {
		return
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, cn.ep.URL, nil)
	if err != nil {
		return
	}
	c.headers(req, cn.ep, Legacy, sid)
	if resp, err := c.http.Do(req); err == nil {
		drain(resp)
	}
}

// Initialized returns the upstream's discover or initialize result (capabilities,
// serverInfo, instructions) and the revision negotiated, negotiating if needed.
func (c *Client) Initialized(ctx context.Context, ep Endpoint) (json.RawMessage, string, error) {
	cn := c.conn(ep)
	if err := c.ensure(ctx, cn); err != nil {
		return nil, "", err
	}
	cn.mu.Lock()
	defer cn.mu.Unlock()
	return cn.init, cn.version, nil
}

// Call sends one request and returns its result. A JSON-RPC error from the upstream is
// returned as *RPCError; failures to reach or parse it wrap ErrUpstream; an oversized
// response is ErrTooLarge.
func (c *Client) Call(ctx context.Context, ep Endpoint, method string, params json.RawMessage, opts CallOptions) (json.RawMessage, error) {
	cn := c.conn(ep)
	for attempt := 0; ; attempt++ {
		if err := c.ensure(ctx, cn); err != nil {
			return nil, err
		}
		cn.mu.Lock()
		version, session := cn.version, cn.session
		cn.mu.Unlock()
		res, err := c.exchange(ctx, cn, version, session, method, params, opts)
		if errors.Is(err, errSessionGone) && attempt == 0 {
			cn.mu.Lock()
			if cn.session == session {
				cn.ready, cn.session = false, ""
			}
			cn.mu.Unlock()
			continue
		}
		return res, err
	}
}

var errSessionGone = errors.New("upstream session expired")

// ensure negotiates the revision (and opens a 2025-11-25 session) once per endpoint.
func (c *Client) ensure(ctx context.Context, cn *conn) error {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if cn.ready {
		return nil
	}
	meta := map[string]any{
		metaProtocolVersion:    Modern,
		metaClientCapabilities: map[string]any{},
		metaClientInfo:         map[string]string{"name": c.name, "version": c.version},
	}
	params, _ := json.Marshal(map[string]any{"_meta": meta})
	res, err := c.roundTrip(ctx, cn.ep, Modern, "", "server/discover", params, CallOptions{MaxBytes: 1 << 20})
	if err == nil {
		var d struct {
			SupportedVersions []string `json:"supportedVersions"`
		}
		if json.Unmarshal(res, &d) == nil && contains(d.SupportedVersions, Modern) {
			cn.version, cn.session, cn.init, cn.ready = Modern, "", res, true
			return nil
		}
	} else if errors.Is(err, ErrUpstream) && !isHTTPRefusal(err) {
		return err
	}
	return c.initialize(ctx, cn)
}

func isHTTPRefusal(err error) bool {
	var he *httpStatusError
	return errors.As(err, &he) && he.status >= 400 && he.status < 500
}

func (c *Client) initialize(ctx context.Context, cn *conn) error {
	params, _ := json.Marshal(map[string]any{
		"protocolVersion": Legacy,
		"capabilities": map[string]any{
			"sampling":    map[string]any{},
			"elicitation": map[string]any{"form": map[string]any{}},
			"roots":       map[string]any{},
		},
		"clientInfo": map[string]string{"name": c.name, "version": c.version},
	})
	id := c.nextID.Add(1)
	body, _ := json.Marshal(message{JSONRPC: "2.0", ID: json.RawMessage(strconv.FormatInt(id, 10)), Method: "initialize", Params: params})
	resp, err := c.post(ctx, cn.ep, "", "", "initialize", body, nil)
	if err != nil {
		return err
	}
	sid := resp.Header.Get("Mcp-Session-Id")
	res, err := c.read(ctx, cn.ep, resp, id, CallOptions{MaxBytes: 1 << 20}, "")
	if err != nil {
		return err
	}
	var ir struct {
		ProtocolVersion string          `json:"protocolVersion"`
		Capabilities    json.RawMessage `json:"capabilities"`
	}
	if err := json.Unmarshal(res, &ir); err != nil {
		return fmt.Errorf("%w: initialize result: %v", ErrUpstream, err)
	}
	version := ir.ProtocolVersion
	if version == "" {
		version = Legacy
	}
	note, _ := json.Marshal(message{JSONRPC: "2.0", Method: "notifications/initialized"})
	if r, err := c.post(ctx, cn.ep, version, sid, "notifications/initialized", note, nil); err == nil {
		drain(r)
	} else {
		return err
	}
	cn.version, cn.session, cn.init, cn.ready = version, sid, res, true
	// A 2025-11-25 server sends log messages only once a level is set; ask for all of them
	// and let each caller's own level filter what it receives.
	var caps struct {
		Logging json.RawMessage `json:"logging"`
	}
	if json.Unmarshal(ir.Capabilities, &caps) == nil && len(caps.Logging) > 0 {
		lvl, _ := json.Marshal(map[string]string{"level": "debug"})
		if _, err := c.exchange(ctx, cn, version, sid, "logging/setLevel", lvl, CallOptions{MaxBytes: 1 << 16}); err != nil {
			c.log.WarnContext(ctx, "mcp upstream refused logging/setLevel", "url", cn.ep.URL, "error", err)
		}
	}
	return nil
}

// exchange sends one request on a negotiated connection.
func (c *Client) exchange(ctx context.Context, cn *conn, version, session, method string, params json.RawMessage, opts CallOptions) (json.RawMessage, error) {
	if version == Modern {
		var err error
		if params, err = c.withModernMeta(params, opts); err != nil {
			return nil, err
		}
	} else {
		params = withoutModernMeta(params)
	}
	return c.roundTripSession(ctx, cn.ep, version, session, method, params, opts)
}

func (c *Client) roundTrip(ctx context.Context, ep Endpoint, version, session, method string, params json.RawMessage, opts CallOptions) (json.RawMessage, error) {
	return c.roundTripSession(ctx, ep, version, session, method, params, opts)
}

func (c *Client) roundTripSession(ctx context.Context, ep Endpoint, version, session, method string, params json.RawMessage, opts CallOptions) (json.RawMessage, error) {
	id := c.nextID.Add(1)
	body, err := json.Marshal(message{JSONRPC: "2.0", ID: json.RawMessage(strconv.FormatInt(id, 10)), Method: method, Params: params})
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", method, err)
	}
	var extra http.Header
	if version == Modern {
		extra = http.Header{}
		extra.Set("Mcp-Method", method)
		if name, ok := headerName(method, params); ok {
			extra.Set("Mcp-Name", encodeHeaderValue(name))
		}
		for k, v := range opts.ParamHeaders {
			extra.Set("Mcp-Param-"+k, encodeHeaderValue(v))
		}
	}
	resp, err := c.post(ctx, ep, version, session, method, body, extra)
	if err != nil {
		return nil, err
	}
	res, err := c.read(ctx, ep, resp, id, opts, session)
	if err != nil && ctx.Err() != nil && session != "" {
		c.cancelUpstream(ep, version, session, id)
	}
	return res, err
}

// cancelUpstream tells a session-bound upstream that a request was abandoned.
func (c *Client) cancelUpstream(ep Endpoint, version, session string, id int64) {
	params, _ := json.Marshal(map[string]any{"requestId": id, "reason": "the caller cancelled the request"})
	body, _ := json.Marshal(message{JSONRPC: "2.0", Method: "notifications/cancelled", Params: params})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if resp, err := c.post(ctx, ep, version, session, "notifications/cancelled", body, nil); err == nil {
		drain(resp)
	}
}

type httpStatusError struct {
	status int
	body   string
}

func (e *httpStatusError) Error() string {
	return fmt.Sprintf("HTTP %d: %s", e.status, e.body)
}

func (c *Client) headers(req *http.Request, ep Endpoint, version, session string) {
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if version != "" {
		req.Header.Set("Mcp-Protocol-Version", version)
	}
	if session != "" {
		req.Header.Set("Mcp-Session-Id", session)
	}
	if ep.Header != "" && ep.Value != "" {
		req.Header.Set(ep.Header, ep.Value)
	}
}

// post sends a body and returns a 2xx response; a JSON-RPC error in a 4xx body is
// returned as *RPCError.
func (c *Client) post(ctx context.Context, ep Endpoint, version, session, method string, body []byte, extra http.Header) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUpstream, err)
	}
	c.headers(req, ep, version, session)
	for k, v := range extra {
		req.Header[k] = v
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w: %s %s: %v", ErrUpstream, method, ep.URL, err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp, nil
	}
	defer drain(resp)
	if resp.StatusCode == http.StatusNotFound && session != "" {
		return nil, errSessionGone
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var m message
	if json.Unmarshal(b, &m) == nil && m.Error != nil {
		return nil, m.Error
	}
	return nil, fmt.Errorf("%w: %s: %w", ErrUpstream, method, &httpStatusError{status: resp.StatusCode, body: strings.TrimSpace(string(b))})
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

// read reads the response to request id from a JSON or SSE body, relaying what else
// arrives, and resumes a 2025-11-25 stream the server closed early.
func (c *Client) read(ctx context.Context, ep Endpoint, resp *http.Response, id int64, opts CallOptions, session string) (json.RawMessage, error) {
	max := opts.MaxBytes
	if max <= 0 {
		max = 4 << 20
	}
	body := &cappedReader{r: resp.Body, n: max + 64<<10}
	defer drain(resp)
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if ct != "text/event-stream" {
		b, err := io.ReadAll(body)
		if err != nil {
			return nil, c.readErr(ctx, err)
		}
		var m message
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("%w: response is not JSON-RPC: %v", ErrUpstream, err)
		}
		return c.result(&m, max)
	}
	want := strconv.FormatInt(id, 10)
	events := newSSEReader(body)
	lastID, retry := "", 0
	for resumes := 0; ; {
		ev, err := events.next()
		if err != nil {
			if errors.Is(err, io.EOF) && lastID != "" && session != "" && resumes < 5 {
				// The server closed the stream before answering (it may, to poll): resume it.
				resumes++
				r, rerr := c.resume(ctx, ep, session, lastID, retry)
				if rerr != nil {
					return nil, rerr
				}
				defer drain(r)
				body = &cappedReader{r: r.Body, n: body.n}
				events = newSSEReader(body)
				continue
			}
			if errors.Is(err, io.EOF) {
				return nil, fmt.Errorf("%w: the stream ended without a response", ErrUpstream)
			}
			return nil, c.readErr(ctx, err)
		}
		if ev.id != "" {
			lastID = ev.id
		}
		if ev.retry > 0 {
			retry = ev.retry
		}
		if len(bytes.TrimSpace(ev.data)) == 0 {
			continue
		}
		var m message
		if err := json.Unmarshal(ev.data, &m); err != nil {
			return nil, fmt.Errorf("%w: event is not JSON-RPC: %v", ErrUpstream, err)
		}
		switch {
		case m.isResponse() && string(m.ID) == want:
			return c.result(&m, max)
		case m.isNotification():
			if opts.Relay != nil {
				opts.Relay.Notify(ctx, m.Method, m.Params)
			}
		case m.Method != "":
			go c.answer(ctx, ep, session, &m, opts.Relay)
		}
	}
}

func (c *Client) readErr(ctx context.Context, err error) error {
	if errors.Is(err, errTooLarge) {
		return ErrTooLarge
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("%w: reading the response: %v", ErrUpstream, err)
}

func (c *Client) result(m *message, max int64) (json.RawMessage, error) {
	if m.Error != nil {
		return nil, m.Error
	}
	if int64(len(m.Result)) > max {
		return nil, ErrTooLarge
	}
	if len(m.Result) == 0 {
		return nil, fmt.Errorf("%w: response has neither result nor error", ErrUpstream)
	}
	return m.Result, nil
}

// resume reopens a closed stream with GET and Last-Event-ID after the server's retry delay.
func (c *Client) resume(ctx context.Context, ep Endpoint, session, lastID string, retryMS int) (*http.Response, error) {
	if retryMS > 0 {
		t := time.NewTimer(min(time.Duration(retryMS)*time.Millisecond, 5*time.Second))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ep.URL, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUpstream, err)
	}
	c.headers(req, ep, Legacy, session)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Last-Event-ID", lastID)
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w: resuming the stream: %v", ErrUpstream, err)
	}
	if resp.StatusCode != http.StatusOK {
		drain(resp)
		return nil, fmt.Errorf("%w: resuming the stream: HTTP %d", ErrUpstream, resp.StatusCode)
	}
	return resp, nil
}

// answer relays a server-to-client request and posts the client's answer back.
func (c *Client) answer(ctx context.Context, ep Endpoint, session string, m *message, relay Relay) {
	reply := message{JSONRPC: "2.0", ID: m.ID}
	if relay == nil {
		reply.Error = &RPCError{Code: -32601, Message: m.Method + " is not available through this gateway"}
	} else if res, err := relay.Request(ctx, m.Method, m.Params); err != nil {
		var re *RPCError
		if errors.As(err, &re) {
			reply.Error = re
		} else {
			reply.Error = &RPCError{Code: -32603, Message: err.Error()}
		}
	} else {
		reply.Result = res
	}
	body, _ := json.Marshal(reply)
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if resp, err := c.post(actx, ep, Legacy, session, "response", body, nil); err == nil {
		drain(resp)
	} else {
		c.log.WarnContext(ctx, "could not deliver a client's answer to the mcp upstream", "url", ep.URL, "method", m.Method, "error", err)
	}
}

// withModernMeta sets the 2026-07-28 per-request _meta on params, keeping the caller's
// other _meta members (such as progressToken).
func (c *Client) withModernMeta(params json.RawMessage, opts CallOptions) (json.RawMessage, error) {
	p := map[string]json.RawMessage{}
	if len(params) > 0 && string(params) != "null" {
		if err := json.Unmarshal(params, &p); err != nil {
			return nil, fmt.Errorf("params must be a JSON object: %w", err)
		}
	}
	meta := map[string]json.RawMessage{}
	if raw, ok := p["_meta"]; ok {
		_ = json.Unmarshal(raw, &meta)
	}
	for k := range meta {
		if strings.HasPrefix(k, metaPrefix) {
			delete(meta, k)
		}
	}
	caps := opts.ClientCapabilities
	if len(caps) == 0 {
		caps = json.RawMessage(`{}`)
	}
	meta[metaProtocolVersion] = json.RawMessage(strconv.Quote(Modern))
	meta[metaClientCapabilities] = caps
	info, _ := json.Marshal(map[string]string{"name": c.name, "version": c.version})
	meta[metaClientInfo] = info
	if opts.LogLevel != "" {
		meta[metaLogLevel] = json.RawMessage(strconv.Quote(opts.LogLevel))
	}
	b, _ := json.Marshal(meta)
	p["_meta"] = b
	return json.Marshal(p)
}

// withoutModernMeta drops 2026-07-28 _meta members a modern client may have sent from
// params bound for a 2025-11-25 upstream.
func withoutModernMeta(params json.RawMessage) json.RawMessage {
	if !bytes.Contains(params, []byte(metaPrefix)) {
		return params
	}
	p := map[string]json.RawMessage{}
	if json.Unmarshal(params, &p) != nil {
		return params
	}
	meta := map[string]json.RawMessage{}
	if json.Unmarshal(p["_meta"], &meta) != nil {
		return params
	}
	for k := range meta {
		if strings.HasPrefix(k, metaPrefix) {
			delete(meta, k)
		}
	}
	if len(meta) == 0 {
		delete(p, "_meta")
	} else {
		p["_meta"], _ = json.Marshal(meta)
	}
	out, err := json.Marshal(p)
	if err != nil {
		return params
	}
	return out
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func base64Std(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
