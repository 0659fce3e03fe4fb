package cellmove_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/plinth-ai/plinth/shared/cellmove"
	"github.com/plinth-ai/plinth/shared/clocktest"
	"github.com/plinth-ai/plinth/shared/fault"
	"github.com/plinth-ai/plinth/shared/store"
)

// flaky is a store whose writes fail once it is down: a run that crashes writes
// nothing more, not even its error.
type flaky struct {
	store.Store
	mu   sync.Mutex
	down bool
}

func (f *flaky) Put(ctx context.Context, it store.Item, o store.WriteOptions) (int64, error) {
	f.mu.Lock()
	down := f.down
	f.mu.Unlock()
	if down {
		return 0, errors.New("connection lost")
	}
	return f.Store.Put(ctx, it, o)
}

// A second run started while one holds the move stops at once with a conflict, and
// changes nothing; the first goes on to the end.
func TestSecondRunWhileOneRunsIsRefused(t *testing.T) {
	w := seed(t)
	switched := 0
	var second error
	var seen cellmove.State
	n := 0
	first := w.move(t, &switched, func(s cellmove.State) error {
		if n++; n == 3 {
			seen = s
			_, second = w.move(t, &switched, nil).Run(context.Background())
			if now, err := cellmove.Load(context.Background(), w.central, "acme"); err != nil || now.Runs != 1 || now.Records != s.Records || now.LeaseOwner != s.LeaseOwner {
				t.Errorf("the refused run changed the state: %+v %v", now, err)
			}
		}
		return nil
	})
	s, err := first.Run(context.Background())
	if err != nil || s.Phase != cellmove.PhaseDone || s.Runs != 1 {
		t.Fatalf("the first run: %+v %v", s, err)
	}
	if !errors.Is(second, cellmove.ErrLeased) || !errors.Is(second, fault.ErrConflict) {
		t.Fatalf("the second run: %v, want a conflict", second)
	}
	if seen.LeaseOwner == "" || seen.LeaseUntil == nil {
		t.Fatalf("a checkpoint without a lease: %+v", seen)
	}
	if s.LeaseOwner != "" || s.LeaseUntil != nil {
		t.Fatalf("the finished move keeps a lease: %+v", s)
	}
	w.check(t)
}

// Runs started at the same moment: one at a time holds the move; the others are
// refused with a conflict or find it done. Together they move everything exactly once.
func TestConcurrentRuns(t *testing.T) {
	for round := range 5 {
		w := seed(t)
		var mu sync.Mutex
		switched := 0
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make([]error, 4)
		for i := range errs {
			m := w.move(t, &switched, nil)
			m.Switch = func(context.Context) error { mu.Lock(); switched++; mu.Unlock(); return nil }
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, errs[i] = m.Run(context.Background())
			}()
		}
		close(start)
		wg.Wait()
		ok, refused := 0, 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, cellmove.ErrLeased):
				refused++
			default:
				t.Fatalf("round %d: %v", round, err)
			}
		}
		s, err := cellmove.Load(context.Background(), w.central, "acme")
		if err != nil || s.Phase != cellmove.PhaseDone || switched != 1 || s.Records != int64(len(w.acme)) || s.Blobs != 12 {
			t.Fatalf("round %d: %+v %v, switched %d", round, s, err, switched)
		}
		if ok == 0 || ok+refused != len(errs) {
			t.Fatalf("round %d: %d ran, %d refused", round, ok, refused)
		}
		w.check(t)
	}
}

// A run that crashed keeps its lease until it expires: a run before then is refused,
// one after resumes from the checkpoint. The clock is injected: nothing sleeps.
func TestCrashedRunsLeaseExpires(t *testing.T) {
	w := seed(t)
	clk := clocktest.New(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	state := &flaky{Store: w.central}
	switched, n := 0, 0
	crash := errors.New("crash")
	m := w.move(t, &switched, func(s cellmove.State) error {
		if n++; n == 4 {
			state.mu.Lock()
			state.down = true
			state.mu.Unlock()
			return crash
		}
		return nil
	})
	m.State, m.Now, m.Lease = state, clk.Now, time.Minute
	if _, err := m.Run(context.Background()); !errors.Is(err, crash) {
		t.Fatalf("the crashed run: %v", err)
	}
	state.down = false
	crashed, err := cellmove.Load(context.Background(), w.central, "acme")
	if err != nil || !crashed.Leased(clk.Now()) || crashed.Error != "" {
		t.Fatalf("after the crash: %+v %v", crashed, err)
	}
	resume := func() (cellmove.State, error) {
		m := w.move(t, &switched, nil)
		m.Now, m.Lease = clk.Now, time.Minute
		return m.Run(context.Background())
	}
	clk.Advance(59 * time.Second)
	if s, err := resume(); !errors.Is(err, cellmove.ErrLeased) || s.Runs != 1 {
		t.Fatalf("a run before the lease expired: %+v %v", s, err)
	}
	clk.Advance(time.Second)
	s, err := resume()
	if err != nil || s.Phase != cellmove.PhaseDone || s.Runs != 2 || s.Records != int64(len(w.acme)) || s.Blobs != 12 {
		t.Fatalf("the resumed run: %+v %v", s, err)
	}
	w.check(t)
}

// A run that stalled past its lease, and whose move another run took over, stops at its
// next checkpoint without writing.
func TestStalledRunLosesItsLease(t *testing.T) {
	w := seed(t)
	clk := clocktest.New(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	switched, n := 0, 0
	var other cellmove.State
	var otherErr error
	stalled := w.move(t, &switched, func(cellmove.State) error {
		if n++; n == 2 {
			clk.Advance(2 * time.Minute) // stalls; meanwhile another run takes over and finishes
			o := w.move(t, &switched, nil)
			o.Now, o.Lease = clk.Now, time.Minute
			other, otherErr = o.Run(context.Background())
		}
		return nil
	})
	stalled.Now, stalled.Lease = clk.Now, time.Minute
	_, err := stalled.Run(context.Background())
	if otherErr != nil || other.Phase != cellmove.PhaseDone {
		t.Fatalf("the run that took over: %+v %v", other, otherErr)
	}
	if !errors.Is(err, cellmove.ErrLeaseLost) {
		t.Fatalf("the stalled run: %v", err)
	}
	s, err := cellmove.Load(context.Background(), w.central, "acme")
	if err != nil || s.Phase != cellmove.PhaseDone || s.Runs != 2 || s.Error != "" || switched != 1 {
		t.Fatalf("after both: %+v %v, switched %d", s, err, switched)
	}
	w.check(t)
}
