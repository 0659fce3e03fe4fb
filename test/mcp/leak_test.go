package mcp

import (
	"context"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestNoLeaksAfterClientsLeave counts goroutines: after clients of both revisions have
// connected, called tools (some cancelling mid-call) and gone away, the process is back
// to where it started, give or take the few the runtime itself keeps.
func TestNoLeaksAfterClientsLeave(t *testing.T) {
	e := newEnv(t)
	key := e.tenant("leaky")
	e.upstream("everything", "")
	e.grant("leaky", map[string]any{"server": "everything"})

	transport := &http.Transport{MaxIdleConnsPerHost: 4}
	client := func(version string) (*mcp.ClientSession, error) {
		tr := &mcp.StreamableClientTransport{Endpoint: e.srv.URL + "/mcp", MaxRetries: -1, DisableStandaloneSSE: true,
			HTTPClient: &http.Client{Transport: &headerTransport{base: transport, h: http.Header{"Authorization": {"Bearer " + key}}}}}
		c := mcp.NewClient(&mcp.Implementation{Name: "leak-test", Version: "1.0.0"}, nil)
		return c.Connect(context.Background(), tr, &mcp.ClientSessionOptions{ProtocolVersion: version})
	}
	round := func(n int) {
		for i := range n {
			version := []string{"2025-11-25", "2026-07-28"}[i%2]
			cs, err := client(version)
			if err != nil {
				t.Fatalf("connect %s: %v", version, err)
			}
			ctx := context.Background()
			if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "test_simple_text", Arguments: map[string]any{}}); err != nil {
				t.Fatalf("call: %v", err)
			}
			// A call abandoned mid-way: the cancellation must reach the upstream and free
			// everything the call held.
			cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
			_, _ = cs.CallTool(cctx, &mcp.CallToolParams{Name: "test_tool_with_progress", Arguments: map[string]any{}})
			cancel()
			if err := cs.Close(); err != nil {
				t.Fatalf("close: %v", err)
			}
		}
		transport.CloseIdleConnections()
	}

	round(4) // warm up: pools, caches and the session watcher start once
	base := settle(0)
	round(40)
	after := settle(base)
	t.Logf("goroutines: %d before 40 clients, %d after they left", base, after)
	if after > base+3 {
		buf := make([]byte, 1<<20)
		n := runtime.Stack(buf, true)
		t.Fatalf("%d goroutines leaked after clients left (%d before, %d after):\n%s", after-base, base, after, buf[:n])
	}
}

// settle waits until the goroutine count stops falling (or reaches want) and returns it.
func settle(want int) int {
	prev := runtime.NumGoroutine()
	for i := 0; i < 100; i++ {
		time.Sleep(50 * time.Millisecond)
		n := runtime.NumGoroutine()
		if (want > 0 && n <= want) || (want == 0 && n == prev && i > 5) {
			return n
		}
		prev = n
	}
	return runtime.NumGoroutine()
}
