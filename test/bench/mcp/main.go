// Command mcp measures what the MCP gateway adds to a tools/call: the same tool of a
// real Go-SDK MCP server called directly and through /mcp of the local platform (with
// its policy, rate-limit check, guardrails, usage and audit records), on both protocol
// revisions, and counts goroutines after the calls and the clients are gone.
//
//	go run ./test/bench/mcp [-n 10000]
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/plinth-ai/plinth/shared/platform"
	"github.com/plinth-ai/plinth/test/mcpfixture"
)

const adminKey = "adm-bench"

func main() {
	n := flag.Int("n", 10000, "calls per measurement")
	flag.Parse()
	dir, err := os.MkdirTemp("", "plinth-bench-mcp-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	l, err := platform.NewLocal(context.Background(), platform.Config{DataDir: dir, AdminKey: adminKey, Logger: quiet})
	if err != nil {
		log.Fatal(err)
	}
	plat := httptest.NewServer(l.Handler)
	up := httptest.NewServer(mcpfixture.New().Handler())

	call := func(method, path string, body any) []byte {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(method, plat.URL+path, bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+adminKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		if resp.StatusCode >= 300 {
			log.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, out)
		}
		return out
	}
	call("POST", "/admin/tenants", map[string]any{"id": "bench", "name": "Bench"})
	var k struct{ Key string }
	_ = json.Unmarshal(call("POST", "/admin/tenants/bench/keys", map[string]any{}), &k)
	call("POST", "/admin/tool-servers", map[string]any{"id": "fixture", "kind": "mcp", "url": up.URL})
	call("POST", "/admin/tool-servers/fixture/review", map[string]any{"decision": "approve", "reviewer": "bench"})
	call("POST", "/admin/tenants/bench/tool-grants", map[string]any{"server": "fixture"})

	fmt.Printf("MCP gateway overhead: tools/call test_simple_text, %d sequential calls per row, one client session\n", *n)
	fmt.Printf("%-12s %-10s %10s %10s %10s\n", "revision", "path", "p50 µs", "p99 µs", "mean µs")
	base := runtime.NumGoroutine()
	for _, version := range []string{"2025-11-25", "2026-07-28"} {
		direct := measure(up.URL, "", version, *n)
		gw := measure(plat.URL+"/mcp", k.Key, version, *n)
		report(version, "direct", direct)
		report(version, "via /mcp", gw)
		fmt.Printf("%-12s %-10s %10.0f %10.0f %10.0f\n", version, "added", pct(gw, 50)-pct(direct, 50), pct(gw, 99)-pct(direct, 99), mean(gw)-mean(direct))
	}
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	after := settle()
	fmt.Printf("goroutines: %d before, %d after %d calls through /mcp and their clients left\n", base, after, 2**n)
	plat.Close()
	up.Close()
	if err := l.Close(context.Background()); err != nil {
		log.Fatal(err)
	}
}

type headers struct {
	base http.RoundTripper
	key  string
}

func (h headers) RoundTrip(r *http.Request) (*http.Response, error) {
	if h.key != "" {
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", "Bearer "+h.key)
	}
	return h.base.RoundTrip(r)
}

// measure makes n calls in one session and returns their latencies in µs.
func measure(url, key, version string, n int) []float64 {
	ctx := context.Background()
	tr := &http.Transport{MaxIdleConnsPerHost: 4}
	defer tr.CloseIdleConnections()
	c := mcp.NewClient(&mcp.Implementation{Name: "bench", Version: "1.0.0"}, nil)
	cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: url, MaxRetries: -1, DisableStandaloneSSE: true,
		HTTPClient: &http.Client{Transport: headers{base: tr, key: key}}}, &mcp.ClientSessionOptions{ProtocolVersion: version})
	if err != nil {
		log.Fatalf("connect %s: %v", url, err)
	}
	defer cs.Close()
	p := &mcp.CallToolParams{Name: "test_simple_text", Arguments: map[string]any{}}
	for range 200 { // warm up connections and caches
		if _, err := cs.CallTool(ctx, p); err != nil {
			log.Fatal(err)
		}
	}
	out := make([]float64, n)
	for i := range n {
		start := time.Now()
		res, err := cs.CallTool(ctx, p)
		out[i] = float64(time.Since(start).Nanoseconds()) / 1e3
		if err != nil || res.IsError {
			log.Fatalf("call %d: %v %v", i, err, res)
		}
	}
	slices.Sort(out)
	return out
}

func pct(xs []float64, p int) float64 { return xs[(len(xs)-1)*p/100] }

func mean(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

func report(version, path string, xs []float64) {
	fmt.Printf("%-12s %-10s %10.0f %10.0f %10.0f\n", version, path, pct(xs, 50), pct(xs, 99), mean(xs))
}

// settle waits for exiting goroutines to finish and returns the count.
func settle() int {
	prev := -1
	for range 40 {
		runtime.GC()
		time.Sleep(100 * time.Millisecond)
		n := runtime.NumGoroutine()
		if n == prev {
			return n
		}
		prev = n
	}
	return prev
}
