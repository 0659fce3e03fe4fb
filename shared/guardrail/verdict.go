package guardrail

import (
	"context"
	"strings"
)

// Verdict is a compact outcome for inline enforcement. Its fields match the gateway's
// GuardVerdict one for one, so a gateway adapter converts it directly.
type Verdict struct {
	// Blocked means the content must not pass; Message is the policy's blocked message.
	Blocked bool
	Message string
	// Texts are the checked texts after masking (same order and length as the input);
	// Changed says whether any differs.
	Texts   []string
	Changed bool
	// Findings counts findings by type ("EMAIL": 2, "PROMPT_ATTACK": 1), never text.
	Findings map[string]int
	// Filters are the summary kinds of the filters that acted ("content.PROMPT_ATTACK",
	// "pii.EMAIL", "topic.<name>", ...): those that blocked, else those that masked.
	Filters []string
	// Policy names the policy that judged the content (its ID, else its name); empty when
	// there was no policy to apply.
	Policy string
}

// policyName is how a verdict names the policy that judged it.
func policyName(p *Policy) string {
	switch {
	case p.ID != "":
		return p.ID
	case p.Name != "":
		return p.Name
	}
	return "inline policy"
}

// Findings turns a summary's kinds into bare type names: "pii.EMAIL" → "EMAIL",
// "content.PROMPT_ATTACK" → "PROMPT_ATTACK", "word.profanity" → "PROFANITY",
// "word.custom" → "CUSTOM_WORD", "topic.<name>" → "DENIED_TOPIC", "regex.<name>" → "REGEX",
// "grounding.<TYPE>" → "<TYPE>".
func (s Summary) Findings() map[string]int {
	if len(s.Counts) == 0 {
		return nil
	}
	out := make(map[string]int, len(s.Counts))
	for k, v := range s.Counts {
		kind, name, _ := strings.Cut(k, ".")
		switch kind {
		case "word":
			if name == "profanity" {
				name = "PROFANITY"
			} else {
				name = "CUSTOM_WORD"
			}
		case "topic":
			name = "DENIED_TOPIC"
		case "regex":
			name = "REGEX"
		}
		out[name] += v
	}
	return out
}

// VerdictOf condenses a response for texts (the guarded texts, in order).
func VerdictOf(r ApplyResponse, texts []string) Verdict {
	sum := Summarize(r)
	v := Verdict{Texts: texts, Findings: sum.Findings()}
	switch {
	case r.Blocked():
		v.Blocked = true
		v.Filters = sum.Blocked
		if len(r.Outputs) > 0 {
			v.Message = r.Outputs[0].Text
		}
	case r.Masked() && len(r.Outputs) == len(texts):
		v.Texts = make([]string, len(texts))
		for i, o := range r.Outputs {
			v.Texts[i] = o.Text
			v.Changed = v.Changed || o.Text != texts[i]
		}
		if v.Changed {
			v.Filters = sum.Anonymized
		}
	}
	return v
}

// Checks reports whether the compiled policy evaluates anything on src.
func (c *Compiled) Checks(src Source) bool {
	r := c.side(src)
	return r.piiSet != 0 || len(r.piiNames) > 0 || len(r.regexes) > 0 || r.words != nil || r.profanity != "" ||
		len(r.topics) > 0 || len(r.content) > 0 || (src == SourceOutput && len(c.grounding) > 0) || c.Policy.Bedrock != nil
}

// PolicyByRef returns the stored policy a reference names ("id" or "id:version").
func (s *Service) PolicyByRef(ctx context.Context, ref string) (*Policy, error) {
	id, v, err := ParsePolicyRef(ref)
	if err != nil {
		return nil, err
	}
	return s.Repo.Get(ctx, id, v)
}

// PolicyByRefFor returns the stored policy a tenant's reference names if the tenant may
// apply it (its own or platform-shared; see Repository.GetFor).
func (s *Service) PolicyByRefFor(ctx context.Context, tenantID, ref string) (*Policy, error) {
	id, v, err := ParsePolicyRef(ref)
	if err != nil {
		return nil, err
	}
	return s.Repo.GetFor(ctx, tenantID, id, v)
}

