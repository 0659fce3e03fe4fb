package tenant_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plinth-ai/plinth/shared/auth"
	"github.com/plinth-ai/plinth/shared/clocktest"
	"github.com/plinth-ai/plinth/shared/store"
	"github.com/plinth-ai/plinth/shared/store/memstore"
	"github.com/plinth-ai/plinth/shared/tenant"
)

// clock is a settable test clock.
func newClock() *clocktest.Clock {
	return clocktest.New(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC))
}

func TestCreateTenantValidation(t *testing.T) {
	ctx := context.Background()
	svc := tenant.NewService(memstore.New())
	if _, err := svc.CreateTenant(ctx, tenant.Tenant{ID: "acme", Name: "Acme"}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		in   tenant.Tenant
		want error
	}{
		{"duplicate", tenant.Tenant{ID: "acme"}, tenant.ErrExists},
		{"uppercase", tenant.Tenant{ID: "Acme"}, tenant.ErrInvalid},
		{"too short", tenant.Tenant{ID: "a"}, tenant.ErrInvalid},
		{"leading hyphen", tenant.Tenant{ID: "-acme"}, tenant.ErrInvalid},
		{"bad status", tenant.Tenant{ID: "beta", Status: "paused"}, tenant.ErrInvalid},
		{"bad tier", tenant.Tenant{ID: "beta", IsolationTier: "gold"}, tenant.ErrInvalid},
		{"negative limit", tenant.Tenant{ID: "beta", Limits: tenant.Limits{RequestsPerMinute: -1}}, tenant.ErrInvalid},
		{"ok", tenant.Tenant{ID: "b2-team"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := svc.CreateTenant(ctx, tc.in)
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if tc.want == nil && (got.Status != tenant.StatusActive || got.IsolationTier != tenant.TierPool) {
				t.Fatalf("defaults not applied: %+v", got)
			}
		})
	}
	ts, err := svc.ListTenants(ctx)
	if err != nil || len(ts) != 2 || ts[0].ID != "acme" || ts[1].ID != "b2-team" {
		t.Fatalf("list = %v, %v", ts, err)
	}
}

