package federation_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/plinth-ai/plinth/shared/federation"
	"github.com/plinth-ai/plinth/shared/platform"
	"github.com/plinth-ai/plinth/shared/registry"
	"github.com/plinth-ai/plinth/shared/tenant"
)

// node is one local platform served over HTTP.
type node struct {
	*platform.Local
	srv *httptest.Server
}

func start(t *testing.T, central federation.Source) *node {
	t.Helper()
	ctx := context.Background()
	l, err := platform.NewLocal(ctx, platform.Config{DataDir: t.TempDir(), Central: central,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("start platform: %v", err)
	}
	n := &node{Local: l, srv: httptest.NewServer(l.Handler)}
	t.Cleanup(func() {
		n.srv.Close()
		if err := l.Close(context.Background()); err != nil {
			t.Errorf("close platform: %v", err)
		}
	})
	return n
}

// call sends a request with a bearer key and decodes the JSON answer.
func (n *node) call(t *testing.T, key, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, n.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func errCode(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

// TestDecentralisedPlinth runs a central platform and a line of business's own platform
// in one process: the line of business pulls the centre's approved models and guardrail
// baseline at start-up, serves them, keeps them read-only, and follows the centre's
// changes on the next pull.
func TestDecentralisedPlinth(t *testing.T) {
	ctx := context.Background()
	centre := start(t, federation.Source{})
	admin := centre.AdminKey

	// The centre: an approved model, a pending one and a tenant's own model; a baseline.
	orgChat := registry.Model{ID: "org-chat", Kind: registry.KindChat, Owner: "ai-platform", Description: "the organisation's chat model",
		Deployments: []registry.Deployment{{Provider: registry.ProviderLocal, Model: "local-chat", APIKey: "sk-central-secret"}},
		Prices:      registry.Prices{InputPerMillion: 1, OutputPerMillion: 2}, ContextWindow: 32768, MaxOutputTokens: 512}
	orgEmbed := registry.Model{ID: "org-embed", Kind: registry.KindEmbedding, Owner: "ai-platform",
		Deployments: []registry.Deployment{{Provider: registry.ProviderLocal, Model: "local-embed"}}, Dimensions: 1024}
	pending := registry.Model{ID: "org-pending", Kind: registry.KindChat,
		Deployments: []registry.Deployment{{Provider: registry.ProviderLocal, Model: "local-chat"}}}
	own := registry.Model{ID: "acme-tuned", Kind: registry.KindChat, Tenant: "demo",
		Deployments: []registry.Deployment{{Provider: registry.ProviderLocal, Model: "local-chat"}}}
	for _, m := range []registry.Model{orgChat, orgEmbed, pending, own} {
		if _, err := centre.Registry.Create(ctx, m, "test"); err != nil {
			t.Fatalf("create %s: %v", m.ID, err)
		}
	}
	for _, id := range []string{"org-chat", "org-embed", "acme-tuned"} {
		if _, err := centre.Registry.Review(ctx, id, "approve", "reviewer", "ok"); err != nil {
			t.Fatalf("approve %s: %v", id, err)
		}
	}
	if code, body := centre.call(t, admin, "POST", "/admin/guardrail-policies", `{"id":"org-floor","name":"organisation floor",
		"blockedInputMessaging":"Blocked by the organisation.","wordPolicyConfig":{"wordsConfig":[{"text":"project nightingale"}]}}`); code != 201 {
		t.Fatalf("create policy: %d %v", code, body)
	}
	if code, body := centre.call(t, admin, "PUT", "/admin/guardrail-baseline", `{"policy":"org-floor"}`); code != 200 {
		t.Fatalf("set baseline: %d %v", code, body)
	}

	// The exports: platform auditors and admins only.
	_, auditor, err := centre.Tenants.CreatePlatformKey(ctx, tenant.KeyOptions{Name: "lob-sync"})
	if err != nil {
		t.Fatal(err)
	}
	code, reg := centre.call(t, auditor, "GET", "/admin/sync/registry", "")
	if code != 200 {
		t.Fatalf("registry export: %d %v", code, reg)
	}
	var exported []string
	for _, m := range reg["data"].([]any) {
		mm := m.(map[string]any)
		exported = append(exported, mm["id"].(string))
		if strings.Contains(jsonText(mm), "sk-central-secret") {
			t.Errorf("export leaks a deployment API key: %v", mm)
		}
	}
	if !slices.Contains(exported, "org-chat") || slices.Contains(exported, "org-pending") || slices.Contains(exported, "acme-tuned") {
		t.Errorf("exported %v: want approved platform-wide models only", exported)
	}
	if code, body := centre.call(t, centre.DemoKey, "GET", "/admin/sync/registry", ""); code != 403 {
		t.Errorf("a tenant key read the export: %d %v", code, body)
	}

	// A line of business's Plinth, pulling from the centre at start-up.
	lob := start(t, federation.Source{URL: centre.srv.URL, Key: auditor, Interval: time.Hour})
	m, err := lob.Registry.Get(ctx, "org-chat")
	if err != nil {
		t.Fatalf("org-chat not synchronised: %v", err)
	}
	if m.Status != registry.StatusApproved || m.Tags[federation.SourceTag] != federation.SourceCentral || m.Prices.OutputPerMillion != 2 {
		t.Errorf("org-chat here: status %s tags %v prices %+v", m.Status, m.Tags, m.Prices)
	}
	for _, id := range []string{"org-pending", "acme-tuned"} {
		if _, err := lob.Registry.Get(ctx, id); !errors.Is(err, registry.ErrNotFound) {
			t.Errorf("%s reached the line of business: %v", id, err)
		}
	}
	if b, _ := lob.call(t, lob.AdminKey, "GET", "/admin/guardrail-baseline", ""); b != 200 {
		t.Errorf("baseline: %d", b)
	}
	// The synchronised model serves, and the synchronised floor guards, the line of
	// business's own tenants.
	ask := `{"model":"org-chat","messages":[{"role":"user","content":"Tell me about project nightingale."}]}`
	code, out := lob.call(t, lob.DemoKey, "POST", "/v1/chat/completions", ask)
	if code != 200 {
		t.Fatalf("chat with the synchronised model: %d %v", code, out)
	}
	choice := out["choices"].([]any)[0].(map[string]any)
	g, _ := out["guardrail"].(map[string]any)
	if choice["finish_reason"] != "content_filter" || g["policy"] != "org-floor" {
		t.Errorf("the centre's floor did not hold: finish %v guardrail %v", choice["finish_reason"], g)
	}

	// Read-only here: the centre owns them. The line of business's own models are its own.
	for _, c := range []struct{ method, path, body string }{
		{"PATCH", "/admin/models/org-chat", `{"description":"changed locally"}`},
		{"POST", "/admin/models/org-chat/review", `{"decision":"retire","reviewer":"lob"}`},
		{"PUT", "/admin/guardrail-baseline", `{"policy":""}`},
		{"PUT", "/admin/guardrail-policies/org-floor", `{"name":"weaker"}`},
		{"POST", "/admin/guardrail-policies/org-floor/versions", `{"name":"weaker"}`},
	} {
		if code, body := lob.call(t, lob.AdminKey, c.method, c.path, c.body); code != 403 || errCode(body) != "permission_denied" {
			t.Errorf("%s %s on the line of business: %d %v, want 403 permission_denied", c.method, c.path, code, body)
		}
	}
	if code, body := lob.call(t, lob.AdminKey, "POST", "/admin/models", `{"id":"lob-chat","kind":"chat","deployments":[{"provider":"local","model":"local-chat"}]}`); code != 201 {
		t.Errorf("the line of business cannot add its own model: %d %v", code, body)
	}

	// The centre moves on: org-chat deprecated, org-embed retired, the floor tightened.
	if _, err := centre.Registry.Review(ctx, "org-chat", "deprecate", "reviewer", "use org-chat-2"); err != nil {
		t.Fatal(err)
	}
	if _, err := centre.Registry.Review(ctx, "org-embed", "retire", "reviewer", "gone"); err != nil {
		t.Fatal(err)
	}
	if code, body := centre.call(t, admin, "POST", "/admin/guardrail-policies/org-floor/versions", `{"name":"organisation floor",
		"blockedInputMessaging":"Blocked by the organisation.","wordPolicyConfig":{"wordsConfig":[{"text":"project nightingale"},{"text":"project kestrel"}]}}`); code != 201 {
		t.Fatalf("new policy version: %d %v", code, body)
	}
	if code, body := centre.call(t, admin, "PUT", "/admin/guardrail-baseline", `{"policy":"org-floor:2"}`); code != 200 {
		t.Fatalf("move baseline: %d %v", code, body)
	}
	res, err := platform.SyncFromCentre(ctx, lob.Platform)
	if err != nil || len(res.Errors) > 0 {
		t.Fatalf("second pull: %v %v", err, res.Errors)
	}
	if got, _ := lob.Registry.Get(ctx, "org-chat"); got.Status != registry.StatusDeprecated {
		t.Errorf("org-chat here is %s, want deprecated", got.Status)
	}
	if got, _ := lob.Registry.Get(ctx, "org-embed"); got.Status != registry.StatusRetired || !slices.Contains(res.Retired, "org-embed") {
		t.Errorf("org-embed here is %s (retired %v), want retired", got.Status, res.Retired)
	}
	code, out = lob.call(t, lob.DemoKey, "POST", "/v1/guardrails/apply", `{"source":"INPUT","content":[{"text":{"text":"news of project kestrel"}}]}`)
	if code != 200 || out["action"] != "GUARDRAIL_INTERVENED" {
		t.Errorf("the tightened floor does not hold here: %d %v", code, out)
	}
	// A third pull with nothing new changes nothing.
	if res, err := platform.SyncFromCentre(ctx, lob.Platform); err != nil || len(res.Created)+len(res.Updated)+len(res.Retired) != 0 {
		t.Errorf("idle pull: %+v %v", res, err)
	}

	// A pull the centre refuses changes nothing and says why.
	bad := federation.Source{URL: centre.srv.URL, Key: "pk-not-a-key"}
	before, _ := federation.LoadState(ctx, lob.Store)
	local := &federation.Local{Store: lob.Store, Registry: lob.Registry}
	if _, err := federation.SyncOnce(ctx, bad, local); !errors.Is(err, federation.ErrCentre) || !strings.Contains(err.Error(), "401") {
		t.Errorf("pull with a bad key: %v, want ErrCentre with 401", err)
	}
	if after, _ := federation.LoadState(ctx, lob.Store); !after.SyncedAt.Equal(before.SyncedAt) {
		t.Errorf("a refused pull changed the state")
	}
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
