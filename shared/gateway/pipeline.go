package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/plinth-ai/plinth/shared/auth"
	"github.com/plinth-ai/plinth/shared/cache"
	"github.com/plinth-ai/plinth/shared/httpapi"
	"github.com/plinth-ai/plinth/shared/provider"
	"github.com/plinth-ai/plinth/shared/quota"
	"github.com/plinth-ai/plinth/shared/registry"
	"github.com/plinth-ai/plinth/shared/tenant"
)

// defaultMaxOutput is reserved when neither the request nor the model caps output.
const defaultMaxOutput = 4096

// errNoCaller refuses a request made without a caller.
var errNoCaller = &Error{Kind: ErrInvalidRequest, Message: "the request has no caller"}

// call is one chat completion on its way through the pipeline. The steps before the
// model call are shared by Chat and ChatStream (prepare); settle and finish end it
// exactly once whatever happens.
type call struct {
	g   *Gateway
	ctx context.Context
	c   *Caller
	rec *UsageRecord

	model      *registry.Model
	deprecated bool
	// callerMsgs are the caller's messages (masked once the input guardrail ran); req is
	// what the model sees: the caller's messages framed by the platform, if framed.
	callerMsgs []provider.Message
	frame      func([]provider.Message) []provider.Message
	req        provider.ChatRequest
	cite       func(string) []byte
	est        Estimate
	res        *quota.Reservation
	settled    bool
	useCache   bool
	guardrail  *Guardrail
	// policy names the guardrail policy that judged the request (its tenant's, under the
	// platform's baseline), once one did.
	policy   string
	finished bool
	// record is rec's storage: one allocation for the call and its record.
	record UsageRecord
}

// begin starts the pipeline's bookkeeping for one request: the usage record every
// request gets, whatever happens to it.
func (g *Gateway) begin(ctx context.Context, c *Caller, endpoint string) *call {
	cl := &call{g: g, ctx: ctx, c: c, record: UsageRecord{
		RequestID: requestID(ctx),
		Endpoint:  endpoint,
		Time:      g.now(),
	}}
	cl.rec = &cl.record
	if c != nil {
		cl.rec.TenantID, cl.rec.KeyID, cl.rec.Tags = c.Principal.TenantID, c.Principal.KeyID, tenantTags(c)
	}
	return cl
}

// prepare runs the steps before the model call on a validated request: resolve,
// ground, reserve, guard in, cache. It returns a result instead when the request is answered without the
// model (the input guardrail blocked it, or the cache had it), and an error when it is
// refused. Either way the call must be finished.
func (cl *call) prepare(req *ChatRequest) (*ChatResult, error) {
	g, ctx, c := cl.g, cl.ctx, cl.c
	if c == nil {
		return nil, errNoCaller
	}
	cl.rec.Streamed = req.Stream
	m, err := g.resolve(ctx, c, req.Model, registry.KindChat)
	if err != nil {
		return nil, err
	}
	cl.model, cl.rec.Model = m, m.ID
	cl.deprecated = m.Status == registry.StatusDeprecated

	// Ground: retrieval for the caller's question, framed with the platform's prompt.
	cl.callerMsgs, cl.frame = req.Messages, req.Frame
	if kb := req.KnowledgeBase; kb != nil {
		gr, err := g.ground(ctx, c, kb, req.Messages)
		if err != nil {
			return nil, err
		}
		cl.cite = gr.Cite
		cl.frame = chainFrames(gr.Frame, req.Frame)
	}
	cl.req = req.ChatRequest
	cl.req.KnowledgeBase = nil
	cl.req.Messages = cl.prompt()

	// Reserve the worst case of what the model will see.
	cl.est = estimateChat(&cl.req, m)
	if err := cl.reserve(); err != nil {
		return nil, err
	}

	// Guard in: what the caller sent, never what the platform wrote around it.
	if g.guard != nil && len(cl.callerMsgs) > 0 {
		v, err := g.guard.Input(ctx, c, cl.callerMsgs)
		if err != nil {
			cl.settle(0, 0)
			return nil, &Error{Kind: ErrGuardrailUnavailable, Err: err,
				Message: fmt.Sprintf("the guardrail policy %s could not be applied to the input", cl.policyName())}
		}
		cl.judged(v.Policy)
		cl.rec.Guardrail = mergeCounts(cl.rec.Guardrail, v.Findings)
		switch {
		case v.Blocked:
			cl.settle(0, 0)
			cl.intervene(SourceInput, ActionBlocked, v.Filters)
			cl.rec.ErrorCode = "guardrail_input_blocked"
			return cl.blocked(v.Message), nil
		case v.Changed:
			cl.intervene(SourceInput, ActionAnonymized, v.Filters)
			cl.callerMsgs = maskedMessages(cl.callerMsgs, v.Texts)
			cl.req.Messages = cl.prompt()
		}
	}

	// Cache.
	cl.useCache = g.cache != nil && c.cacheEnabled() && !req.NoCache
	if cl.useCache {
		if hit := cl.cached(); hit != nil {
			cl.settle(0, 0)
			cl.rec.CacheHit = true
			return &ChatResult{Response: hit, Served: Served{ModelID: hit.Model}, CacheHit: true, Deprecated: cl.deprecated, Guardrail: cl.guardrail}, nil
		}
	}
	return nil, nil
}

