// Package tenancy tests the platform's multi-tenant promises through whole gateway
// instances: budgets and rate limits hold when many instances race on one shared store,
// and no endpoint lets one tenant see or use another's resources.
package tenancy

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	miniserver "github.com/truora/minidyn/server"

	"github.com/plinth-ai/plinth/shared/platform"
	"github.com/plinth-ai/plinth/shared/store"
	"github.com/plinth-ai/plinth/shared/store/boltstore"
	"github.com/plinth-ai/plinth/shared/store/dynamostore"
	"github.com/plinth-ai/plinth/shared/store/memstore"
	"github.com/plinth-ai/plinth/shared/usage"
)

const adminKey = "adm-test"

// quiet drops the per-request log lines of the instances under test.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// cluster is n platform instances sharing one store, each behind its own HTTP server.
type cluster struct {
	servers   []*httptest.Server
	platforms []*platform.Local
}

func instances(t *testing.T, st store.Store, n int) *cluster {
	t.Helper()
	c := &cluster{}
	for i := 0; i < n; i++ {
		p, err := platform.NewLocal(context.Background(), platform.Config{DataDir: t.TempDir(), AdminKey: adminKey, Store: st, Logger: quiet})
		if err != nil {
			t.Fatalf("instance %d: %v", i, err)
		}
		srv := httptest.NewServer(p.Handler)
		t.Cleanup(func() { srv.Close(); _ = p.Close(context.Background()) })
		c.servers = append(c.servers, srv)
		c.platforms = append(c.platforms, p)
	}
	return c
}

// flush waits until every instance has written its usage records.
func (c *cluster) flush(t *testing.T) {
	t.Helper()
	for _, p := range c.platforms {
		if err := p.Usage.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

func call(t *testing.T, srv *httptest.Server, method, path, key string, body any) (int, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, srv.URL+path, r)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func mustCall(t *testing.T, srv *httptest.Server, method, path, key string, body any, want int) []byte {
	t.Helper()
	status, b := call(t, srv, method, path, key, body)
	if status != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, status, want, b)
	}
	return b
}

// priced registers and approves a chat model on the built-in extractive provider with
// prices, so every request has a cost.
func priced(t *testing.T, srv *httptest.Server, id string) {
	t.Helper()
	mustCall(t, srv, "POST", "/admin/models", adminKey, map[string]any{
		"id": id, "kind": "chat",
		"deployments": []map[string]any{{"provider": "local", "model": "local-chat"}},
		"prices":      map[string]float64{"input_per_million": 1000, "output_per_million": 2000},
	}, 201)
	mustCall(t, srv, "POST", "/admin/models/"+id+"/review", adminKey, map[string]string{"decision": "approve", "reviewer": "test"}, 200)
}

func tenantWithKey(t *testing.T, srv *httptest.Server, id string, limits map[string]any) string {
	t.Helper()
	mustCall(t, srv, "POST", "/admin/tenants", adminKey, map[string]any{"id": id, "name": id, "limits": limits}, 201)
	var k struct{ Key string }
	_ = json.Unmarshal(mustCall(t, srv, "POST", "/admin/tenants/"+id+"/keys", adminKey, map[string]any{}, 201), &k)
	if k.Key == "" {
		t.Fatal("no key returned")
	}
	return k.Key
}

type raceResult struct {
	ok, limited, other int
	codes              map[string]int
}

// race sends total chat requests spread over the servers, all released at once.
func race(t *testing.T, servers []*httptest.Server, key, model string, total int) raceResult {
	t.Helper()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		start = make(chan struct{})
		res   = raceResult{codes: map[string]int{}}
	)
	body, _ := json.Marshal(map[string]any{"model": model, "max_tokens": 20,
		"messages": []map[string]string{{"role": "user", "content": "Budgets hold under concurrency. Do budgets hold?"}}})
	for i := 0; i < total; i++ {
		srv := servers[i%len(servers)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("POST", srv.URL+"/v1/chat/completions", bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+key)
			<-start
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var e struct {
				Error struct{ Code string } `json:"error"`
			}
			_ = json.Unmarshal(b, &e)
			mu.Lock()
			defer mu.Unlock()
			switch resp.StatusCode {
			case 200:
				res.ok++
			case 429:
				res.limited++
				res.codes[e.Error.Code]++
				if resp.Header.Get("Retry-After") == "" {
					t.Errorf("429 without Retry-After: %s", b)
				}
			default:
				res.other++
				t.Errorf("unexpected status %d: %s", resp.StatusCode, b)
			}
		}()
	}
	close(start)
	wg.Wait()
	return res
}

