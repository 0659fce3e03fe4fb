package guardrail

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	minidyn "github.com/truora/minidyn/aws-v2/client"

	"github.com/plinth-ai/plinth/shared/store"
	"github.com/plinth-ai/plinth/shared/store/boltstore"
	"github.com/plinth-ai/plinth/shared/store/dynamostore"
	"github.com/plinth-ai/plinth/shared/store/memstore"
)

func TestRepository(t *testing.T) {
	backends := map[string]func(t *testing.T) store.Store{
		"memstore": func(t *testing.T) store.Store { return memstore.New() },
		"dynamostore on minidyn": func(t *testing.T) store.Store {
			c := minidyn.NewClient()
			if err := dynamostore.CreateTable(context.Background(), c, "plinth-guardrails"); err != nil {
				t.Fatal(err)
			}
			s, err := dynamostore.New(c, "plinth-guardrails")
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		"boltstore": func(t *testing.T) store.Store {
			s, err := boltstore.Open(filepath.Join(t.TempDir(), "db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			return s
		},
	}
	for name, mk := range backends {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			r := NewRepository(mk(t))
			p := loadPolicy(t, "policy_full.json")
			p.ID = "acme-default"
			v1, err := r.Create(ctx, *p)
			if err != nil {
				t.Fatal(err)
			}
			if v1.Version != 1 || v1.ID != "acme-default" {
				t.Fatalf("created %s v%d", v1.ID, v1.Version)
			}
			if _, err := r.Create(ctx, *p); !errors.Is(err, ErrPolicyExists) {
				t.Fatalf("second create: %v", err)
			}
			p.BlockedInputMessaging = "v2 message"
			v2, err := r.Update(ctx, "acme-default", *p)
			if err != nil || v2.Version != 2 {
				t.Fatalf("update: %v %+v", err, v2)
			}
			latest, err := r.Get(ctx, "acme-default", 0)
			if err != nil || latest.Version != 2 || latest.BlockedInputMessaging != "v2 message" {
				t.Fatalf("latest: %v %+v", err, latest)
			}
			old, err := r.Get(ctx, "acme-default", 1)
			if err != nil || old.BlockedInputMessaging == "v2 message" || len(old.SensitiveInformationPolicyConfig.PiiEntitiesConfig) != 16 {
				t.Fatalf("v1: %v %+v", err, old)
			}
			vs, err := r.Versions(ctx, "acme-default")
			if err != nil || len(vs) != 2 || vs[0].Version != 1 || vs[1].Version != 2 {
				t.Fatalf("versions: %v %+v", err, vs)
			}
			gen, err := r.Create(ctx, Policy{Name: "generated"})
			if err != nil || gen.ID == "" {
				t.Fatalf("generated id: %v %+v", err, gen)
			}
			list, err := r.List(ctx)
			if err != nil || len(list) != 2 {
				t.Fatalf("list: %v %+v", err, list)
			}
			if _, err := r.Get(ctx, "nope", 0); !errors.Is(err, ErrPolicyNotFound) {
				t.Fatalf("missing: %v", err)
			}
			if _, err := r.Get(ctx, "acme-default", 9); !errors.Is(err, ErrPolicyNotFound) {
				t.Fatalf("missing version: %v", err)
			}
			if _, err := r.Update(ctx, "nope", *p); !errors.Is(err, ErrPolicyNotFound) {
				t.Fatalf("update missing: %v", err)
			}
			bad := Policy{Name: "bad", ContentPolicyConfig: &ContentPolicyConfig{FiltersConfig: []ContentFilterConfig{{Type: "GORE"}}}}
			if _, err := r.Create(ctx, bad); !errors.Is(err, ErrInvalidPolicy) {
				t.Fatalf("invalid create: %v", err)
			}
			if _, err := r.Create(ctx, Policy{ID: "bad id!"}); !errors.Is(err, ErrInvalidPolicy) {
				t.Fatalf("invalid id: %v", err)
			}
		})
	}
}

func TestServiceTightensTenantPolicy(t *testing.T) {
	ctx := context.Background()
	e := newEngine(t)
	r := NewRepository(memstore.New())
	tenantPolicy := Policy{ID: "t1", Name: "tenant", SensitiveInformationPolicyConfig: &SensitiveInformationPolicyConfig{
		PiiEntitiesConfig: []PiiEntityConfig{{Type: "EMAIL", Action: ActionBlock}}}}
	if _, err := r.Create(ctx, tenantPolicy); err != nil {
		t.Fatal(err)
	}
	svc := NewService(e, r, WithTenantPolicy(func(ctx context.Context, tenant string) (string, int, error) {
		if tenant == "acme" {
			return "t1", 0, nil
		}
		return "", 0, nil
	}))
	req := ApplyRequest{Source: SourceInput, Content: []ContentBlock{{Text: &TextBlock{Text: "mail a@b.io"}}},
		Policy: &Policy{SensitiveInformationPolicyConfig: &SensitiveInformationPolicyConfig{
			PiiEntitiesConfig: []PiiEntityConfig{{Type: "EMAIL", Action: ActionNone}}}}}
	resp, err := svc.Apply(ctx, "acme", req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Action != ActionIntervened {
		t.Fatalf("inline NONE loosened the tenant's BLOCK: %+v", resp)
	}
	resp, err = svc.Apply(ctx, "other", req)
	if err != nil || resp.Action != ActionNoneResponse {
		t.Fatalf("tenant without policy: %v %+v", err, resp)
	}
	req.Policy = nil
	resp, err = svc.Apply(ctx, "other", req)
	if err != nil || resp.Action != ActionNoneResponse || resp.Outputs[0].Text != "mail a@b.io" {
		t.Fatalf("no policy at all: %v %+v", err, resp)
	}
	req.GuardrailIdentifier = "t1"
	resp, err = svc.Apply(ctx, "other", req)
	if err != nil || resp.Action != ActionIntervened {
		t.Fatalf("stored policy by identifier: %v %+v", err, resp)
	}
}
