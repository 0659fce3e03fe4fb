// Package openai adapts any OpenAI-compatible HTTP endpoint (OpenAI, Azure OpenAI, vLLM,
// Ollama, LM Studio) to the provider port: chat completions, SSE streaming, tools and
// embeddings, with failures classified for routing.
package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/plinth-ai/plinth/shared/provider"
)

// Client calls one model on one OpenAI-compatible endpoint. It is safe for concurrent use.
type Client struct {
	model           string
	name            string
	chatURL         string
	embedURL        string
	azure           bool
	apiVersionAzure string
	base64          bool
	floatSet        bool // the caller chose the embedding encoding
	httpClient      *http.Client
	headers         http.Header
	authHeader      string // "Authorization" or "api-key"
	authValue       string
	stdlib          bool
	// Plain-http upstreams are served by a lean HTTP/1.1 client (h1.go); these are the
	// precomputed request heads for it.
	conns                       *conns
	chatHead, streamHead, embHd []byte
}

var (
	_ provider.ChatModel      = (*Client)(nil)
	_ provider.EmbeddingModel = (*Client)(nil)
)

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sets the net/http client used for https and proxied upstreams (share
// one across deployments to share its connection pool; the default is built by
// NewHTTPClient). Plain-http upstreams use the client's own lean HTTP/1.1 pool unless
// WithStdlibHTTP is also given.
func WithHTTPClient(c *http.Client) Option { return func(cl *Client) { cl.httpClient = c } }

// WithAzure speaks Azure OpenAI: the key goes in the api-key header and, when apiVersion
// is set, requests go to {baseURL}/openai/deployments/{model}/... with ?api-version=.
// With an empty apiVersion baseURL is used as given (Azure's /openai/v1 API).
func WithAzure(apiVersion string) Option {
	return func(c *Client) {
		c.azure = true
		c.apiVersionAzure = apiVersion
	}
}

// WithStdlibHTTP sends every request through net/http, also for plain-http upstreams,
// which otherwise go through a leaner HTTP/1.1 client that costs about half the CPU.
func WithStdlibHTTP() Option { return func(c *Client) { c.stdlib = true } }

// WithName sets the provider name carried by errors ("openai" by default).
func WithName(name string) Option { return func(c *Client) { c.name = name } }

// WithHeader adds a header to every request (organisation, project, gateway keys).
func WithHeader(key, value string) Option {
	return func(c *Client) { c.headers.Add(key, value) }
}

// WithBase64Embeddings asks for base64-encoded embeddings, a quarter of the bytes of
// decimal floats on the wire and far cheaper to decode. OpenAI's and Azure OpenAI's
// hosts get it by default; not every compatible server supports it.
func WithBase64Embeddings() Option { return func(c *Client) { c.base64, c.floatSet = true, true } }

// WithFloatEmbeddings asks for embeddings as JSON float arrays, also from OpenAI.
func WithFloatEmbeddings() Option { return func(c *Client) { c.base64, c.floatSet = false, true } }

// speaksBase64 reports whether baseURL is OpenAI's or Azure OpenAI's own service,
// which serve base64 embeddings.
func speaksBase64(baseURL string) bool {
	u, err := url.Parse(baseURL)
	if err != nil {
		return false
	}
	h := strings.ToLower(u.Hostname())
	return h == "api.openai.com" || strings.HasSuffix(h, ".openai.azure.com") || strings.HasSuffix(h, ".cognitiveservices.azure.com")
}

// New returns a client for model at baseURL (for OpenAI "https://api.openai.com/v1").
// apiKey may be empty for local servers.
func New(baseURL, model, apiKey string, opts ...Option) *Client {
	c := &Client{model: model, name: "openai", headers: http.Header{}}
	for _, o := range opts {
		o(c)
	}
	if c.httpClient == nil {
		c.httpClient = NewHTTPClient()
	}
	base := strings.TrimRight(baseURL, "/")
	query := ""
	if c.azure {
		c.authHeader, c.authValue = "Api-Key", apiKey
		if c.apiVersionAzure != "" {
			if !strings.Contains(base, "/openai/deployments/") {
				base += "/openai/deployments/" + url.PathEscape(model)
			}
			query = "?api-version=" + url.QueryEscape(c.apiVersionAzure)
		}
	} else if apiKey != "" {
		c.authHeader, c.authValue = "Authorization", "Bearer "+apiKey
	}
	if !c.floatSet && speaksBase64(base) {
		c.base64 = true
	}
	c.chatURL = base + "/chat/completions" + query
	c.embedURL = base + "/embeddings" + query
	if !c.stdlib && headersClean(c) {
		if c.conns = newConns(c.chatURL); c.conns != nil {
			c.chatHead = c.head(c.chatURL, "application/json")
			c.streamHead = c.head(c.chatURL, "text/event-stream")
			c.embHd = c.head(c.embedURL, "application/json")
		}
	}
	return c
}

// headersClean reports whether every configured header is free of line breaks; if not,
// requests go through net/http, which refuses them.
func headersClean(c *Client) bool {
	bad := func(s string) bool { return strings.ContainsAny(s, "\r\n") }
	if bad(c.authValue) {
		return false
	}
	for k, vs := range c.headers {
		if bad(k) {
			return false
		}
		for _, v := range vs {
			if bad(v) {
				return false
			}
		}
	}
	return true
}

// head renders the request line and headers for the HTTP/1.1 client.
func (c *Client) head(u, accept string) []byte {
	pu, _ := url.Parse(u)
	b := []byte("POST " + pu.RequestURI() + " HTTP/1.1\r\nHost: " + pu.Host + "\r\nUser-Agent: plinth\r\nContent-Type: application/json\r\nAccept: " + accept + "\r\n")
	if c.authHeader != "" {
		b = append(b, c.authHeader+": "+c.authValue+"\r\n"...)
	}
	for k, vs := range c.headers {
		for _, v := range vs {
			b = append(b, k+": "+v+"\r\n"...)
		}
	}
	return b
}

// NewHTTPClient returns an HTTP client tuned for a gateway: a large keep-alive pool per
// upstream host, bounded dial and TLS handshakes, and no overall timeout (streams are
// bounded by the caller's context and the router's per-attempt timeouts).
func NewHTTPClient() *http.Client {
	return &http.Client{Transport: NewTransport()}
}

// NewTransport returns the transport NewHTTPClient uses.
func NewTransport() *http.Transport {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		// Bodies are small JSON or SSE; decompression would cost the gateway CPU for little.
		DisableCompression: true,
	}
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func getBuf() *bytes.Buffer {
	b := bufPool.Get().(*bytes.Buffer)
	b.Reset()
	return b
}

func putBuf(b *bytes.Buffer) {
	if b.Cap() <= 1<<20 {
		bufPool.Put(b)
	}
}

// post sends body as JSON and returns the response when its status is 2xx, else a
// classified error.
func (c *Client) post(ctx context.Context, u string, body []byte, stream bool) (*http.Response, error) {
	if c.conns != nil {
		head := c.chatHead
		switch {
		case u == c.embedURL:
			head = c.embHd
		case stream:
			head = c.streamHead
		}
		resp, err := c.conns.do(ctx, head, body)
		if err != nil {
			return nil, c.transportError(ctx, err)
		}
		if resp.StatusCode/100 != 2 {
			defer resp.Body.Close()
			return nil, c.statusError(resp)
		}
		return resp, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, &provider.Error{Kind: provider.KindBadRequest, Provider: c.name, Message: "build request", Err: err}
	}
	h := req.Header
	h["Content-Type"] = jsonContentType
	if stream {
		h["Accept"] = sseAccept
	} else {
		h["Accept"] = jsonContentType
	}
	if c.authHeader != "" {
		h[c.authHeader] = []string{c.authValue}
	}
	for k, v := range c.headers {
		h[k] = v
	}
	resp, err := c.httpClient.Do(req)
	if err != nil {
		return nil, c.transportError(ctx, err)
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		return nil, c.statusError(resp)
	}
	return resp, nil
}

var (
	jsonContentType = []string{"application/json"}
	sseAccept       = []string{"text/event-stream"}
)

// transportError classifies a failure to get a response.
func (c *Client) transportError(ctx context.Context, err error) *provider.Error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return &provider.Error{Kind: provider.KindTimeout, Provider: c.name, Message: "request cancelled or timed out: " + ctxErr.Error(), Err: err}
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		return &provider.Error{Kind: provider.KindTimeout, Provider: c.name, Message: "upstream timed out", Err: err}
	}
	// Connection refused or reset, EOF before a response, TLS failures: the upstream is
	// not serving right now.
	return &provider.Error{Kind: provider.KindUnavailable, Provider: c.name, Message: "upstream unreachable", Err: err}
}

