package openai

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/plinth-ai/plinth/shared/provider"
	"github.com/plinth-ai/plinth/shared/provider/providertest"
)

func chatReq(text string) *provider.ChatRequest {
	return &provider.ChatRequest{Model: "client-name", Messages: []provider.Message{
		{Role: "system", Content: provider.TextContent("Be brief.")},
		{Role: "user", Content: provider.TextContent(text)},
	}}
}

func TestChat(t *testing.T) {
	t.Parallel()
	srv := providertest.NewOpenAIServer(providertest.WithAPIKey("sk-test"), providertest.WithReply("Paris is the capital."))
	defer srv.Close()
	c := New(srv.BaseURL(), "gpt-4o-mini", "sk-test", WithHeader("OpenAI-Organization", "org-1"))
	resp, err := c.Chat(context.Background(), chatReq("Capital of France?"))
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Choices[0].Message.Content.String(); got != "Paris is the capital." || resp.Choices[0].FinishReason != "stop" {
		t.Errorf("choice = %+v", resp.Choices[0])
	}
	if resp.Model != "gpt-4o-mini" || resp.Object != "chat.completion" || resp.Usage == nil || resp.Usage.CompletionTokens != 4 {
		t.Errorf("response = %+v usage %+v", resp, resp.Usage)
	}
	body, hdr := srv.LastRequest()
	var sent map[string]any
	if err := json.Unmarshal(body, &sent); err != nil {
		t.Fatal(err)
	}
	if sent["model"] != "gpt-4o-mini" || sent["stream"] != nil || sent["stream_options"] != nil {
		t.Errorf("sent %s", body)
	}
	if hdr.Get("Authorization") != "Bearer sk-test" || hdr.Get("OpenAI-Organization") != "org-1" || hdr.Get("Content-Type") != "application/json" {
		t.Errorf("headers %v", hdr)
	}
}

func TestAzure(t *testing.T) {
	t.Parallel()
	var gotPath, gotQuery, gotKey, gotAuth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotPath, gotQuery, gotKey, gotAuth = r.URL.Path, r.URL.RawQuery, r.Header.Get("api-key"), r.Header.Get("Authorization")
		providertest.NewOpenAIHandler().ServeHTTP(w, r)
	}))
	defer srv.Close()
	c := New(srv.URL, "my-deployment", "azure-key", WithAzure("2024-10-21"))
	if _, err := c.Chat(context.Background(), chatReq("hi")); err != nil {
		t.Fatal(err)
	}
	if gotPath != "/openai/deployments/my-deployment/chat/completions" || gotQuery != "api-version=2024-10-21" || gotKey != "azure-key" || gotAuth != "" {
		t.Errorf("path %q query %q api-key %q auth %q", gotPath, gotQuery, gotKey, gotAuth)
	}
}

func drain(t *testing.T, s provider.Stream) (text, args, finish string, usage *provider.Usage, err error) {
	t.Helper()
	defer s.Close()
	for {
		ch, e := s.Recv()
		if errors.Is(e, io.EOF) {
			return
		}
		if e != nil {
			err = e
			return
		}
		if ch.Usage != nil {
			usage = ch.Usage
		}
		for _, c := range ch.Choices {
			if c.Delta.Content != nil {
				text += *c.Delta.Content
			}
			for _, tc := range c.Delta.ToolCalls {
				args += tc.Function.Arguments
			}
			if c.FinishReason != nil {
				finish = *c.FinishReason
			}
		}
	}
}

func TestChatStream(t *testing.T) {
	t.Parallel()
	srv := providertest.NewOpenAIServer(providertest.WithReply("one two three four"))
	defer srv.Close()
	c := New(srv.BaseURL(), "gpt-4o-mini", "k")
	s, err := c.ChatStream(context.Background(), chatReq("count"))
	if err != nil {
		t.Fatal(err)
	}
	text, _, finish, usage, err := drain(t, s)
	if err != nil {
		t.Fatal(err)
	}
	if text != "one two three four" || finish != "stop" || usage == nil || usage.CompletionTokens != 4 {
		t.Errorf("text %q finish %q usage %+v", text, finish, usage)
	}
	body, hdr := srv.LastRequest()
	if !strings.Contains(string(body), `"stream":true`) || !strings.Contains(string(body), `"stream_options":{"include_usage":true}`) {
		t.Errorf("sent %s", body)
	}
	if hdr.Get("Accept") != "text/event-stream" {
		t.Errorf("accept %q", hdr.Get("Accept"))
	}
}

