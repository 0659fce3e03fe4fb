package parity

import (
	"encoding/json"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/plinth-ai/plinth/shared/platform"
)

// awsDifferences are the documented operations the AWS handlers do not answer as the
// local platform does, each with the reason. An entry that stops being a difference
// fails the test, so this list only shrinks with the gaps it names.
var awsDifferences = map[string]string{
	"GET /admin/executions":                        "the embedded executor's API: in AWS, executions are Step Functions', read with its console and API",
	"GET /admin/executions/{id}":                   "the embedded executor's API: in AWS, executions are Step Functions', read with its console and API",
	"GET /admin/executions/{id}/history":           "the embedded executor's API: in AWS, executions are Step Functions', read with its console and API",
	"POST /admin/executions/{id}/stop":             "the embedded executor's API: in AWS, executions are Step Functions', read with its console and API",
	"POST /admin/state-machines/{name}/executions": "the embedded executor's API: in AWS, state machines are started by their triggers (S3 events, schedules, the admin API's runs)",
	"GET /admin/state-machines":                    "the embedded executor's API: in AWS, state machines are deployed by the CDK app",
	"POST /v1/agent-runs":                          durableRuns,
	"GET /v1/agent-runs/{id}":                      durableRuns,
	"POST /v1/agent-runs/{id}/approvals":           durableRuns,
	"POST /v1/agent-runs/{id}/outputs":             durableRuns,
}

// durableRuns is why durable agent runs differ here.
const durableRuns = "durable agent runs need the agent state machine (PLINTH_AGENT_STATE_MACHINE_ARN): the stack deploys it, but this in-process AWS runtime's fake Step Functions runs no task-token waits, so its gateway function mounts no durable-run routes"

// operation is one documented operation.
type operation struct {
	Method, Path string
	HasBody      bool
}

func (o operation) String() string { return o.Method + " " + o.Path }

func documentedOperations(t *testing.T) []operation {
	t.Helper()
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(platform.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	var ops []operation
	for path, item := range doc.Paths {
		for method, raw := range item {
			switch method {
			case "get", "put", "post", "delete", "patch":
			default:
				continue
			}
			var op struct {
				RequestBody json.RawMessage `json:"requestBody"`
			}
			_ = json.Unmarshal(raw, &op)
			ops = append(ops, operation{Method: strings.ToUpper(method), Path: path, HasBody: op.RequestBody != nil})
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].String() < ops[j].String() })
	return ops
}

var pathParam = regexp.MustCompile(`\{[^}]+\}`)

// storeKey matches a fragment of the platform's internal store keys ("EVAL#SUITES",
// "TENANT#acme", "TOOLHUB#GRANTS#…"): no error a caller reads may name one.
var storeKey = regexp.MustCompile(`[A-Z][A-Z0-9_]*#`)

// probe is the request an operation is tried with: the credential its path needs, the
// path's parameters filled in, an empty JSON object as the body.
func probe(o operation, key string) call {
	c := call{Method: o.Method, Path: pathParam.ReplaceAllString(o.Path, "parity-x")}
	switch {
	case strings.HasPrefix(o.Path, "/admin/"):
		c.Admin = true
	case strings.HasPrefix(o.Path, "/v1/"), o.Path == "/mcp":
		c.Key = key
	}
	if o.HasBody {
		c.Body, c.ContentType = []byte(`{}`), "application/json"
	}
	if o.Path == "/mcp" {
		c.Header = http.Header{"Accept": {"application/json, text/event-stream"}}
	}
	return c
}

// answer is what the comparison looks at: the status, the error code, and whether the
// route itself is missing (the platform's "no such route", API Gateway's "Missing
// Authentication Token") rather than the resource a request names.
type answer struct {
	Status      int
	Code        string
	NoSuchRoute bool
}

func answerOf(r reply) answer {
	return answer{Status: r.Status, Code: r.errorCode(), NoSuchRoute: r.contains("no such route") || r.contains("Missing Authentication Token")}
}

// TestEveryRouteOnBothRuntimes tries every operation of the OpenAPI document on both
// runtimes, as the same tenant and admin, and requires the same status and error code,
// except where awsDifferences says why not.
func TestEveryRouteOnBothRuntimes(t *testing.T) {
	ops := documentedOperations(t)
	if len(ops) < 40 {
		t.Fatalf("only %d documented operations", len(ops))
	}
	answers := map[string]map[string]answer{}
	for _, mk := range runtimes(t) {
		rt := mk(t)
		key := onboard(t, rt)
		got := map[string]answer{}
		for _, o := range ops {
			r := rt.do(t, probe(o, key))
			got[o.String()] = answerOf(r)
			if k := storeKey.Find(r.Body); r.Status >= 400 && k != nil {
				t.Errorf("%s on %s: %d answer names the internal store key %q: %.300s", o, rt.name(), r.Status, k, r.Body)
			}
		}
		answers[rt.name()] = got
	}
	local, aws := answers["local"], answers["aws"]
	for _, o := range ops {
		op := o.String()
		l, a := local[op], aws[op]
		reason, known := awsDifferences[op]
		switch {
		case l == a && known:
			t.Errorf("%s: answers alike on both runtimes (%+v); remove it from awsDifferences", op, l)
		case l != a && !known:
			t.Errorf("%s: local answers %+v, the AWS handlers %+v", op, l, a)
		case l != a:
			t.Logf("%s differs in AWS (%+v): %s", op, a, reason)
		}
		if l.NoSuchRoute {
			t.Errorf("%s: the local platform does not serve it (%d %s)", op, l.Status, l.Code)
		}
	}
	for op := range awsDifferences {
		if _, ok := local[op]; !ok {
			t.Errorf("awsDifferences names %s, which the OpenAPI document does not", op)
		}
	}
}

// onboard creates tenant acme with a key on rt and returns the key.
func onboard(t *testing.T, rt runtime) string {
	t.Helper()
	if r := rt.do(t, call{Method: "POST", Path: "/admin/tenants", Admin: true, ContentType: "application/json",
		Body: jsonBody(map[string]any{"id": "acme", "name": "Acme"})}); r.Status != http.StatusCreated {
		t.Fatalf("create tenant: %v", r)
	}
	var k struct {
		Key string `json:"key"`
	}
	r := rt.do(t, call{Method: "POST", Path: "/admin/tenants/acme/keys", Admin: true, ContentType: "application/json", Body: []byte(`{}`)})
	r.decode(t, &k)
	return k.Key
}
