package tenancy

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/plinth-ai/plinth/shared/clocktest"
	"github.com/plinth-ai/plinth/shared/kms/filekms"
	"github.com/plinth-ai/plinth/shared/platform"
)

// clock is a platform clock the test moves.
// TestCryptoShredding: a silo tenant's data is sealed with its own key. Disabling the key
// makes every read of the tenant's data fail with 503 service_unavailable naming the key
// (nothing is served from plaintext), re-enabling it restores them, and deleting it makes
// the data unreadable for good, across a restart. Other tenants are unaffected throughout.
func TestCryptoShredding(t *testing.T) {
	dir := t.TempDir()
	clk := clocktest.New(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	start := func() (*platform.Local, *httptest.Server) {
		p, err := platform.NewLocal(context.Background(), platform.Config{DataDir: dir, AdminKey: adminKey, Logger: quiet, Clock: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(p.Handler)
		return p, srv
	}
	p, srv := start()
	stop := func() { srv.Close(); _ = p.Close(context.Background()) }
	defer func() { stop() }()

	keys := map[string]string{}
	for _, tn := range []struct{ id, tier, text string }{{"acme", "silo", "Quixotic-4411 is acme's launch codename."}, {"globex", "pool", "Zephyrine-9023 is globex's launch codename."}} {
		mustCall(t, srv, "POST", "/admin/tenants", adminKey, map[string]any{"id": tn.id, "isolation_tier": tn.tier}, 201)
		var k struct{ Key string }
		_ = json.Unmarshal(mustCall(t, srv, "POST", "/admin/tenants/"+tn.id+"/keys", adminKey, map[string]any{}, 201), &k)
		keys[tn.id] = k.Key
		mustCall(t, srv, "POST", "/admin/knowledge-bases", adminKey, map[string]any{"tenant": tn.id, "id": "docs"}, 201)
		upload(t, srv.URL, k.Key, "docs", "plan.txt", tn.text)
		waitIndexed(t, srv.URL, k.Key, "docs", 1)
	}
	retrieve := func(tn string) (int, string) {
		status, body := call(t, srv, "POST", "/v1/knowledge-bases/docs/retrieve", keys[tn], map[string]any{"query": "launch codename"})
		return status, string(body)
	}
	expect := func(tn string, want int, mentions string) {
		t.Helper()
		status, body := retrieve(tn)
		if status != want || !strings.Contains(body, mentions) {
			t.Fatalf("%s retrieves: %d %s; want %d mentioning %q", tn, status, body, want, mentions)
		}
	}
	expect("acme", 200, "Quixotic-4411")

	keyID, err := platform.SiloKeyID(dir, "acme")
	if err != nil {
		t.Fatal(err)
	}
	km, err := filekms.New(platform.KeysDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	// Disabled: once the unwrapped data key's cache expires, every read fails loudly.
	if err := km.DisableKey(ctx, keyID); err != nil {
		t.Fatal(err)
	}
	clk.Advance(10 * time.Minute)
	expect("acme", 503, keyID)
	expect("acme", 503, "service_unavailable")
	for _, path := range []string{"/v1/knowledge-bases/docs/documents", "/v1/usage"} {
		if status, body := call(t, srv, "GET", path, keys["acme"], nil); status != 503 || strings.Contains(string(body), "Quixotic") {
			t.Errorf("GET %s as acme with its key disabled: %d %s", path, status, body)
		}
	}
	if status, body := call(t, srv, "GET", "/admin/knowledge-bases?tenant=acme", adminKey, nil); status != 503 {
		t.Errorf("the admin listing acme's knowledge bases: %d %s", status, body)
	}
	expect("globex", 200, "Zephyrine-9023")
	if status, body := call(t, srv, "GET", "/admin/knowledge-bases?tenant=globex", adminKey, nil); status != 200 || !strings.Contains(string(body), "globex") {
		t.Errorf("the admin listing globex's knowledge bases: %d %s", status, body)
	}

	// Enabled again: readable again.
	if err := km.EnableKey(ctx, keyID); err != nil {
		t.Fatal(err)
	}
	expect("acme", 200, "Quixotic-4411")

	// Deleted: unreadable for good, also after a restart; the platform still starts and
	// serves the other tenants. The usage of acme's requests so far is in the ledger
	// first: a record still spooled when its tenant's key is gone cannot be written.
	if err := p.Usage.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := km.DeleteKey(ctx, keyID); err != nil {
		t.Fatal(err)
	}
	clk.Advance(10 * time.Minute)
	expect("acme", 503, keyID)
	stop()
	p, srv = start()
	expect("acme", 503, "service_unavailable")
	expect("globex", 200, "Zephyrine-9023")
}
