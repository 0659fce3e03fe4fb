package parity

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"

	"github.com/plinth-ai/plinth/shared/cellmove"
	"github.com/plinth-ai/plinth/shared/platform"
)

// TestSiloMigrationStepsExclusive: while one run of a move holds it (another Lambda
// instance's step, here a run paused at a checkpoint over the same DynamoDB table), a
// POST step answers 409 concurrent_update and moves nothing; once that run has stopped,
// the next step goes on from its checkpoint to the end.
func TestSiloMigrationStepsExclusive(t *testing.T) {
	rt := newAWS(t, newEnv(t))
	ctx := context.Background()
	admin := func(method, path string, body any, want ...int) reply {
		t.Helper()
		c := call{Method: method, Path: path, Admin: true}
		if body != nil {
			c.Body, c.ContentType = jsonBody(body), "application/json"
		}
		r := rt.do(t, c)
		if !slices.Contains(want, r.Status) {
			t.Fatalf("%s %s: %d %s, want %v", method, path, r.Status, r.Body, want)
		}
		return r
	}
	admin("POST", "/admin/tenants", map[string]any{"id": siloTenant, "name": siloTenant}, http.StatusCreated)
	for _, kb := range []string{"docs", "faq", "policies", "hr"} {
		admin("POST", "/admin/knowledge-bases", map[string]any{"tenant": siloTenant, "id": kb}, http.StatusCreated)
	}
	path := "/admin/tenants/" + siloTenant + "/migration"
	body := map[string]any{"isolation_tier": "silo"}

	paused, resume := make(chan cellmove.State), make(chan struct{})
	stop := errors.New("stopped")
	done := make(chan error, 1)
	go func() {
		n := 0
		_, err := platform.MoveTenant(ctx, rt.admin, siloTenant, platform.MoveBatch(1), platform.MoveCheckpointed(func(s cellmove.State) error {
			if n++; n == 2 {
				paused <- s
				<-resume
				return stop
			}
			return nil
		}))
		done <- err
	}()
	held := <-paused
	r := admin("POST", path, body, http.StatusConflict)
	if !r.contains(`"code":"concurrent_update"`, "being moved by another call") {
		t.Fatalf("a step while another run holds the move: %s", r.Body)
	}
	var st cellmove.State
	admin("GET", path, nil, http.StatusOK).decode(t, &st)
	if st.Runs != 1 || st.Records != held.Records || st.LeaseOwner != held.LeaseOwner || st.LeaseUntil == nil {
		t.Fatalf("the refused step changed the move: %+v, held %+v", st, held)
	}
	close(resume)
	if err := <-done; !errors.Is(err, stop) {
		t.Fatalf("the paused run: %v", err)
	}
	st = cellmove.State{}
	admin("GET", path, nil, http.StatusOK).decode(t, &st)
	if st.LeaseOwner != "" || st.LeaseUntil != nil {
		t.Fatalf("a stopped run kept its lease: %+v", st)
	}
	steps := 0
	for st.Phase != cellmove.PhaseDone {
		if steps++; steps > 500 {
			t.Fatalf("not done after %d steps: %+v", steps, st)
		}
		st = cellmove.State{}
		admin("POST", path, body, http.StatusAccepted, http.StatusOK).decode(t, &st)
	}
	if st.Runs < 3 || st.Records == 0 || st.RecordsDeleted != st.Records || st.Records <= held.Records {
		t.Fatalf("the move after the conflict: %+v", st)
	}
	t.Logf("refused one step while run 1 held the move at %d records; finished in %d more steps (%d records)", held.Records, steps, st.Records)
}
