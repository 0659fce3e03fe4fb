package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/plinth-ai/plinth/shared/clocktest"
	"github.com/plinth-ai/plinth/shared/platform"
	"github.com/plinth-ai/plinth/shared/provider/providertest"
	"github.com/plinth-ai/plinth/shared/provider/router"
	"github.com/plinth-ai/plinth/shared/usage"
)

// answer is what every fake model answers; a fake asked to continue a prefill answers
// the rest of it, so a continued stream must read exactly answer.
const answer = "The quick brown fox jumps over the lazy dog, then rests in the shade."

func continuing(prefill string) string {
	if prefill != "" && strings.HasPrefix(answer, prefill) {
		return answer[len(prefill):]
	}
	return answer
}

// Timeouts of the models under test: short, so a silent upstream costs little.
var testTimeouts = map[string]any{"first_token_ms": 300, "idle_ms": 300, "total_ms": 800}

// rig is the whole platform in process, over the fake upstreams, with a router whose
// waits are recorded instead of slept and whose breakers read a clock the test moves.
type rig struct {
	t      *testing.T
	l      *platform.Local
	url    string
	admin  string
	key    string
	waits  *waits
	clock  *clocktest.Clock
	models int
	// inflight counts requests the platform is still handling: a handler records usage
	// as it returns, after the client may have read the whole answer.
	inflight sync.WaitGroup
}

type waits struct {
	mu sync.Mutex
	d  []time.Duration
}

func (w *waits) sleep(ctx context.Context, d time.Duration) error {
	w.mu.Lock()
	w.d = append(w.d, d)
	w.mu.Unlock()
	return ctx.Err()
}

func (w *waits) take() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.d
	w.d = nil
	return out
}

const breakerThreshold, breakerCooldown = 3, time.Minute

func newRig(t *testing.T) *rig {
	t.Helper()
	w, c := &waits{}, clocktest.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	awsCfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")}
	ctx := context.Background()
	l, err := platform.NewLocal(ctx, platform.Config{
		DataDir:  t.TempDir(),
		AdminKey: "adm-faults-test",
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		RouterOptions: []router.Option{router.WithSleep(w.sleep), router.WithClock(c.Now),
			router.WithBreaker(breakerThreshold, breakerCooldown)},
		DeploymentOptions: []router.BuildOption{router.WithAWSConfig(awsCfg)},
	})
	if err != nil {
		t.Fatal(err)
	}
	rg := &rig{t: t, l: l, admin: l.AdminKey, key: l.DemoKey, waits: w, clock: c}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		rg.inflight.Add(1)
		defer rg.inflight.Done()
		l.Handler.ServeHTTP(w, req)
	}))
	t.Cleanup(func() {
		srv.Close()
		l.Close(context.Background())
	})
	rg.url = srv.URL
	return rg
}

// admin calls the admin API and decodes the answer into out (when not nil).
func (r *rig) adminCall(method, path string, body any, out any) {
	r.t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, r.url+path, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+r.admin)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		r.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			r.t.Fatal(err)
		}
	}
}

// register adds an approved chat model with one deployment and returns its ID.
func (r *rig) register(prefix string, deployment map[string]any, fallbacks ...string) string {
	r.t.Helper()
	r.models++
	id := fmt.Sprintf("%s-%d", prefix, r.models)
	m := map[string]any{"id": id, "kind": "chat", "deployments": []any{deployment}, "timeouts": testTimeouts,
		"prices": map[string]any{"input_per_million": 1, "output_per_million": 2}}
	if len(fallbacks) > 0 {
		m["fallbacks"] = fallbacks
	}
	r.adminCall(http.MethodPost, "/admin/models", m, nil)
	r.adminCall(http.MethodPost, "/admin/models/"+id+"/review", map[string]any{"decision": "approve", "reviewer": "test"}, nil)
	return id
}

// upstream is a fake provider: OpenAI-compatible or Bedrock.
type upstream struct {
	deployment map[string]any
	setFault   func(providertest.Fault)
	clearFault func()
	requests   func() int
}

func openaiUpstream(t *testing.T, opts ...providertest.Option) *upstream {
	opts = append([]providertest.Option{providertest.WithReplyFunc(func(b *providertest.ChatBody) string { return continuing(b.Prefill()) })}, opts...)
	s := providertest.NewOpenAIServer(opts...)
	t.Cleanup(s.Close)
	return &upstream{
		deployment: map[string]any{"provider": "openai", "base_url": s.BaseURL(), "model": "gpt-test", "api_key": "sk-test"},
		setFault:   s.SetFault, clearFault: s.ClearFault, requests: s.Requests,
	}
}

func bedrockUpstream(t *testing.T, opts ...providertest.BedrockOption) *upstream {
	opts = append([]providertest.BedrockOption{providertest.WithBedrockReplyFunc(continuing)}, opts...)
	s := providertest.NewBedrockServer(opts...)
	t.Cleanup(s.Close)
	return &upstream{
		deployment: map[string]any{"provider": "bedrock", "base_url": s.URL, "region": "us-east-1", "model": "anthropic.claude-3-haiku-20240307-v1:0"},
		setFault:   s.SetFault, clearFault: s.ClearFault, requests: s.Requests,
	}
}

