package gateway

import (
	"context"
	"fmt"

	"github.com/plinth-ai/plinth/shared/provider"
)

// Chat runs one chat completion for c and returns it whole (req.Stream is ignored; use
// ChatStream to stream). A request a guardrail blocked is a result, not an error (see
// ChatResult.Guardrail); refusals and failures are errors matching the package's
// sentinels or quota's. The reservation is settled and the usage recorded before Chat
// returns.
func (g *Gateway) Chat(ctx context.Context, c *Caller, req *ChatRequest) (*ChatResult, error) {
	return g.chat(ctx, c, req, nil)
}

// chat is Chat with deliver, when not nil, called with the result as soon as it is
// final, before the reservation is settled, the answer cached and the usage recorded:
// the HTTP adapter sends the response then, keeping those writes off the client's
// critical path.
func (g *Gateway) chat(ctx context.Context, c *Caller, in *ChatRequest, deliver func(*ChatResult)) (res *ChatResult, err error) {
	cl := g.begin(ctx, c, "chat.completions")
	defer func() { cl.finish(err) }()
	req := *in
	if err := validateChat(&req.ChatRequest, req.Frame != nil); err != nil {
		return nil, err
	}
	req.Stream, req.StreamOptions = false, nil
	early, err := cl.prepare(&req)
	if err != nil {
		return nil, err
	}
	if early != nil {
		if deliver != nil {
			deliver(early)
		}
		return early, nil
	}

	resp, served, err := g.invoker.Chat(ctx, cl.model, &cl.req)
	cl.rec.Deployment = served.DeploymentID
	if err != nil {
		cl.settle(0, 0)
		return nil, upstreamError(err)
	}
	resp.Model = served.ModelID
	cl.rec.Model = served.ModelID
	if resp.Object == "" {
		resp.Object = "chat.completion"
	}
	if resp.ID == "" {
		resp.ID = "chatcmpl-" + cl.rec.RequestID
	}
	// What to charge is known now; it is settled once the result is delivered.
	var usage *provider.Usage
	if resp.Usage != nil {
		u := *resp.Usage
		usage = &u
		cl.rec.InputTokens, cl.rec.OutputTokens = int64(u.PromptTokens), int64(u.CompletionTokens)
	}

	// Guard out.
	blocked := false
	if g.guard != nil {
		texts := make([]string, len(resp.Choices))
		for i := range resp.Choices {
			texts[i] = resp.Choices[i].Message.Content.String()
		}
		v, err := g.guard.Output(ctx, c, texts)
		if err != nil {
			cl.charge(usage, served.Prices)
			return nil, &Error{Kind: ErrGuardrailUnavailable, Err: err,
				Message: fmt.Sprintf("the guardrail policy %s could not be applied to the answer", cl.policyName())}
		}
		cl.judged(v.Policy)
		cl.rec.Guardrail = mergeCounts(cl.rec.Guardrail, v.Findings)
		switch {
		case v.Blocked:
			blocked = true
			cl.intervene(SourceOutput, ActionBlocked, v.Filters)
			for i := range resp.Choices {
				resp.Choices[i].Message.Content = provider.TextContent(v.Message)
				resp.Choices[i].Message.ToolCalls = nil
				resp.Choices[i].FinishReason = "content_filter"
			}
		case v.Changed:
			cl.intervene(SourceOutput, ActionAnonymized, v.Filters)
			for i := range resp.Choices {
				resp.Choices[i].Message.Content = provider.TextContent(v.Texts[i])
			}
		}
	}
	if cl.cite != nil && len(resp.Choices) > 0 && !blocked {
		resp.Citations = cl.cite(resp.Choices[0].Message.Content.String())
	}
	res = &ChatResult{Response: resp, Served: served, Deprecated: cl.deprecated, Guardrail: cl.guardrail}
	if deliver != nil {
		deliver(res)
	}
	cl.charge(usage, served.Prices)
	if cl.useCache && cacheable(resp) {
		cl.store(resp)
	}
	return res, nil
}

func cacheable(resp *provider.ChatResponse) bool {
	for _, ch := range resp.Choices {
		if ch.FinishReason == "content_filter" || len(ch.Message.ToolCalls) > 0 {
			return false
		}
	}
	return len(resp.Choices) > 0
}
