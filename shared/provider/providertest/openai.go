// Package providertest holds fakes of model providers for tests and benchmarks: an
// OpenAI-compatible upstream that speaks OpenAI's exact wire format (JSON bodies, SSE
// chunks with a usage chunk and [DONE], error envelopes, Retry-After headers), with
// configurable latency, failures and cut streams.
package providertest

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Failure is an error answer the fake upstream gives instead of a completion.
type Failure struct {
	Status     int
	Type       string
	Code       string
	Message    string
	RetryAfter time.Duration // sent as retry-after-ms and Retry-After (whole seconds, rounded up)
}

// Common upstream failures, in OpenAI's words.
var (
	ServerError   = Failure{Status: 500, Type: "server_error", Message: "The server had an error while processing your request. Sorry about that!"}
	Overloaded    = Failure{Status: 503, Type: "server_error", Message: "The engine is currently overloaded, please try again later."}
	ContextLength = Failure{Status: 400, Type: "invalid_request_error", Code: "context_length_exceeded",
		Message: "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens. Please reduce the length of the messages."}
	ContentFiltered = Failure{Status: 400, Type: "invalid_request_error", Code: "content_filter",
		Message: "The response was filtered due to the prompt triggering Azure OpenAI's content management policy."}
	InvalidKey = Failure{Status: 401, Type: "invalid_request_error", Code: "invalid_api_key", Message: "Incorrect API key provided."}
)

// RateLimited is a 429 asking the client to wait d.
func RateLimited(d time.Duration) Failure {
	return Failure{Status: 429, Type: "requests", Code: "rate_limit_exceeded", RetryAfter: d,
		Message: "Rate limit reached for requests. Please try again later."}
}

type config struct {
	latency    time.Duration
	chunkDelay time.Duration
	reply      func(req *ChatBody) string
	model      string
	apiKey     string
	failures   []Failure
	always     *Failure
	cutAfter   int
	dims       int
	faults     []Fault
	noPrefill  bool
}

// Option configures the fake upstream.
type Option func(*config)

// WithLatency delays every answer (the first byte of a stream) by d.
func WithLatency(d time.Duration) Option { return func(c *config) { c.latency = d } }

// WithChunkDelay waits d between streamed chunks.
func WithChunkDelay(d time.Duration) Option { return func(c *config) { c.chunkDelay = d } }

// WithReply sets the assistant's text (default "Hello from the mock upstream.").
func WithReply(text string) Option {
	return func(c *config) { c.reply = func(*ChatBody) string { return text } }
}

// WithReplyFunc computes the assistant's text from the request.
func WithReplyFunc(f func(req *ChatBody) string) Option { return func(c *config) { c.reply = f } }

// WithModel sets the model name answers carry (default: the request's model).
func WithModel(name string) Option { return func(c *config) { c.model = name } }

// WithAPIKey requires "Authorization: Bearer key" (or "api-key: key").
func WithAPIKey(key string) Option { return func(c *config) { c.apiKey = key } }

// FailFirst answers the first requests with these failures, in order, then succeeds.
func FailFirst(f ...Failure) Option { return func(c *config) { c.failures = append(c.failures, f...) } }

// FailAlways answers every request with f.
func FailAlways(f Failure) Option { return func(c *config) { c.always = &f } }

// WithCutStream ends streams after n content chunks without "data: [DONE]".
func WithCutStream(n int) Option { return func(c *config) { c.cutAfter = n } }

// WithEmbeddingDimensions sets the default embedding size (default 8).
func WithEmbeddingDimensions(n int) Option { return func(c *config) { c.dims = n } }

