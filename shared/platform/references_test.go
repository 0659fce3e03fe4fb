package platform

import (
	"context"
	"net/http"
	"testing"

	"github.com/plinth-ai/plinth/shared/httpapi"
	"github.com/plinth-ai/plinth/shared/tenant"
)

// TestReferencesAreValidatedOnWrite: a resource that names another that does not exist
// (or is of the wrong kind, or another tenant's) is refused when written, naming the
// field and what is wrong, and nothing is stored.
func TestReferencesAreValidatedOnWrite(t *testing.T) {
	c, _ := newAPIClient(t)
	c.mustDo("POST", "/admin/tenants", c.admin, `{"id":"acme"}`, http.StatusCreated)
	c.mustDo("POST", "/admin/tenants", c.admin, `{"id":"other"}`, http.StatusCreated)
	c.mustDo("POST", "/admin/guardrail-policies", c.admin, `{"id":"gr-others","name":"others","tenant":"other","wordPolicyConfig":{"wordsConfig":[{"text":"darn"}]}}`, http.StatusCreated)
	c.mustDo("POST", "/admin/knowledge-bases", c.admin, `{"tenant":"acme","id":"docs"}`, http.StatusCreated)

	for _, r := range []struct {
		name, method, path, body string
		status                   int
		code, param              string
		mentions                 []string
	}{
		{"tenant allowed_models", "POST", "/admin/tenants", `{"id":"t2","allowed_models":["local-chat","gpt-9"]}`,
			404, httpapi.CodeModelNotFound, "allowed_models[1]", []string{"gpt-9", "POST /admin/models"}},
		{"patch allowed_models", "PATCH", "/admin/tenants/acme", `{"allowed_models":["gpt-9"]}`,
			404, httpapi.CodeModelNotFound, "allowed_models[0]", []string{"gpt-9"}},
		{"unknown guardrail policy", "PATCH", "/admin/tenants/acme", `{"guardrail_policy":"gr-nope"}`,
			404, httpapi.CodeNotFound, "guardrail_policy", []string{"gr-nope"}},
		{"another tenant's guardrail policy", "PATCH", "/admin/tenants/acme", `{"guardrail_policy":"gr-others"}`,
			404, httpapi.CodeNotFound, "guardrail_policy", []string{"gr-others"}},
		{"knowledge base of an unknown tenant", "POST", "/admin/knowledge-bases", `{"tenant":"zzz","id":"kb"}`,
			404, httpapi.CodeNotFound, "tenant", []string{"zzz"}},
		{"knowledge base with an unknown embedding model", "POST", "/admin/knowledge-bases", `{"tenant":"acme","id":"kb","embedding_model":"nope"}`,
			404, httpapi.CodeModelNotFound, "embedding_model", []string{"nope"}},
		{"knowledge base with a chat model for embeddings", "POST", "/admin/knowledge-bases", `{"tenant":"acme","id":"kb","embedding_model":"local-chat"}`,
			400, httpapi.CodeInvalidRequest, "embedding_model", []string{"a chat model", "an embedding model"}},
		{"suite of an unknown tenant", "POST", "/admin/eval-suites", suite("zzz", "s"),
			404, httpapi.CodeNotFound, "tenant", []string{"zzz"}},
		{"suite targeting an unknown model", "POST", "/admin/eval-suites", `{"tenant":"acme","id":"s","dataset":{"items":[{"id":"1","input":"x"}]},"target":{"model":"nope"}}`,
			404, httpapi.CodeModelNotFound, "target.model", []string{"nope"}},
		{"suite targeting an embedding model", "POST", "/admin/eval-suites", `{"tenant":"acme","id":"s","dataset":{"items":[{"id":"1","input":"x"}]},"target":{"model":"local-embed"}}`,
			400, httpapi.CodeInvalidRequest, "target.model", []string{"an embedding model"}},
		{"suite judged by an unknown model", "POST", "/admin/eval-suites", `{"tenant":"acme","id":"s","dataset":{"items":[{"id":"1","input":"x"}]},"target":{"model":"local-chat"},"judge":{"model":"nope"}}`,
			404, httpapi.CodeModelNotFound, "judge.model", []string{"nope"}},
		{"suite over another tenant's knowledge base", "POST", "/admin/eval-suites", `{"tenant":"other","id":"s","dataset":{"items":[{"id":"1","input":"x"}]},"target":{"model":"local-chat","knowledge_base":"docs"}}`,
			404, httpapi.CodeNotFound, "target.knowledge_base", []string{"docs"}},
		{"suite naming an unknown prompt", "POST", "/admin/eval-suites", `{"tenant":"acme","id":"s","dataset":{"items":[{"id":"1","input":"x"}]},"target":{"model":"local-chat","prompt":{"id":"nope"}}}`,
			404, httpapi.CodeNotFound, "target.prompt", []string{"nope"}},
		{"model falling back to an unknown model", "POST", "/admin/models", `{"id":"m1","kind":"chat","deployments":[{"provider":"local","model":"echo"}],"fallbacks":["nope"]}`,
			404, httpapi.CodeModelNotFound, "fallbacks[0]", []string{"nope"}},
		{"chat model falling back to an embedding model", "POST", "/admin/models", `{"id":"m1","kind":"chat","deployments":[{"provider":"local","model":"echo"}],"fallbacks":["local-embed"]}`,
			400, httpapi.CodeInvalidRequest, "fallbacks[0]", []string{"an embedding model"}},
		{"agent of an unknown tenant", "POST", "/admin/agents", `{"tenant":"zzz","id":"a1","model":"local-chat"}`,
			404, httpapi.CodeNotFound, "tenant", []string{"zzz"}},
		{"agent on an unknown model", "POST", "/admin/agents", `{"tenant":"acme","id":"a1","model":"nope"}`,
			404, httpapi.CodeModelNotFound, "model", []string{"nope"}},
		{"review queue of an unknown tenant", "POST", "/admin/review-queues", `{"tenant":"zzz","name":"q","kind":"rubric","criteria":[{"name":"c","max":5}],"source":{"type":"samples","samples":[{"input":"x","output":"y"}]}}`,
			404, httpapi.CodeNotFound, "tenant", []string{"zzz"}},
		{"review queue of an unknown run", "POST", "/admin/review-queues", `{"tenant":"acme","name":"q","kind":"rubric","criteria":[{"name":"c","max":5}],"source":{"type":"eval_run","run_id":"run-nope"}}`,
			404, httpapi.CodeNotFound, "source.run_id", []string{"run-nope"}},
	} {
		t.Run(r.name, func(t *testing.T) {
			c.t = t
			c.expectError(r.method, r.path, c.admin, r.body, r.status, r.code, r.param, r.mentions...)
		})
	}
	c.t = t
	// Nothing was stored.
	c.expectError("GET", "/admin/tenants/t2", c.admin, "", 404, httpapi.CodeNotFound, "", "t2")
	c.expectError("GET", "/admin/knowledge-bases/kb?tenant=acme", c.admin, "", 404, httpapi.CodeNotFound, "", "kb")
	c.expectError("GET", "/admin/eval-suites/s?tenant=acme", c.admin, "", 404, httpapi.CodeNotFound, "", "s")
	c.expectError("GET", "/admin/models/m1", c.admin, "", 404, httpapi.CodeModelNotFound, "", "m1")
	// A valid reference is accepted.
	c.mustDo("PATCH", "/admin/tenants/acme", c.admin, `{"allowed_models":["local-chat","local-embed"]}`, http.StatusOK)
}

// TestTenantWhosePolicyVanishedGetsAClearError: a tenant whose record names a policy it
// cannot apply (written before references were checked, or by hand) is refused with a
// 503 that names the policy and the fix, not an opaque 500.
func TestTenantWhosePolicyVanishedGetsAClearError(t *testing.T) {
	c, l := newAPIClient(t)
	// A tenant service without reference checks writes what an older platform accepted.
	unchecked := tenant.NewService(l.Store)
	if _, err := unchecked.UpdateTenant(context.Background(), "demo", func(tn *tenant.Tenant) error {
		tn.GuardrailPolicy = "gr-gone"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	chat := `{"model":"local-chat","messages":[{"role":"user","content":"Plinth is a platform. What is Plinth?"}]}`
	c.expectError("POST", "/v1/chat/completions", l.DemoKey, chat, http.StatusServiceUnavailable, httpapi.CodeGuardrailPolicyMissing, "", "gr-gone", "PATCH /admin/tenants/demo")
	// The admin's fix: assign an existing policy (or none).
	c.mustDo("PATCH", "/admin/tenants/demo", c.admin, `{"guardrail_policy":""}`, http.StatusOK)
	c.mustDo("POST", "/v1/chat/completions", l.DemoKey, chat, http.StatusOK)
}