func TestTools(t *testing.T) {
	t.Parallel()
	srv := providertest.NewOpenAIServer()
	defer srv.Close()
	c := New(srv.BaseURL(), "gpt-4o-mini", "k")
	req := chatReq("Weather in Paris?")
	req.Tools = []provider.Tool{{Type: "function", Function: provider.FunctionDef{Name: "get_weather", Parameters: json.RawMessage(`{"type":"object","properties":{"location":{"type":"string"}}}`)}}}
	req.ToolChoice = json.RawMessage(`"required"`)
	resp, err := c.Chat(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	m := resp.Choices[0].Message
	if resp.Choices[0].FinishReason != "tool_calls" || len(m.ToolCalls) != 1 || m.ToolCalls[0].Function.Name != "get_weather" || m.ToolCalls[0].Function.Arguments != `{"location":"Paris"}` || !m.Content.Null {
		t.Errorf("message %+v", m)
	}
	body, _ := srv.LastRequest()
	if !strings.Contains(string(body), `"tools":[{"type":"function","function":{"name":"get_weather"`) || !strings.Contains(string(body), `"tool_choice":"required"`) {
		t.Errorf("sent %s", body)
	}
	s, err := c.ChatStream(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	_, args, finish, _, err := drain(t, s)
	if err != nil || args != `{"location":"Paris"}` || finish != "tool_calls" {
		t.Errorf("streamed args %q finish %q err %v", args, finish, err)
	}
}

func TestStreamFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    provider.ErrorKind
	}{
		{"cut without DONE", providertest.NewOpenAIHandler(providertest.WithCutStream(2)).ServeHTTP, provider.KindUnavailable},
		{"error event", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"},\"finish_reason\":null}]}\n\n")
			io.WriteString(w, "data: {\"error\":{\"message\":\"The server had an error\",\"type\":\"server_error\",\"param\":null,\"code\":null}}\n\n")
		}, provider.KindUnavailable},
		{"content filter event", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, ": keep-alive comment\n\nevent: error\ndata: {\"error\":{\"message\":\"filtered\",\"type\":\"invalid_request_error\",\"param\":\"prompt\",\"code\":\"content_filter\"}}\n\n")
		}, provider.KindContentFilter},
		{"connection dropped", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			w.WriteHeader(200)
			io.WriteString(w, "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"},\"finish_reason\":null}]}\n\n")
			w.(http.Flusher).Flush()
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		}, provider.KindUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(tt.handler)
			defer srv.Close()
			s, err := New(srv.URL+"/v1", "m", "").ChatStream(context.Background(), chatReq("hi"))
			if err != nil {
				t.Fatal(err)
			}
			_, _, _, _, err = drain(t, s)
			pe, ok := provider.AsError(err)
			if !ok || pe.Kind != tt.want {
				t.Fatalf("err = %v, want kind %s", err, tt.want)
			}
		})
	}
}

