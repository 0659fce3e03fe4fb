package tenantauth_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/plinth-ai/plinth/shared/cache"
	"github.com/plinth-ai/plinth/shared/gateway"
	"github.com/plinth-ai/plinth/shared/gateway/tenantauth"
	"github.com/plinth-ai/plinth/shared/provider"
	"github.com/plinth-ai/plinth/shared/quota"
	"github.com/plinth-ai/plinth/shared/registry"
	"github.com/plinth-ai/plinth/shared/store/memstore"
	"github.com/plinth-ai/plinth/shared/tenant"
	"github.com/plinth-ai/plinth/shared/usage"
)

// models is a fixed registry: two approved chat models, one with an alias.
type models map[string]*registry.Model

func (m models) Resolve(_ context.Context, name string) (*registry.Model, error) {
	for _, x := range m {
		if x.ID == name {
			return x, nil
		}
		for _, a := range x.Aliases {
			if a == name {
				return x, nil
			}
		}
	}
	return nil, registry.ErrNotFound
}

func (m models) Snapshot(context.Context) ([]*registry.Model, error) {
	return []*registry.Model{m["local-chat"], m["gpt-x"]}, nil
}

// echo answers every chat with fixed usage: 10 prompt + 5 completion tokens.
type echo struct{}

func (echo) Chat(_ context.Context, m *registry.Model, req *provider.ChatRequest) (*provider.ChatResponse, gateway.Served, error) {
	return &provider.ChatResponse{ID: "chatcmpl-1", Object: "chat.completion", Created: 1, Model: m.ID,
			Choices: []provider.Choice{{Message: provider.Message{Role: "assistant", Content: provider.TextContent("echo: " + req.Messages[len(req.Messages)-1].Content.String())}, FinishReason: "stop"}},
			Usage:   &provider.Usage{PromptTokens: 10, CompletionTokens: 5, TotalTokens: 15}},
		gateway.Served{ModelID: m.ID, DeploymentID: "d1", Attempts: 1, Prices: m.Prices}, nil
}

func (echo) ChatStream(context.Context, *registry.Model, *provider.ChatRequest) (provider.Stream, gateway.Served, error) {
	return nil, gateway.Served{}, fmt.Errorf("not used")
}

func (echo) Embed(context.Context, *registry.Model, *provider.EmbeddingRequest) (*provider.EmbeddingResponse, gateway.Served, error) {
	return nil, gateway.Served{}, fmt.Errorf("not used")
}

