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
// Inline enforcement in a gateway:
//
//	p, _ := svc.EffectivePolicy(ctx, tenantID, nil)    // nil: the tenant has no policy
//	resp, _ := engine.Apply(ctx, p, guardrail.ApplyRequest{Source: guardrail.SourceInput, Content: …})
//	if resp.Action == guardrail.ActionIntervened { … resp.Outputs[0].Text … }
//	log.Info("guardrail", "summary", guardrail.Summarize(resp)) // types and counts only
//
//	sc, _ := engine.NewStreamScanner(ctx, p, guardrail.SourceOutput)
//	safe, blocked := sc.Write(delta) … rest, blocked := sc.Flush()
//
// See README.md for the semantics, the measured figures and each detector's limits.
package guardrail
