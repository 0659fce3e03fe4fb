package guardrail_test

import (
	"testing"

	"github.com/plinth-ai/plinth/shared/gateway"
	"github.com/plinth-ai/plinth/shared/guardrail"
)

// The gateway's guard port takes the guardrail's types as they are.
var (
	_ gateway.StreamGuard = (*guardrail.StreamScanner)(nil)
	_                     = gateway.GuardVerdict(guardrail.Verdict{})
)

func TestVerdictConvertsToGuardVerdict(t *testing.T) {
	v := guardrail.Verdict{Blocked: true, Message: "no", Texts: []string{"a"}, Findings: map[string]int{"EMAIL": 1}}
	g := gateway.GuardVerdict(v)
	if !g.Blocked || g.Message != "no" || g.Findings["EMAIL"] != 1 {
		t.Fatalf("converted %+v", g)
	}
}