// Check applies the stored policy named by ref (a tenant's guardrail_policy) to texts as
// one request: the gateway's input check (SourceInput, the prompt's texts) and output
// check (SourceOutput, the completion's texts). An empty ref passes everything.
func (s *Service) Check(ctx context.Context, ref string, src Source, texts []string) (Verdict, error) {
	if ref == "" || len(texts) == 0 {
		return Verdict{Texts: texts}, nil
	}
	p, err := s.PolicyByRef(ctx, ref)
	if err != nil {
		return Verdict{}, err
	}
	return s.CheckWith(ctx, p, src, texts)
}

// CheckWith is Check with the policy already loaded (callers that cache policies).
func (s *Service) CheckWith(ctx context.Context, p *Policy, src Source, texts []string) (Verdict, error) {
	if p == nil {
		return Verdict{Texts: texts}, nil
	}
	if len(texts) == 0 {
		return Verdict{Texts: texts, Policy: policyName(p)}, nil
	}
	resp, err := s.Engine.Apply(ctx, p, NewTextRequest(src, texts...))
	if err != nil {
		return Verdict{}, err
	}
	v := VerdictOf(resp, texts)
	v.Policy = policyName(p)
	return v, nil
}

// Message is one chat message for CheckMessages.
type Message struct {
	Role string // "system", "developer", "user", "tool", "assistant"
	Text string
}

// CheckMessages is Check for chat messages: system and developer messages are evaluated by
// every policy except PROMPT_ATTACK (they are the operator's instructions, which read like
// role-play prompts), and assistant messages are passed through unchecked. Verdict.Texts
// has one entry per message.
func (s *Service) CheckMessages(ctx context.Context, ref string, src Source, msgs []Message) (Verdict, error) {
	texts := make([]string, len(msgs))
	for i, m := range msgs {
		texts[i] = m.Text
	}
	if ref == "" || len(msgs) == 0 {
		return Verdict{Texts: texts}, nil
	}
	p, err := s.PolicyByRef(ctx, ref)
	if err != nil {
		return Verdict{}, err
	}
	return s.CheckMessagesWith(ctx, p, src, msgs)
}

// CheckMessagesWith is CheckMessages with the policy already loaded.
func (s *Service) CheckMessagesWith(ctx context.Context, p *Policy, src Source, msgs []Message) (Verdict, error) {
	texts := make([]string, len(msgs))
	for i, m := range msgs {
		texts[i] = m.Text
	}
	if p == nil {
		return Verdict{Texts: texts}, nil
	}
	if len(msgs) == 0 {
		return Verdict{Texts: texts, Policy: policyName(p)}, nil
	}
	req := ApplyRequest{Source: src}
	var idx []int // message index of each content block
	for i, m := range msgs {
		if m.Role == "assistant" && src == SourceInput {
			continue
		}
		req.Content = append(req.Content, ContentBlock{Text: &TextBlock{Text: m.Text}, trusted: m.Role == "system" || m.Role == "developer"})
		idx = append(idx, i)
	}
	if len(req.Content) == 0 {
		return Verdict{Texts: texts, Policy: policyName(p)}, nil
	}
	resp, err := s.Engine.Apply(ctx, p, req)
	if err != nil {
		return Verdict{}, err
	}
	guarded := make([]string, len(idx))
	for k, i := range idx {
		guarded[k] = texts[i]
	}
	v := VerdictOf(resp, guarded)
	out := append([]string(nil), texts...)
	for k, i := range idx {
		out[i] = v.Texts[k]
	}
	v.Texts = out
	v.Policy = policyName(p)
	return v, nil
}

// OutputStream starts a stream scanner for the policy named by ref, or returns nil when
// the policy checks no output (or ref is empty).
func (s *Service) OutputStream(ctx context.Context, ref string, opts ...StreamOption) (*StreamScanner, error) {
	if ref == "" {
		return nil, nil
	}
	p, err := s.PolicyByRef(ctx, ref)
	if err != nil {
		return nil, err
	}
	return s.OutputStreamWith(ctx, p, opts...)
}

// OutputStreamWith is OutputStream with the policy already loaded.
func (s *Service) OutputStreamWith(ctx context.Context, p *Policy, opts ...StreamOption) (*StreamScanner, error) {
	if p == nil {
		return nil, nil
	}
	c, err := s.Engine.compiled(ctx, p)
	if err != nil {
		return nil, err
	}
	if !c.Checks(SourceOutput) {
		return nil, nil
	}
	return s.Engine.NewStreamScanner(ctx, p, SourceOutput, opts...)
}