// apiError is OpenAI's error object.
type apiError struct {
	Message    string          `json:"message"`
	Type       string          `json:"type"`
	Code       json.RawMessage `json:"code"`
	Param      json.RawMessage `json:"param"`
	InnerError *struct {
		Code string `json:"code"`
	} `json:"innererror"`
}

func (e *apiError) code() string {
	if len(e.Code) == 0 || string(e.Code) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(e.Code, &s) == nil {
		return s
	}
	return string(e.Code) // numeric codes, as some compatible servers send
}

// statusError classifies a non-2xx response.
func (c *Client) statusError(resp *http.Response) *provider.Error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var env struct {
		Error *apiError `json:"error"`
	}
	var ae apiError
	if json.Unmarshal(body, &env) == nil && env.Error != nil {
		ae = *env.Error
	} else {
		// Some servers answer {"message": …} or plain text.
		if json.Unmarshal(body, &ae) != nil || ae.Message == "" {
			ae.Message = strings.TrimSpace(string(body))
		}
	}
	e := classify(resp.StatusCode, &ae)
	e.Provider = c.name
	if e.Kind == provider.KindRateLimited || e.Kind == provider.KindUnavailable {
		e.RetryAfter = retryAfter(resp.Header, time.Now())
	}
	return e
}

func classify(status int, ae *apiError) *provider.Error {
	code := ae.code()
	e := &provider.Error{Status: status, Code: code, Message: ae.Message}
	if e.Message == "" {
		e.Message = http.StatusText(status)
	}
	lower := strings.ToLower(ae.Message)
	switch {
	case code == "context_length_exceeded" || code == "string_above_max_length" ||
		strings.Contains(lower, "maximum context length") || strings.Contains(lower, "context length") && strings.Contains(lower, "exceed"):
		e.Kind = provider.KindContextLength
	case code == "content_filter" || code == "content_policy_violation" || ae.InnerError != nil && ae.InnerError.Code == "ResponsibleAIPolicyViolation":
		e.Kind = provider.KindContentFilter
	case status == http.StatusTooManyRequests:
		e.Kind = provider.KindRateLimited
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		e.Kind = provider.KindAuth
	case status == http.StatusNotFound:
		e.Kind = provider.KindNotFound
	case status == http.StatusRequestTimeout || status == http.StatusGatewayTimeout:
		e.Kind = provider.KindTimeout
	case status >= 500:
		e.Kind = provider.KindUnavailable
	default:
		e.Kind = provider.KindBadRequest
	}
	return e
}

// retryAfter reads OpenAI's retry-after-ms, then the standard Retry-After (seconds or an
// HTTP date).
func retryAfter(h http.Header, now time.Time) time.Duration {
	if v := h.Get("Retry-After-Ms"); v != "" {
		if ms, err := parseFloat(v); err == nil && ms >= 0 {
			return time.Duration(ms * float64(time.Millisecond))
		}
	}
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if s, err := parseFloat(v); err == nil && s >= 0 {
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

func parseFloat(s string) (float64, error) { return strconv.ParseFloat(strings.TrimSpace(s), 64) }
