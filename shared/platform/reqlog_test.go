package platform

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(s.b.Bytes()))
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// TestEveryRequestLeavesOneLogLine: guardrail checks, retrieval and admin calls each
// leave one "request" line with the request ID, tenant, route and status; chat
// completions keep the gateway's own line and get no second one.
func TestEveryRequestLeavesOneLogLine(t *testing.T) {
	var logs syncBuffer
	l, err := NewLocal(context.Background(), Config{DataDir: t.TempDir(), AdminKey: "adm", Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(context.Background())
	call := func(key, method, path, body string) (int, string) {
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		r.Header.Set("Authorization", "Bearer "+key)
		w := httptest.NewRecorder()
		l.Handler.ServeHTTP(w, r)
		return w.Code, w.Header().Get("X-Request-Id")
	}
	type want struct {
		status        int
		route, tenant string
		requestID     string
	}
	var wants []want
	for _, c := range []struct{ key, method, path, body, route, tenant string }{
		{l.DemoKey, "POST", "/v1/guardrails/apply", `{"source":"INPUT","content":[{"text":{"text":"mail jane@example.com"}}]}`, "POST /v1/guardrails/apply", DemoTenant},
		{l.DemoKey, "POST", "/v1/guardrails/apply", `{"source":"SIDEWAYS"}`, "POST /v1/guardrails/apply", DemoTenant},
		{"adm", "GET", "/admin/tenants", ``, "GET /admin/tenants", ""},
		{"pk-wrong", "GET", "/v1/usage", ``, "GET /v1/usage", ""},
	} {
		status, id := call(c.key, c.method, c.path, c.body)
		wants = append(wants, want{status, c.route, c.tenant, id})
	}
	_, chatID := call(l.DemoKey, "POST", "/v1/chat/completions", `{"model":"local-chat","messages":[{"role":"user","content":"hi"}]}`)

	byID := map[string][]map[string]any{}
	for _, m := range logs.lines() {
		if m["msg"] == "request" {
			id, _ := m["request_id"].(string)
			byID[id] = append(byID[id], m)
		}
	}
	for _, w := range wants {
		got := byID[w.requestID]
		if len(got) != 1 {
			t.Errorf("%s: %d request lines, want 1: %v", w.route, len(got), got)
			continue
		}
		m := got[0]
		if m["route"] != w.route || int(m["status"].(float64)) != w.status || (w.tenant != "" && m["tenant"] != w.tenant) {
			t.Errorf("%s: line %v, want status %d tenant %q", w.route, m, w.status, w.tenant)
		}
		if _, ok := m["latency_ms"]; !ok {
			t.Errorf("%s: no latency: %v", w.route, m)
		}
	}
	if got := byID[chatID]; len(got) != 1 || got[0]["model"] != "local-chat" {
		t.Errorf("chat completion: %d request lines, want the gateway's one: %v", len(got), got)
	}
}
