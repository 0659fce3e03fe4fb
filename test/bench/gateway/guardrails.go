package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/plinth-ai/plinth/test/e2e/platformtest"
)

// everyDetector is a policy with every detector that applies to chat input: PII (with a
// regex), words and the managed profanity list, a denied topic, all content filters and
// prompt attacks.
var everyDetector = map[string]any{
	"name": "bench-all", "description": "every detector on chat input",
	"sensitiveInformationPolicyConfig": map[string]any{
		"piiEntitiesConfig": []any{
			map[string]any{"type": "EMAIL", "action": "ANONYMIZE"}, map[string]any{"type": "PHONE", "action": "ANONYMIZE"},
			map[string]any{"type": "NAME", "action": "ANONYMIZE"}, map[string]any{"type": "ADDRESS", "action": "ANONYMIZE"},
			map[string]any{"type": "URL", "action": "ANONYMIZE"}, map[string]any{"type": "IP_ADDRESS", "action": "ANONYMIZE"},
			map[string]any{"type": "CREDIT_DEBIT_CARD_NUMBER", "action": "BLOCK"}, map[string]any{"type": "US_SOCIAL_SECURITY_NUMBER", "action": "BLOCK"},
			map[string]any{"type": "INTERNATIONAL_BANK_ACCOUNT_NUMBER", "action": "BLOCK"}, map[string]any{"type": "AWS_ACCESS_KEY", "action": "BLOCK"},
		},
		"regexesConfig": []any{map[string]any{"name": "EMPLOYEE_ID", "pattern": "EMP-[0-9]{6}", "action": "ANONYMIZE"}},
	},
	"contentPolicyConfig": map[string]any{"filtersConfig": []any{
		map[string]any{"type": "HATE", "inputStrength": "HIGH", "outputStrength": "HIGH"},
		map[string]any{"type": "INSULTS", "inputStrength": "HIGH", "outputStrength": "HIGH"},
		map[string]any{"type": "SEXUAL", "inputStrength": "HIGH", "outputStrength": "HIGH"},
		map[string]any{"type": "VIOLENCE", "inputStrength": "HIGH", "outputStrength": "HIGH"},
		map[string]any{"type": "MISCONDUCT", "inputStrength": "HIGH", "outputStrength": "HIGH"},
		map[string]any{"type": "PROMPT_ATTACK", "inputStrength": "HIGH", "outputStrength": "NONE"},
	}},
	"wordPolicyConfig": map[string]any{
		"wordsConfig":            []any{map[string]any{"text": "Project Nightingale"}},
		"managedWordListsConfig": []any{map[string]any{"type": "PROFANITY"}},
	},
	"topicPolicyConfig": map[string]any{"topicsConfig": []any{map[string]any{
		"name": "Investment advice", "type": "DENY",
		"definition": "Recommendations about which stocks, funds, bonds or cryptocurrencies to buy or sell for profit.",
		"examples":   []any{"Which stocks should I buy this year?", "Is bitcoin a good investment right now?"},
	}}},
}

// guardrailCost measures the platform's CPU per chat request for a tenant without a
// guardrail policy and one whose policy uses every detector, with a short prompt and a
// 4 KB one, at concurrency c in interleaved rounds.
func guardrailCost(ctx context.Context, p *platformtest.Platform, dur time.Duration, rounds, c int) error {
	resp, err := p.Admin(ctx, http.MethodPost, "/admin/guardrail-policies", everyDetector)
	if err != nil {
		return err
	}
	var pol struct {
		ID string `json:"id"`
	}
	if resp.Status != http.StatusCreated || resp.JSON(&pol) != nil || pol.ID == "" {
		return fmt.Errorf("create the every-detector policy: %s", resp)
	}
	limits := map[string]any{"requests_per_minute": 100_000_000, "tokens_per_minute": 10_000_000_000, "daily_tokens": 1_000_000_000_000, "monthly_usd": 1e9}
	keys := map[string]string{}
	for _, t := range []struct{ id, policy string }{{"bench-none", ""}, {"bench-all", pol.ID}} {
		tenant := map[string]any{"id": t.id, "name": t.id, "limits": limits}
		if t.policy != "" {
			tenant["guardrail_policy"] = t.policy
		}
		if err := p.CreateTenant(ctx, tenant); err != nil {
			return err
		}
		k, err := p.CreateKey(ctx, t.id)
		if err != nil {
			return err
		}
		keys[t.id] = k.Key
	}
	para := "Our support team reviewed the ticket on Tuesday and found that the export job failed because the storage quota was exceeded. " +
		"We explained that backups run in a separate region and that no data was lost. "
	prompts := []struct{ name, text string }{
		{"short prompt", "Say hello to the benchmark."},
		{"4 KB prompt", strings.Repeat(para, 4096/len(para)+1)[:4096]},
	}
	pid := p.PID()
	fmt.Printf("\nguardrail cost: CPU per chat request of the platform, no policy vs a policy with every detector on input (c=%d, %d rounds of %s each):\n", c, rounds, dur)
	for _, pr := range prompts {
		msg, _ := json.Marshal(pr.text)
		body := []byte(`{"model":"bench-mock","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":` + string(msg) + `}],"max_tokens":16,"temperature":0}`)
		var per = map[string][]result{}
		for r := 0; r < rounds; r++ {
			for _, id := range []string{"bench-none", "bench-all"} {
				t := newTarget(id, p.URL+"/v1/chat/completions", keys[id], body, c)
				if st, err := t.do(); err != nil || st != http.StatusOK {
					return fmt.Errorf("%s %s sanity request: status %d, %v", id, pr.name, st, err)
				}
				before, err := cpuTime(pid)
				if err != nil {
					return err
				}
				res := load(t, c, dur)
				after, err := cpuTime(pid)
				if err != nil {
					return err
				}
				res.cpu = after - before
				per[id] = append(per[id], res)
			}
		}
		none, all := summarize(per["bench-none"]), summarize(per["bench-all"])
		us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
		fmt.Printf("  %-12s no policy %7.1f µs/req (p50 %.2f ms)  every detector %7.1f µs/req (p50 %.2f ms)  added %7.1f µs  errors %d/%d\n",
			pr.name, us(none.cpuPerReq()), none.p50.Seconds()*1000, us(all.cpuPerReq()), all.p50.Seconds()*1000, us(all.cpuPerReq()-none.cpuPerReq()), none.errs, all.errs)
	}
	return nil
}