// reserve holds the call's estimate against the caller's tenant and key limits.
func (cl *call) reserve() error {
	if cl.g.quota == nil {
		return nil
	}
	c := cl.c
	if c.Tenant == nil {
		return fmt.Errorf("reserve quota: caller %s has no tenant", c.Principal.KeyID)
	}
	limits := c.Tenant.Limits
	if c.OwnBudget {
		limits = tenant.Limits{}
	}
	r, err := cl.g.quota.Reserve(cl.ctx, quota.ReserveRequest{Tenant: c.Tenant.ID, KeyID: c.Principal.KeyID, Limits: limits,
		KeyLimits: c.KeyLimits, EstTokens: cl.est.Tokens, EstUSD: cl.est.USD})
	if err != nil {
		return fmt.Errorf("reserve quota for tenant %s on model %s: %w", c.Tenant.ID, cl.rec.Model, err)
	}
	cl.res = r
	return nil
}

// cached is the tenant's cached answer to the call, or nil. A cache failure is a miss.
func (cl *call) cached() *provider.ChatResponse {
	e, hit, err := cl.g.cache.Lookup(cl.ctx, cl.c.Principal.TenantID, &cl.req, cl.c.Tenant.Cache)
	if err != nil {
		cl.g.log.WarnContext(cl.ctx, "cache lookup failed", "tenant", cl.c.Principal.TenantID, "error", err)
		return nil
	}
	if hit == cache.Miss || e == nil {
		return nil
	}
	return e.Response
}

// store caches a complete answer to the call. A cache failure is logged.
func (cl *call) store(resp *provider.ChatResponse) {
	ctx := context.WithoutCancel(cl.ctx)
	if err := cl.g.cache.Store(ctx, cl.c.Principal.TenantID, &cl.req, cl.c.Tenant.Cache, &cache.Entry{Response: resp}); err != nil {
		cl.g.log.WarnContext(ctx, "cache store failed", "tenant", cl.c.Principal.TenantID, "error", err)
	}
}

// prompt is what the model sees: the caller's messages, framed when the platform frames them.
func (cl *call) prompt() []provider.Message {
	if cl.frame == nil {
		return cl.callerMsgs
	}
	return cl.frame(cl.callerMsgs)
}

// chainFrames applies first, then second (either may be nil).
func chainFrames(first, second func([]provider.Message) []provider.Message) func([]provider.Message) []provider.Message {
	switch {
	case first == nil:
		return second
	case second == nil:
		return first
	}
	return func(msgs []provider.Message) []provider.Message { return second(first(msgs)) }
}

// ground applies the knowledge_base extension: the caller needs the retrieval scope and
// the platform a grounder.
func (g *Gateway) ground(ctx context.Context, c *Caller, kb *provider.KnowledgeBaseRef, msgs []provider.Message) (*Grounding, error) {
	if g.grounder == nil {
		return nil, &Error{Kind: ErrGroundingUnavailable, Param: "knowledge_base", Message: "this gateway does not serve knowledge bases"}
	}
	if kb.ID == "" {
		return nil, invalid("knowledge_base.id", "knowledge_base.id is required")
	}
	if !c.Principal.Has(auth.ScopeRetrieval) {
		return nil, &Error{Kind: ErrInsufficientScope, Param: "knowledge_base",
			Message: "grounding in a knowledge base needs a key with the retrieval scope"}
	}
	gr, err := g.grounder.Ground(ctx, c, kb, msgs)
	if err != nil {
		return nil, fmt.Errorf("ground in knowledge base %s: %w", kb.ID, err)
	}
	return gr, nil
}

