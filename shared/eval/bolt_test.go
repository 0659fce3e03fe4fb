package eval

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/plinth-ai/plinth/shared/flow"
	"github.com/plinth-ai/plinth/shared/store/boltstore"
)

// The same run on the embedded bbolt store, whose conditional transactions back the
// run record's optimistic updates.
func TestRunOnBoltStore(t *testing.T) {
	t.Parallel()
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "plinth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	var h *flowHarness
	svc, err := NewService(st, newMemBlob(), newFakeTarget(goodAnswers), WithRunStarter(func(ctx context.Context, in json.RawMessage) (string, error) {
		return h.starter(ctx, in)
	}))
	if err != nil {
		t.Fatal(err)
	}
	h = newFlowHarness(t, svc)
	ctx := context.Background()
	if _, err := svc.CreateSuite(ctx, qaSuite()); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		run, err := svc.StartRun(ctx, "", "qa", 4)
		if err != nil {
			t.Fatal(err)
		}
		if e := h.wait(t, run.ExecutionID); e.Status != flow.StatusSucceeded {
			t.Fatalf("execution %s %s", e.Status, e.Cause)
		}
		got, err := svc.GetRun(ctx, run.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != StatusSucceeded || got.Metrics["exact_match"] != 100 || got.ReportKey == "" {
			t.Fatalf("run %d = %s %v", i, got.Status, got.Metrics)
		}
		if i == 1 && (got.BaselineRunID == "" || len(got.Regressions) != 0) {
			t.Fatalf("second run baseline %q regressions %v", got.BaselineRunID, got.Regressions)
		}
	}
}