// TestGatewayWiring drives the gateway through the tenant, quota, cache and usage
// adapters: the model list and invocations follow one policy, budgets refuse with 429,
// cache hits cost no tokens, and every request lands in the tenant's usage.
func TestGatewayWiring(t *testing.T) {
	ctx := context.Background()
	st := memstore.New()
	ts := tenant.NewService(st)
	// A fixed quota clock keeps every request in one minute window.
	now := time.Now()
	q := quota.New(st, quota.WithClock(func() time.Time { return now }))
	rec := usage.NewRecorder(st)
	for _, tn := range []tenant.Tenant{
		{ID: "acme", AllowedModels: []string{"chat-fast"}, Limits: tenant.Limits{MonthlyUSD: 0.004}, Cache: tenant.CacheSettings{Enabled: true}},
		{ID: "globex"},
		{ID: "initech", Limits: tenant.Limits{RequestsPerMinute: 100}, Cache: tenant.CacheSettings{Enabled: true}},
	} {
		if _, err := ts.CreateTenant(ctx, tn); err != nil {
			t.Fatal(err)
		}
	}
	_, acmeKey, _ := ts.CreateKey(ctx, "acme", tenant.KeyOptions{})
	_, globexKey, _ := ts.CreateKey(ctx, "globex", tenant.KeyOptions{})
	_, initechKey, _ := ts.CreateKey(ctx, "initech", tenant.KeyOptions{})

	reg := models{
		"local-chat": {ID: "local-chat", Kind: registry.KindChat, Aliases: []string{"chat-fast"}, Status: registry.StatusApproved, Prices: registry.Prices{InputPerMillion: 100, OutputPerMillion: 100}, MaxOutputTokens: 5},
		"gpt-x":      {ID: "gpt-x", Kind: registry.KindChat, Status: registry.StatusApproved},
	}
	g := gateway.New(reg, echo{}, gateway.WithQuota(q), gateway.WithUsage(rec),
		gateway.WithCache(cache.New(st)), gateway.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	mux := http.NewServeMux()
	g.Routes(mux)
	usage.Routes(mux, usage.NewService(st, ts))
	srv := httptest.NewServer(gateway.Authenticate(tenantauth.New(ts), mux))
	defer srv.Close()

	do := func(key, method, path, body string) (*http.Response, string) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b)
	}
	chat := func(model, text string) string {
		return `{"model":"` + model + `","temperature":0,"messages":[{"role":"user","content":"` + text + `"}]}`
	}

	if resp, body := do("", "GET", "/v1/models", ""); resp.StatusCode != 401 {
		t.Fatalf("no key: %d %s", resp.StatusCode, body)
	}
	_, body := do(acmeKey, "GET", "/v1/models", "")
	var list struct {
		Data []struct{ ID string } `json:"data"`
	}
	_ = json.Unmarshal([]byte(body), &list)
	if len(list.Data) != 1 || list.Data[0].ID != "chat-fast" {
		t.Fatalf("acme models: %s", body)
	}
	_, body = do(globexKey, "GET", "/v1/models", "")
	_ = json.Unmarshal([]byte(body), &list)
	if len(list.Data) != 3 {
		t.Fatalf("globex models: %s", body)
	}
	// Every model not listed is refused with 403, consistently with the list.
	for _, m := range []string{"local-chat", "gpt-x"} {
		if resp, body := do(acmeKey, "POST", "/v1/chat/completions", chat(m, "hi")); resp.StatusCode != 403 {
			t.Fatalf("%s: %d %s", m, resp.StatusCode, body)
		}
	}
	// Worst case per request: (prompt estimate + 5 output tokens) × 100 USD/M; the
	// 0.004 USD budget admits a few distinct requests, then refuses with insufficient_quota.
	admitted, refused := 0, 0
	for i := 0; i < 10 && refused == 0; i++ {
		resp, body := do(acmeKey, "POST", "/v1/chat/completions", chat("chat-fast", fmt.Sprint("question ", i)))
		switch resp.StatusCode {
		case 200:
			admitted++
		case 429:
			refused++
			if !strings.Contains(body, "insufficient_quota") || resp.Header.Get("Retry-After") == "" {
				t.Fatalf("refusal: %v %s", resp.Header, body)
			}
		default:
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
	}
	if admitted == 0 || refused != 1 {
		t.Fatalf("admitted %d refused %d", admitted, refused)
	}
	u, _ := q.Current(ctx, "acme", "", now)
	if u.USDThisMonth > 0.004 {
		t.Fatalf("spend %v over budget", u.USDThisMonth)
	}

	// globex: the second identical deterministic request is a cache hit only if its
	// tenant enabled the cache (globex did not); acme's cache never serves globex.
	if resp, _ := do(globexKey, "POST", "/v1/chat/completions", chat("chat-fast", "question 0")); resp.StatusCode != 200 || resp.Header.Get("X-Plinth-Cache") == "hit" {
		t.Fatalf("globex served from acme's cache: %v", resp.Header)
	}

	// A repeated deterministic request is served from the tenant's cache: it counts as a
	// request in the rate window and costs no tokens.
	for i, want := range []string{"miss", "hit"} {
		resp, body := do(initechKey, "POST", "/v1/chat/completions", chat("gpt-x", "same question"))
		if resp.StatusCode != 200 || resp.Header.Get("X-Plinth-Cache") != want || !strings.Contains(body, "echo: same question") {
			t.Fatalf("request %d: %d %v %s", i, resp.StatusCode, resp.Header, body)
		}
	}
	if u, _ := q.Current(ctx, "initech", "", now); u.RequestsThisMinute != 2 || u.TokensThisMinute != 15 {
		t.Fatalf("initech quota after a hit: %+v", u)
	}

	if err := rec.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	resp, body := do(acmeKey, "GET", "/v1/usage?group_by=model", "")
	var ans usage.Answer
	if err := json.Unmarshal([]byte(body), &ans); err != nil || resp.StatusCode != 200 {
		t.Fatalf("usage %d %s", resp.StatusCode, body)
	}
	if ans.Tenant != "acme" || ans.Total.InputTokens != int64(10*admitted) || strings.Contains(body, "globex") {
		t.Fatalf("acme usage: %s", body)
	}
	_, body = do(initechKey, "GET", "/v1/usage", "")
	if err := json.Unmarshal([]byte(body), &ans); err != nil || ans.Total.Requests != 2 || ans.Total.CacheHits != 1 || ans.Total.InputTokens != 10 {
		t.Fatalf("initech usage: %s", body)
	}
}
