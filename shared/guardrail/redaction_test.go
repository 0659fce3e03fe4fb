package guardrail

import (
	"context"
	"strings"
	"testing"

	"github.com/plinth-ai/plinth/shared/guardrail/eval"
)

// TestRedactionOnSynthData anonymises every text of Presidio's synthetic set with the
// claimed types and checks that no detected gold entity's text survives, and that the
// share of gold entities left in the output stays within the measured recall.
func TestRedactionOnSynthData(t *testing.T) {
	dir, err := eval.DataDir()
	if err != nil {
		t.Fatal(err)
	}
	ex, err := eval.LoadSynth(dir)
	if err != nil {
		t.Fatal(err)
	}
	claimed := []string{"EMAIL", "PHONE", "CREDIT_DEBIT_CARD_NUMBER", "INTERNATIONAL_BANK_ACCOUNT_NUMBER", "IP_ADDRESS",
		"URL", "US_SOCIAL_SECURITY_NUMBER", "NAME", "AGE"}
	p := &Policy{Name: "redact", SensitiveInformationPolicyConfig: &SensitiveInformationPolicyConfig{}}
	for _, typ := range claimed {
		p.SensitiveInformationPolicyConfig.PiiEntitiesConfig = append(p.SensitiveInformationPolicyConfig.PiiEntitiesConfig,
			PiiEntityConfig{Type: typ, Action: ActionAnonymize})
	}
	e := newEngine(t)
	c, err := e.Compile(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	total, left := map[string]int{}, map[string]int{}
	for _, x := range ex {
		resp, err := e.ApplyCompiled(context.Background(), c, NewTextRequest(SourceOutput, x.Text))
		if err != nil {
			t.Fatal(err)
		}
		out := resp.Outputs[0].Text
		found := map[string]bool{}
		if s := resp.Assessments[0].SensitiveInformationPolicy; s != nil {
			for _, f := range s.PiiEntities {
				found[f.Match] = true
				if strings.Contains(out, f.Match) {
					t.Errorf("detected %s %q survives in %q", f.Type, f.Match, out)
				}
			}
		}
		for _, g := range x.Spans {
			bt := eval.PresidioToBedrock[g.EntityType]
			keep := false
			for _, c := range claimed {
				keep = keep || c == bt
			}
			if !keep || len(g.Value) < 4 {
				continue
			}
			total[bt]++
			if strings.Contains(out, g.Value) {
				left[bt]++
			}
		}
	}
	for _, typ := range claimed {
		if total[typ] == 0 {
			continue
		}
		rate := float64(left[typ]) / float64(total[typ])
		limit := 0.02
		if typ == "NAME" {
			limit = 0.15
		}
		if rate > limit {
			t.Errorf("%s: %d of %d gold values survive redaction (%.3f > %.2f)", typ, left[typ], total[typ], rate, limit)
		}
	}
}