func backends(t *testing.T) map[string]func(t *testing.T) store.Store {
	return map[string]func(t *testing.T) store.Store{
		"embedded": func(t *testing.T) store.Store {
			st, err := boltstore.Open(t.TempDir()+"/plinth.db", boltstore.WithNoSync())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		},
		"memory": func(t *testing.T) store.Store { return memstore.New() },
		"dynamodb-minidyn": func(t *testing.T) store.Store {
			srv := httptest.NewServer(miniserver.NewServer())
			t.Cleanup(srv.Close)
			c := dynamodb.New(dynamodb.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
				Credentials: aws.AnonymousCredentials{}})
			if err := dynamostore.CreateTable(context.Background(), c, "plinth"); err != nil {
				t.Fatal(err)
			}
			st, err := dynamostore.New(c, "plinth")
			if err != nil {
				t.Fatal(err)
			}
			return st
		},
	}
}

// TestBudgetHoldsAcrossInstances races 200 requests through 4 gateway instances sharing
// one store against a small USD budget: recorded spend never exceeds it.
func TestBudgetHoldsAcrossInstances(t *testing.T) {
	for name, newStore := range backends(t) {
		t.Run(name, func(t *testing.T) {
			c := instances(t, newStore(t), 4)
			servers := c.servers
			priced(t, servers[0], "priced-chat")
			const budget = 2.0 // USD per day; a request reserves ~0.07 USD (≈25 prompt + 20 output tokens)
			key := tenantWithKey(t, servers[0], "racer", map[string]any{"daily_usd": budget})
			res := race(t, servers, key, "priced-chat", 200)
			if res.ok == 0 || res.limited == 0 {
				t.Fatalf("the race should both admit and refuse: %+v", res)
			}
			// A refusal is the budget (insufficient_quota) or, when the store's transaction
			// retries run out under contention, a 429 to try again (rate_limit_exceeded with
			// Retry-After, as shared/quota documents); never anything else, and the budget
			// must be what stops the race.
			if res.codes["insufficient_quota"] == 0 || res.codes["insufficient_quota"]+res.codes["rate_limit_exceeded"] != res.limited {
				t.Errorf("refusals %v, want insufficient_quota (and rate_limit_exceeded only for contention)", res.codes)
			}
			c.flush(t)
			spent := recordedSpend(t, servers[1], key)
			if spent.CostUSD > budget+1e-9 {
				t.Fatalf("recorded spend %.6f USD exceeds the budget %.2f (admitted %d)", spent.CostUSD, budget, res.ok)
			}
			if spent.CostUSD <= 0 {
				t.Fatalf("admitted requests recorded no spend: %+v", spent)
			}
			if spent.Requests != 200 {
				t.Fatalf("usage recorded %d requests of 200 (admitted and refused alike)", spent.Requests)
			}
			t.Logf("%s: admitted %d, refused %d, spend %.4f of %.2f USD", name, res.ok, res.limited, spent.CostUSD, budget)
		})
	}
}

// TestRateLimitHoldsAcrossInstances: a window never admits more requests than its limit.
func TestRateLimitHoldsAcrossInstances(t *testing.T) {
	for name, newStore := range backends(t) {
		t.Run(name, func(t *testing.T) {
			servers := instances(t, newStore(t), 4).servers
			const limit = 37
			key := tenantWithKey(t, servers[0], "ratey", map[string]any{"requests_per_minute": limit})
			before := time.Now().UTC().Truncate(time.Minute)
			res := race(t, servers, key, "local-chat", 200)
			after := time.Now().UTC().Truncate(time.Minute)
			switch {
			case before.Equal(after) && res.ok != limit:
				t.Fatalf("admitted %d of 200 within one minute, want exactly the limit %d", res.ok, limit)
			case !before.Equal(after) && (res.ok < limit || res.ok > 2*limit):
				// The race straddled a minute boundary: each window admits up to the limit.
				t.Fatalf("admitted %d of 200 across two minutes with a limit of %d per minute", res.ok, limit)
			}
			if res.codes["rate_limit_exceeded"] != res.limited {
				t.Errorf("refusals %v, want all rate_limit_exceeded", res.codes)
			}
		})
	}
}

// recordedSpend reads the tenant's own usage totals (after the instances flushed).
func recordedSpend(t *testing.T, srv *httptest.Server, key string) usage.Totals {
	t.Helper()
	var ans struct {
		Total usage.Totals `json:"total"`
	}
	b := mustCall(t, srv, "GET", "/v1/usage", key, nil, 200)
	if err := json.Unmarshal(b, &ans); err != nil {
		t.Fatal(err)
	}
	return ans.Total
}
