package gateway_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plinth-ai/plinth/shared/auth"
	"github.com/plinth-ai/plinth/shared/gateway"
	"github.com/plinth-ai/plinth/shared/httpapi"
	"github.com/plinth-ai/plinth/shared/provider"
	"github.com/plinth-ai/plinth/shared/quota"
	"github.com/plinth-ai/plinth/shared/registry"
	"github.com/plinth-ai/plinth/shared/tenant"
	"github.com/plinth-ai/plinth/shared/usage"
)

// models is a fixed registry.
type models map[string]*registry.Model

func (m models) Resolve(_ context.Context, name string) (*registry.Model, error) {
	if x, ok := m[name]; ok {
		return x, nil
	}
	return nil, registry.ErrNotFound
}

func (m models) Snapshot(context.Context) ([]*registry.Model, error) {
	var out []*registry.Model
	for k, x := range m {
		if k == x.ID {
			out = append(out, x)
		}
	}
	return out, nil
}

// scripted is an Invoker whose answers the test sets.
type scripted struct {
	chat   func(req *provider.ChatRequest) (*provider.ChatResponse, error)
	chunks []provider.ChatChunk
	cutErr error // returned after the chunks instead of io.EOF
	closed bool
}

func (s *scripted) Chat(_ context.Context, m *registry.Model, req *provider.ChatRequest) (*provider.ChatResponse, gateway.Served, error) {
	resp, err := s.chat(req)
	return resp, gateway.Served{ModelID: m.ID, DeploymentID: "d1", Prices: m.Prices}, err
}

func (s *scripted) ChatStream(_ context.Context, m *registry.Model, _ *provider.ChatRequest) (provider.Stream, gateway.Served, error) {
	return &fakeStream{s: s}, gateway.Served{ModelID: m.ID, DeploymentID: "d1", Prices: m.Prices}, nil
}

func (s *scripted) Embed(_ context.Context, m *registry.Model, req *provider.EmbeddingRequest) (*provider.EmbeddingResponse, gateway.Served, error) {
	out := &provider.EmbeddingResponse{Usage: provider.Usage{PromptTokens: 3}}
	for i := range req.Input {
		out.Data = append(out.Data, provider.Embedding{Index: i, Embedding: []float32{1, 0.5}})
	}
	return out, gateway.Served{ModelID: m.ID, DeploymentID: "d1", Prices: m.Prices}, nil
}

type fakeStream struct {
	s *scripted
	i int
}

func (f *fakeStream) Recv() (*provider.ChatChunk, error) {
	if f.i < len(f.s.chunks) {
		c := f.s.chunks[f.i]
		f.i++
		return &c, nil
	}
	if f.s.cutErr != nil {
		return nil, f.s.cutErr
	}
	return nil, io.EOF
}

func (f *fakeStream) Close() error { f.s.closed = true; return nil }

// ledger is a Quota recording reservations and settlements.
type ledger struct {
	mu       sync.Mutex
	reserved []gateway.Estimate
	settled  [][2]float64
	refuse   error
}

