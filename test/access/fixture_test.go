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
	"sync"
	"testing"
	"time"

	"github.com/plinth-ai/plinth/shared/customize"
	"github.com/plinth-ai/plinth/shared/platform"
	"github.com/plinth-ai/plinth/shared/rag"
)

const adminKey = "adm-access-matrix-test"

// world is a running platform with two tenants, each with the same kinds of resources,
// and a credential of every role.
type world struct {
	srv *httptest.Server
	p   *platform.Local
	dir string // the data directory
	// keys by credential name (see credentials).
	keys map[string]string
	// res are each tenant's resources, by tenant then name.
	res map[string]map[string]string
	// closeOnce stops the platform (at the end of the test, or earlier to read its files).
	closeOnce sync.Once
}

// tenants are the world's tenants and the secret text each one's resources hold: no
// answer to the other tenant's credentials, and no file of another cell, may contain it.
var tenants = []struct{ id, secret string }{{"acme", "Quixotic-4411"}, {"globex", "Zephyrine-9023"}}

// close stops the platform and its server, flushing everything to the data directory.
func (w *world) close() {
	w.closeOnce.Do(func() { w.srv.Close(); _ = w.p.Close(context.Background()) })
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

// newWorld starts the platform and gives tenants acme and globex a knowledge base with a
// document, an evaluation suite with a finished run, a review queue, a prompt, a
// guardrail policy, an agent, a fine-tuning job, a chat answered and a spare key each, and
// acme a key of every tenant role. tiers are acme's and globex's isolation tiers (pool
// when not given); every resource holds its tenant's secret.
func newWorld(t *testing.T, tiers ...string) *world {
	t.Helper()
	dir := t.TempDir()
	p, err := platform.NewLocal(context.Background(), platform.Config{DataDir: dir, AdminKey: adminKey,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p.Handler)
	w := &world{srv: srv, p: p, dir: dir, keys: map[string]string{"platform-admin": adminKey}, res: map[string]map[string]string{}}
	t.Cleanup(w.close)
	for i, tn := range tenants {
		tier := "pool"
		if i < len(tiers) {
			tier = tiers[i]
		}
		secret := tn.secret
		w.must(t, "POST", "/admin/tenants", map[string]any{"id": tn.id, "isolation_tier": tier}, 201)
		r := map[string]string{"tenant": tn.id, "tier": tier, "secret": secret}
		w.must(t, "POST", "/admin/knowledge-bases", map[string]any{"tenant": tn.id, "id": "docs"}, 201)
		r["kb"] = "docs"
		r["doc"] = document(t, p, tn.id, secret)
		r["suite"] = tn.id + "-qa"
		w.must(t, "POST", "/admin/eval-suites", map[string]any{"tenant": tn.id, "id": r["suite"], "target": map[string]any{"model": "local-chat"},
			"metrics": []string{"exact_match"}, "dataset": map[string]any{"items": []map[string]any{{"id": "1", "input": "q " + secret, "references": []string{"a"}, "output": "a"}}}}, 201)
		r["run"] = w.must(t, "POST", "/admin/eval-suites/"+r["suite"]+"/runs", map[string]any{}, 202)["id"].(string)
		r["queue"] = w.must(t, "POST", "/admin/review-queues", map[string]any{"tenant": tn.id, "name": "q", "kind": "rubric",
			"criteria": []map[string]any{{"name": "correctness", "min": 1, "max": 5}},
			"source":   map[string]any{"type": "samples", "samples": []map[string]any{{"id": "s1", "input": "q " + secret, "output": "a"}}}}, 201)["id"].(string)
		r["prompt"] = tn.id + "-prompt"
		w.must(t, "POST", "/admin/prompts", map[string]any{"tenant": tn.id, "id": r["prompt"], "template": "Answer " + secret + ": {{input}}"}, 201)
		r["policy"] = tn.id + "-policy"
		w.must(t, "POST", "/admin/guardrail-policies", map[string]any{"tenant": tn.id, "id": r["policy"], "name": tn.id,
			"wordPolicyConfig": map[string]any{"wordsConfig": []map[string]any{{"text": "forbidden"}, {"text": secret}}}}, 201)
		spare := w.must(t, "POST", "/admin/tenants/"+tn.id+"/keys", map[string]any{"name": "spare"}, 201)
		r["key"] = spare["id"].(string)
		r["agent"] = tn.id + "-agent"
		w.must(t, "POST", "/admin/agents", map[string]any{"tenant": tn.id, "id": r["agent"], "model": "local-chat", "instructions": "Answer briefly. " + secret}, 201)
		r["job"] = fineTuningJob(t, p, tn.id, secret)
		if status, b := w.call(t, "POST", "/v1/chat/completions", spare["key"].(string), map[string]any{"model": "local-chat",
			"messages": []map[string]string{{"role": "user", "content": "Remember " + secret}}}); status != 200 {
			t.Fatalf("chat as %s: %d %s", tn.id, status, b)
		}
		w.res[tn.id] = r
	}
	for _, tn := range tenants {
		w.awaitRun(t, w.res[tn.id]["run"])
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

// document uploads a document holding secret to the tenant's knowledge base "docs" and
// waits until it is indexed.
func document(t *testing.T, p *platform.Local, tn, secret string) string {
	t.Helper()
	ctx := context.Background()
	d, err := p.RAG.UploadDocument(ctx, tn, "docs", rag.Upload{Name: "plan.txt", ContentType: "text/plain",
		Body: strings.NewReader("The launch codename is " + secret + ". It ships in spring.")})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		got, err := p.RAG.GetDocument(ctx, tn, "docs", d.ID)
		if err != nil {
			t.Fatal(err)
		}
		switch got.Status {
		case "indexed":
			return d.ID
		case "failed":
			t.Fatalf("document of %s failed: %+v", tn, got)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("the document of %s was not indexed in time", tn)
	return ""
}

// awaitRun waits until the evaluation run has finished.
func (w *world) awaitRun(t *testing.T, id string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if run := w.must(t, "GET", "/admin/eval-runs/"+id, nil, 200); run["status"] != "running" {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("evaluation run %s did not finish in time", id)
}

// fineTuningJob gives tenant tn a fine-tuning job (its one-record file fails validation
// at once, so no training runs).
func fineTuningJob(t *testing.T, p *platform.Local, tn, secret string) string {
	t.Helper()
	ft, err := platform.Customize(p.Platform)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	f, err := ft.CreateFile(ctx, tn, "matrix.jsonl", "fine-tune", strings.NewReader(`{"prompt":"q `+secret+`","completion":"a"}`+"\n"), nil)
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