func TestErrorClassification(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		failure    providertest.Failure
		want       provider.ErrorKind
		retryAfter time.Duration
	}{
		{"rate limited", providertest.RateLimited(1500 * time.Millisecond), provider.KindRateLimited, 1500 * time.Millisecond},
		{"server error", providertest.ServerError, provider.KindUnavailable, 0},
		{"overloaded", providertest.Overloaded, provider.KindUnavailable, 0},
		{"gateway timeout", providertest.Failure{Status: 504, Message: "upstream timed out"}, provider.KindTimeout, 0},
		{"context length", providertest.ContextLength, provider.KindContextLength, 0},
		{"content filter", providertest.ContentFiltered, provider.KindContentFilter, 0},
		{"bad key", providertest.InvalidKey, provider.KindAuth, 0},
		{"model missing", providertest.Failure{Status: 404, Type: "invalid_request_error", Code: "model_not_found", Message: "The model does not exist"}, provider.KindNotFound, 0},
		{"bad request", providertest.Failure{Status: 400, Type: "invalid_request_error", Message: "Invalid value for 'temperature'"}, provider.KindBadRequest, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := providertest.NewOpenAIServer(providertest.FailAlways(tt.failure))
			defer srv.Close()
			c := New(srv.BaseURL(), "m", "k", WithName("vllm"))
			for _, call := range []func() error{
				func() error { _, err := c.Chat(context.Background(), chatReq("hi")); return err },
				func() error { _, err := c.ChatStream(context.Background(), chatReq("hi")); return err },
				func() error {
					_, err := c.Embed(context.Background(), &provider.EmbeddingRequest{Input: []string{"x"}})
					return err
				},
			} {
				pe, ok := provider.AsError(call())
				if !ok {
					t.Fatal("want a *provider.Error")
				}
				if pe.Kind != tt.want || pe.Status != tt.failure.Status || pe.RetryAfter != tt.retryAfter || pe.Provider != "vllm" || pe.Code != tt.failure.Code || pe.Message != tt.failure.Message {
					t.Errorf("error = %+v", pe)
				}
			}
		})
	}
}

func TestRetryAfterHeaders(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		h    http.Header
		want time.Duration
	}{
		{"ms wins", http.Header{"Retry-After-Ms": {"250"}, "Retry-After": {"3"}}, 250 * time.Millisecond},
		{"seconds", http.Header{"Retry-After": {"3"}}, 3 * time.Second},
		{"date", http.Header{"Retry-After": {now.Add(5 * time.Second).Format(http.TimeFormat)}}, 5 * time.Second},
		{"garbage", http.Header{"Retry-After": {"soon"}}, 0},
		{"none", http.Header{}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := retryAfter(tt.h, now); got != tt.want {
				t.Errorf("retryAfter = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestTransportFailures(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String() + "/v1"
	ln.Close()
	slow := providertest.NewOpenAIServer(providertest.WithLatency(5 * time.Second))
	defer slow.Close()
	reset := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	defer reset.Close()
	tests := []struct {
		name    string
		url     string
		timeout time.Duration
		want    provider.ErrorKind
	}{
		{"connection refused", closed, 0, provider.KindUnavailable},
		{"connection reset", reset.URL + "/v1", 0, provider.KindUnavailable},
		{"deadline", slow.BaseURL(), 50 * time.Millisecond, provider.KindTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			_, err := New(tt.url, "m", "").Chat(ctx, chatReq("hi"))
			if pe, ok := provider.AsError(err); !ok || pe.Kind != tt.want {
				t.Errorf("err = %v, want %s", err, tt.want)
			}
		})
	}
}

func TestEmbed(t *testing.T) {
	t.Parallel()
	srv := providertest.NewOpenAIServer(providertest.WithEmbeddingDimensions(16))
	defer srv.Close()
	inputs := []string{"alpha", "beta gamma"}
	for _, tt := range []struct {
		name string
		opts []Option
		dims int
		fmt  string
	}{
		{"float", nil, 0, `"encoding_format":"float"`},
		{"base64 with dimensions", []Option{WithBase64Embeddings()}, 4, `"encoding_format":"base64"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := New(srv.BaseURL(), "text-embedding-3-small", "k", tt.opts...)
			resp, err := c.Embed(context.Background(), &provider.EmbeddingRequest{Model: "ignored", Input: inputs, Dimensions: tt.dims})
			if err != nil {
				t.Fatal(err)
			}
			want := 16
			if tt.dims > 0 {
				want = tt.dims
			}
			for i, in := range inputs {
				exp := providertest.Vector(in, want)
				got := resp.Data[i].Embedding
				if resp.Data[i].Index != i || len(got) != want {
					t.Fatalf("vector %d: index %d len %d", i, resp.Data[i].Index, len(got))
				}
				for j := range exp {
					if got[j] != exp[j] {
						t.Fatalf("vector %d differs at %d: %v vs %v", i, j, got[j], exp[j])
					}
				}
			}
			if resp.Usage.PromptTokens != 3 || resp.Usage.TotalTokens != 3 || resp.Model != "text-embedding-3-small" {
				t.Errorf("usage %+v model %q", resp.Usage, resp.Model)
			}
			body, _ := srv.LastRequest()
			if !strings.Contains(string(body), tt.fmt) || !strings.Contains(string(body), `"model":"text-embedding-3-small"`) {
				t.Errorf("sent %s", body)
			}
		})
	}
}

func TestEmbedOrdersByIndex(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"object":"list","data":[{"object":"embedding","index":1,"embedding":[0.5,0.5]},{"object":"embedding","index":0,"embedding":[1,0]}],"model":"m","usage":{"prompt_tokens":2,"total_tokens":2}}`)
	}))
	defer srv.Close()
	resp, err := New(srv.URL, "m", "").Embed(context.Background(), &provider.EmbeddingRequest{Input: []string{"a", "b"}})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Data[0].Embedding[0] != 1 || resp.Data[1].Embedding[0] != 0.5 {
		t.Errorf("data %+v", resp.Data)
	}
}