func (l *ledger) Reserve(_ context.Context, r quota.ReserveRequest) (*quota.Reservation, error) {
	if l.refuse != nil {
		return nil, l.refuse
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reserved = append(l.reserved, gateway.Estimate{Tokens: r.EstTokens, USD: r.EstUSD})
	return &quota.Reservation{Tenant: r.Tenant, KeyID: r.KeyID, Tokens: r.EstTokens, USD: r.EstUSD}, nil
}

func (l *ledger) Reconcile(_ context.Context, _ *quota.Reservation, tokens int64, usd float64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.settled = append(l.settled, [2]float64{float64(tokens), usd})
	return nil
}

// usageLog is a Usage keeping what it is given.
type usageLog struct {
	mu   sync.Mutex
	recs []usage.Record
}

func (u *usageLog) Record(_ context.Context, r usage.Record) error {
	u.mu.Lock()
	u.recs = append(u.recs, r)
	u.mu.Unlock()
	return nil
}

type fixture struct {
	srv    *httptest.Server
	inv    *scripted
	quota  *ledger
	usage  *usageLog
	tenant *tenant.Tenant

	// handled closes the channel of a request post made once its handler returned: the
	// gateway answers before settling the quota and recording usage.
	mu      sync.Mutex
	handled map[string]chan struct{}
}

const headerTestRequest = "X-Test-Request"

type staticAuth struct{ c *gateway.Caller }

func (a staticAuth) Authenticate(r *http.Request) (*gateway.Caller, error) {
	if r.Header.Get("Authorization") != "Bearer good" {
		return nil, httpapi.Errorf(http.StatusUnauthorized, "invalid_api_key", "bad key")
	}
	return a.c, nil
}

func newFixture(t *testing.T, opts ...gateway.Option) *fixture {
	t.Helper()
	chat := &registry.Model{ID: "chat-a", Kind: registry.KindChat, Status: registry.StatusApproved, Aliases: []string{"default"},
		Prices: registry.Prices{InputPerMillion: 1, OutputPerMillion: 2}, MaxOutputTokens: 100}
	ms := models{
		"chat-a":  chat,
		"default": chat,
		"chat-b":  {ID: "chat-b", Kind: registry.KindChat, Status: registry.StatusApproved},
		"pending": {ID: "pending", Kind: registry.KindChat, Status: registry.StatusPendingReview},
		"old":     {ID: "old", Kind: registry.KindChat, Status: registry.StatusDeprecated},
		"emb":     {ID: "emb", Kind: registry.KindEmbedding, Status: registry.StatusApproved, Dimensions: 2, SupportsDimensions: true},
	}
	f := &fixture{
		inv: &scripted{chat: func(req *provider.ChatRequest) (*provider.ChatResponse, error) {
			return &provider.ChatResponse{ID: "x", Choices: []provider.Choice{{Message: provider.Message{Role: "assistant", Content: provider.TextContent("hi there")}, FinishReason: "stop"}},
				Usage: &provider.Usage{PromptTokens: 10, CompletionTokens: 5, TotalTokens: 15}}, nil
		}},
		quota:  &ledger{},
		usage:  &usageLog{},
		tenant: &tenant.Tenant{ID: "acme", Status: tenant.StatusActive, AllowedModels: []string{"chat-a", "emb", "pending", "old"}},
	}
	caller := &gateway.Caller{Principal: auth.Principal{TenantID: "acme", KeyID: "k1", Scopes: []auth.Scope{auth.ScopeInference}}, Tenant: f.tenant}
	gw := gateway.New(ms, f.inv, append([]gateway.Option{gateway.WithQuota(f.quota), gateway.WithUsage(f.usage), gateway.WithMaxBodyBytes(1 << 10)}, opts...)...)
	mux := http.NewServeMux()
	gw.Routes(mux)
	h := gateway.Authenticate(staticAuth{caller}, mux)
	f.handled = map[string]chan struct{}{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r)
		f.mu.Lock()
		defer f.mu.Unlock()
		if done := f.handled[r.Header.Get(headerTestRequest)]; done != nil {
			close(done)
		}
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fixture) post(t *testing.T, path, body string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer good")
	var done chan struct{}
	if f.handled != nil { // a server newFixture made
		done = make(chan struct{})
		f.mu.Lock()
		id := fmt.Sprint(len(f.handled))
		f.handled[id] = done
		f.mu.Unlock()
		req.Header.Set(headerTestRequest, id)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	// The answer may arrive before the request's bookkeeping is done; wait for it.
	if done != nil {
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("POST %s: the handler did not return", path)
		}
	}
	return resp, b
}

func errorCode(t *testing.T, body []byte) string {
	t.Helper()
	var e struct {
		Error struct {
			Message string  `json:"message"`
			Type    string  `json:"type"`
			Code    *string `json:"code"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Error.Message == "" || e.Error.Type == "" || e.Error.Code == nil {
		t.Fatalf("not an OpenAI error body: %s", body)
	}
	return *e.Error.Code
}

func TestChatErrors(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		name, body string
		status     int
		code       string
	}{
		{"invalid json", `{"model":`, 400, "invalid_json"},
		{"missing model", `{"messages":[{"role":"user","content":"x"}]}`, 400, "invalid_request_error"},
		{"missing messages", `{"model":"chat-a"}`, 400, "invalid_request_error"},
		{"bad role", `{"model":"chat-a","messages":[{"role":"robot","content":"x"}]}`, 400, "invalid_request_error"},
		{"n>1", `{"model":"chat-a","n":2,"messages":[{"role":"user","content":"x"}]}`, 400, "invalid_request_error"},
		{"temperature", `{"model":"chat-a","temperature":3,"messages":[{"role":"user","content":"x"}]}`, 400, "invalid_request_error"},
		{"unknown model", `{"model":"nope","messages":[{"role":"user","content":"x"}]}`, 404, "model_not_found"},
		{"not allowed", `{"model":"chat-b","messages":[{"role":"user","content":"x"}]}`, 403, "model_not_allowed"},
		{"not approved", `{"model":"pending","messages":[{"role":"user","content":"x"}]}`, 403, "model_not_approved"},
		{"wrong kind", `{"model":"emb","messages":[{"role":"user","content":"x"}]}`, 400, "invalid_model_kind"},
		{"too large", `{"model":"chat-a","messages":[{"role":"user","content":"` + strings.Repeat("a", 2048) + `"}]}`, 413, "request_too_large"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := f.post(t, "/v1/chat/completions", tc.body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			if code := errorCode(t, body); code != tc.code {
				t.Fatalf("code %q, want %q", code, tc.code)
			}
		})
	}
	if len(f.quota.reserved) != 0 {
		t.Fatalf("rejected requests reserved quota: %v", f.quota.reserved)
	}
}

func TestNoKey(t *testing.T) {
	f := newFixture(t)
	resp, err := http.Post(f.srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 401 || errorCode(t, b) != "invalid_api_key" {
		t.Fatalf("got %d %s", resp.StatusCode, b)
	}
}

func TestChatReservesWorstCaseAndSettlesActual(t *testing.T) {
	f := newFixture(t)
	resp, body := f.post(t, "/v1/chat/completions", `{"model":"default","max_tokens":50,"messages":[{"role":"user","content":"hello"}]}`)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var out provider.ChatResponse
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatal(err)
	}
	if out.Model != "chat-a" || out.Object != "chat.completion" {
		t.Fatalf("model %q object %q: the response must name the model that answered", out.Model, out.Object)
	}
	if len(f.quota.reserved) != 1 || f.quota.reserved[0].Tokens < 50 {
		t.Fatalf("reservation %v should cover max_tokens", f.quota.reserved)
	}
	wantUSD := (10*1.0 + 5*2.0) / 1e6
	if len(f.quota.settled) != 1 || f.quota.settled[0][0] != 15 || f.quota.settled[0][1] != wantUSD {
		t.Fatalf("settled %v, want 15 tokens and %v USD", f.quota.settled, wantUSD)
	}
	if len(f.usage.recs) != 1 || f.usage.recs[0].CostUSD != wantUSD || f.usage.recs[0].Model != "chat-a" || f.usage.recs[0].Tenant != "acme" {
		t.Fatalf("usage %+v", f.usage.recs)
	}
}

func TestDeprecatedModelWarns(t *testing.T) {
	f := newFixture(t)
	resp, body := f.post(t, "/v1/chat/completions", `{"model":"old","messages":[{"role":"user","content":"hello"}]}`)
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Warning"), "deprecated") {
		t.Fatalf("status %d warning %q: %s", resp.StatusCode, resp.Header.Get("Warning"), body)
	}
}

func TestQuotaRefusalPassesThrough(t *testing.T) {
	for _, tc := range []struct {
		sentinel error
		code     string
	}{{quota.ErrRateLimited, "rate_limit_exceeded"}, {quota.ErrBudgetExceeded, "insufficient_quota"}} {
		f := newFixture(t)
		f.quota.refuse = fmt.Errorf("acme: %w", &quota.LimitError{Err: tc.sentinel, Limit: "requests_per_minute", Scope: "tenant", RetryAfter: 7 * time.Second})
		resp, body := f.post(t, "/v1/chat/completions", `{"model":"chat-a","messages":[{"role":"user","content":"hello"}]}`)
		if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "7" || errorCode(t, body) != tc.code {
			t.Fatalf("got %d retry-after %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
	}
}

func TestUpstreamErrorsMapToStatuses(t *testing.T) {
	cases := []struct {
		err    error
		status int
	}{
		{&provider.Error{Kind: provider.KindUnavailable}, 503},
		{&provider.Error{Kind: provider.KindTimeout}, 504},
		{&provider.Error{Kind: provider.KindRateLimited, RetryAfter: 2 * time.Second}, 429},
		{&provider.Error{Kind: provider.KindContextLength}, 400},
		{errors.New("boom"), 502},
	}
	for _, tc := range cases {
		f := newFixture(t)
		f.inv.chat = func(*provider.ChatRequest) (*provider.ChatResponse, error) { return nil, tc.err }
		resp, body := f.post(t, "/v1/chat/completions", `{"model":"chat-a","messages":[{"role":"user","content":"hello"}]}`)
		if resp.StatusCode != tc.status {
			t.Errorf("%v: status %d, want %d (%s)", tc.err, resp.StatusCode, tc.status, body)
		}
		errorCode(t, body)
		if len(f.quota.settled) != 1 || f.quota.settled[0][0] != 0 {
			t.Errorf("%v: a failed call must release its reservation, settled %v", tc.err, f.quota.settled)
		}
	}
}

func readSSE(t *testing.T, body io.Reader) (events []string) {
	t.Helper()
	sc := bufio.NewScanner(body)
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			events = append(events, line)
		}
	}
	return events
}

func ptr[T any](v T) *T { return &v }

func TestStreamRelaysAndCharges(t *testing.T) {
	f := newFixture(t)
	f.inv.chunks = []provider.ChatChunk{
		{ID: "c1", Choices: []provider.ChunkChoice{{Delta: provider.Delta{Role: "assistant", Content: ptr("Hel")}}}},
		{ID: "c1", Choices: []provider.ChunkChoice{{Delta: provider.Delta{Content: ptr("lo")}, FinishReason: ptr("stop")}}},
		{ID: "c1", Choices: []provider.ChunkChoice{}, Usage: &provider.Usage{PromptTokens: 4, CompletionTokens: 2, TotalTokens: 6}},
	}
	resp, body := f.post(t, "/v1/chat/completions", `{"model":"chat-a","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hello"}]}`)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("status %d type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	events := readSSE(t, strings.NewReader(string(body)))
	if len(events) != 4 || events[3] != "[DONE]" {
		t.Fatalf("events %q, want 2 content chunks, a usage chunk and [DONE]", events)
	}
	var usage provider.ChatChunk
	if err := json.Unmarshal([]byte(events[2]), &usage); err != nil || usage.Usage == nil || usage.Usage.TotalTokens != 6 || usage.Model != "chat-a" {
		t.Fatalf("usage chunk %s", events[2])
	}
	if len(f.quota.settled) != 1 || f.quota.settled[0][0] != 6 {
		t.Fatalf("settled %v, want 6 tokens", f.quota.settled)
	}
}

func TestStreamCutEndsWithErrorEventAndChargesReservation(t *testing.T) {
	f := newFixture(t)
	f.inv.chunks = []provider.ChatChunk{{ID: "c1", Choices: []provider.ChunkChoice{{Delta: provider.Delta{Role: "assistant", Content: ptr("partial")}}}}}
	f.inv.cutErr = &provider.Error{Kind: provider.KindUnavailable, Message: "connection reset"}
	resp, body := f.post(t, "/v1/chat/completions", `{"model":"chat-a","stream":true,"messages":[{"role":"user","content":"hello"}]}`)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	events := readSSE(t, strings.NewReader(string(body)))
	last := events[len(events)-1]
	if last == "[DONE]" || !strings.Contains(last, `"error"`) {
		t.Fatalf("a cut stream must end with an error event, got %q", events)
	}
	if len(f.quota.settled) != 1 || f.quota.settled[0][0] != float64(f.quota.reserved[0].Tokens) {
		t.Fatalf("without usage the reservation must be charged: reserved %v settled %v", f.quota.reserved, f.quota.settled)
	}
	if rec := f.usage.recs[0]; !rec.Estimated || !rec.Streamed || rec.InputTokens == 0 {
		t.Fatalf("usage record %+v must be flagged estimated and charged", rec)
	}
}

func TestModelsListIsExactlyWhatTheKeyMayCall(t *testing.T) {
	f := newFixture(t)
	req, _ := http.NewRequest(http.MethodGet, f.srv.URL+"/v1/models", nil)
	req.Header.Set("Authorization", "Bearer good")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct {
		Data []struct{ ID string } `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, m := range list.Data {
		got[m.ID] = true
	}
	// allowed: chat-a (and its alias), emb, old (deprecated still callable); pending is
	// allowed but not approved; chat-b is approved but not allowed.
	want := map[string]bool{"chat-a": true, "default": true, "emb": true, "old": true}
	if len(got) != len(want) {
		t.Fatalf("listed %v, want %v", got, want)
	}
	for id := range want {
		if !got[id] {
			t.Fatalf("listed %v, want %v", got, want)
		}
	}
}

func TestEmbeddings(t *testing.T) {
	f := newFixture(t)
	resp, body := f.post(t, "/v1/embeddings", `{"model":"emb","input":["a","b"],"encoding_format":"base64"}`)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var out struct {
		Data []struct {
			Embedding string `json:"embedding"`
			Index     int    `json:"index"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &out); err != nil || len(out.Data) != 2 {
		t.Fatalf("%v %s", err, body)
	}
	// float32(1) = 0x3f800000, float32(0.5) = 0x3f000000, little-endian.
	if out.Data[0].Embedding != "AACAPwAAAD8=" {
		t.Fatalf("base64 embedding %q", out.Data[0].Embedding)
	}
	for _, bad := range []string{`{"model":"emb","input":""}`, `{"model":"emb","input":[]}`, `{"model":"emb","input":[1,2]}`, `{"model":"emb","input":"x","dimensions":3}`, `{"model":"emb","input":"x","encoding_format":"hex"}`} {
		resp, body := f.post(t, "/v1/embeddings", bad)
		if resp.StatusCode != 400 {
			t.Errorf("%s: status %d %s", bad, resp.StatusCode, body)
		}
	}
}

type brokenAuth struct{}

func (brokenAuth) Authenticate(*http.Request) (*gateway.Caller, error) {
	return nil, errors.New("dial tcp 127.0.0.1:1: connection refused")
}

func TestAuthenticationBackendDownIs503(t *testing.T) {
	srv := httptest.NewServer(gateway.Authenticate(brokenAuth{}, http.NotFoundHandler()))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || errorCode(t, b) != "service_unavailable" || strings.Contains(string(b), "127.0.0.1") {
		t.Fatalf("got %d %s", resp.StatusCode, b)
	}
}
