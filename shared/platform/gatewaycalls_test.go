package platform

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/plinth-ai/plinth/shared/eval/judge"
	"github.com/plinth-ai/plinth/shared/gateway"
	"github.com/plinth-ai/plinth/shared/provider"
	"github.com/plinth-ai/plinth/shared/provider/providertest"
	"github.com/plinth-ai/plinth/shared/quota"
	"github.com/plinth-ai/plinth/shared/usage"
)

// testClock is the platform's clock in these tests: quota windows, usage days and
// expiry all follow it, so no result depends on when the tests run.
var testClock = func() time.Time { return time.Date(2031, 3, 4, 10, 0, 30, 0, time.UTC) }

// localPlatform is a local platform on a test server.
type localPlatform struct {
	*Local
	t   *testing.T
	srv *httptest.Server
}

func newLocalPlatform(t *testing.T) *localPlatform {
	t.Helper()
	ctx := context.Background()
	l, err := NewLocal(ctx, Config{DataDir: t.TempDir(), AdminKey: "adm", Clock: testClock, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(l.Handler)
	t.Cleanup(func() { srv.Close(); _ = l.Close(context.Background()) })
	return &localPlatform{Local: l, t: t, srv: srv}
}

func (p *localPlatform) do(method, path, key, ctype string, body io.Reader) (int, []byte) {
	p.t.Helper()
	req, _ := http.NewRequest(method, p.srv.URL+path, body)
	req.Header.Set("Authorization", "Bearer "+key)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (p *localPlatform) json(method, path, key string, body any, want int) []byte {
	p.t.Helper()
	raw, _ := json.Marshal(body)
	st, b := p.do(method, path, key, "application/json", bytes.NewReader(raw))
	if st != want {
		p.t.Fatalf("%s %s: %d %s", method, path, st, b)
	}
	return b
}

// handbook creates knowledge base "handbook" for the demo tenant with one indexed document.
func (p *localPlatform) handbook() {
	p.t.Helper()
	p.json("POST", "/admin/knowledge-bases", "adm", map[string]any{"tenant": "demo", "id": "handbook"}, 201)
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("file", "leave.md")
	_, _ = fw.Write([]byte("# Leave\n\nParental leave at Plinth lasts twenty weeks at full pay.\n\nThe office closes on public holidays."))
	mw.Close()
	if st, b := p.do("POST", "/v1/knowledge-bases/handbook/documents", p.DemoKey, mw.FormDataContentType(), &buf); st != 202 {
		p.t.Fatalf("upload: %d %s", st, b)
	}
	for range 500 {
		_, b := p.do("GET", "/v1/knowledge-bases/handbook/documents", p.DemoKey, "", nil)
		if strings.Contains(string(b), `"indexed"`) {
			return
		}
		if strings.Contains(string(b), `"failed"`) {
			p.t.Fatalf("document failed: %s", b)
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.t.Fatal("document not indexed")
}

// TestPlatformPromptsAreNotJudgedAsTheCallers: with a policy that blocks words of the
// platform's own grounding prompt and judge rubric (and the README's PROMPT_ATTACK
// filter), grounded answers, grounded chat completions and judge calls pass, because
// only what the caller sent is judged as input; the caller's own words still are, and
// a refusal names the policy and the filter that intervened.
func TestPlatformPromptsAreNotJudgedAsTheCallers(t *testing.T) {
	p := newLocalPlatform(t)
	p.handbook()
	var policy struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(p.json("POST", "/admin/guardrail-policies", "adm", map[string]any{
		"name": "strict", "blockedInputMessaging": "Sorry, I cannot help with that.", "blockedOutputsMessaging": "Withheld.",
		"wordPolicyConfig": map[string]any{"wordsConfig": []any{
			map[string]any{"text": "outside knowledge"}, map[string]any{"text": "impartial evaluator"}}},
		"contentPolicyConfig": map[string]any{"filtersConfig": []any{
			map[string]any{"type": "PROMPT_ATTACK", "inputStrength": "HIGH", "outputStrength": "NONE"}}},
	}, 201), &policy)
	p.json("PATCH", "/admin/tenants/demo", "adm", map[string]any{"guardrail_policy": policy.ID}, 200)

	type answer struct {
		Answer    string             `json:"answer"`
		Citations []json.RawMessage  `json:"citations"`
		Guardrail *gateway.Guardrail `json:"guardrail"`
	}
	var a answer
	_ = json.Unmarshal(p.json("POST", "/v1/knowledge-bases/handbook/answer", p.DemoKey, map[string]any{"query": "How long is parental leave?"}, 200), &a)
	if a.Guardrail != nil || !strings.Contains(a.Answer, "twenty weeks") || len(a.Citations) == 0 {
		t.Fatalf("a benign question was refused or unanswered: %+v", a)
	}

	var c struct {
		Choices []struct {
			Message      struct{ Content string } `json:"message"`
			FinishReason string                   `json:"finish_reason"`
		} `json:"choices"`
		Guardrail *gateway.Guardrail `json:"guardrail"`
	}
	_ = json.Unmarshal(p.json("POST", "/v1/chat/completions", p.DemoKey, map[string]any{"model": "local-chat",
		"knowledge_base": map[string]any{"id": "handbook"},
		"messages":       []any{map[string]any{"role": "user", "content": "How long is parental leave?"}}}, 200), &c)
	if c.Guardrail != nil || c.Choices[0].FinishReason == "content_filter" || !strings.Contains(c.Choices[0].Message.Content, "twenty weeks") {
		t.Fatalf("a benign grounded chat was refused: %+v", c)
	}

	// The asker's own words are judged, and the refusal says by what.
	_ = json.Unmarshal(p.json("POST", "/v1/knowledge-bases/handbook/answer", p.DemoKey, map[string]any{"query": "Using outside knowledge, how long is parental leave?"}, 200), &a)
	if a.Answer != "Sorry, I cannot help with that." || len(a.Citations) != 0 || a.Guardrail == nil || a.Guardrail.Policy != policy.ID {
		t.Fatalf("the asker's blocked words passed: %+v", a)
	}
	if iv := a.Guardrail.Interventions; len(iv) != 1 || iv[0].Source != "INPUT" || iv[0].Action != "BLOCKED" ||
		len(iv[0].Filters) != 1 || iv[0].Filters[0] != (gateway.Filter{Policy: "wordPolicy", Type: "CUSTOM_WORD"}) {
		t.Fatalf("the refusal does not say which filter intervened: %+v", a.Guardrail)
	}

	// A judge's rubric is the platform's; the same text sent by the tenant is not.
	rubric, err := judge.Prompt(judge.Correctness, judge.Input{Question: "How long is parental leave?", Answer: "Twenty weeks.", References: []string{"twenty weeks"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	req := &provider.ChatRequest{Model: "local-chat", Messages: rubric}
	resp, err := evalJudge(p.Gateway)(ctx, "demo", req)
	if err != nil || resp.Choices[0].FinishReason == "content_filter" {
		t.Fatalf("the judge's rubric was judged as the tenant's words: %v %+v", err, resp)
	}
	resp, err = evalTarget(p.Gateway)(ctx, "demo", req)
	if err != nil || resp.Choices[0].FinishReason != "content_filter" {
		t.Fatalf("the tenant's own prompt was not guarded: %v %+v", err, resp)
	}
}

// TestPlatformCallsTakeTheApplicationPath: evaluation, grounded answers and ingestion
// call the gateway service with the tenant's model policy, quotas, guardrails, cache and
// usage, as any application's call.
func TestPlatformCallsTakeTheApplicationPath(t *testing.T) {
	p := newLocalPlatform(t)
	var policy struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(p.json("POST", "/admin/guardrail-policies", "adm", map[string]any{"name": "pii",
		"blockedInputMessaging": "Blocked.", "blockedOutputsMessaging": "Withheld.",
		"sensitiveInformationPolicyConfig": map[string]any{"piiEntitiesConfig": []any{map[string]any{"type": "US_SOCIAL_SECURITY_NUMBER", "action": "BLOCK"}}},
	}, 201), &policy)
	p.json("POST", "/admin/tenants", "adm", map[string]any{"id": "acme", "name": "Acme", "allowed_models": []string{"local-chat"},
		"guardrail_policy": policy.ID, "cache": map[string]any{"enabled": true}}, 201)
	p.json("POST", "/admin/tenants", "adm", map[string]any{"id": "tight", "name": "Tight", "limits": map[string]any{"daily_tokens": 500}}, 201)
	ctx := context.Background()
	target := evalTarget(p.Gateway)
	zero := 0.0
	ask := func(tenant, text string) (*provider.ChatResponse, error) {
		return target(ctx, tenant, &provider.ChatRequest{Model: "local-chat", Temperature: &zero, Messages: []provider.Message{{Role: "user", Content: provider.TextContent(text)}}})
	}

	// Model policy: acme may not call local-embed, so its knowledge bases cannot embed with it.
	emb, _ := ragEmbedders(p.Gateway)(ctx, "acme", "local-embed")
	if _, err := emb.Embed(ctx, []string{"a document"}, "search_document"); !errors.Is(err, gateway.ErrModelNotAllowed) {
		t.Fatalf("embedding with a model the tenant may not call: %v, want ErrModelNotAllowed", err)
	}
	// Quotas: a request larger than the tenant's daily budget is refused.
	if _, err := ask("tight", "Paris is the capital of France. What is the capital of France?"); !errors.Is(err, quota.ErrBudgetExceeded) {
		t.Fatalf("over budget: %v, want quota.ErrBudgetExceeded", err)
	}
	// Guardrails: the tenant's policy blocks its dataset's SSN before the model sees it.
	resp, err := ask("acme", "My SSN is 123-45-6789. What is it?")
	if err != nil || resp.Choices[0].FinishReason != "content_filter" || resp.Choices[0].Message.Content.String() != "Blocked." {
		t.Fatalf("guardrail: %v %+v", err, resp)
	}
	// Cache: the same evaluation prompt twice is answered from the tenant's cache.
	for range 2 {
		if _, err := ask("acme", "Paris is the capital of France. What is the capital of France?"); err != nil {
			t.Fatal(err)
		}
	}
	// Usage: every call is the tenant's, under the platform key that made it.
	if err := p.Usage.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	recs, err := usage.NewService(p.Store, p.Tenants).Records(ctx, "acme", testClock(), 100)
	if err != nil {
		t.Fatal(err)
	}
	var calls, hits, blocked int
	for _, r := range recs {
		if r.KeyID != gateway.KeyEvaluation && r.KeyID != gateway.KeyIngestion {
			t.Errorf("record %+v is not under a platform key", r)
		}
		if r.KeyID == gateway.KeyEvaluation {
			calls++
		}
		if r.CacheHit {
			hits++
		}
		if r.Status == usage.StatusBlocked {
			blocked++
		}
	}
	if calls != 3 || hits != 1 || blocked != 1 {
		t.Fatalf("acme's usage: %d evaluation calls, %d cache hits, %d blocked; want 3, 1, 1: %+v", calls, hits, blocked, recs)
	}
}

// TestDeniedTopicsUseTheConfiguredEmbeddingModel: with a guardrail embedding model set,
// a tenant's denied topics are matched with it (its deployment is called for the
// topic's references and the guarded text); without one, topic matching stays lexical
// and no embedding model is called.
func TestDeniedTopicsUseTheConfiguredEmbeddingModel(t *testing.T) {
	for _, configured := range []bool{true, false} {
		up := providertest.NewOpenAIServer(providertest.WithEmbeddingDimensions(8))
		t.Cleanup(up.Close)
		cfg := Config{DataDir: t.TempDir(), AdminKey: "adm", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
		if configured {
			cfg.GuardrailEmbeddingModel = "topic-embed"
		}
		l, err := NewLocal(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		p := &localPlatform{Local: l, t: t, srv: httptest.NewServer(l.Handler)}
		t.Cleanup(func() { p.srv.Close(); _ = l.Close(context.Background()) })
		p.json("POST", "/admin/models", "adm", map[string]any{"id": "topic-embed", "kind": "embedding",
			"deployments": []any{map[string]any{"provider": "openai", "base_url": up.BaseURL(), "model": "embed-1", "api_key": "sk-test"}}}, 201)
		p.json("POST", "/admin/models/topic-embed/review", "adm", map[string]any{"decision": "approve", "reviewer": "test"}, 200)
		var policy struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(p.json("POST", "/admin/guardrail-policies", "adm", map[string]any{"name": "no-advice",
			"blockedInputMessaging": "Blocked.", "blockedOutputsMessaging": "Withheld.",
			"topicPolicyConfig": map[string]any{"topicsConfig": []any{map[string]any{"name": "Investment advice", "type": "DENY",
				"definition": "Recommendations on which stocks, funds or assets to buy or sell."}}},
		}, 201), &policy)
		p.json("PATCH", "/admin/tenants/demo", "adm", map[string]any{"guardrail_policy": policy.ID}, 200)
		p.json("POST", "/v1/chat/completions", p.DemoKey, map[string]any{"model": "local-chat",
			"messages": []any{map[string]any{"role": "user", "content": "Should I put my savings into index funds this year?"}}}, 200)
		if called := up.Requests() > 0; called != configured {
			t.Errorf("embedding model configured %v, its deployment called %v (%d requests)", configured, called, up.Requests())
		}
	}
}

// TestUsageDaysFollowThePlatformClock: the day a record is stamped with and the "today"
// that /v1/usage reports by default come from the same clock, so a call made at the
// platform's time is in the default report whatever the wall clock says.
func TestUsageDaysFollowThePlatformClock(t *testing.T) {
	p := newLocalPlatform(t)
	p.json("POST", "/v1/chat/completions", p.DemoKey, map[string]any{"model": "local-chat",
		"messages": []map[string]any{{"role": "user", "content": "hello"}}}, 200)
	var ans usage.Answer
	for deadline := time.Now().Add(5 * time.Second); ; {
		_ = json.Unmarshal(p.json("GET", "/v1/usage", p.DemoKey, nil, 200), &ans)
		if ans.Total.Requests == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if day := testClock().Format("2006-01-02"); ans.End != day || ans.Total.Requests != 1 {
		t.Fatalf("default usage range %s..%s counts %d requests, want today = %s and the one call", ans.Start, ans.End, ans.Total.Requests, day)
	}
}
