package tenancy

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/plinth-ai/plinth/shared/store/memstore"
)

// TestGuardrailPoliciesAreTenantScoped: a guardrail policy owned by one tenant can be
// applied by that tenant only; another tenant naming it by guardrailIdentifier gets the
// same 404 as for a policy that does not exist, and none of its regexes, words or
// messages. Platform-shared policies (no owner) serve every tenant.
func TestGuardrailPoliciesAreTenantScoped(t *testing.T) {
	c := instances(t, memstore.New(), 1)
	srv := c.servers[0]
	alpha := tenantWithKey(t, srv, "alpha", nil)
	bravo := tenantWithKey(t, srv, "bravo", nil)

	const regexSecret = `ZANZ-[0-9]{4}`
	const message = "Alpha's private refusal text"
	var created struct {
		ID     string `json:"id"`
		Tenant string `json:"tenant"`
	}
	raw := mustCall(t, srv, "POST", "/admin/guardrail-policies", adminKey, map[string]any{
		"tenant": "alpha", "name": "alpha-private", "blockedInputMessaging": message,
		"sensitiveInformationPolicyConfig": map[string]any{"regexesConfig": []map[string]any{{"name": "project-code", "pattern": regexSecret, "action": "BLOCK"}}},
		"wordPolicyConfig":                 map[string]any{"wordsConfig": []map[string]any{{"text": "zanzibar"}}},
	}, 201)
	if err := json.Unmarshal(raw, &created); err != nil || created.Tenant != "alpha" {
		t.Fatalf("created %s", raw)
	}
	shared := struct{ ID string }{}
	_ = json.Unmarshal(mustCall(t, srv, "POST", "/admin/guardrail-policies", adminKey, map[string]any{
		"name": "shared", "wordPolicyConfig": map[string]any{"wordsConfig": []map[string]any{{"text": "forbidden"}}},
	}, 201), &shared)

	apply := func(key, id, text string) (int, string) {
		status, body := call(t, srv, "POST", "/v1/guardrails/apply", key, map[string]any{"source": "INPUT", "guardrailIdentifier": id,
			"content": []map[string]any{{"text": map[string]any{"text": text}}}})
		return status, string(body)
	}
	if status, body := apply(alpha, created.ID, "code ZANZ-1234 zanzibar"); status != 200 || !strings.Contains(body, "GUARDRAIL_INTERVENED") {
		t.Fatalf("the owner applies its policy: %d %s", status, body)
	}
	status, leaked := apply(bravo, created.ID, "code ZANZ-1234 zanzibar")
	if status != 404 {
		t.Fatalf("bravo applying alpha's policy: %d %s, want 404", status, leaked)
	}
	_, missing := apply(bravo, "gr-doesnotexist", "code ZANZ-1234 zanzibar")
	if strings.ReplaceAll(leaked, created.ID, "X") != strings.ReplaceAll(missing, "gr-doesnotexist", "X") {
		t.Errorf("another tenant's policy answers differently from a missing one:\n%s\n%s", leaked, missing)
	}
	for _, s := range []string{regexSecret, "project-code", message, "zanzibar", "alpha"} {
		if strings.Contains(leaked, s) {
			t.Errorf("bravo's answer reveals %q: %s", s, leaked)
		}
	}
	if status, body := call(t, srv, "POST", "/v1/guardrails/apply", bravo, map[string]any{"source": "INPUT", "guardrailIdentifier": created.ID, "guardrailVersion": "1",
		"content": []map[string]any{{"text": map[string]any{"text": "x"}}}}); status != 404 {
		t.Errorf("bravo naming a version of alpha's policy: %d %s", status, body)
	}
	for _, key := range []string{alpha, bravo} {
		if status, body := apply(key, shared.ID, "this is forbidden"); status != 200 || !strings.Contains(body, "GUARDRAIL_INTERVENED") {
			t.Errorf("a platform-shared policy: %d %s", status, body)
		}
	}

	// The owner stays with every version; a new version cannot move it.
	mustCall(t, srv, "PUT", "/admin/guardrail-policies/"+created.ID, adminKey, map[string]any{"name": "alpha-private", "tenant": "bravo",
		"wordPolicyConfig": map[string]any{"wordsConfig": []map[string]any{{"text": "x"}}}}, 400)
	mustCall(t, srv, "PUT", "/admin/guardrail-policies/"+created.ID, adminKey, map[string]any{"name": "alpha-private",
		"wordPolicyConfig": map[string]any{"wordsConfig": []map[string]any{{"text": "zanzibar"}}}}, 200)
	if status, _ := apply(bravo, created.ID, "zanzibar"); status != 404 {
		t.Errorf("bravo applying version 2 of alpha's policy: %d", status)
	}

	// Assigning a tenant another tenant's policy is refused, as a policy that does not
	// exist, and does not hand it over either.
	mustCall(t, srv, "PATCH", "/admin/tenants/bravo", adminKey, map[string]any{"guardrail_policy": created.ID}, 404)
	if status, body := call(t, srv, "POST", "/v1/chat/completions", bravo, map[string]any{"model": "local-chat",
		"messages": []map[string]string{{"role": "user", "content": "zanzibar"}}}); strings.Contains(string(body), message) {
		t.Errorf("bravo chatting under alpha's policy: %d %s", status, body)
	}
}
