package e2e

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/plinth-ai/plinth/shared/provider/providertest"
	"github.com/plinth-ai/plinth/test/e2e/platformtest"
)

// tenantWithKey creates a tenant from doc on the shared platform and returns a key.
func tenantWithKey(t *testing.T, e *env, doc map[string]any) string {
	t.Helper()
	if err := e.p.CreateTenant(ctxFor(t), doc); err != nil {
		t.Fatal(err)
	}
	k, err := e.p.CreateKey(ctxFor(t), doc["id"].(string))
	if err != nil {
		t.Fatal(err)
	}
	return k.Key
}

func check429(t *testing.T, resp *platformtest.Response, wantCode string) {
	t.Helper()
	if resp.Status != http.StatusTooManyRequests {
		t.Fatalf("status = %d, want 429; body %s", resp.Status, resp.Body)
	}
	e := checkErrorShape(t, resp)
	if e.Error.Code != wantCode {
		t.Errorf("error.code = %v, want %s", e.Error.Code, wantCode)
	}
	ra := resp.Header.Get("Retry-After")
	if n, err := strconv.Atoi(ra); err != nil || n < 0 {
		t.Errorf("Retry-After = %q, want a whole number of seconds", ra)
	}
	validateOpenAI(t, []schemaItem{{Name: "429", Schema: "ErrorResponse", Body: resp.Body}})
}

// TestRequestsPerMinute: a tenant limited to 2 requests per minute gets the third
// refused with 429 rate_limit_exceeded and Retry-After.
func TestRequestsPerMinute(t *testing.T) {
	e := sharedEnv(t)
	key := tenantWithKey(t, e, map[string]any{"id": "e2e-rpm", "name": "RPM", "limits": map[string]any{"requests_per_minute": 2}})
	body := `{"model":"local-chat","messages":[{"role":"user","content":"Context: A is B. Question: What is A?"}]}`
	for i := range 2 {
		r, err := e.p.Do(ctxFor(t), http.MethodPost, "/v1/chat/completions", key, body)
		if err != nil || r.Status != http.StatusOK {
			t.Fatalf("request %d within the limit: %v %v", i+1, err, r)
		}
	}
	r, err := e.p.Do(ctxFor(t), http.MethodPost, "/v1/chat/completions", key, body)
	if err != nil {
		t.Fatal(err)
	}
	check429(t, r, "rate_limit_exceeded")

	// The real client surfaces it as a 429 APIError.
	c, _ := newClient(e.p, key)
	_, err = c.Chat.Completions.New(ctxFor(t), userChat("local-chat", "hello"))
	if statusOf(err) != http.StatusTooManyRequests {
		t.Errorf("openai-go over the limit: %v, want a 429 error", err)
	}
}

// TestBudgetRefusesBeforeTheUpstream: a tenant whose monthly USD budget cannot cover a
// request's worst case is refused with 429 insufficient_quota and the upstream is never
// called.
func TestBudgetRefusesBeforeTheUpstream(t *testing.T) {
	e := sharedEnv(t)
	up := newUpstream(t)
	registerApproved(t, e.p, platformtest.OpenAIModel("e2e-priced", "chat", up.BaseURL(), "priced"))
	key := tenantWithKey(t, e, map[string]any{"id": "e2e-budget", "name": "Budget", "limits": map[string]any{"monthly_usd": 0.000001}})
	r, err := e.p.Do(ctxFor(t), http.MethodPost, "/v1/chat/completions", key,
		`{"model":"e2e-priced","max_tokens":1000,"messages":[{"role":"user","content":"hello"}]}`)
	if err != nil {
		t.Fatal(err)
	}
	check429(t, r, "insufficient_quota")
	if up.Requests() != 0 {
		t.Errorf("the upstream received %d requests over budget", up.Requests())
	}
}

type usageTotals struct {
	Requests     int64   `json:"requests"`
	InputTokens  int64   `json:"input_tokens"`
	OutputTokens int64   `json:"output_tokens"`
	CostUSD      float64 `json:"cost_usd"`
	CacheHits    int64   `json:"cache_hits"`
	Errors       int64   `json:"errors"`
	Estimated    int64   `json:"estimated"`
	Streamed     int64   `json:"streamed"`
}

type usageAnswer struct {
	Tenant string `json:"tenant"`
	Data   []struct {
		Model string `json:"model"`
		usageTotals
	} `json:"data"`
	Total usageTotals `json:"total"`
}

// waitUsage polls GET /v1/usage?group_by=model until it counts want requests. Usage
// records are written behind the response, so the first reads may lag.
func waitUsage(t *testing.T, e *env, key string, want int64) usageAnswer {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last usageAnswer
	for {
		r, err := e.p.Do(ctxFor(t), http.MethodGet, "/v1/usage?group_by=model", key, nil)
		if err != nil || r.Status != http.StatusOK {
			t.Fatalf("GET /v1/usage: %v %v", err, r)
		}
		last = usageAnswer{}
		if err := r.JSON(&last); err != nil {
			t.Fatal(err)
		}
		if last.Total.Requests >= want {
			return last
		}
		if time.Now().After(deadline) {
			t.Fatalf("usage still counts %d requests, want %d: %+v", last.Total.Requests, want, last)
		}
		<-tick.C
	}
}

