package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/plinth-ai/plinth/shared/auth"
	"github.com/plinth-ai/plinth/shared/httpapi"
	"github.com/plinth-ai/plinth/shared/provider"
	"github.com/plinth-ai/plinth/shared/registry"
)

// Headers the gateway reads or writes besides OpenAI's.
const (
	HeaderRequestID  = "X-Request-Id"
	HeaderCache      = "X-Plinth-Cache"     // request: "bypass"; response: "hit" or "miss"
	HeaderGuardrail  = "X-Plinth-Guardrail" // response: "intervened" when a policy acted
	HeaderModel      = "X-Plinth-Model"     // response: the model that answered
	HeaderDeployment = "X-Plinth-Deployment"
)

// defaultMaxOutput is reserved when neither the request nor the model caps output.
const defaultMaxOutput = 4096

func (g *Gateway) handleChat(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	c, ok := CallerFrom(ctx)
	if !ok {
		httpapi.WriteError(w, errUnauthenticated)
		return
	}
	rec := g.newRecord(ctx, c, "chat.completions")
	defer g.finish(ctx, rec)

	var req provider.ChatRequest
	if err := httpapi.DecodeJSON(w, r, &req, g.maxBody); err != nil {
		g.fail(w, rec, err)
		return
	}
	if err := validateChat(&req); err != nil {
		g.fail(w, rec, err)
		return
	}
	rec.Streamed = req.Stream
	m, err := g.resolve(ctx, c, req.Model, registry.KindChat)
	if err != nil {
		g.fail(w, rec, err)
		return
	}
	rec.Model = m.ID
	if m.Status == registry.StatusDeprecated {
		w.Header().Set("Warning", fmt.Sprintf(`299 plinth "model %s is deprecated"`, m.ID))
	}

	// Grounding rewrites the prompt before anything is estimated or checked, so quotas and
	// guardrails see what the model will see.
	var cite func(answer string) []byte
	if kb := req.KnowledgeBase; kb != nil {
		req.KnowledgeBase = nil
		if cite, err = g.ground(ctx, c, kb, &req); err != nil {
			g.fail(w, rec, err)
			return
		}
	}

	est := estimateChat(&req, m)
	res, err := g.reserve(ctx, c, m.ID, est)
	if err != nil {
		g.fail(w, rec, err)
		return
	}
	settled := false
	settle := func(tokens int64, usd float64) {
		settled = true
		if res == nil {
			return
		}
		if err := res.Settle(context.WithoutCancel(ctx), tokens, usd); err != nil {
			g.log.ErrorContext(ctx, "quota settle failed; reservation stands", "request_id", rec.RequestID, "tenant", rec.TenantID, "error", err)
		}
	}
	defer func() {
		if !settled {
			// A panic or an unexpected return: keep the whole reservation rather than lose spend.
			settle(est.Tokens, est.USD)
			rec.Estimated = true
		}
	}()

	// Input guardrails.
	if g.guard != nil && c.guardrailPolicy() != "" {
		v, err := g.guard.Input(ctx, c, req.Messages)
		if err != nil {
			settle(0, 0)
			g.fail(w, rec, fmt.Errorf("input guardrail: %w", err))
			return
		}
		rec.Guardrail = mergeCounts(rec.Guardrail, v.Findings)
		if v.Blocked {
			settle(0, 0)
			w.Header().Set(HeaderGuardrail, "intervened")
			rec.Status = http.StatusOK
			rec.ErrorCode = "guardrail_input_blocked"
			g.writeBlocked(w, &req, m.ID, v.Message)
			return
		}
		if v.Changed {
			w.Header().Set(HeaderGuardrail, "intervened")
			applyInputTexts(req.Messages, v.Texts)
		}
	}

	// Cache.
	bypass := r.Header.Get(HeaderCache) == "bypass" || r.Header.Get("Cache-Control") == "no-cache"
	if g.cache != nil && c.cacheEnabled() && !bypass {
		if hit, ok := g.cache.Lookup(ctx, c, &req); ok {
			settle(0, 0)
			rec.CacheHit = true
			w.Header().Set(HeaderCache, "hit")
			w.Header().Set(HeaderModel, hit.Model)
			rec.Status = http.StatusOK
			if req.Stream {
				g.replayStream(w, &req, hit)
			} else {
				httpapi.WriteJSON(w, http.StatusOK, hit)
			}
			return
		}
		w.Header().Set(HeaderCache, "miss")
	}

	if req.Stream {
		g.streamChat(w, r, c, rec, m, &req, est, settle, bypass)
		return
	}

	resp, served, err := g.invoker.Chat(ctx, m, &req)
	rec.Deployment = served.DeploymentID
	if err != nil {
		settle(0, 0)
		g.fail(w, rec, upstreamError(err))
		return
	}
	resp.Model = served.ModelID
	rec.Model = served.ModelID
	if resp.Object == "" {
		resp.Object = "chat.completion"
	}
	if resp.ID == "" {
		resp.ID = "chatcmpl-" + rec.RequestID
	}
	// The reservation is settled once the response is on its way (below), so the store
	// write is off the client's critical path; the record already holds the charge.
	chargeTokens, chargeUSD := est.Tokens, est.USD
	if resp.Usage != nil {
		rec.InputTokens, rec.OutputTokens = int64(resp.Usage.PromptTokens), int64(resp.Usage.CompletionTokens)
		rec.CostUSD = served.Prices.Cost(rec.InputTokens, rec.OutputTokens)
		chargeTokens, chargeUSD = rec.InputTokens+rec.OutputTokens, rec.CostUSD
	} else {
		rec.Estimated = true
		rec.InputTokens, rec.CostUSD = est.Tokens, est.USD
	}

	// Output guardrails.
	if g.guard != nil && c.guardrailPolicy() != "" {
		texts := make([]string, len(resp.Choices))
		for i := range resp.Choices {
			texts[i] = resp.Choices[i].Message.Content.String()
		}
		v, err := g.guard.Output(ctx, c, texts)
		if err != nil {
			settle(chargeTokens, chargeUSD)
			g.fail(w, rec, fmt.Errorf("output guardrail: %w", err))
			return
		}
		rec.Guardrail = mergeCounts(rec.Guardrail, v.Findings)
		switch {
		case v.Blocked:
			w.Header().Set(HeaderGuardrail, "intervened")
			for i := range resp.Choices {
				resp.Choices[i].Message.Content = provider.TextContent(v.Message)
				resp.Choices[i].Message.ToolCalls = nil
				resp.Choices[i].FinishReason = "content_filter"
			}
		case v.Changed:
			w.Header().Set(HeaderGuardrail, "intervened")
			for i := range resp.Choices {
				resp.Choices[i].Message.Content = provider.TextContent(v.Texts[i])
			}
		}
	}
	if cite != nil && len(resp.Choices) > 0 {
		resp.Citations = cite(resp.Choices[0].Message.Content.String())
	}
	w.Header().Set(HeaderModel, served.ModelID)
	w.Header().Set(HeaderDeployment, served.DeploymentID)
	rec.Status = http.StatusOK
	httpapi.WriteJSON(w, http.StatusOK, resp)
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	settle(chargeTokens, chargeUSD)
	if g.cache != nil && c.cacheEnabled() && !bypass && cacheable(resp) {
		g.cache.Store(ctx, c, &req, resp)
	}
}

