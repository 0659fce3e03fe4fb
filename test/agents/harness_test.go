// Package agents tests agents end to end: the local platform in process, a scripted
// OpenAI-compatible model that emits tool calls, a real Go-SDK MCP server as the tools'
// upstream, and /v1/responses as OpenAI's clients call it.
package agents

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/plinth-ai/plinth/shared/platform"
	"github.com/plinth-ai/plinth/test/mcpfixture"
	"github.com/plinth-ai/plinth/test/scripted"
)

const adminKey = "adm-agents-test"

type env struct {
	t       *testing.T
	srv     *httptest.Server
	fixture *mcpfixture.Fixture
	model   *scripted.Server
	key     string
}

// newEnv starts a platform with tenant "acme" (key e.key), the scripted model "scripted"
// allowed to it, and the fixture MCP server "tools" granted to it.
func newEnv(t *testing.T, script map[string][]scripted.Reply) *env {
	t.Helper()
	l, err := platform.NewLocal(context.Background(), platform.Config{DataDir: t.TempDir(), AdminKey: adminKey,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, srv: httptest.NewServer(l.Handler), fixture: mcpfixture.New(), model: scripted.New(script)}
	up := httptest.NewServer(e.fixture.Handler())
	t.Cleanup(func() {
		e.srv.Close()
		up.Close()
		e.model.Close()
		_ = l.Close(context.Background())
	})
	e.do("POST", "/admin/models", adminKey, map[string]any{"id": "scripted", "kind": "chat",
		"deployments": []map[string]any{{"provider": "openai", "base_url": e.model.URL + "/v1", "model": "scripted", "api_key": "x"}},
		"prices":      map[string]any{"input_per_million": 1.0, "output_per_million": 2.0}}, http.StatusCreated, nil)
	e.do("POST", "/admin/models/scripted/review", adminKey, map[string]any{"decision": "approve", "reviewer": "alice"}, http.StatusOK, nil)
	e.do("POST", "/admin/tenants", adminKey, map[string]any{"id": "acme", "name": "Acme"}, http.StatusCreated, nil)
	var k struct{ Key string }
	e.do("POST", "/admin/tenants/acme/keys", adminKey, map[string]any{}, http.StatusCreated, &k)
	e.key = k.Key
	e.do("POST", "/admin/tool-servers", adminKey, map[string]any{"id": "tools", "kind": "mcp", "url": up.URL}, http.StatusCreated, nil)
	e.do("POST", "/admin/tool-servers/tools/review", adminKey, map[string]any{"decision": "approve", "reviewer": "alice"}, http.StatusOK, nil)
	e.do("POST", "/admin/tenants/acme/tool-grants", adminKey, map[string]any{"server": "tools"}, http.StatusCreated, nil)
	return e
}

func (e *env) do(method, path, key string, body any, want int, out any) []byte {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, rd)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		e.t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, b, want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return b
}

func (e *env) agent(def map[string]any) {
	e.t.Helper()
	def["tenant"] = "acme"
	if def["model"] == nil {
		def["model"] = "scripted"
	}
	e.do("POST", "/admin/agents", adminKey, def, http.StatusCreated, nil)
}

// response is the part of a Responses API object the tests read.
type response struct {
	ID                string `json:"id"`
	Status            string `json:"status"`
	IncompleteDetails *struct {
		Reason string `json:"reason"`
	} `json:"incomplete_details"`
	Output []struct {
		ID          string  `json:"id"`
		Type        string  `json:"type"`
		Status      string  `json:"status"`
		Name        string  `json:"name"`
		CallID      string  `json:"call_id"`
		Arguments   string  `json:"arguments"`
		Output      *string `json:"output"`
		Error       *string `json:"error"`
		ServerLabel string  `json:"server_label"`
		Content     []struct {
			Text string `json:"text"`
		} `json:"content"`
	} `json:"output"`
	Usage struct {
		InputTokens  int64 `json:"input_tokens"`
		OutputTokens int64 `json:"output_tokens"`
	} `json:"usage"`
	Plinth struct {
		Agent     string  `json:"agent"`
		CostUSD   float64 `json:"cost_usd"`
		ToolCalls int     `json:"tool_calls"`
		Trace     []step  `json:"trace"`
	} `json:"plinth"`
}

type step struct {
	OutputTokens int64  `json:"output_tokens"`
	Kind         string `json:"kind"`
	Name         string `json:"name"`
	Status       string `json:"status"`
	Children     []step `json:"children"`
}

func (r *response) text() string {
	s := ""
	for _, o := range r.Output {
		if o.Type == "message" {
			for _, c := range o.Content {
				s += c.Text
			}
		}
	}
	return s
}

func (e *env) respond(body map[string]any) response {
	e.t.Helper()
	var r response
	e.do("POST", "/v1/responses", e.key, body, http.StatusOK, &r)
	return r
}