// exchange is what a client saw of one request.
type exchange struct {
	requestID  string
	status     int    // HTTP status
	retryAfter string // the Retry-After header
	errCode    string // the OpenAI-shaped error's code (HTTP error or stream error event)
	text       string
	model      string   // the response's model (the last chunk's, for a stream)
	models     []string // every chunk's model
	finish     string
	usage      *openai.CompletionUsage
	done       bool // the stream ended with data: [DONE]
	err        error
}

func (r *rig) client(rec *recorder) openai.Client {
	return openai.NewClient(option.WithBaseURL(r.url+"/v1"), option.WithAPIKey(r.key), option.WithMaxRetries(0),
		option.WithHTTPClient(&http.Client{Transport: rec}))
}

func (r *rig) params(model string) openai.ChatCompletionNewParams {
	return openai.ChatCompletionNewParams{Model: model, MaxTokens: openai.Int(64),
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Tell me about the fox.")}}
}

// chat sends one non-streamed request.
func (r *rig) chat(model string) exchange {
	r.models++
	id := fmt.Sprintf("req-%d", r.models)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rec := &recorder{}
	c := r.client(rec)
	res, err := c.Chat.Completions.New(ctx, r.params(model), option.WithHeader("X-Request-Id", id))
	ex := exchange{requestID: id, status: rec.status(), retryAfter: rec.retryAfter(), err: err}
	if err != nil {
		var ae *openai.Error
		if errors.As(err, &ae) {
			ex.errCode = ae.Code
		}
		return ex
	}
	ex.text, ex.model, ex.finish = res.Choices[0].Message.Content, res.Model, string(res.Choices[0].FinishReason)
	ex.usage = &res.Usage
	return ex
}

// stream sends one streamed request with stream_options.include_usage.
func (r *rig) stream(model string) exchange {
	r.models++
	id := fmt.Sprintf("req-%d", r.models)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rec := &recorder{}
	p := r.params(model)
	p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	c := r.client(rec)
	s := c.Chat.Completions.NewStreaming(ctx, p, option.WithHeader("X-Request-Id", id))
	ex := exchange{requestID: id}
	for s.Next() {
		chunk := s.Current()
		ex.model = chunk.Model
		ex.models = append(ex.models, chunk.Model)
		if chunk.JSON.Usage.Valid() && chunk.Usage.TotalTokens > 0 {
			u := chunk.Usage
			ex.usage = &u
		}
		for _, ch := range chunk.Choices {
			ex.text += ch.Delta.Content
			if ch.FinishReason != "" {
				ex.finish = ch.FinishReason
			}
		}
	}
	ex.err = s.Err()
	ex.status, ex.retryAfter = rec.status(), rec.retryAfter()
	raw := rec.body()
	ex.done = strings.HasSuffix(strings.TrimSpace(raw), "data: [DONE]")
	if ex.err != nil {
		var ae *openai.Error
		if errors.As(ex.err, &ae) {
			ex.errCode = ae.Code
		} else if i := strings.LastIndex(raw, `data: {"error"`); i >= 0 {
			var ev struct {
				Error struct {
					Code string `json:"code"`
				} `json:"error"`
			}
			json.Unmarshal([]byte(strings.TrimSpace(raw[i+len("data: "):])), &ev)
			ex.errCode = ev.Error.Code
		}
	}
	return ex
}

// spent returns the usage record of a request, written once the response ended.
func (r *rig) spent(requestID string) (usage.Record, bool) {
	r.t.Helper()
	ctx := context.Background()
	r.inflight.Wait()
	if err := r.l.Usage.Flush(ctx); err != nil {
		r.t.Fatal(err)
	}
	svc := usage.NewService(r.l.Store, r.l.Tenants)
	now := time.Now().UTC()
	for _, day := range []time.Time{now, now.Add(-time.Hour)} {
		recs, err := svc.Records(ctx, platform.DemoTenant, day, 0)
		if err != nil {
			r.t.Fatal(err)
		}
		for _, rec := range recs {
			if rec.RequestID == requestID {
				return rec, true
			}
		}
	}
	return usage.Record{}, false
}

// recorder is an http.RoundTripper that keeps the last response's status and body as
// the client read them.
type recorder struct {
	mu    sync.Mutex
	code  int
	after string
	buf   bytes.Buffer
}

func (rc *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	rc.mu.Lock()
	rc.code, rc.after = resp.StatusCode, resp.Header.Get("Retry-After")
	rc.mu.Unlock()
	resp.Body = &teeBody{ReadCloser: resp.Body, rc: rc}
	return resp, nil
}

func (rc *recorder) status() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.code
}

func (rc *recorder) retryAfter() string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.after
}

func (rc *recorder) body() string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.buf.String()
}

type teeBody struct {
	io.ReadCloser
	rc *recorder
}

func (b *teeBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.rc.mu.Lock()
	b.rc.buf.Write(p[:n])
	b.rc.mu.Unlock()
	return n, err
}