// ground applies the knowledge_base extension: the caller needs the retrieval scope and
// the platform a grounder.
func (g *Gateway) ground(ctx context.Context, c *Caller, kb *provider.KnowledgeBaseRef, req *provider.ChatRequest) (func(string) []byte, error) {
	if g.grounder == nil {
		return nil, httpapi.BadRequest("knowledge_base", "this gateway does not serve knowledge bases")
	}
	if kb.ID == "" {
		return nil, httpapi.BadRequest("knowledge_base.id", "knowledge_base.id is required")
	}
	if !c.Principal.Has(auth.ScopeRetrieval) {
		return nil, &httpapi.Error{Status: http.StatusForbidden, Code: "insufficient_scope", Param: "knowledge_base",
			Message: "grounding in a knowledge base needs a key with the retrieval scope"}
	}
	return g.grounder.Ground(ctx, c, kb, req)
}

func cacheable(resp *provider.ChatResponse) bool {
	for _, ch := range resp.Choices {
		if ch.FinishReason == "content_filter" || len(ch.Message.ToolCalls) > 0 {
			return false
		}
	}
	return len(resp.Choices) > 0
}

func (g *Gateway) reserve(ctx context.Context, c *Caller, model string, est Estimate) (Reservation, error) {
	if g.quota == nil {
		return nil, nil
	}
	return g.quota.Reserve(ctx, c, model, est)
}

