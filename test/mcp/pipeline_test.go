package mcp

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func text(t *testing.T, r *mcp.CallToolResult) string {
	t.Helper()
	var b strings.Builder
	for _, c := range r.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

// TestCallPipeline drives every step a tools/call passes on /mcp: credentials, guardrails
// on arguments and results, argument and result caps, the timeout and cancellation
// reaching the upstream, the rate limit, and the usage and audit records.
func TestCallPipeline(t *testing.T) {
	e := newEnv(t)
	key := e.tenant("pipe")
	f, _ := e.upstream("fixture", "")
	e.grant("pipe", map[string]any{"server": "fixture"})
	ctx := context.Background()
	cs, err := e.connect(ctx, key, "2025-11-25")
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	call := func(name string, args map[string]any) (*mcp.CallToolResult, error) {
		return cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
	}

	t.Run("the upstream gets its own credential, never the client's", func(t *testing.T) {
		if _, err := call("echo", map[string]any{"text": "hi"}); err != nil {
			t.Fatal(err)
		}
		got := f.LastHeader().Get("Authorization")
		if got != "Bearer upstream-secret-fixture" || strings.Contains(strings.Join(f.LastHeader().Values("Authorization"), " "), key) {
			t.Fatalf("upstream saw Authorization %q", got)
		}
	})

	t.Run("guardrails mask arguments and results and block", func(t *testing.T) {
		var pol struct {
			ID string `json:"id"`
		}
		e.do("POST", "/admin/guardrail-policies", adminKey, map[string]any{"name": "tools", "tenant": "pipe",
			"blockedInputMessaging": "Blocked input.", "blockedOutputsMessaging": "Blocked output.",
			"sensitiveInformationPolicyConfig": map[string]any{"piiEntitiesConfig": []map[string]string{
				{"type": "EMAIL", "action": "ANONYMIZE"}, {"type": "CREDIT_DEBIT_CARD_NUMBER", "action": "BLOCK"}}}}, http.StatusCreated, &pol)
		e.do("PATCH", "/admin/tenants/pipe", adminKey, map[string]any{"guardrail_policy": pol.ID}, http.StatusOK, nil)
		defer e.do("PATCH", "/admin/tenants/pipe", adminKey, map[string]any{"guardrail_policy": ""}, http.StatusOK, nil)

		var res *mcp.CallToolResult
		for i := 0; i < 100; i++ { // the tenant cache sees the new policy within its TTL
			if res, err = call("echo", map[string]any{"text": "write to jane.doe@example.com"}); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(text(t, res), "jane.doe@example.com") {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if got := text(t, res); strings.Contains(got, "jane.doe@example.com") || !strings.Contains(got, "{EMAIL}") {
			t.Fatalf("echoed %q: the address reached the upstream or came back unmasked", got)
		}
		before := f.Calls.Load()
		res, err = call("echo", map[string]any{"text": "card 4111 1111 1111 1111"})
		if err != nil {
			t.Fatal(err)
		}
		if !res.IsError || strings.Contains(text(t, res), "4111") {
			t.Fatalf("card number: %+v %q, want a blocked error result", res.IsError, text(t, res))
		}
		if f.Calls.Load() != before {
			t.Error("a blocked call reached the upstream")
		}
	})

	t.Run("caps", func(t *testing.T) {
		e.do("PATCH", "/admin/tool-servers/fixture", adminKey, map[string]any{"limits": map[string]any{"max_result_bytes": 2000, "max_argument_bytes": 300}}, http.StatusOK, nil)
		defer e.do("PATCH", "/admin/tool-servers/fixture", adminKey, map[string]any{"limits": map[string]any{}}, http.StatusOK, nil)
		if res, err := call("big", map[string]any{"bytes": 100}); err != nil || res.IsError {
			t.Fatalf("small result: %v %+v", err, res)
		}
		res, err := call("big", map[string]any{"bytes": 5000})
		if err != nil || !res.IsError || !strings.Contains(text(t, res), "cap") {
			t.Fatalf("oversized result: %v %+v", err, res)
		}
		_, err = call("echo", map[string]any{"text": strings.Repeat("y", 1000)})
		var re *jsonrpc.Error
		if !errors.As(err, &re) || re.Code != jsonrpc.CodeInvalidParams {
			t.Fatalf("oversized arguments: %v, want invalid params", err)
		}
	})

	t.Run("timeout cancels the upstream call", func(t *testing.T) {
		e.do("PATCH", "/admin/tool-servers/fixture", adminKey, map[string]any{"limits": map[string]any{"timeout_ms": 200}}, http.StatusOK, nil)
		defer e.do("PATCH", "/admin/tool-servers/fixture", adminKey, map[string]any{"limits": map[string]any{}}, http.StatusOK, nil)
		before := f.SlowCancelled.Load()
		res, err := call("slow", map[string]any{"ms": 10000})
		if err != nil || !res.IsError || !strings.Contains(text(t, res), "did not answer") {
			t.Fatalf("slow tool: %v %+v", err, res)
		}
		waitFor(t, "the upstream to see the cancellation", func() bool { return f.SlowCancelled.Load() > before })
	})

	t.Run("a client's cancellation reaches the upstream", func(t *testing.T) {
		before := f.SlowCancelled.Load()
		cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		if _, err := cs.CallTool(cctx, &mcp.CallToolParams{Name: "slow", Arguments: map[string]any{"ms": 10000}}); err == nil {
			t.Fatal("a cancelled call succeeded")
		}
		waitFor(t, "the upstream to see the cancellation", func() bool { return f.SlowCancelled.Load() > before })
	})

	t.Run("rate limit per grant", func(t *testing.T) {
		k2 := e.tenant("pipe-limited")
		e.grant("pipe-limited", map[string]any{"server": "fixture", "calls_per_minute": 3})
		c2, err := e.connect(ctx, k2, "2026-07-28")
		if err != nil {
			t.Fatal(err)
		}
		defer c2.Close()
		limited := 0
		for range 5 {
			res, err := c2.CallTool(ctx, &mcp.CallToolParams{Name: "test_simple_text", Arguments: map[string]any{}})
			if err != nil {
				t.Fatal(err)
			}
			if res.IsError && strings.Contains(text(t, res), "Rate limit") {
				limited++
			}
		}
		// A minute boundary may fall between the calls; at least one call is refused.
		if limited < 1 || limited > 2 {
			t.Fatalf("%d of 5 calls refused with a cap of 3 per minute", limited)
		}
	})

	t.Run("usage and audit records", func(t *testing.T) {
		var audit struct {
			Data []struct {
				Action   string `json:"action"`
				Resource string `json:"resource"`
				Outcome  string `json:"outcome"`
			} `json:"data"`
		}
		waitFor(t, "audit events of tool calls", func() bool {
			e.do("GET", "/admin/audit?tenant=pipe&action=mcp.tools/call", adminKey, nil, http.StatusOK, &audit)
			return len(audit.Data) > 0
		})
		outcomes := map[string]bool{}
		for _, ev := range audit.Data {
			outcomes[ev.Outcome] = true
		}
		if !outcomes["success"] || !outcomes["rejected"] {
			t.Errorf("audit outcomes %v, want success and rejected (the blocked call)", outcomes)
		}
		var use struct {
			Data []struct {
				Model    string `json:"model"`
				Requests int64  `json:"requests"`
			} `json:"data"`
		}
		waitFor(t, "usage records of tool calls", func() bool {
			e.do("GET", "/v1/usage?group_by=model", key, nil, http.StatusOK, &use)
			for _, r := range use.Data {
				if r.Model == "tool:fixture/echo" && r.Requests > 0 {
					return true
				}
			}
			return false
		})
	})
}

// waitFor polls cond until it holds (asynchronous effects: records written off the
// request path, an upstream noticing a cancellation), failing after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
