package gateway_test

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/plinth-ai/plinth/shared/auth"
	"github.com/plinth-ai/plinth/shared/gateway"
	"github.com/plinth-ai/plinth/shared/provider"
	"github.com/plinth-ai/plinth/shared/registry"
	"github.com/plinth-ai/plinth/shared/tenant"
)

// continued is a RoutedStream whose answer model "primary" began and "backup" finished.
type continued struct {
	chunks []provider.ChatChunk
	models []string
	i      int
}

func (c *continued) Recv() (*provider.ChatChunk, error) {
	if c.i >= len(c.chunks) {
		return nil, io.EOF
	}
	c.i++
	ch := c.chunks[c.i-1]
	return &ch, nil
}

func (c *continued) Close() error { return nil }

func (c *continued) Model() string {
	if c.i == 0 {
		return c.models[0]
	}
	return c.models[c.i-1]
}

func (c *continued) Deployment() string { return "d-" + c.Model() }

func (c *continued) Spend() []provider.Spend {
	return []provider.Spend{
		{ModelID: "primary", DeploymentID: "d-primary", Usage: provider.Usage{PromptTokens: 100, CompletionTokens: 10}, Estimated: true},
		{ModelID: "backup", DeploymentID: "d-backup", Usage: provider.Usage{PromptTokens: 120, CompletionTokens: 30}},
	}
}

// routing is an Invoker that serves a continued stream and knows which models can answer.
type routing struct{ unavailable string }

func (routing) Chat(context.Context, *registry.Model, *provider.ChatRequest) (*provider.ChatResponse, gateway.Served, error) {
	panic("not used")
}

func (routing) Embed(context.Context, *registry.Model, *provider.EmbeddingRequest) (*provider.EmbeddingResponse, gateway.Served, error) {
	panic("not used")
}

func (routing) ChatStream(_ context.Context, m *registry.Model, _ *provider.ChatRequest) (provider.Stream, gateway.Served, error) {
	text := func(s string) []provider.ChunkChoice {
		return []provider.ChunkChoice{{Delta: provider.Delta{Content: &s}}}
	}
	stop := "stop"
	s := &continued{
		chunks: []provider.ChatChunk{
			{ID: "c", Choices: text("The quick")},
			{ID: "c", Choices: text(" brown fox.")},
			{ID: "c", Choices: []provider.ChunkChoice{{FinishReason: &stop}}},
			{ID: "c", Choices: []provider.ChunkChoice{}, Usage: &provider.Usage{PromptTokens: 220, CompletionTokens: 40, TotalTokens: 260}},
		},
		models: []string{"primary", "backup", "backup", "backup"},
	}
	return s, gateway.Served{ModelID: m.ID, DeploymentID: "d-primary", Attempts: 1, Prices: m.Prices}, nil
}

func (r routing) Available(_ context.Context, m *registry.Model) bool { return m.ID != r.unavailable }

// TestContinuedStreamChargesEveryAttempt: a stream another model finished names each
// chunk's model, and its record charges each attempt at its own model's prices.
func TestContinuedStreamChargesEveryAttempt(t *testing.T) {
	ms := models{
		"primary": {ID: "primary", Kind: registry.KindChat, Status: registry.StatusApproved, Prices: registry.Prices{InputPerMillion: 1, OutputPerMillion: 2}},
		"backup":  {ID: "backup", Kind: registry.KindChat, Status: registry.StatusApproved, Prices: registry.Prices{InputPerMillion: 10, OutputPerMillion: 20}},
		"broken":  {ID: "broken", Kind: registry.KindChat, Status: registry.StatusApproved},
	}
	quota, usage := &ledger{}, &usageLog{}
	gw := gateway.New(ms, routing{unavailable: "broken"}, gateway.WithQuota(quota), gateway.WithUsage(usage))
	mux := http.NewServeMux()
	gw.Routes(mux)
	caller := &gateway.Caller{Principal: auth.Principal{TenantID: "acme", KeyID: "k1", Scopes: []auth.Scope{auth.ScopeInference}},
		Tenant: &tenant.Tenant{ID: "acme", Status: tenant.StatusActive}}
	srv := httptest.NewServer(gateway.Authenticate(staticAuth{caller}, mux))
	defer srv.Close()
	f := &fixture{srv: srv}

	_, body := f.post(t, "/v1/chat/completions", `{"model":"primary","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"fox?"}]}`)
	events := readSSE(t, strings.NewReader(string(body)))
	var names []string
	for _, e := range events[:len(events)-1] {
		var c provider.ChatChunk
		if err := json.Unmarshal([]byte(e), &c); err != nil {
			t.Fatal(err)
		}
		names = append(names, c.Model)
	}
	if strings.Join(names, ",") != "primary,backup,backup,backup" || events[len(events)-1] != "[DONE]" {
		t.Errorf("chunk models %v, events %q", names, events)
	}
	rec := usage.recs[0]
	want := (100*1+10*2)/1e6 + (120*10+30*20)/1e6
	if rec.Model != "backup" || rec.Deployment != "d-backup" || rec.InputTokens != 220 || rec.OutputTokens != 40 || !rec.Estimated || math.Abs(rec.CostUSD-want) > 1e-12 {
		t.Errorf("usage record %+v, want 220+40 tokens costing %g, estimated, answered by backup", rec, want)
	}
	if len(quota.settled) != 1 || quota.settled[0][0] != 260 || math.Abs(quota.settled[0][1]-want) > 1e-12 {
		t.Errorf("settled %v", quota.settled)
	}

	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v1/models", nil)
	req.Header.Set("Authorization", "Bearer good")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	list, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(list), `"primary"`) || strings.Contains(string(list), `"broken"`) {
		t.Errorf("/v1/models lists %s: a model that cannot answer must not be offered", list)
	}
}