// resolve finds the model, checks it is invocable, of the right kind, and allowed.
func (g *Gateway) resolve(ctx context.Context, c *Caller, name string, kind registry.Kind) (*registry.Model, error) {
	m, err := g.models.Resolve(ctx, name)
	if errors.Is(err, registry.ErrNotFound) {
		return nil, &httpapi.Error{Status: http.StatusNotFound, Code: "model_not_found", Param: "model",
			Message: fmt.Sprintf("The model `%s` does not exist or you do not have access to it.", name)}
	}
	if err != nil {
		return nil, fmt.Errorf("resolve model %s: %w", name, err)
	}
	if err := c.allowed(m, name); err != nil {
		return nil, &httpapi.Error{Status: http.StatusForbidden, Code: "model_not_allowed", Param: "model",
			Message: fmt.Sprintf("This key may not call model `%s`: %v", name, err)}
	}
	if !m.Status.Invocable() {
		return nil, &httpapi.Error{Status: http.StatusForbidden, Code: "model_not_approved", Param: "model",
			Message: fmt.Sprintf("Model `%s` is %s and cannot be called.", name, m.Status)}
	}
	if m.Kind != kind {
		return nil, &httpapi.Error{Status: http.StatusBadRequest, Code: "invalid_model_kind", Param: "model",
			Message: fmt.Sprintf("Model `%s` is a %s model; this endpoint needs a %s model.", name, m.Kind, kind)}
	}
	return m, nil
}

// estimateChat is the worst case a chat request may cost: its prompt plus the largest
// completion it may produce.
func estimateChat(req *provider.ChatRequest, m *registry.Model) Estimate {
	prompt := int64(estimatePromptTokens(req))
	out := min(int64(req.MaxOutputTokens()), MaxOutputTokensLimit)
	if out <= 0 {
		out = int64(m.MaxOutputTokens)
	}
	if out <= 0 {
		out = defaultMaxOutput
	}
	if m.ContextWindow > 0 && prompt+out > int64(m.ContextWindow) {
		out = max(int64(m.ContextWindow)-prompt, 1)
	}
	return Estimate{Tokens: prompt + out, USD: m.Prices.Cost(prompt, out)}
}

// estimatePromptTokens over-approximates the prompt's tokens (about 4 bytes a token
// for English under common BPE vocabularies, rounded up, plus per-message framing).
func estimatePromptTokens(req *provider.ChatRequest) int {
	n := 3
	for i := range req.Messages {
		msg := &req.Messages[i]
		n += 4 + (len(msg.Content.Text)+3)/3
		for _, p := range msg.Content.Parts {
			n += (len(p.Text) + 3) / 3
		}
		for _, tc := range msg.ToolCalls {
			n += (len(tc.Function.Name)+len(tc.Function.Arguments))/3 + 4
		}
	}
	for _, t := range req.Tools {
		n += (len(t.Function.Name)+len(t.Function.Description)+len(t.Function.Parameters))/3 + 8
	}
	return n
}

func applyInputTexts(msgs []provider.Message, texts []string) {
	for i := range msgs {
		if msgs[i].Role == "assistant" || i >= len(texts) {
			continue
		}
		if texts[i] != msgs[i].Content.String() {
			msgs[i].Content = provider.TextContent(texts[i])
		}
	}
}

func mergeCounts(dst, src map[string]int) map[string]int {
	if len(src) == 0 {
		return dst
	}
	if dst == nil {
		dst = make(map[string]int, len(src))
	}
	for k, v := range src {
		dst[k] += v
	}
	return dst
}

func (g *Gateway) writeBlocked(w http.ResponseWriter, req *provider.ChatRequest, model, message string) {
	id := "chatcmpl-" + w.Header().Get(HeaderRequestID)
	created := g.now().Unix()
	if !req.Stream {
		httpapi.WriteJSON(w, http.StatusOK, &provider.ChatResponse{
			ID: id, Object: "chat.completion", Created: created, Model: model,
			Choices: []provider.Choice{{Message: provider.Message{Role: "assistant", Content: provider.TextContent(message)}, FinishReason: "content_filter", Logprobs: nullJSON}},
			Usage:   &provider.Usage{},
		})
		return
	}
	sw := newSSE(w)
	finish := "content_filter"
	sw.chunk(&provider.ChatChunk{ID: id, Object: "chat.completion.chunk", Created: created, Model: model,
		Choices: []provider.ChunkChoice{{Delta: provider.Delta{Role: "assistant", Content: &message}, FinishReason: &finish}}})
	if req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
		sw.chunk(&provider.ChatChunk{ID: id, Object: "chat.completion.chunk", Created: created, Model: model, Choices: []provider.ChunkChoice{}, Usage: &provider.Usage{}})
	}
	sw.done()
}

var nullJSON = []byte("null")

