package platform

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/plinth-ai/plinth/shared/audit"
)

// notAuditedByRoute are the documented changing operations that leave no route event,
// each with where its trail is instead. Anything else that changes something must be
// audited: a new route without an audit event fails TestEveryChangingRouteIsAudited.
var notAuditedByRoute = map[string]string{
	"createChatCompletion": "every completion is a usage record in the billing ledger",
	"createEmbedding":      "every embedding call is a usage record in the billing ledger",
	"createResponse":       "every Responses call is a usage record in the billing ledger",
	"postMCP":              "each MCP method call is its own event (mcp.<method>; test/mcp TestCallPipeline)",
	"deleteMCP":            "ends the caller's own MCP session: no tenant data changes",
}

// TestEveryChangingRouteIsAudited walks the OpenAPI document: every operation that is not
// a read is called on the local platform (with placeholder path parameters and an empty
// JSON body, so most are refused), and each must leave an audit event named after its
// operationId with the outcome it answered, whatever that outcome was.
func TestEveryChangingRouteIsAudited(t *testing.T) {
	l, err := NewLocal(context.Background(), Config{DataDir: t.TempDir(), AdminKey: "adm-routes",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close(context.Background()) })

	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	type op struct{ method, path, id string }
	var ops []op
	for path, methods := range doc.Paths {
		for method, raw := range methods {
			var o struct {
				OperationID string `json:"operationId"`
			}
			if json.Unmarshal(raw, &o) != nil || o.OperationID == "" {
				continue
			}
			switch m := strings.ToUpper(method); m {
			case "GET", "HEAD", "OPTIONS":
			default:
				ops = append(ops, op{m, path, o.OperationID})
			}
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].id < ops[j].id })
	if len(ops) < 40 {
		t.Fatalf("only %d changing operations in the OpenAPI document: the walk is not reading it", len(ops))
	}

	param := regexp.MustCompile(`\{[^}]+\}`)
	statuses := map[string]int{}
	for _, o := range ops {
		if _, ok := notAuditedByRoute[o.id]; ok {
			continue
		}
		path := param.ReplaceAllString(o.path, "probe-"+strings.ToLower(o.id))
		if strings.Contains(o.path, "{arn}") {
			path = strings.Replace(o.path, "{arn}", url.PathEscape("arn:aws:iam::123456789012:role/probe"), 1)
			path = param.ReplaceAllString(path, "probe")
		}
		r := httptest.NewRequest(o.method, path, strings.NewReader("{}"))
		r.Header.Set("Authorization", "Bearer "+l.AdminKey)
		if strings.HasPrefix(o.path, "/v1/") {
			r.Header.Set("Authorization", "Bearer "+l.DemoKey)
		}
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		l.Handler.ServeHTTP(w, r)
		statuses[o.id] = w.Code
	}
	if err := l.Audit.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	page, err := l.AuditLog.Query(context.Background(), audit.Query{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]audit.Event{}
	for _, e := range page.Events {
		got[e.Action] = e
	}
	for _, o := range ops {
		if _, ok := notAuditedByRoute[o.id]; ok {
			if _, recorded := got[o.id]; recorded {
				t.Errorf("%s %s (%s) is listed as not audited by its route but left an event: drop it from the list", o.method, o.path, o.id)
			}
			continue
		}
		e, ok := got[o.id]
		if !ok {
			t.Errorf("%s %s (%s) answered %d and left no audit event", o.method, o.path, o.id, statuses[o.id])
			continue
		}
		if e.Outcome != audit.OutcomeOf(statuses[o.id]) || e.Status != statuses[o.id] || e.Method != o.method || e.RequestID == "" {
			t.Errorf("%s event %+v does not match the answer %d", o.id, e, statuses[o.id])
		}
	}
	for id := range notAuditedByRoute {
		found := false
		for _, o := range ops {
			found = found || o.id == id
		}
		if !found {
			t.Errorf("%s is listed as not audited but is no longer a documented changing operation", id)
		}
	}
	var buf bytes.Buffer
	for _, o := range ops {
		buf.WriteString(o.id + " ")
	}
	t.Logf("%d changing operations walked: %s", len(ops), buf.String())
}