// ChatBody is the part of a chat request the fake reads.
type ChatBody struct {
	Model    string `json:"model"`
	Messages []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	} `json:"messages"`
	Stream        bool `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	Tools []struct {
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	} `json:"tools"`
	ToolChoice json.RawMessage `json:"tool_choice"`
	MaxTokens  *int            `json:"max_tokens"`
}

// LastUserText returns the text of the last user message.
func (b *ChatBody) LastUserText() string {
	for i := len(b.Messages) - 1; i >= 0; i-- {
		if b.Messages[i].Role == "user" {
			var s string
			if json.Unmarshal(b.Messages[i].Content, &s) == nil {
				return s
			}
			return string(b.Messages[i].Content)
		}
	}
	return ""
}

// OpenAIServer is a running fake OpenAI-compatible upstream. Its URL + "/v1" is the
// base URL to configure.
type OpenAIServer struct {
	*httptest.Server
	h *Handler
}

// NewOpenAIServer starts a fake upstream on a free loopback port. Close it when done.
func NewOpenAIServer(opts ...Option) *OpenAIServer {
	h := NewOpenAIHandler(opts...)
	return &OpenAIServer{Server: httptest.NewServer(h), h: h}
}

// BaseURL is the API root to hand to a client ("http://127.0.0.1:port/v1").
func (s *OpenAIServer) BaseURL() string { return s.URL + "/v1" }

// Requests returns how many API requests arrived.
func (s *OpenAIServer) Requests() int { return s.h.Requests() }

// LastRequest returns the last request's body and headers.
func (s *OpenAIServer) LastRequest() ([]byte, http.Header) { return s.h.LastRequest() }

// Handler serves OpenAI's /v1/chat/completions, /v1/embeddings and /v1/models (also
// under /openai/deployments/{name}/ as Azure does). Use it to run the fake in another
// process for load tests.
type Handler struct {
	cfg      config
	standing atomic.Pointer[Fault]
	requests atomic.Int64
	mu       sync.Mutex
	lastBody []byte
	lastHdr  http.Header
}

// NewOpenAIHandler returns the fake upstream as an http.Handler.
func NewOpenAIHandler(opts ...Option) *Handler {
	h := &Handler{cfg: config{dims: 8}}
	for _, o := range opts {
		o(&h.cfg)
	}
	if h.cfg.reply == nil {
		h.cfg.reply = func(*ChatBody) string { return "Hello from the mock upstream." }
	}
	return h
}

// Requests returns how many API requests arrived.
func (h *Handler) Requests() int { return int(h.requests.Load()) }

// LastRequest returns the last request's body and headers.
func (h *Handler) LastRequest() ([]byte, http.Header) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lastBody, h.lastHdr
}

var fingerprint = "fp_mock0001"

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	if i := strings.Index(path, "/openai/deployments/"); i >= 0 {
		rest := path[i+len("/openai/deployments/"):]
		if j := strings.IndexByte(rest, '/'); j >= 0 {
			path = "/v1" + rest[j:]
		}
	}
	if r.Method == http.MethodGet && path == "/v1/models" {
		writeJSON(w, 200, map[string]any{"object": "list", "data": []any{map[string]any{"id": h.modelOr("mock-model"), "object": "model", "created": 1700000000, "owned_by": "mock"}}})
		return
	}
	if r.Method != http.MethodPost || (path != "/v1/chat/completions" && path != "/v1/embeddings") {
		h.fail(w, Failure{Status: 404, Type: "invalid_request_error", Message: "Unknown request URL: " + r.Method + " " + r.URL.Path})
		return
	}
	n := h.requests.Add(1)
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	h.mu.Lock()
	h.lastBody, h.lastHdr = body, r.Header // net/http does not reuse a request's header map
	h.mu.Unlock()
	if h.cfg.apiKey != "" && r.Header.Get("Authorization") != "Bearer "+h.cfg.apiKey && r.Header.Get("Api-Key") != h.cfg.apiKey {
		h.fail(w, InvalidKey)
		return
	}
	if !h.wait(r, h.cfg.latency) {
		return
	}
	if h.cfg.always != nil {
		h.fail(w, *h.cfg.always)
		return
	}
	if int(n) <= len(h.cfg.failures) {
		if f := h.cfg.failures[n-1]; f.Status != 0 {
			h.fail(w, f)
			return
		}
	}
	fault := h.faultFor(n)
	mid, ok := preamble(w, r, fault, func(w http.ResponseWriter) { h.fail(w, fault.Failure) })
	if !ok {
		return
	}
	if path == "/v1/embeddings" {
		h.embeddings(w, body)
		return
	}
	var req ChatBody
	if err := json.Unmarshal(body, &req); err != nil || len(req.Messages) == 0 {
		h.fail(w, Failure{Status: 400, Type: "invalid_request_error", Message: "We could not parse the JSON body of your request."})
		return
	}
	if h.cfg.noPrefill && req.Prefill() != "" {
		h.fail(w, NoPrefill)
		return
	}
	if req.Stream {
		h.stream(w, r, &req, n, mid)
		return
	}
	h.complete(w, r, &req, n, mid)
}

func (h *Handler) modelOr(m string) string {
	if h.cfg.model != "" {
		return h.cfg.model
	}
	return m
}

func (h *Handler) wait(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

func (h *Handler) fail(w http.ResponseWriter, f Failure) {
	if f.RetryAfter > 0 {
		w.Header().Set("Retry-After-Ms", strconv.FormatInt(f.RetryAfter.Milliseconds(), 10))
		w.Header().Set("Retry-After", strconv.FormatInt(int64(math.Ceil(f.RetryAfter.Seconds())), 10))
	}
	var code any
	if f.Code != "" {
		code = f.Code
	}
	writeJSON(w, f.Status, map[string]any{"error": map[string]any{"message": f.Message, "type": f.Type, "param": nil, "code": code}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

func countWords(s string) int { return len(strings.Fields(s)) }

func (h *Handler) promptTokens(req *ChatBody) int {
	n := 0
	for _, m := range req.Messages {
		n += 4 + countWords(string(m.Content))
	}
	return n
}

// toolCall returns the forced tool's name, if the request forces one.
func toolCall(req *ChatBody) string {
	if len(req.Tools) == 0 || len(req.ToolChoice) == 0 {
		return ""
	}
	choice := string(req.ToolChoice)
	if choice == `"required"` {
		return req.Tools[0].Function.Name
	}
	var named struct {
		Function struct{ Name string } `json:"function"`
	}
	if json.Unmarshal(req.ToolChoice, &named) == nil && named.Function.Name != "" {
		return named.Function.Name
	}
	return ""
}

const toolArguments = `{"location":"Paris"}`

type usage struct {
	PromptTokens            int `json:"prompt_tokens"`
	CompletionTokens        int `json:"completion_tokens"`
	TotalTokens             int `json:"total_tokens"`
	PromptTokensDetails     any `json:"prompt_tokens_details"`
	CompletionTokensDetails any `json:"completion_tokens_details"`
}

func newUsage(p, c int) *usage {
	return &usage{PromptTokens: p, CompletionTokens: c, TotalTokens: p + c,
		PromptTokensDetails:     map[string]int{"cached_tokens": 0, "audio_tokens": 0},
		CompletionTokensDetails: map[string]int{"reasoning_tokens": 0, "audio_tokens": 0, "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}}
}

func (h *Handler) complete(w http.ResponseWriter, r *http.Request, req *ChatBody, n int64, f *Fault) {
	if toolCall(req) == "" {
		h.completeText(w, r, req, n, f)
		return
	}
	msg := map[string]any{"role": "assistant", "refusal": nil, "annotations": []any{}}
	finish := "stop"
	completion := 0
	if name := toolCall(req); name != "" {
		msg["content"] = nil
		msg["tool_calls"] = []any{map[string]any{"id": "call_mock" + strconv.FormatInt(n, 10), "type": "function",
			"function": map[string]any{"name": name, "arguments": toolArguments}}}
		finish = "tool_calls"
		completion = 8
	} else {
		words, fin := h.answer(req)
		msg["content"], finish, completion = strings.Join(words, ""), fin, len(words)
	}
	resp := map[string]any{
		"id": "chatcmpl-mock" + strconv.FormatInt(n, 10), "object": "chat.completion", "created": time.Now().Unix(),
		"model":   h.modelOr(req.Model),
		"choices": []any{map[string]any{"index": 0, "message": msg, "logprobs": nil, "finish_reason": finish}},
		"usage":   newUsage(h.promptTokens(req), completion), "service_tier": "default", "system_fingerprint": fingerprint,
	}
	if f != nil {
		b, _ := json.Marshal(resp)
		faultBody(w, r, f, "application/json", b)
		return
	}
	writeJSON(w, 200, resp)
}

type chunk struct {
	ID                string        `json:"id"`
	Object            string        `json:"object"`
	Created           int64         `json:"created"`
	Model             string        `json:"model"`
	ServiceTier       string        `json:"service_tier"`
	SystemFingerprint string        `json:"system_fingerprint"`
	Choices           []chunkChoice `json:"choices"`
	Usage             *usage        `json:"usage"`
}

type chunkChoice struct {
	Index        int            `json:"index"`
	Delta        map[string]any `json:"delta"`
	Logprobs     any            `json:"logprobs"`
	FinishReason *string        `json:"finish_reason"`
}

func (h *Handler) stream(w http.ResponseWriter, r *http.Request, req *ChatBody, n int64, f *Fault) {
	if toolCall(req) == "" && h.cfg.cutAfter == 0 && f == nil {
		h.streamText(w, r, req, n)
		return
	}
	fl, _ := w.(http.Flusher)
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(200)
	includeUsage := req.StreamOptions != nil && req.StreamOptions.IncludeUsage
	base := chunk{ID: "chatcmpl-mock" + strconv.FormatInt(n, 10), Object: "chat.completion.chunk", Created: time.Now().Unix(),
		Model: h.modelOr(req.Model), ServiceTier: "default", SystemFingerprint: fingerprint}
	send := func(c chunk) bool {
		b, _ := json.Marshal(c)
		if _, err := w.Write(append(append([]byte("data: "), b...), '\n', '\n')); err != nil {
			return false
		}
		if fl != nil {
			fl.Flush()
		}
		return true
	}
	// With include_usage every chunk carries "usage": null until the usage chunk.
	one := func(delta map[string]any, finish *string) chunk {
		c := base
		c.Choices = []chunkChoice{{Delta: delta, FinishReason: finish}}
		return c
	}
	var pieces []map[string]any
	finish := "stop"
	completion := 0
	if name := toolCall(req); name != "" {
		pieces = append(pieces,
			map[string]any{"role": "assistant", "content": nil, "refusal": nil, "tool_calls": []any{map[string]any{"index": 0, "id": "call_mock" + strconv.FormatInt(n, 10), "type": "function", "function": map[string]any{"name": name, "arguments": ""}}}},
			map[string]any{"tool_calls": []any{map[string]any{"index": 0, "function": map[string]any{"arguments": toolArguments[:9]}}}},
			map[string]any{"tool_calls": []any{map[string]any{"index": 0, "function": map[string]any{"arguments": toolArguments[9:]}}}})
		finish = "tool_calls"
		completion = 8
	} else {
		pieces = append(pieces, map[string]any{"role": "assistant", "content": "", "refusal": nil})
		words, fin := h.answer(req)
		for _, wd := range words {
			pieces = append(pieces, map[string]any{"content": wd})
		}
		finish, completion = fin, len(words)
	}
	// strike applies a mid-stream fault after sent chunks.
	strike := func(sent int) {
		switch f.Kind {
		case FaultCut:
			if f.Usage {
				c := base
				c.Choices = []chunkChoice{}
				c.Usage = newUsage(h.promptTokens(req), max(sent-1, 0))
				send(c)
			}
			reset(w)
		case FaultStall:
			<-r.Context().Done()
		case FaultMalformed:
			w.Write([]byte(malformedEvent))
			if fl != nil {
				fl.Flush()
			}
		}
	}
	midStream := f != nil && f.Kind != FaultNoDone
	for i, p := range pieces {
		if h.cfg.cutAfter > 0 && i >= h.cfg.cutAfter {
			return // the upstream dies mid-stream: no finish, no [DONE]
		}
		if midStream && i == f.After {
			strike(i)
			return
		}
		if i > 0 && !h.wait(r, h.cfg.chunkDelay) {
			return
		}
		if !send(one(p, nil)) {
			return
		}
	}
	if midStream {
		strike(len(pieces))
		return
	}
	if !send(one(map[string]any{}, &finish)) {
		return
	}
	if includeUsage {
		c := base
		c.Choices = []chunkChoice{}
		c.Usage = newUsage(h.promptTokens(req), completion)
		send(c)
	}
	if f != nil && f.Kind == FaultNoDone {
		return
	}
	w.Write([]byte("data: [DONE]\n\n"))
}

func (h *Handler) embeddings(w http.ResponseWriter, body []byte) {
	var req struct {
		Model          string          `json:"model"`
		Input          json.RawMessage `json:"input"`
		Dimensions     int             `json:"dimensions"`
		EncodingFormat string          `json:"encoding_format"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		h.fail(w, Failure{Status: 400, Type: "invalid_request_error", Message: "We could not parse the JSON body of your request."})
		return
	}
	var inputs []string
	if err := json.Unmarshal(req.Input, &inputs); err != nil {
		var one string
		if err := json.Unmarshal(req.Input, &one); err != nil {
			h.fail(w, Failure{Status: 400, Type: "invalid_request_error", Message: "'input' must be a string or an array of strings"})
			return
		}
		inputs = []string{one}
	}
	dims := h.cfg.dims
	if req.Dimensions > 0 {
		dims = req.Dimensions
	}
	data := make([]any, len(inputs))
	tokens := 0
	for i, in := range inputs {
		vec := Vector(in, dims)
		tokens += countWords(in)
		var emb any = vec
		if req.EncodingFormat == "base64" {
			raw := make([]byte, 4*len(vec))
			for j, f := range vec {
				binary.LittleEndian.PutUint32(raw[4*j:], math.Float32bits(f))
			}
			emb = base64.StdEncoding.EncodeToString(raw)
		}
		data[i] = map[string]any{"object": "embedding", "index": i, "embedding": emb}
	}
	writeJSON(w, 200, map[string]any{"object": "list", "data": data, "model": h.modelOr(req.Model),
		"usage": map[string]int{"prompt_tokens": tokens, "total_tokens": tokens}})
}

// Vector is the fake's deterministic embedding of text: what tests should expect back.
func Vector(text string, dims int) []float32 {
	v := make([]float32, dims)
	h := uint32(2166136261)
	for i := 0; i < len(text); i++ {
		h = (h ^ uint32(text[i])) * 16777619
	}
	for i := range v {
		h = h*1664525 + 1013904223
		v[i] = float32(int32(h>>8)%1000) / 1000
	}
	return v
}
