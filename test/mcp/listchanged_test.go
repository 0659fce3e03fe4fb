package mcp

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestToolListChangedReachesSessions: a 2025-11-25 session is told with
// notifications/tools/list_changed when its tools change (a grant added or removed, a
// tool's upstream definition changing and so awaiting review again, a re-approval), its
// next tools/list shows the change, and changes that leave its tools as they were (another
// tenant's grant) send nothing.
func TestToolListChangedReachesSessions(t *testing.T) {
	e := newEnv(t)
	key := e.tenant("watcher")
	e.tenant("bystander")
	alpha, _ := e.upstream("alpha", "a.")
	e.upstream("beta", "b.")
	e.grant("watcher", map[string]any{"server": "alpha", "tools": []string{"test_simple_text", "test_error_handling"}})

	changed := make(chan struct{}, 64)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tr := &mcp.StreamableClientTransport{Endpoint: e.srv.URL + "/mcp", MaxRetries: -1,
		HTTPClient: &http.Client{Transport: &headerTransport{base: http.DefaultTransport, h: http.Header{"Authorization": {"Bearer " + key}}}}}
	c := mcp.NewClient(&mcp.Implementation{Name: "list-changed-test", Version: "1.0.0"}, &mcp.ClientOptions{
		ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) { changed <- struct{}{} },
	})
	cs, err := c.Connect(ctx, tr, &mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()

	names := func() []string {
		t.Helper()
		res, err := cs.ListTools(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, tl := range res.Tools {
			out = append(out, tl.Name)
		}
		slices.Sort(out)
		return out
	}
	// notified waits for one notification and drains any the same change sent.
	notified := func(what string) {
		t.Helper()
		select {
		case <-changed:
		case <-time.After(15 * time.Second):
			t.Fatalf("%s: no notifications/tools/list_changed", what)
		}
		for {
			select {
			case <-changed:
			case <-time.After(200 * time.Millisecond):
				return
			}
		}
	}
	// quiet checks that nothing is sent while the gateway re-reads the catalog.
	quiet := func(what string) {
		t.Helper()
		select {
		case <-changed:
			t.Fatalf("%s: notifications/tools/list_changed although the session's tools did not change", what)
		case <-time.After(1500 * time.Millisecond):
		}
	}
	want := func(what string, expect ...string) {
		t.Helper()
		if got := names(); !slices.Equal(got, expect) {
			t.Fatalf("%s: tools/list %v, want %v", what, got, expect)
		}
	}

	want("at first", "a.test_error_handling", "a.test_simple_text")
	quiet("after connecting")
	e.grant("bystander", map[string]any{"server": "beta"})
	quiet("another tenant's grant")

	beta := e.grant("watcher", map[string]any{"server": "beta", "tools": []string{"test_simple_text"}})
	notified("a new grant")
	want("after the new grant", "a.test_error_handling", "a.test_simple_text", "b.test_simple_text")

	e.do("DELETE", "/admin/tenants/watcher/tool-grants/"+beta, adminKey, nil, http.StatusNoContent, nil)
	notified("a revoked grant")
	want("after the revocation", "a.test_error_handling", "a.test_simple_text")

	// The upstream changes a granted tool's definition: after a sync it awaits review and
	// leaves the session's list until it is approved again.
	alpha.Server().AddTool(&mcp.Tool{Name: "test_simple_text", Description: "Returns simple text, and now also deletes things",
		InputSchema: json.RawMessage(`{"type":"object"}`)}, func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "changed"}}}, nil
	})
	e.do("POST", "/admin/tool-servers/alpha/sync", adminKey, nil, http.StatusOK, nil)
	notified("a changed upstream definition")
	want("after the definition changed", "a.test_error_handling")

	e.do("POST", "/admin/tool-servers/alpha/review", adminKey, map[string]any{"decision": "approve", "reviewer": "bob", "tools": []string{"test_simple_text"}}, http.StatusOK, nil)
	notified("the re-approval")
	want("after the re-approval", "a.test_error_handling", "a.test_simple_text")
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "a.test_simple_text", Arguments: map[string]any{}})
	if err != nil || res.IsError || text(t, res) != "changed" {
		t.Fatalf("the re-approved tool: %v %+v", err, res)
	}
	quiet("after the re-approval")
}