// resolve finds the model, checks it is invocable, of the right kind, and allowed.
func (g *Gateway) resolve(ctx context.Context, c *Caller, name string, kind registry.Kind) (*registry.Model, error) {
	m, err := g.models.Resolve(ctx, name)
	if errors.Is(err, registry.ErrNotFound) {
		return nil, &Error{Kind: ErrModelNotFound, Param: "model", Err: err,
			Message: fmt.Sprintf("The model `%s` does not exist or you do not have access to it.", name)}
	}
	if err != nil {
		return nil, fmt.Errorf("resolve model %s: %w", name, err)
	}
	if !c.sees(m) {
		return nil, &Error{Kind: ErrModelNotFound, Param: "model",
			Message: fmt.Sprintf("The model `%s` does not exist or you do not have access to it.", name)}
	}
	if err := c.allowed(m, name); err != nil {
		kind := ErrModelNotAllowed
		if errors.Is(err, tenant.ErrScope) {
			kind = ErrInsufficientScope
		}
		msg := err.Error()
		var he *httpapi.Error
		if errors.As(tenant.APIError(err), &he) {
			msg = he.Message
		}
		return nil, &Error{Kind: kind, Param: "model", Err: err, Message: msg}
	}
	if !c.callable(m) {
		return nil, &Error{Kind: ErrModelNotApproved, Param: "model",
			Message: fmt.Sprintf("Model `%s` is %s and cannot be called.", name, m.Status)}
	}
	if m.Kind != kind {
		return nil, &Error{Kind: ErrModelKind, Param: "model",
			Message: fmt.Sprintf("Model `%s` is %s %s model; this endpoint needs %s %s model.", name, article(string(m.Kind)), m.Kind, article(string(kind)), kind)}
	}
	return m, nil
}

// article is "an" before a vowel, else "a".
func article(word string) string {
	if word != "" && strings.ContainsRune("aeiou", rune(word[0])) {
		return "an"
	}
	return "a"
}

// settle reconciles the reservation once; later calls do nothing.
func (cl *call) settle(tokens int64, usd float64) {
	if cl.settled {
		return
	}
	cl.settled = true
	if cl.res == nil {
		return
	}
	if err := cl.g.quota.Reconcile(context.WithoutCancel(cl.ctx), cl.res, tokens, usd); err != nil {
		cl.g.log.ErrorContext(cl.ctx, "quota settle failed; reservation stands", "request_id", cl.rec.RequestID, "tenant", cl.rec.TenantID, "error", err)
	}
}

// charge settles what the provider reported, or, when it reported nothing, the whole
// reservation with the record flagged as estimated.
func (cl *call) charge(usage *provider.Usage, prices registry.Prices) {
	rec := cl.rec
	if usage != nil {
		rec.InputTokens, rec.OutputTokens = int64(usage.PromptTokens), int64(usage.CompletionTokens)
		rec.CostUSD = prices.Cost(rec.InputTokens, rec.OutputTokens)
		cl.settle(rec.InputTokens+rec.OutputTokens, rec.CostUSD)
		return
	}
	rec.Estimated = true
	rec.InputTokens, rec.CostUSD = cl.est.Tokens, cl.est.USD
	cl.settle(cl.est.Tokens, cl.est.USD)
}

// chargeAttempts settles every attempt of a routed stream, each at its own model's
// prices, flagging the record estimated when an attempt's upstream reported no usage;
// the record names the model and deployment that answered last.
func (cl *call) chargeAttempts(spends []provider.Spend, served Served) {
	rec := cl.rec
	rec.InputTokens, rec.OutputTokens, rec.CostUSD = 0, 0, 0
	for _, sp := range spends {
		prices := served.Prices
		if sp.ModelID != served.ModelID {
			if m, err := cl.g.models.Resolve(cl.ctx, sp.ModelID); err == nil {
				prices = m.Prices
			}
		}
		in, out := int64(sp.Usage.PromptTokens), int64(sp.Usage.CompletionTokens)
		rec.InputTokens += in
		rec.OutputTokens += out
		rec.CostUSD += prices.Cost(in, out)
		rec.Estimated = rec.Estimated || sp.Estimated
	}
	last := spends[len(spends)-1]
	rec.Model, rec.Deployment = last.ModelID, last.DeploymentID
	cl.settle(rec.InputTokens+rec.OutputTokens, rec.CostUSD)
}

