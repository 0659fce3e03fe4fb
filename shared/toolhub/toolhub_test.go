package toolhub_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/plinth-ai/plinth/shared/auth"
	"github.com/plinth-ai/plinth/shared/store/memstore"
	"github.com/plinth-ai/plinth/shared/tenant"
	"github.com/plinth-ai/plinth/shared/toolhub"
)

// fakeBackend lists a definition a test can change, as an upstream whose tool changed.
type fakeBackend struct {
	tools []toolhub.Tool
	calls int
}

func (f *fakeBackend) Discover(context.Context, *toolhub.Server, string) (*toolhub.Discovery, error) {
	return &toolhub.Discovery{Tools: append([]toolhub.Tool(nil), f.tools...)}, nil
}

func (f *fakeBackend) Invoke(_ context.Context, _ *toolhub.Server, in *toolhub.Invocation) (json.RawMessage, error) {
	f.calls++
	return json.RawMessage(`{"content":[{"type":"text","text":"ok"}]}`), nil
}

func tool(name, desc string) toolhub.Tool {
	return toolhub.Tool{Name: name, Description: desc, InputSchema: json.RawMessage(`{"type":"object","properties":{"q":{"type":"string"}}}`)}
}

func TestDefinitionHashIgnoresFormattingNotContent(t *testing.T) {
	a := tool("search", "Search issues")
	b := a
	b.InputSchema = json.RawMessage("{ \"properties\": {\"q\": {\"type\": \"string\"}},\n \"type\": \"object\" }")
	if toolhub.DefinitionHash(&a) != toolhub.DefinitionHash(&b) {
		t.Error("a reformatted schema changed the hash")
	}
	c := a
	c.Description = "Search issues and delete them"
	if toolhub.DefinitionHash(&a) == toolhub.DefinitionHash(&c) {
		t.Error("a changed description kept the hash")
	}
}