func TestAuthenticate(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	st := memstore.New()
	svc := tenant.NewService(st, tenant.WithClock(clk.Now), tenant.WithCacheTTL(30*time.Second))
	other := tenant.NewService(st, tenant.WithClock(clk.Now), tenant.WithCacheTTL(30*time.Second))
	if _, err := svc.CreateTenant(ctx, tenant.Tenant{ID: "acme"}); err != nil {
		t.Fatal(err)
	}
	key, secret, err := svc.CreateKey(ctx, "acme", tenant.KeyOptions{Name: "ci"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, "pk-") || len(secret) != 46 || !strings.HasPrefix(key.ID, "key_") {
		t.Fatalf("secret %q id %q", secret, key.ID)
	}
	exp := clk.Now().Add(time.Hour)
	_, expiring, err := svc.CreateKey(ctx, "acme", tenant.KeyOptions{ExpiresAt: &exp, Scopes: []auth.Scope{auth.ScopeInference}})
	if err != nil {
		t.Fatal(err)
	}

	p, tn, err := other.Authenticate(ctx, secret)
	if err != nil || p.TenantID != "acme" || p.KeyID != key.ID || tn.ID != "acme" || !p.Has(auth.ScopeInference) || !p.Has(auth.ScopeRetrieval) || p.Has(auth.ScopeAdminRead) {
		t.Fatalf("authenticate = %+v %v %v", p, tn, err)
	}
	malformed := []string{"", "pk-", "sk-" + secret[3:], secret + "x", secret[:45] + "!", "Bearer " + secret}
	for _, m := range malformed {
		t.Run("malformed "+m, func(t *testing.T) {
			if _, _, err := svc.Authenticate(ctx, m); !errors.Is(err, tenant.ErrInvalidKey) {
				t.Fatalf("err = %v", err)
			}
		})
	}
	unknown := "pk-" + strings.Repeat("A", 43)
	if _, _, err := svc.Authenticate(ctx, unknown); !errors.Is(err, tenant.ErrInvalidKey) {
		t.Fatalf("unknown key: %v", err)
	}

	t.Run("expiry", func(t *testing.T) {
		if _, _, err := svc.Authenticate(ctx, expiring); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Hour)
		// The cached entry must not outlive the key's own expiry.
		if _, _, err := svc.Authenticate(ctx, expiring); !errors.Is(err, tenant.ErrKeyExpired) {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("revocation", func(t *testing.T) {
		for _, s := range []*tenant.Service{svc, other} {
			if _, _, err := s.Authenticate(ctx, secret); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := svc.RevokeKey(ctx, key.ID); err != nil {
			t.Fatal(err)
		}
		if _, _, err := svc.Authenticate(ctx, secret); !errors.Is(err, tenant.ErrKeyRevoked) {
			t.Fatalf("revoking instance: err = %v", err)
		}
		// Another instance trusts its cache for at most the TTL.
		if _, _, err := other.Authenticate(ctx, secret); err != nil {
			t.Fatalf("other instance within TTL: %v", err)
		}
		clk.Advance(30 * time.Second)
		if _, _, err := other.Authenticate(ctx, secret); !errors.Is(err, tenant.ErrKeyRevoked) {
			t.Fatalf("other instance after TTL: err = %v", err)
		}
		if _, err := svc.RevokeKey(ctx, "key_missing"); !errors.Is(err, tenant.ErrNotFound) {
			t.Fatalf("revoke missing: %v", err)
		}
	})

	t.Run("suspension", func(t *testing.T) {
		_, s2, err := svc.CreateKey(ctx, "acme", tenant.KeyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := svc.Authenticate(ctx, s2); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.UpdateTenant(ctx, "acme", func(t *tenant.Tenant) error { t.Status = tenant.StatusSuspended; return nil }); err != nil {
			t.Fatal(err)
		}
		if _, _, err := svc.Authenticate(ctx, s2); !errors.Is(err, tenant.ErrTenantSuspended) {
			t.Fatalf("err = %v", err)
		}
	})
}

// notifyingPuts reports every Put's key on a channel.
type notifyingPuts struct {
	store.Store
	puts chan store.Key
}

func (n *notifyingPuts) Put(ctx context.Context, it store.Item, o store.WriteOptions) (int64, error) {
	v, err := n.Store.Put(ctx, it, o)
	n.puts <- it.Key
	return v, err
}

func TestListKeysHidesSecretsAndRecordsLastUse(t *testing.T) {
	ctx := context.Background()
	st := &notifyingPuts{Store: memstore.New(), puts: make(chan store.Key, 16)}
	svc := tenant.NewService(st)
	if _, err := svc.CreateTenant(ctx, tenant.Tenant{ID: "acme"}); err != nil {
		t.Fatal(err)
	}
	k, secret, err := svc.CreateKey(ctx, "acme", tenant.KeyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.Authenticate(ctx, secret); err != nil {
		t.Fatal(err)
	}
	// Last use is written off the request path: wait for that write.
	timeout := time.After(5 * time.Second)
	for done := false; !done; {
		select {
		case key := <-st.puts:
			done = strings.HasPrefix(key.SK, "U#")
		case <-timeout:
			t.Fatal("last use never written")
		}
	}
	keys, err := svc.ListKeys(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0].ID != k.ID || keys[0].LastUsedAt == nil {
		t.Fatalf("keys = %+v", keys)
	}
	if _, err := svc.ListKeys(ctx, "nobody"); !errors.Is(err, tenant.ErrNotFound) {
		t.Fatalf("list keys of missing tenant: %v", err)
	}
}

func BenchmarkAuthenticateCacheHit(b *testing.B) {
	ctx := context.Background()
	svc := tenant.NewService(memstore.New())
	if _, err := svc.CreateTenant(ctx, tenant.Tenant{ID: "acme"}); err != nil {
		b.Fatal(err)
	}
	_, secret, err := svc.CreateKey(ctx, "acme", tenant.KeyOptions{})
	if err != nil {
		b.Fatal(err)
	}
	if _, _, err := svc.Authenticate(ctx, secret); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := svc.Authenticate(ctx, secret); err != nil {
			b.Fatal(err)
		}
	}
}

// countingGets counts store reads.
type countingGets struct {
	store.Store
	gets atomic.Int64
}

func (c *countingGets) Get(ctx context.Context, k store.Key) (store.Item, error) {
	c.gets.Add(1)
	return c.Store.Get(ctx, k)
}

// TestAuthenticateRoundTrips pins the hot path's store reads: two on a miss (key and
// tenant), none on a hit.
func TestAuthenticateRoundTrips(t *testing.T) {
	ctx := context.Background()
	st := &countingGets{Store: memstore.New()}
	svc := tenant.NewService(st)
	if _, err := svc.CreateTenant(ctx, tenant.Tenant{ID: "acme"}); err != nil {
		t.Fatal(err)
	}
	_, secret, err := svc.CreateKey(ctx, "acme", tenant.KeyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st.gets.Store(0)
	if _, _, err := svc.Authenticate(ctx, secret); err != nil {
		t.Fatal(err)
	}
	if n := st.gets.Load(); n != 2 {
		t.Fatalf("miss: %d reads", n)
	}
	for i := 0; i < 10; i++ {
		if _, _, err := svc.Authenticate(ctx, secret); err != nil {
			t.Fatal(err)
		}
	}
	if n := st.gets.Load(); n != 2 {
		t.Fatalf("hits read the store: %d reads", n)
	}
}
