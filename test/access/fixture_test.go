package access

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/plinth-ai/plinth/shared/customize"
	"github.com/plinth-ai/plinth/shared/platform"
)

const adminKey = "adm-access-matrix-test"

// world is a running platform with two tenants, each with the same kinds of resources,
// and a credential of every role.
type world struct {
	srv *httptest.Server
	p   *platform.Local
	// keys by credential name (see credentials).
	keys map[string]string
	// res are each tenant's resources, by tenant then name.
	res map[string]map[string]string
}

func (w *world) call(t *testing.T, method, path, key string, body any) (int, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, method, w.srv.URL+path, r)
	req.Header.Set("Authorization", "Bearer "+key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := w.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	// Streams (GET /mcp) are judged by their status; the body is not awaited.
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 400 {
		if k := storeKey.Find(b); k != nil {
			t.Errorf("%s %s: %d answer names the internal store key %q: %.300s", method, path, resp.StatusCode, k, b)
		}
	}
	return resp.StatusCode, b
}

// storeKey matches a fragment of the platform's internal store keys ("EVAL#SUITES",
// "TENANT#acme", "TOOLHUB#GRANTS#…"): no error a caller reads may name one.
var storeKey = regexp.MustCompile(`[A-Z][A-Z0-9_]*#`)

func (w *world) must(t *testing.T, method, path string, body any, want int) map[string]any {
	t.Helper()
	status, b := w.call(t, method, path, adminKey, body)
	if status != want {
		t.Fatalf("setup %s %s: %d, want %d: %s", method, path, status, want, b)
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}

// newWorld starts the platform and gives tenants acme and globex a knowledge base, an
// evaluation suite with a run, a review queue, a prompt, a guardrail policy and a spare
// key each, and acme a key of every tenant role.
func newWorld(t *testing.T) *world {
	t.Helper()
	p, err := platform.NewLocal(context.Background(), platform.Config{DataDir: t.TempDir(), AdminKey: adminKey,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p.Handler)
	t.Cleanup(func() { srv.Close(); _ = p.Close(context.Background()) })
	w := &world{srv: srv, p: p, keys: map[string]string{"platform-admin": adminKey}, res: map[string]map[string]string{}}
	for _, tn := range []string{"acme", "globex"} {
		w.must(t, "POST", "/admin/tenants", map[string]any{"id": tn}, 201)
		r := map[string]string{"tenant": tn}
		w.must(t, "POST", "/admin/knowledge-bases", map[string]any{"tenant": tn, "id": "docs"}, 201)
		r["kb"] = "docs"
		r["suite"] = tn + "-qa"
		w.must(t, "POST", "/admin/eval-suites", map[string]any{"tenant": tn, "id": r["suite"], "target": map[string]any{"model": "local-chat"},
			"metrics": []string{"exact_match"}, "dataset": map[string]any{"items": []map[string]any{{"id": "1", "input": "q", "references": []string{"a"}, "output": "a"}}}}, 201)
		r["run"] = w.must(t, "POST", "/admin/eval-suites/"+r["suite"]+"/runs", map[string]any{}, 202)["id"].(string)
		r["queue"] = w.must(t, "POST", "/admin/review-queues", map[string]any{"tenant": tn, "name": "q", "kind": "rubric",
			"criteria": []map[string]any{{"name": "correctness", "min": 1, "max": 5}},
			"source":   map[string]any{"type": "samples", "samples": []map[string]any{{"id": "s1", "input": "q", "output": "a"}}}}, 201)["id"].(string)
		r["prompt"] = tn + "-prompt"
		w.must(t, "POST", "/admin/prompts", map[string]any{"tenant": tn, "id": r["prompt"], "template": "Answer: {{input}}"}, 201)
		r["policy"] = tn + "-policy"
		w.must(t, "POST", "/admin/guardrail-policies", map[string]any{"tenant": tn, "id": r["policy"], "name": tn,
			"wordPolicyConfig": map[string]any{"wordsConfig": []map[string]any{{"text": "forbidden"}}}}, 201)
		r["key"] = w.must(t, "POST", "/admin/tenants/"+tn+"/keys", map[string]any{"name": "spare"}, 201)["id"].(string)
		r["agent"] = tn + "-agent"
		w.must(t, "POST", "/admin/agents", map[string]any{"tenant": tn, "id": r["agent"], "model": "local-chat", "instructions": "Answer briefly."}, 201)
		r["job"] = fineTuningJob(t, p, tn)
		w.res[tn] = r
	}
	for _, c := range credentials {
		if c.name == "platform-admin" {
			continue
		}
		path := "/admin/keys"
		if !c.platform {
			path = "/admin/tenants/acme/keys"
		}
		w.keys[c.name] = w.must(t, "POST", path, map[string]any{"name": c.name, "role": c.role, "scopes": c.scopes}, 201)["key"].(string)
	}
	return w
}

// fineTuningJob gives tenant tn a fine-tuning job (its one-record file fails validation
// at once, so no training runs).
func fineTuningJob(t *testing.T, p *platform.Local, tn string) string {
	t.Helper()
	ft, err := platform.Customize(p.Platform)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	f, err := ft.CreateFile(ctx, tn, "matrix.jsonl", "fine-tune", strings.NewReader(`{"prompt":"q","completion":"a"}`+"\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	j, err := ft.CreateJob(ctx, tn, customize.JobRequest{Model: "local-tune", TrainingFile: f.ID}, "matrix")
	if err != nil {
		t.Fatal(err)
	}
	return j.ID
}

// credential is one signed-in caller of the matrix.
type credential struct {
	name     string
	role     string
	platform bool
	scopes   []string
}

// credentials hold every scope their role may, so the matrix judges roles; scopes are
// tested on their own.
var credentials = []credential{
	{name: "platform-admin", role: "platform-admin", platform: true},
	{name: "platform-auditor", role: "auditor", platform: true, scopes: []string{"admin-read"}},
	{name: "tenant-admin", role: "tenant-admin", scopes: []string{"inference", "retrieval", "admin-read", "admin"}},
	{name: "developer", role: "developer", scopes: []string{"inference", "retrieval", "admin-read"}},
	{name: "viewer", role: "viewer", scopes: []string{"admin-read"}},
	{name: "tenant-auditor", role: "auditor", scopes: []string{"admin-read"}},
}