// TestUsageChargesStreamsAndCutStreams: non-streamed and streamed requests are recorded
// with the provider's token counts, and a stream cut by the upstream is still charged.
func TestUsageChargesStreamsAndCutStreams(t *testing.T) {
	e := sharedEnv(t)
	cut := newUpstream(t, providertest.WithReply("one two three four five six"), providertest.WithCutStream(3))
	registerApproved(t, e.p, platformtest.OpenAIModel("e2e-usage-cut", "chat", cut.BaseURL(), "cut"))
	key := tenantWithKey(t, e, map[string]any{"id": "e2e-usage", "name": "Usage"})
	c, _ := newClient(e.p, key)
	ctx := ctxFor(t)

	res, err := c.Chat.Completions.New(ctx, userChat("local-chat", contextPrompt))
	if err != nil {
		t.Fatal(err)
	}
	params := userChat("local-chat", contextPrompt)
	params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	stream := c.Chat.Completions.NewStreaming(ctx, params)
	for stream.Next() {
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	cutStream := c.Chat.Completions.NewStreaming(ctx, userChat("e2e-usage-cut", "hello"))
	for cutStream.Next() {
	}
	if cutStream.Err() == nil {
		t.Fatal("the cut stream ended without an error")
	}

	u := waitUsage(t, e, key, 3)
	if u.Tenant != "e2e-usage" {
		t.Errorf("usage tenant = %q", u.Tenant)
	}
	byModel := map[string]usageTotals{}
	for _, row := range u.Data {
		byModel[row.Model] = row.usageTotals
	}
	local := byModel["local-chat"]
	if local.Requests != 2 || local.Streamed != 1 {
		t.Errorf("local-chat usage = %+v, want 2 requests, 1 streamed", local)
	}
	if local.InputTokens != 2*res.Usage.PromptTokens || local.OutputTokens != 2*res.Usage.CompletionTokens {
		t.Errorf("local-chat tokens = %d in / %d out, want twice the response's %d / %d",
			local.InputTokens, local.OutputTokens, res.Usage.PromptTokens, res.Usage.CompletionTokens)
	}
	cutRow, ok := byModel["e2e-usage-cut"]
	if !ok || cutRow.Requests != 1 {
		t.Fatalf("the cut stream is not in the usage: %+v", u.Data)
	}
	if cutRow.CostUSD <= 0 && cutRow.InputTokens+cutRow.OutputTokens <= 0 {
		t.Errorf("the cut stream was charged nothing: %+v", cutRow)
	}
	if u.Total.Requests != 3 {
		t.Errorf("total requests = %d, want 3", u.Total.Requests)
	}
}

// TestCacheHit: with the tenant's cache on, the same request twice reaches the upstream
// once; the second answer is marked a hit, identical, and valid, streamed or not.
func TestCacheHit(t *testing.T) {
	e := sharedEnv(t)
	up := newUpstream(t, providertest.WithReply("cached answer"))
	registerApproved(t, e.p, platformtest.OpenAIModel("e2e-cached", "chat", up.BaseURL(), "cached"))
	key := tenantWithKey(t, e, map[string]any{"id": "e2e-cache", "name": "Cache", "cache": map[string]any{"enabled": true}})
	c, rec := newClient(e.p, key)
	ctx := ctxFor(t)
	params := userChat("e2e-cached", "hello cache")
	params.Temperature = openai.Float(0)

	var first, second *http.Response
	a, err := c.Chat.Completions.New(ctx, params, option.WithResponseInto(&first))
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Chat.Completions.New(ctx, params, option.WithResponseInto(&second))
	if err != nil {
		t.Fatal(err)
	}
	if up.Requests() != 1 {
		t.Errorf("the upstream received %d requests for the same request twice, want 1", up.Requests())
	}
	if got := second.Header.Get("X-Plinth-Cache"); got != "hit" {
		t.Errorf("second answer X-Plinth-Cache = %q, want hit (first: %q)", got, first.Header.Get("X-Plinth-Cache"))
	}
	if a.Choices[0].Message.Content != b.Choices[0].Message.Content || b.Model != "e2e-cached" {
		t.Errorf("cached answer %q (model %q) differs from %q", b.Choices[0].Message.Content, b.Model, a.Choices[0].Message.Content)
	}

	for i := range 2 {
		stream := c.Chat.Completions.NewStreaming(ctx, params)
		text := ""
		for stream.Next() {
			for _, ch := range stream.Current().Choices {
				text += ch.Delta.Content
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatalf("stream %d: %v", i+1, err)
		}
		if text != "cached answer" {
			t.Errorf("stream %d content %q", i+1, text)
		}
	}
	if n := up.Requests(); n > 2 {
		t.Errorf("the upstream received %d requests; the repeated stream should replay from the cache", n)
	}
	checkExchanges(t, rec.take())
}