// upstreamError maps a provider failure to the gateway's error statuses.
func upstreamError(err error) error {
	if errors.Is(err, context.Canceled) {
		return &httpapi.Error{Status: 499, Code: "client_closed_request", Message: "the client closed the request"}
	}
	pe, ok := provider.AsError(err)
	if !ok {
		var he *httpapi.Error
		if errors.As(err, &he) {
			return he
		}
		return &httpapi.Error{Status: http.StatusBadGateway, Code: "upstream_error", Message: "the model provider failed: " + err.Error()}
	}
	msg := pe.Message
	if msg == "" {
		msg = pe.Error()
	}
	switch pe.Kind {
	case provider.KindBadRequest:
		return &httpapi.Error{Status: http.StatusBadRequest, Code: "invalid_request_error", Message: msg}
	case provider.KindContextLength:
		return &httpapi.Error{Status: http.StatusBadRequest, Code: "context_length_exceeded", Param: "messages", Message: msg}
	case provider.KindContentFilter:
		return &httpapi.Error{Status: http.StatusBadRequest, Code: "content_filter", Message: msg}
	case provider.KindRateLimited:
		return &httpapi.Error{Status: http.StatusTooManyRequests, Code: "upstream_rate_limited", Message: "every deployment of the model is rate limited: " + msg, RetryAfter: max(pe.RetryAfter, time.Second)}
	case provider.KindTimeout:
		return &httpapi.Error{Status: http.StatusGatewayTimeout, Code: "upstream_timeout", Message: "the model provider timed out: " + msg}
	case provider.KindUnavailable:
		return &httpapi.Error{Status: http.StatusServiceUnavailable, Code: "upstream_unavailable", Message: "the model provider is unavailable: " + msg, RetryAfter: pe.RetryAfter}
	default:
		return &httpapi.Error{Status: http.StatusBadGateway, Code: "upstream_error", Message: "the model provider failed: " + msg}
	}
}

var errUnauthenticated = &httpapi.Error{Status: http.StatusUnauthorized, Code: "invalid_api_key", Message: "no valid credentials were supplied"}

// fail writes err and notes it on the usage record.
func (g *Gateway) fail(w http.ResponseWriter, rec *UsageRecord, err error) {
	var he *httpapi.Error
	if errors.As(err, &he) {
		rec.Status, rec.ErrorCode = he.Status, he.Code
	} else {
		rec.Status, rec.ErrorCode = http.StatusInternalServerError, "internal_error"
		g.log.Error("request failed", "request_id", rec.RequestID, "tenant", rec.TenantID, "error", err)
	}
	if rec.Status == 499 {
		return // nobody is listening
	}
	httpapi.WriteError(w, err)
}

func (g *Gateway) newRecord(ctx context.Context, c *Caller, endpoint string) *UsageRecord {
	return &UsageRecord{
		RequestID: httpapi.RequestID(ctx),
		TenantID:  c.Principal.TenantID,
		KeyID:     c.Principal.KeyID,
		Endpoint:  endpoint,
		Tags:      tenantTags(c),
		Time:      g.now(),
	}
}

// finish records usage, metrics and the request's log line.
func (g *Gateway) finish(ctx context.Context, rec *UsageRecord) {
	rec.Latency = g.now().Sub(rec.Time)
	if g.usage != nil && rec.TenantID != "" {
		g.usage.Record(ctx, *rec)
	}
	g.metrics.Observe(rec)
	if g.log.Enabled(ctx, levelFor(rec.Status)) {
		g.log.LogAttrs(ctx, levelFor(rec.Status), "request",
			slog.String("request_id", rec.RequestID), slog.String("endpoint", rec.Endpoint),
			slog.String("tenant", rec.TenantID), slog.String("key", rec.KeyID),
			slog.String("model", rec.Model), slog.String("deployment", rec.Deployment),
			slog.Int64("status", int64(rec.Status)), slog.String("error_code", rec.ErrorCode),
			slog.Int64("input_tokens", rec.InputTokens), slog.Int64("output_tokens", rec.OutputTokens),
			slog.Float64("cost_usd", rec.CostUSD), slog.Float64("latency_ms", float64(rec.Latency.Microseconds())/1000),
			slog.Bool("cache_hit", rec.CacheHit), slog.Bool("stream", rec.Streamed), slog.Bool("estimated", rec.Estimated),
			slog.Any("guardrail", rec.Guardrail))
	}
}

func tenantTags(c *Caller) map[string]string {
	if c.Tenant == nil {
		return nil
	}
	return c.Tenant.Tags
}
