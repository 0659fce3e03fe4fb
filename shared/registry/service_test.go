package registry_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/plinth-ai/plinth/shared/registry"
	"github.com/plinth-ai/plinth/shared/store/memstore"
)

func newService(t *testing.T) *registry.Service {
	t.Helper()
	svc := registry.NewService(memstore.New(), registry.WithCacheTTL(time.Hour))
	if err := svc.SeedBuiltins(context.Background()); err != nil {
		t.Fatal(err)
	}
	return svc
}

func openAIModel(id string) registry.Model {
	return registry.Model{
		ID: id, Kind: registry.KindChat,
		Deployments: []registry.Deployment{{Provider: "openai", BaseURL: "http://127.0.0.1:1/v1", Model: "gpt-x", APIKey: "sk-secret"}},
		Prices:      registry.Prices{InputPerMillion: 0.15, OutputPerMillion: 0.6},
	}
}

func TestBuiltinsAreApprovedAndSeedingIsIdempotent(t *testing.T) {
	ctx := context.Background()
	svc := newService(t)
	if err := svc.SeedBuiltins(ctx); err != nil {
		t.Fatalf("second seed: %v", err)
	}
	for _, id := range []string{"local-chat", "local-embed"} {
		m, err := svc.Resolve(ctx, id)
		if err != nil {
			t.Fatalf("resolve %s: %v", id, err)
		}
		if m.Status != registry.StatusApproved {
			t.Errorf("%s status = %s, want approved", id, m.Status)
		}
	}
}

func TestLifecycle(t *testing.T) {
	ctx := context.Background()
	svc := newService(t)
	m, err := svc.Create(ctx, openAIModel("gpt-x"), "admin")
	if err != nil {
		t.Fatal(err)
	}
	if m.Status != registry.StatusPendingReview {
		t.Fatalf("new model status = %s, want pending-review", m.Status)
	}
	if m.Redacted().Deployments[0].APIKey != "" {
		t.Fatal("redacted model still shows the API key")
	}
	if _, err := svc.Create(ctx, openAIModel("gpt-x"), "admin"); !errors.Is(err, registry.ErrExists) {
		t.Fatalf("duplicate create error = %v, want ErrExists", err)
	}
	if _, err := svc.Review(ctx, "gpt-x", "deprecate", "alice", ""); !errors.Is(err, registry.ErrInvalid) {
		t.Fatalf("deprecating a pending model: %v, want ErrInvalid", err)
	}
	m, err = svc.Review(ctx, "gpt-x", "approve", "alice", "looks good")
	if err != nil {
		t.Fatal(err)
	}
	r, ok := m.LastReview()
	if m.Status != registry.StatusApproved || !ok || r.Reviewer != "alice" || r.At.IsZero() {
		t.Fatalf("after approve: status %s review %+v", m.Status, r)
	}
	got, err := svc.Resolve(ctx, "gpt-x")
	if err != nil || got.Status != registry.StatusApproved {
		t.Fatalf("resolve after approve: %v %v", got, err)
	}
	if got.Deployments[0].APIKey != "sk-secret" {
		t.Fatal("stored deployment lost its API key")
	}
	m, err = svc.Review(ctx, "gpt-x", "deprecate", "bob", "")
	if err != nil || !m.Status.Invocable() {
		t.Fatalf("deprecated model should stay invocable: %v %v", m.Status, err)
	}
	m, err = svc.Review(ctx, "gpt-x", "retire", "bob", "")
	if err != nil || m.Status.Invocable() {
		t.Fatalf("retired model must not be invocable: %v %v", m.Status, err)
	}
}

func TestAliasesResolveAndMustBeUnique(t *testing.T) {
	ctx := context.Background()
	svc := newService(t)
	a := openAIModel("gpt-a")
	a.Aliases = []string{"default-chat"}
	if _, err := svc.Create(ctx, a, "admin"); err != nil {
		t.Fatal(err)
	}
	m, err := svc.Resolve(ctx, "default-chat")
	if err != nil || m.ID != "gpt-a" {
		t.Fatalf("alias resolves to %v, %v", m, err)
	}
	b := openAIModel("gpt-b")
	b.Aliases = []string{"default-chat"}
	if _, err := svc.Create(ctx, b, "admin"); !errors.Is(err, registry.ErrInvalid) {
		t.Fatalf("taken alias: %v, want ErrInvalid", err)
	}
	// Moving the alias: drop it from a, then give it to b.
	if _, err := svc.Update(ctx, "gpt-a", func(m *registry.Model) error { m.Aliases = nil; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Create(ctx, b, "admin"); err != nil {
		t.Fatalf("alias should be free after update: %v", err)
	}
	m, err = svc.Resolve(ctx, "default-chat")
	if err != nil || m.ID != "gpt-b" {
		t.Fatalf("alias now resolves to %v, %v; want gpt-b", m, err)
	}
}

func TestValidate(t *testing.T) {
	cases := map[string]func(*registry.Model){
		"bad id":         func(m *registry.Model) { m.ID = "has space" },
		"bad kind":       func(m *registry.Model) { m.Kind = "vision" },
		"no deployments": func(m *registry.Model) { m.Deployments = nil },
		"bad provider":   func(m *registry.Model) { m.Deployments[0].Provider = "acme" },
		"openai no url":  func(m *registry.Model) { m.Deployments[0].BaseURL = "" },
		"negative price": func(m *registry.Model) { m.Prices.InputPerMillion = -1 },
		"self fallback":  func(m *registry.Model) { m.Fallbacks = []string{m.ID} },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			m := openAIModel("gpt-x")
			mutate(&m)
			if err := m.Validate(); !errors.Is(err, registry.ErrInvalid) {
				t.Fatalf("Validate() = %v, want ErrInvalid", err)
			}
		})
	}
	ok := openAIModel("gpt-x")
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid model rejected: %v", err)
	}
}

func TestPricesCost(t *testing.T) {
	p := registry.Prices{InputPerMillion: 0.15, OutputPerMillion: 0.6}
	if got, want := p.Cost(1_000_000, 500_000), 0.45; got < want-1e-12 || got > want+1e-12 {
		t.Fatalf("Cost = %v, want %v", got, want)
	}
}
