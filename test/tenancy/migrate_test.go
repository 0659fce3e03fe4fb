package tenancy

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/plinth-ai/plinth/shared/cellmove"
	"github.com/plinth-ai/plinth/shared/platform"
)

// moveChildEnv names the data directory a child process moves tenant acme in.
const moveChildEnv = "PLINTH_TEST_MOVE_CHILD"

// TestMain runs the child of TestMoveKilledMidwayResumes when asked to.
func TestMain(m *testing.M) {
	if dir := os.Getenv(moveChildEnv); dir != "" {
		os.Exit(moveChild(dir))
	}
	os.Exit(m.Run())
}

// moveChild moves acme into its own cell, printing its progress after every checkpoint
// (slowly, so the parent kills it mid-way).
func moveChild(dir string) int {
	ctx := context.Background()
	p, err := platform.NewLocal(ctx, platform.Config{DataDir: dir, AdminKey: adminKey, Logger: quiet})
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	_, err = platform.MoveTenant(ctx, p.Platform, "acme", platform.MoveBatch(4), platform.MoveCheckpointed(func(s cellmove.State) error {
		fmt.Printf("items %d %s\n", s.Items(), s.Phase)
		time.Sleep(10 * time.Millisecond)
		return nil
	}))
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	fmt.Println("done")
	_ = p.Close(ctx)
	return 0
}

// snapshot is what acme sees of its data through the API.
type snapshot struct {
	Documents []string
	Retrieved bool
	// Requests is the usage so far, read before this snapshot's own retrieval (which
	// counts one more).
	Requests int
	Agents   []string
	Run      string
	Suites   []string
	Prompt   string
}

func take(t *testing.T, srv *httptest.Server, tn, key, runID string) snapshot {
	t.Helper()
	var s snapshot
	var docs struct{ Data []struct{ ID, Status string } }
	_ = json.Unmarshal(mustCall(t, srv, "GET", "/v1/knowledge-bases/docs/documents", key, nil, 200), &docs)
	for _, d := range docs.Data {
		s.Documents = append(s.Documents, d.ID+":"+d.Status)
	}
	sort.Strings(s.Documents)
	var usage struct {
		Total struct{ Requests int } `json:"total"`
	}
	_ = json.Unmarshal(mustCall(t, srv, "GET", "/v1/usage", key, nil, 200), &usage)
	s.Requests = usage.Total.Requests
	s.Retrieved = strings.Contains(string(mustCall(t, srv, "POST", "/v1/knowledge-bases/docs/retrieve", key, map[string]any{"query": "Quixotic launch codename", "top_k": 3}, 200)), "Quixotic-4411") == (tn == "acme")
	var agents struct{ Data []struct{ ID string } }
	_ = json.Unmarshal(mustCall(t, srv, "GET", "/admin/agents?tenant="+tn, adminKey, nil, 200), &agents)
	for _, a := range agents.Data {
		s.Agents = append(s.Agents, a.ID)
	}
	var run struct{ Status, Tenant string }
	_ = json.Unmarshal(mustCall(t, srv, "GET", "/admin/eval-runs/"+runID, adminKey, nil, 200), &run)
	s.Run = run.Tenant + ":" + run.Status
	var suites struct{ Data []struct{ ID string } }
	_ = json.Unmarshal(mustCall(t, srv, "GET", "/admin/eval-suites?tenant="+tn, adminKey, nil, 200), &suites)
	for _, su := range suites.Data {
		s.Suites = append(s.Suites, su.ID)
	}
	if strings.Contains(string(mustCall(t, srv, "GET", "/admin/prompts/"+tn+"-prompt", adminKey, nil, 200)), "Answer for "+tn) {
		s.Prompt = tn + "-prompt"
	}
	return s
}

