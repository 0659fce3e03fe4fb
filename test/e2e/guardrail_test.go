package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/plinth-ai/plinth/shared/provider/providertest"
	"github.com/plinth-ai/plinth/test/e2e/platformtest"
)

var emailPolicy = map[string]any{
	"name": "e2e-pii",
	"sensitiveInformationPolicyConfig": map[string]any{"piiEntitiesConfig": []any{
		map[string]any{"type": "EMAIL", "action": "ANONYMIZE"},
		map[string]any{"type": "US_SOCIAL_SECURITY_NUMBER", "action": "BLOCK"},
	}},
}

// TestTenantGuardrailPolicy: a tenant's PII policy anonymises an email before it
// reaches the upstream, blocks a social security number without calling it, and
// /v1/guardrails/apply answers in ApplyGuardrail's shape.
func TestTenantGuardrailPolicy(t *testing.T) {
	e := sharedEnv(t)
	ctx := ctxFor(t)
	r, err := e.p.Admin(ctx, http.MethodPost, "/admin/guardrail-policies", emailPolicy)
	if err != nil || r.Status != http.StatusCreated {
		t.Fatalf("POST /admin/guardrail-policies: %v %v", err, r)
	}
	var policy struct {
		ID string `json:"id"`
	}
	if err := r.JSON(&policy); err != nil || policy.ID == "" {
		t.Fatalf("policy without an id: %v %s", err, r.Body)
	}
	up := newUpstream(t, providertest.WithReply("Noted."))
	registerApproved(t, e.p, platformtest.OpenAIModel("e2e-guarded", "chat", up.BaseURL(), "guarded"))
	key := tenantWithKey(t, e, map[string]any{"id": "e2e-guarded", "name": "Guarded", "guardrail_policy": policy.ID})

	r, err = e.p.Do(ctx, http.MethodPost, "/v1/chat/completions", key,
		`{"model":"e2e-guarded","messages":[{"role":"user","content":"Please write to jane.doe@example.com today."}]}`)
	if err != nil || r.Status != http.StatusOK {
		t.Fatalf("chat with an email: %v %v", err, r)
	}
	sent, _ := up.LastRequest()
	if strings.Contains(string(sent), "jane.doe@example.com") || !strings.Contains(string(sent), "{EMAIL}") {
		t.Errorf("the upstream received %s, want the email anonymised as {EMAIL}", sent)
	}

	before := up.Requests()
	r, err = e.p.Do(ctx, http.MethodPost, "/v1/chat/completions", key,
		`{"model":"e2e-guarded","messages":[{"role":"user","content":"My SSN is 123-45-6789."}]}`)
	if err != nil {
		t.Fatal(err)
	}
	if up.Requests() != before {
		t.Errorf("a blocked input reached the upstream")
	}
	if r.Status == http.StatusOK {
		if strings.Contains(string(r.Body), "123-45-6789") {
			t.Errorf("a blocked input was echoed back: %s", r.Body)
		}
		validateOpenAI(t, []schemaItem{{Name: "blocked input", Schema: "CreateChatCompletionResponse", Body: r.Body}})
	} else {
		checkErrorShape(t, r)
	}

	r, err = e.p.Do(ctx, http.MethodPost, "/v1/guardrails/apply", key,
		`{"source":"INPUT","content":[{"text":{"text":"Mail jane.doe@example.com"}}]}`)
	if err != nil || r.Status != http.StatusOK {
		t.Fatalf("POST /v1/guardrails/apply: %v %v", err, r)
	}
	var applied struct {
		Action  string `json:"action"`
		Outputs []struct {
			Text string `json:"text"`
		} `json:"outputs"`
		Assessments []struct {
			SensitiveInformationPolicy struct {
				PIIEntities []struct {
					Type   string `json:"type"`
					Match  string `json:"match"`
					Action string `json:"action"`
				} `json:"piiEntities"`
			} `json:"sensitiveInformationPolicy"`
		} `json:"assessments"`
	}
	if err := r.JSON(&applied); err != nil {
		t.Fatal(err)
	}
	if applied.Action != "GUARDRAIL_INTERVENED" || len(applied.Outputs) != 1 || applied.Outputs[0].Text != "Mail {EMAIL}" {
		t.Errorf("apply = %s, want GUARDRAIL_INTERVENED with output \"Mail {EMAIL}\"", r.Body)
	}
	found := false
	for _, a := range applied.Assessments {
		for _, pii := range a.SensitiveInformationPolicy.PIIEntities {
			found = found || (pii.Type == "EMAIL" && pii.Match == "jane.doe@example.com" && pii.Action != "")
		}
	}
	if !found {
		t.Errorf("no EMAIL assessment with its match in %s", r.Body)
	}
}