func TestChangedDefinitionNeedsReviewAgain(t *testing.T) {
	ctx := context.Background()
	fb := &fakeBackend{tools: []toolhub.Tool{tool("search", "Search issues"), tool("read", "Read an issue")}}
	svc := toolhub.NewService(memstore.New(), toolhub.WithBackend(toolhub.KindMCP, fb))
	hub := toolhub.NewHub(svc)
	if _, err := svc.Create(ctx, toolhub.Server{ID: "issues", Kind: toolhub.KindMCP, URL: "http://127.0.0.1:1/mcp"}, "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Review(ctx, "issues", toolhub.Review{Decision: "approve", Reviewer: "alice"}); err != nil {
		t.Fatal(err)
	}
	act := &tenant.Tenant{ID: "acme", Status: tenant.StatusActive}
	if _, err := svc.CreateGrant(ctx, toolhub.Grant{Tenant: "acme", Server: "issues"}, "alice"); err != nil {
		t.Fatal(err)
	}
	c := &toolhub.Caller{Principal: auth.Principal{TenantID: "acme", KeyID: "k1", Scopes: []auth.Scope{auth.ScopeInference}}, Tenant: act}
	names := func() []string {
		v, err := hub.Visible(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range v.Tools {
			out = append(out, e.Name)
		}
		return out
	}
	if got := names(); len(got) != 2 {
		t.Fatalf("visible after approval: %v", got)
	}

	fb.tools[0].Description = "Search issues; also closes them"
	srv, err := svc.Sync(ctx, "issues")
	if err != nil {
		t.Fatal(err)
	}
	st, _ := srv.Tool("search")
	if st.Status != toolhub.StatusPendingReview || st.Hash == st.ApprovedHash {
		t.Fatalf("changed tool: status %s, hash %s, approved %s", st.Status, st.Hash, st.ApprovedHash)
	}
	if got := names(); len(got) != 1 || got[0] != "read" {
		t.Fatalf("visible after the upstream changed a definition: %v, want only read", got)
	}
	before := fb.calls
	if _, err := hub.Call(ctx, c, "search", toolhub.CallParams{Arguments: json.RawMessage(`{}`)}); !errors.Is(err, toolhub.ErrNotApproved) {
		t.Fatalf("calling the changed tool: %v, want ErrNotApproved", err)
	}
	if fb.calls != before {
		t.Error("a refused call reached the upstream")
	}
	if _, err := svc.Review(ctx, "issues", toolhub.Review{Decision: "approve", Reviewer: "bob", Tools: []string{"search"}}); err != nil {
		t.Fatal(err)
	}
	if got := names(); len(got) != 2 {
		t.Fatalf("visible after re-approval: %v", got)
	}
	if _, err := hub.Call(ctx, c, "search", toolhub.CallParams{Arguments: json.RawMessage(`{"q":"x"}`)}); err != nil || fb.calls != before+1 {
		t.Fatalf("call after re-approval: %v (%d upstream calls)", err, fb.calls-before)
	}
}

func TestDecide(t *testing.T) {
	srv := &toolhub.Server{ID: "s1", Status: toolhub.StatusApproved, Tools: []toolhub.Tool{
		{Name: "a", Hash: "h", ApprovedHash: "h", Status: toolhub.StatusApproved},
		{Name: "b", Hash: "h2", ApprovedHash: "h1", Status: toolhub.StatusPendingReview},
	}}
	act := &tenant.Tenant{ID: "acme", Status: tenant.StatusActive}
	sus := &tenant.Tenant{ID: "acme", Status: tenant.StatusSuspended}
	p := auth.Principal{TenantID: "acme", KeyID: "k1", Scopes: []auth.Scope{auth.ScopeInference}}
	noScope := auth.Principal{TenantID: "acme", KeyID: "k1", Scopes: []auth.Scope{auth.ScopeRetrieval}}
	other := auth.Principal{TenantID: "beta", KeyID: "k9", Scopes: []auth.Scope{auth.ScopeInference}}
	whole := []toolhub.Grant{{Tenant: "acme", Server: "s1"}}
	keyOnly := []toolhub.Grant{{Tenant: "acme", Server: "s1", KeyID: "k2"}}
	named := []toolhub.Grant{{Tenant: "acme", Server: "s1", Tools: []string{"b"}}}
	cases := []struct {
		name   string
		p      auth.Principal
		t      *tenant.Tenant
		grants []toolhub.Grant
		tool   string
		want   error
	}{
		{"whole-server grant", p, act, whole, "a", nil},
		{"no grant", p, act, nil, "a", toolhub.ErrNotGranted},
		{"another key's grant", p, act, keyOnly, "a", toolhub.ErrNotGranted},
		{"named other tool", p, act, []toolhub.Grant{{Tenant: "acme", Server: "s1", Tools: []string{"x"}}}, "a", toolhub.ErrNotGranted},
		{"changed definition", p, act, named, "b", toolhub.ErrNotApproved},
		{"unknown tool", p, act, whole, "zzz", toolhub.ErrNotGranted},
		{"suspended tenant", p, sus, whole, "a", tenant.ErrTenantSuspended},
		{"no inference scope", noScope, act, whole, "a", tenant.ErrScope},
		{"another tenant's grant", other, &tenant.Tenant{ID: "beta", Status: tenant.StatusActive}, whole, "a", toolhub.ErrNotGranted},
		{"admin needs no grant", auth.Principal{Admin: true}, nil, nil, "a", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := toolhub.Decide(c.p, c.t, c.grants, srv, toolhub.Item{Kind: toolhub.ItemTool, Name: c.tool})
			if (c.want == nil) != (err == nil) || (c.want != nil && !errors.Is(err, c.want)) {
				t.Fatalf("Decide = %v, want %v", err, c.want)
			}
		})
	}
	pending := *srv
	pending.Status = toolhub.StatusPendingReview
	if _, err := toolhub.Decide(p, act, whole, &pending, toolhub.Item{Kind: toolhub.ItemTool, Name: "a"}); !errors.Is(err, toolhub.ErrNotApproved) {
		t.Errorf("unapproved server: %v", err)
	}
}
