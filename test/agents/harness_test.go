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
	"math"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/plinth-ai/plinth/shared/platform"
	"github.com/plinth-ai/plinth/shared/provider"
	"github.com/plinth-ai/plinth/shared/provider/router"
	"github.com/plinth-ai/plinth/test/mcpfixture"
	"github.com/plinth-ai/plinth/test/scripted"
)

const adminKey = "adm-agents-test"

type env struct {
	t       *testing.T
	srv     *httptest.Server
	fixture *mcpfixture.Fixture
	model   scriptedModel
	key     string
}

// scriptedModel is a scripted model server of either wire format.
type scriptedModel interface {
	Requests() []provider.ChatRequest
	Close()
}

// Backends of the scripted model "scripted".
const (
	backendOpenAI  = "openai"
	backendBedrock = "bedrock"
)

// newEnv starts a platform with tenant "acme" (key e.key), the scripted model "scripted"
// (an OpenAI-compatible deployment) allowed to it, and the fixture MCP server "tools"
// granted to it.
func newEnv(t *testing.T, script map[string][]scripted.Reply) *env {
	return newEnvOn(t, backendOpenAI, script)
}

// newEnvOn is newEnv with the scripted model deployed on backend: an OpenAI-compatible
// endpoint, or Bedrock (Converse and ConverseStream, SigV4-signed).
func newEnvOn(t *testing.T, backend string, script map[string][]scripted.Reply) *env {
	t.Helper()
	cfg := platform.Config{DataDir: t.TempDir(), AdminKey: adminKey, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	e := &env{t: t, fixture: mcpfixture.New()}
	var deployment map[string]any
	switch backend {
	case backendBedrock:
		br := scripted.NewBedrock(script)
		e.model = br
		cfg.DeploymentOptions = []router.BuildOption{router.WithAWSConfig(aws.Config{Region: "us-east-1",
			Credentials: credentials.NewStaticCredentialsProvider("AKIDAGENTS", "agents-secret", "")})}
		deployment = map[string]any{"provider": "bedrock", "base_url": br.URL, "region": "us-east-1", "model": "anthropic.claude-3-5-sonnet-20240620-v1:0"}
	default:
		oa := scripted.New(script)
		e.model = oa
		deployment = map[string]any{"provider": "openai", "base_url": oa.URL + "/v1", "model": "scripted", "api_key": "x"}
	}
	l, err := platform.NewLocal(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(l.Handler)
	up := httptest.NewServer(e.fixture.Handler())
	t.Cleanup(func() {
		e.srv.Close()
		up.Close()
		e.model.Close()
		_ = l.Close(context.Background())
	})
	e.do("POST", "/admin/models", adminKey, map[string]any{"id": "scripted", "kind": "chat", "deployments": []map[string]any{deployment},
		"prices": map[string]any{"input_per_million": 1.0, "output_per_million": 2.0}}, http.StatusCreated, nil)
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
	InputTokens  int64   `json:"input_tokens"`
	OutputTokens int64   `json:"output_tokens"`
	CostUSD      float64 `json:"cost_usd"`
	Kind         string  `json:"kind"`
	Name         string  `json:"name"`
	Status       string  `json:"status"`
	Children     []step  `json:"children"`
}

// spend adds up the model steps of a trace, called agents' steps included: tokens and
// cost as the scripted model's prices make them.
func spend(trace []step) (in, out int64, cost float64) {
	for _, s := range trace {
		if s.Kind == "model" {
			in, out, cost = in+s.InputTokens, out+s.OutputTokens, cost+s.CostUSD
		}
		ci, co, cc := spend(s.Children)
		in, out, cost = in+ci, out+co, cost+cc
	}
	return in, out, cost
}

// checkSpend checks a run record's tree: every model step has its tokens and the cost
// the scripted model's prices give them, every called agent's step sums its own steps,
// and the run's totals sum the whole tree.
func checkSpend(t *testing.T, trace []step, totalIn, totalOut int64, totalCost float64) {
	t.Helper()
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-12 }
	var walk func([]step)
	walk = func(steps []step) {
		for _, s := range steps {
			switch s.Kind {
			case "model":
				if s.InputTokens <= 0 || s.OutputTokens <= 0 || !near(s.CostUSD, float64(s.InputTokens)*1e-6+float64(s.OutputTokens)*2e-6) {
					t.Errorf("model step %+v: want its tokens and their price (1 and 2 USD per million)", s)
				}
			case "agent":
				in, out, cost := spend(s.Children)
				if s.InputTokens != in || s.OutputTokens != out || !near(s.CostUSD, cost) || in == 0 {
					t.Errorf("agent step %s: %d/%d tokens, %g USD; its steps add up to %d/%d, %g USD", s.Name, s.InputTokens, s.OutputTokens, s.CostUSD, in, out, cost)
				}
			}
			walk(s.Children)
		}
	}
	walk(trace)
	in, out, cost := spend(trace)
	if totalIn != in || totalOut != out || !near(totalCost, cost) {
		t.Errorf("run totals %d/%d tokens, %g USD; the tree adds up to %d/%d, %g USD", totalIn, totalOut, totalCost, in, out, cost)
	}
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
