package audit_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/plinth-ai/plinth/shared/audit"
	"github.com/plinth-ai/plinth/shared/audit/storelog"
	"github.com/plinth-ai/plinth/shared/auth"
	"github.com/plinth-ai/plinth/shared/httpapi"
	"github.com/plinth-ai/plinth/shared/spool/filespool"
	"github.com/plinth-ai/plinth/shared/store"
	"github.com/plinth-ai/plinth/shared/store/boltstore"
)

const killChildEnv = "PLINTH_AUDIT_KILL_CHILD"

// TestKilledServerLosesNoAuditEvent serves audited admin requests from a child process
// whose store fails a share of writes (some before committing, some after), kills it
// with SIGKILL while requests are in flight, then starts again on the same files: every
// action whose response reached the client is in the audit log exactly once, and no
// action is in it twice.
func TestKilledServerLosesNoAuditEvent(t *testing.T) {
	if dir := os.Getenv(killChildEnv); dir != "" {
		serveChild(dir)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledServerLosesNoAuditEvent$", "-test.v=false")
	cmd.Env = append(os.Environ(), killChildEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}()
	sc := bufio.NewScanner(out)
	addr := ""
	for sc.Scan() {
		if a, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
			addr = a
			break
		}
	}
	if addr == "" {
		t.Fatal("the child did not start serving")
	}

	// Four clients create tenants until 400 creations are acknowledged; then the child
	// is killed with requests still in flight.
	var (
		mu    sync.Mutex
		acked = map[string]bool{}
		wg    sync.WaitGroup
		stop  = make(chan struct{})
		once  sync.Once
	)
	client := &http.Client{Timeout: 10 * time.Second}
	for c := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("t%d-%05d", c, i)
				resp, err := client.Post("http://"+addr+"/admin/tenants", "application/json", strings.NewReader(`{"id":"`+id+`"}`))
				if err != nil {
					return // the server is gone
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated {
					continue
				}
				mu.Lock()
				acked[id] = true
				n := len(acked)
				mu.Unlock()
				if n >= 400 {
					once.Do(func() {
						_ = cmd.Process.Signal(syscall.SIGKILL)
						close(stop)
					})
				}
			}
		}()
	}
	wg.Wait()
	_ = cmd.Wait()
	killed = true
	if len(acked) < 400 {
		t.Fatalf("only %d creations were acknowledged before the child died", len(acked))
	}

	// The next life: the same files, a healthy store.
	st, err := boltstore.Open(filepath.Join(dir, "plinth.db"), boltstore.WithNoSync())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	l := storelog.New(st, storelog.WithClock(func() time.Time { return time.Now().Add(time.Hour) }))
	sp, err := filespool.Open(filepath.Join(dir, "audit-spool"), audit.Store(l, nil))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := sp.Close(ctx); err != nil {
		t.Fatal(err)
	}
	stored := map[string]int{}
	q := audit.Query{Action: "createTenant", Limit: audit.MaxLimit}
	for {
		page, err := l.Query(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Events {
			stored[e.Tenant]++
		}
		if page.NextCursor == "" {
			break
		}
		q.Cursor = page.NextCursor
	}
	for id := range acked {
		if stored[id] != 1 {
			t.Errorf("acknowledged creation of %s is in the audit log %d times", id, stored[id])
		}
	}
	for id, n := range stored {
		if n != 1 {
			t.Errorf("creation of %s is in the audit log %d times", id, n)
		}
	}
	t.Logf("killed after %d acknowledged actions; the log holds %d events, each once", len(acked), len(stored))
}

// serveChild serves audited tenant creations until killed.
func serveChild(dir string) {
	fail := func(err error) {
		fmt.Println("error", err)
		os.Exit(1)
	}
	st, err := boltstore.Open(filepath.Join(dir, "plinth.db"), boltstore.WithNoSync())
	if err != nil {
		fail(err)
	}
	flaky := &flakyStore{Store: st, rnd: rand.New(rand.NewPCG(7, 11)), before: 0.3, after: 0.2}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	sp, err := filespool.Open(filepath.Join(dir, "audit-spool"), audit.Store(storelog.New(flaky), quiet),
		filespool.WithBackoff(time.Millisecond, 10*time.Millisecond), filespool.WithSegmentSize(8<<10), filespool.WithLogger(quiet))
	if err != nil {
		fail(err)
	}
	w := audit.NewWriter(storelog.New(flaky), audit.WithSpool(sp), audit.WithLogger(quiet))
	ops, err := audit.NewOperations([]byte(testOpenAPI))
	if err != nil {
		fail(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /admin/tenants", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			ID string `json:"id"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			httpapi.WriteError(w, httpapi.BadRequest("", "bad json"))
			return
		}
		httpapi.WriteJSON(w, http.StatusCreated, map[string]string{"id": body.ID})
	})
	audited := audit.Middleware(w, mux, audit.WithOperations(ops))(mux)
	admin := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		audited.ServeHTTP(rw, r.WithContext(auth.WithPrincipal(r.Context(), auth.Principal{Admin: true, KeyID: "admin"})))
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail(err)
	}
	fmt.Println("listening", ln.Addr().String())
	fail(http.Serve(ln, admin))
}

// flakyStore fails a share of writes before applying them and, worse, a share after:
// the write happened but the caller hears it failed, as with a timeout after commit.
type flakyStore struct {
	store.Store
	mu            sync.Mutex
	rnd           *rand.Rand
	before, after float64
}

func (f *flakyStore) roll() float64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rnd.Float64()
}

func (f *flakyStore) Transact(ctx context.Context, ops []store.Op) error {
	p := f.roll()
	if p < f.before {
		return errors.New("store unavailable")
	}
	err := f.Store.Transact(ctx, ops)
	if err == nil && p > 1-f.after {
		return errors.New("connection reset after commit")
	}
	return err
}

func (f *flakyStore) Put(ctx context.Context, it store.Item, o store.WriteOptions) (int64, error) {
	p := f.roll()
	if p < f.before {
		return 0, errors.New("store unavailable")
	}
	v, err := f.Store.Put(ctx, it, o)
	if err == nil && p > 1-f.after {
		return 0, errors.New("connection reset after commit")
	}
	return v, err
}