// TestMoveKilledMidwayResumes moves a pool tenant into its own cell in a child process,
// kills the child (SIGKILL) half-way through, and resumes the move with POST
// /admin/tenants/acme/migration: the tenant's data is frozen (503) while it moves, then
// everything it had is there exactly once (documents, retrieval, usage, agents, runs,
// suites, prompts; the same record and object counts), nothing of it is left in the pool,
// and the other tenant is untouched.
func TestMoveKilledMidwayResumes(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	// The platform's clock runs ahead of the wall's by skew, which the test moves past
	// the killed run's lease instead of waiting for it.
	var skew atomic.Int64
	clock := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	start := func() (*platform.Local, *httptest.Server) {
		p, err := platform.NewLocal(ctx, platform.Config{DataDir: dir, AdminKey: adminKey, Logger: quiet, Clock: clock})
		if err != nil {
			t.Fatal(err)
		}
		return p, httptest.NewServer(p.Handler)
	}
	p, srv := start()
	keys := map[string]string{}
	runs := map[string]string{}
	for _, tn := range []string{"acme", "globex"} {
		mustCall(t, srv, "POST", "/admin/tenants", adminKey, map[string]any{"id": tn}, 201)
		var k struct{ Key string }
		_ = json.Unmarshal(mustCall(t, srv, "POST", "/admin/tenants/"+tn+"/keys", adminKey, map[string]any{}, 201), &k)
		keys[tn] = k.Key
		mustCall(t, srv, "POST", "/admin/knowledge-bases", adminKey, map[string]any{"tenant": tn, "id": "docs"}, 201)
		for i := range 8 {
			text := fmt.Sprintf("Note %d of %s. ", i, tn)
			if tn == "acme" && i == 0 {
				text += "Quixotic-4411 is the launch codename."
			}
			upload(t, srv.URL, k.Key, "docs", fmt.Sprintf("note-%d.txt", i), text)
		}
		waitIndexed(t, srv.URL, k.Key, "docs", 8)
		mustCall(t, srv, "POST", "/admin/eval-suites", adminKey, map[string]any{"tenant": tn, "id": tn + "-qa", "target": map[string]any{"model": "local-chat"},
			"metrics": []string{"exact_match"}, "dataset": map[string]any{"items": []map[string]any{{"id": "1", "input": "q", "references": []string{"a"}, "output": "a"}}}}, 201)
		var run struct{ ID string }
		_ = json.Unmarshal(mustCall(t, srv, "POST", "/admin/eval-suites/"+tn+"-qa/runs", adminKey, map[string]any{}, 202), &run)
		runs[tn] = run.ID
		mustCall(t, srv, "POST", "/admin/prompts", adminKey, map[string]any{"tenant": tn, "id": tn + "-prompt", "template": "Answer for " + tn + ": {{input}}"}, 201)
		mustCall(t, srv, "POST", "/admin/agents", adminKey, map[string]any{"tenant": tn, "id": tn + "-agent", "model": "local-chat", "instructions": "Be brief."}, 201)
		for range 3 {
			mustCall(t, srv, "POST", "/v1/chat/completions", k.Key, map[string]any{"model": "local-chat", "messages": []map[string]string{{"role": "user", "content": "hello"}}}, 200)
		}
	}
	for _, tn := range []string{"acme", "globex"} {
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) && !strings.Contains(string(mustCall(t, srv, "GET", "/admin/eval-runs/"+runs[tn], adminKey, nil, 200)), `"succeeded"`) {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if err := p.Usage.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	before := map[string]snapshot{"acme": take(t, srv, "acme", keys["acme"], runs["acme"]), "globex": take(t, srv, "globex", keys["globex"], runs["globex"])}
	// The snapshots' own requests are usage records too: in the ledger before counting.
	if err := p.Usage.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if !before["acme"].Retrieved || len(before["acme"].Documents) != 8 || before["acme"].Requests < 10 || before["acme"].Prompt == "" {
		t.Fatalf("acme before the move: %+v", before["acme"])
	}
	records, objects, err := platform.TenantData(ctx, p.Platform, "acme")
	if err != nil || records < 50 || objects < 8 {
		t.Fatalf("acme's data before the move: %d records, %d objects, %v", records, objects, err)
	}
	srv.Close()
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}

	// The child moves acme; it is killed half-way through copying.
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), moveChildEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	half := int64(records+objects) / 2
	killedAt := int64(-1)
	lines := bufio.NewScanner(out)
	for lines.Scan() {
		var n int64
		var phase string
		if _, err := fmt.Sscanf(lines.Text(), "items %d %s", &n, &phase); err == nil && n >= half {
			_ = cmd.Process.Kill()
			killedAt = n
			break
		}
		if strings.HasPrefix(lines.Text(), "error") || lines.Text() == "done" {
			t.Fatalf("the child finished before it was killed: %s", lines.Text())
		}
	}
	_ = cmd.Wait()
	if killedAt < 0 {
		t.Fatal("the child never reached half-way")
	}

	p, srv = start()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			srv.Close()
			_ = p.Close(ctx)
		}
	}
	defer stop()
	var st cellmove.State
	_ = json.Unmarshal(mustCall(t, srv, "GET", "/admin/tenants/acme/migration", adminKey, nil, 200), &st)
	if st.Phase == cellmove.PhaseDone || st.Items() == 0 {
		t.Fatalf("after the kill: %+v", st)
	}
	// Frozen while it moves: acme's requests fail loudly, globex's are served.
	if status, body := call(t, srv, "GET", "/v1/knowledge-bases/docs/documents", keys["acme"], nil); status != 503 || !strings.Contains(string(body), "moving") {
		t.Errorf("acme during its move: %d %s", status, body)
	}
	// Each snapshot's retrieval is one more request.
	takes := map[string]int{"acme": 1, "globex": 1}
	same := func(tn string, got snapshot) {
		t.Helper()
		want := before[tn]
		want.Requests += takes[tn]
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s:\n%+v\nwant\n%+v", tn, got, want)
		}
		takes[tn]++
	}
	same("globex", take(t, srv, "globex", keys["globex"], runs["globex"]))

	// The killed run holds the move until its lease expires: a call before then is a
	// conflict and moves nothing; after, it resumes the move.
	if !st.Leased(clock()) {
		t.Fatalf("the killed run left no lease: %+v", st)
	}
	if status, body := call(t, srv, "POST", "/admin/tenants/acme/migration", adminKey, map[string]any{"isolation_tier": "silo"}); status != 409 ||
		!strings.Contains(string(body), `"code":"concurrent_update"`) {
		t.Fatalf("resuming before the killed run's lease expired: %d %s", status, body)
	}
	var held cellmove.State
	_ = json.Unmarshal(mustCall(t, srv, "GET", "/admin/tenants/acme/migration", adminKey, nil, 200), &held)
	if held.Runs != 1 || held.Items() != st.Items() || held.LeaseOwner != st.LeaseOwner {
		t.Fatalf("the refused call changed the move: %+v, was %+v", held, st)
	}
	skew.Store(int64(time.Until(*st.LeaseUntil) + time.Second))
	// Resumed through the API.
	mustCall(t, srv, "POST", "/admin/tenants/acme/migration", adminKey, map[string]any{"isolation_tier": "silo"}, 202)
	deadline := time.Now().Add(60 * time.Second)
	for st.Phase != cellmove.PhaseDone && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		_ = json.Unmarshal(mustCall(t, srv, "GET", "/admin/tenants/acme/migration", adminKey, nil, 200), &st)
	}
	if st.Phase != cellmove.PhaseDone || st.Runs != 2 || st.Error != "" {
		t.Fatalf("the resumed move: %+v", st)
	}
	if st.RecordsVerified != int64(records) || st.BlobsVerified != int64(objects) || st.RecordsDeleted != int64(records) || st.BlobsDeleted != int64(objects) {
		t.Errorf("verified %d records and %d objects, deleted %d and %d; acme had %d and %d", st.RecordsVerified, st.BlobsVerified, st.RecordsDeleted, st.BlobsDeleted, records, objects)
	}
	var tn struct {
		IsolationTier string `json:"isolation_tier"`
	}
	_ = json.Unmarshal(mustCall(t, srv, "GET", "/admin/tenants/acme", adminKey, nil, 200), &tn)
	if tn.IsolationTier != "silo" {
		t.Errorf("acme's tier after the move: %q", tn.IsolationTier)
	}
	after, afterObjects, err := platform.TenantData(ctx, p.Platform, "acme")
	if err != nil || after != records || afterObjects != objects {
		t.Errorf("acme's data after the move: %d records and %d objects (%v); before: %d and %d", after, afterObjects, err, records, objects)
	}
	for _, tn := range []string{"acme", "globex"} {
		same(tn, take(t, srv, tn, keys[tn], runs[tn]))
	}
	// A finished move answers its report again; acme is served from its own cell.
	mustCall(t, srv, "POST", "/admin/tenants/acme/migration", adminKey, map[string]any{"isolation_tier": "silo"}, 200)
	if _, err := os.Stat(platform.SiloDir(dir, "acme")); err != nil {
		t.Errorf("acme's cell: %v", err)
	}
	// The pool's store file keeps no live record of acme's but the platform's own.
	stop()
	for _, r := range liveRecords(t, filepath.Join(dir, "plinth.db")) {
		if strings.Contains(r.pk+" "+r.sk, "acme") && !strings.HasPrefix(r.pk, "TENANT") && !strings.HasPrefix(r.pk, "AUDIT#") &&
			!strings.HasPrefix(r.pk, "CELLMOVE#") && !strings.HasPrefix(r.pk, "flow") {
			t.Errorf("the pool still holds acme's %s / %s", r.pk, r.sk)
		}
	}
	t.Logf("moved %d records and %d objects (%d bytes); the first run was killed at %d items, the second finished", records, objects, st.BlobBytes, killedAt)
}

type liveRecord struct{ pk, sk string }

// liveRecords lists the keys of a store file the local platform wrote (boltstore's
// layout: bucket "items", keys uvarint(len(PK)) | PK | SK).
func liveRecords(t *testing.T, path string) []liveRecord {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var out []liveRecord
	_ = db.View(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("items")).ForEach(func(k, _ []byte) error {
			n, w := binary.Uvarint(k)
			out = append(out, liveRecord{pk: string(k[w : w+int(n)]), sk: string(k[w+int(n):])})
			return nil
		})
	})
	return out
}
