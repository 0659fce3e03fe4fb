// Package guardrail evaluates text against guardrail policies written in Amazon Bedrock
// Guardrails' configuration schema and answers in the shape of Bedrock's ApplyGuardrail.
//
// Wiring:
//
//	engine, _ := guardrail.New()                       // embedded models; WithEmbedder, WithDelegate
//	repo := guardrail.NewRepository(store)             // named, versioned policies on the store port
//	svc := guardrail.NewService(engine, repo, guardrail.WithTenantPolicy(lookup))
//	guardrailhttp.Routes(mux, svc)                     // POST /v1/guardrails/apply, /admin/guardrail-policies…
//
// Inline enforcement in a gateway (ref is the tenant's guardrail_policy, "id" or "id:version"):
//
//	v, err := svc.CheckMessages(ctx, ref, guardrail.SourceInput, msgs) // system prompts skip PROMPT_ATTACK
//	v, err := svc.Check(ctx, ref, guardrail.SourceOutput, []string{answer})
//	gv := gateway.GuardVerdict(v)                      // identical fields: Blocked, Message, Texts, Changed, Findings, Filters, Policy
//	sg, err := svc.OutputStream(ctx, ref)              // nil when the policy checks no output
//	safe, blocked := sg.Write(delta) … rest, blocked := sg.Flush(); sg.Findings(); sg.Message()
//
// Lower level: engine.Apply(ctx, policy, req) → ApplyResponse (Blocked(), Masked(),
// Summarize(resp) for logs: types and counts only).
//
// See README.md for the semantics, the measured figures and each detector's limits.
package guardrail