// finish ends the call: an unsettled reservation is kept whole (a panic or an early
// return must not lose spend), and the usage record, metrics and log line are written.
// err is how the request ended (nil for an answer).
func (cl *call) finish(err error) {
	if cl.finished {
		return
	}
	cl.finished = true
	if !cl.settled && cl.res != nil {
		cl.rec.Estimated = true
		cl.settle(cl.est.Tokens, cl.est.USD)
	}
	if err != nil {
		cl.rec.Status, cl.rec.ErrorCode = statusOf(err), codeOf(err)
		if cl.rec.Status == statusInternal {
			cl.g.log.ErrorContext(cl.ctx, "request failed", "request_id", cl.rec.RequestID, "tenant", cl.rec.TenantID, "error", err)
		}
	} else if cl.rec.Status == 0 {
		cl.rec.Status = statusOK
	}
	cl.g.record(cl.ctx, cl.rec)
}

// judged notes that a guardrail policy judged the request ("" when none applied).
func (cl *call) judged(policy string) {
	if policy != "" {
		cl.policy = policy
		cl.rec.Guarded = true
	}
}

// policyName names the guardrail policy of the request for messages: the one that judged
// it, else the tenant's, else the platform's baseline.
func (cl *call) policyName() string {
	switch {
	case cl.policy != "":
		return cl.policy
	case cl.c.guardrailPolicy() != "":
		return cl.c.guardrailPolicy()
	}
	return "(platform baseline)"
}

// intervene notes a guardrail action on the result.
func (cl *call) intervene(source, action string, kinds []string) {
	if cl.guardrail == nil {
		cl.guardrail = &Guardrail{Policy: cl.policyName()}
	}
	cl.guardrail.Interventions = append(cl.guardrail.Interventions, Intervention{Source: source, Action: action, Filters: filtersOf(kinds)})
}

// blocked is the answer to a request the input guardrail blocked: the policy's message,
// finish reason content_filter, no tokens.
func (cl *call) blocked(message string) *ChatResult {
	return &ChatResult{
		Response: &provider.ChatResponse{
			ID: "chatcmpl-" + cl.rec.RequestID, Object: "chat.completion", Created: cl.g.now().Unix(), Model: cl.model.ID,
			Choices: []provider.Choice{{Message: provider.Message{Role: "assistant", Content: provider.TextContent(message)}, FinishReason: "content_filter", Logprobs: nullJSON}},
			Usage:   &provider.Usage{},
		},
		Served:     Served{ModelID: cl.model.ID},
		Deprecated: cl.deprecated,
		Guardrail:  cl.guardrail,
	}
}

var nullJSON = []byte("null")

// filtersOf names the guardrail summary kinds ("content.PROMPT_ATTACK", "pii.EMAIL",
// "word.custom", "topic.<name>", ...) as Amazon Bedrock Guardrails' assessments do.
func filtersOf(kinds []string) []Filter {
	out := make([]Filter, 0, len(kinds))
	for _, k := range kinds {
		kind, name, _ := strings.Cut(k, ".")
		f := Filter{Type: name}
		switch kind {
		case "pii":
			f.Policy = "sensitiveInformationPolicy"
		case "regex":
			f = Filter{Policy: "sensitiveInformationPolicy", Type: "REGEX", Name: name}
		case "word":
			f.Policy, f.Type = "wordPolicy", "CUSTOM_WORD"
			if name == "profanity" {
				f.Type = "PROFANITY"
			}
		case "topic":
			f = Filter{Policy: "topicPolicy", Type: "DENY", Name: name}
		case "content":
			f.Policy = "contentPolicy"
		case "grounding":
			f.Policy = "contextualGroundingPolicy"
		default:
			f.Policy = kind
		}
		out = append(out, f)
	}
	return out
}

// maskedMessages returns msgs with the guardrail's masked texts, leaving msgs (the
// caller's slice) untouched; assistant turns are never rewritten.
func maskedMessages(msgs []provider.Message, texts []string) []provider.Message {
	out := append([]provider.Message(nil), msgs...)
	for i := range out {
		if out[i].Role == "assistant" || i >= len(texts) {
			continue
		}
		if texts[i] != out[i].Content.String() {
			out[i].Content = provider.TextContent(texts[i])
		}
	}
	return out
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

// requestID is the request's ID from ctx, or a new one for calls made in process.
func requestID(ctx context.Context) string {
	if id := httpapi.RequestID(ctx); id != "" {
		return id
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "req_" + hex.EncodeToString(b[:])
}