// TestCompatibleServerErrorShapes covers error bodies of OpenAI-compatible servers that
// differ from OpenAI's envelope.
func TestCompatibleServerErrorShapes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
		body   string
		want   provider.ErrorKind
		msg    string
	}{
		{"vLLM context length", 400, `{"object":"error","message":"This model's maximum context length is 4096 tokens. However, you requested 5000 tokens.","type":"BadRequestError","param":null,"code":400}`, provider.KindContextLength, "This model's maximum context length is 4096 tokens. However, you requested 5000 tokens."},
		{"LM Studio string error", 404, `{"error":"Model not found"}`, provider.KindNotFound, `{"error":"Model not found"}`},
		{"Ollama", 500, `{"error":{"message":"model runner has unexpectedly stopped","type":"api_error","param":null,"code":null}}`, provider.KindUnavailable, "model runner has unexpectedly stopped"},
		{"plain text", 502, "Bad Gateway", provider.KindUnavailable, "Bad Gateway"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			_, err := New(srv.URL, "m", "").Chat(context.Background(), chatReq("hi"))
			pe, ok := provider.AsError(err)
			if !ok || pe.Kind != tt.want || pe.Message != tt.msg || pe.Status != tt.status {
				t.Errorf("err = %+v", pe)
			}
		})
	}
}

func TestStreamKeepAlives(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, ": ping\n\ndata:\n\nevent: message\ndata: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ok\"},\"finish_reason\":\"stop\"}]}\r\n\r\ndata: [DONE]\n\n")
	}))
	defer srv.Close()
	s, err := New(srv.URL, "m", "").ChatStream(context.Background(), chatReq("hi"))
	if err != nil {
		t.Fatal(err)
	}
	text, _, finish, _, err := drain(t, s)
	if err != nil || text != "ok" || finish != "stop" {
		t.Errorf("text %q finish %q err %v", text, finish, err)
	}
}

func TestEmbeddingEncodingDefaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url  string
		opts []Option
		want bool
	}{
		{"https://api.openai.com/v1", nil, true},
		{"https://my-resource.openai.azure.com", []Option{WithAzure("2024-10-21")}, true},
		{"http://127.0.0.1:8000/v1", nil, false},
		{"https://api.openai.com/v1", []Option{WithFloatEmbeddings()}, false},
		{"http://localhost:11434/v1", []Option{WithBase64Embeddings()}, true},
	}
	for _, tt := range tests {
		if got := New(tt.url, "m", "k", tt.opts...).base64; got != tt.want {
			t.Errorf("%s: base64 %v, want %v", tt.url, got, tt.want)
		}
	}
}
