package tenantauth_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plinth-ai/plinth/shared/auth"
	"github.com/plinth-ai/plinth/shared/gateway"
	"github.com/plinth-ai/plinth/shared/gateway/tenantauth"
	"github.com/plinth-ai/plinth/shared/quota"
	"github.com/plinth-ai/plinth/shared/registry"
	"github.com/plinth-ai/plinth/shared/store"
	"github.com/plinth-ai/plinth/shared/store/boltstore"
	"github.com/plinth-ai/plinth/shared/store/memstore"
	"github.com/plinth-ai/plinth/shared/tenant"
	"github.com/plinth-ai/plinth/shared/usage"
)

// fixed admits every request as one caller without reading anything (the "off" case).
type fixed struct{ c *gateway.Caller }

func (f fixed) Authenticate(*http.Request) (*gateway.Caller, error) { return f.c, nil }

// BenchmarkGatewayOverhead measures what authentication, quota and usage add to one
// chat completion served by an instant model: "off" admits a fixed caller and records
// nothing; "on" authenticates the key (cache hit), reserves and reconciles quota on
// limits spanning two items (one Transact each) and queues a usage record.
func BenchmarkGatewayOverhead(b *testing.B) {
	reg := models{
		"local-chat": {ID: "local-chat", Kind: registry.KindChat, Status: registry.StatusApproved, Prices: registry.Prices{InputPerMillion: 1, OutputPerMillion: 1}, MaxOutputTokens: 64},
		"gpt-x":      {ID: "gpt-x", Kind: registry.KindChat, Status: registry.StatusApproved},
	}
	quiet := gateway.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
	body := `{"model":"local-chat","messages":[{"role":"user","content":"How many days are in a leap year?"}]}`
	serve := func(b *testing.B, h http.Handler, key string) {
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			r := httptest.NewRequest("POST", "/v1/chat/completions", strings.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("Authorization", "Bearer "+key)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != 200 {
				b.Fatalf("%d %s", w.Code, w.Body)
			}
		}
	}
	b.Run("off", func(b *testing.B) {
		g := gateway.New(reg, echo{}, quiet)
		mux := http.NewServeMux()
		g.Routes(mux)
		tn := &tenant.Tenant{ID: "acme", Status: tenant.StatusActive}
		serve(b, gateway.Authenticate(fixed{&gateway.Caller{Principal: auth.Principal{TenantID: "acme", KeyID: "k", Scopes: tenant.DefaultScopes}, Tenant: tn}}, mux), "x")
	})
	stores := map[string]func(b *testing.B) store.Store{
		"memstore": func(*testing.B) store.Store { return memstore.New() },
		"boltstore": func(b *testing.B) store.Store {
			s, err := boltstore.Open(filepath.Join(b.TempDir(), "p.db"))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			return s
		},
		"boltstore-nosync": func(b *testing.B) store.Store {
			s, err := boltstore.Open(filepath.Join(b.TempDir(), "p.db"), boltstore.WithNoSync())
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			return s
		},
	}
	for _, name := range []string{"memstore", "boltstore", "boltstore-nosync"} {
		b.Run("on/"+name, func(b *testing.B) {
			ctx := context.Background()
			st := stores[name](b)
			ts := tenant.NewService(st)
			lim := tenant.Limits{RequestsPerMinute: 1e12, TokensPerMinute: 1e15, MonthlyUSD: 1e9}
			if _, err := ts.CreateTenant(ctx, tenant.Tenant{ID: "acme", Limits: lim}); err != nil {
				b.Fatal(err)
			}
			_, secret, _ := ts.CreateKey(ctx, "acme", tenant.KeyOptions{})
			rec := usage.NewRecorder(st, usage.WithQueueSize(1<<16))
			g := gateway.New(reg, echo{}, quiet, gateway.WithQuota(quota.New(st)), gateway.WithUsage(rec))
			mux := http.NewServeMux()
			g.Routes(mux)
			h := gateway.Authenticate(tenantauth.New(ts), mux)
			serve(b, h, secret)
			b.StopTimer()
			_ = rec.Close(ctx)
		})
	}
}
