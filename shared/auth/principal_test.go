package auth

import (
	"context"
	"testing"
)

func TestPrincipalInContext(t *testing.T) {
	p := Principal{TenantID: "acme", KeyID: "k1", Scopes: []Scope{ScopeInference}}
	if _, ok := FromContext(context.Background()); ok {
		t.Fatal("a principal in an empty context")
	}
	for name, ctx := range map[string]context.Context{
		"copy":      WithPrincipal(context.Background(), p),
		"reference": WithPrincipalOf(context.Background(), &p),
	} {
		got, ok := FromContext(ctx)
		if !ok || got.TenantID != "acme" || got.KeyID != "k1" || !got.Has(ScopeInference) {
			t.Errorf("%s: %+v %v", name, got, ok)
		}
	}
	// The innermost principal wins, whichever way it was put there.
	inner, _ := FromContext(WithPrincipal(WithPrincipalOf(context.Background(), &p), Principal{KeyID: "k2"}))
	outer, _ := FromContext(WithPrincipalOf(WithPrincipal(context.Background(), Principal{KeyID: "k2"}), &p))
	if inner.KeyID != "k2" || outer.KeyID != "k1" {
		t.Errorf("innermost: %q and %q", inner.KeyID, outer.KeyID)
	}
	if _, ok := FromContext(WithPrincipalOf(context.Background(), nil)); ok {
		t.Error("a nil principal reference reads as a principal")
	}
	if n := testing.AllocsPerRun(100, func() { _ = WithPrincipalOf(context.Background(), &p) }); n != 1 {
		t.Errorf("WithPrincipalOf: %v allocations, want the context's 1", n)
	}
}
