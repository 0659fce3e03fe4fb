package flow

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plinth-ai/plinth/shared/store/memstore"
)

const (
	fnBlock = "arn:aws:lambda:local:000000000000:function:block"
	fnCount = "arn:aws:lambda:local:000000000000:function:count"
)

func mustLoad(t testing.TB, def string) *Machine {
	t.Helper()
	m, err := Load([]byte(def), nil)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func newTestExecutor(t testing.TB, opts ...Option) *Executor {
	t.Helper()
	e := NewExecutor(append([]Option{WithLogger(slog.New(slog.DiscardHandler))}, opts...)...)
	t.Cleanup(func() { _ = e.Close(context.Background()) })
	return e
}

func waitDone(t testing.TB, e *Executor, id string) Execution {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ex, err := e.Wait(ctx, id)
	if err != nil {
		t.Fatalf("wait %s: %v", id, err)
	}
	return ex
}

func eventTypes(t testing.TB, e *Executor, id string) []string {
	t.Helper()
	evs, err := e.History(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i, ev := range evs {
		if ev.ID != int64(i+1) {
			t.Fatalf("event %d has ID %d", i, ev.ID)
		}
		out = append(out, ev.Type)
	}
	return out
}

func TestExecutorLifecycle(t *testing.T) {
	e := newTestExecutor(t, WithTasks(map[string]TaskFunc{fnA: echo}))
	m := mustLoad(t, `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"`+fnA+`","ResultPath":"$.r","Next":"C"},
		"C":{"Type":"Choice","Choices":[{"Variable":"$.r.ok","BooleanEquals":true,"Next":"Done"}],"Default":"Bad"},
		"Bad":{"Type":"Fail","Error":"NotOK","Cause":"r.ok was false"},"Done":{"Type":"Succeed"}}}`)
	if err := e.Register("demo", m); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	ok, err := e.Start(ctx, "demo", "run-ok", json.RawMessage(`{"ok":true}`))
	if err != nil {
		t.Fatal(err)
	}
	if ok.ID != ExecutionID("demo", "run-ok") || ok.Status != StatusRunning {
		t.Fatalf("start returned %+v", ok)
	}
	got := waitDone(t, e, ok.ID)
	if got.Status != StatusSucceeded || !JSONEqual(got.Output, []byte(`{"ok":true,"r":{"ok":true}}`)) || got.StopTime == nil {
		t.Fatalf("describe: %+v output %s", got, got.Output)
	}
	want := []string{"ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSucceeded", "TaskStateExited",
		"ChoiceStateEntered", "ChoiceStateExited", "SucceedStateEntered", "SucceedStateExited", "ExecutionSucceeded"}
	if types := eventTypes(t, e, ok.ID); strings.Join(types, ",") != strings.Join(want, ",") {
		t.Fatalf("history\n got %v\nwant %v", types, want)
	}

	bad, err := e.Start(ctx, "demo", "run-bad", json.RawMessage(`{"ok":false}`))
	if err != nil {
		t.Fatal(err)
	}
	got = waitDone(t, e, bad.ID)
	if got.Status != StatusFailed || got.Error != "NotOK" || got.Cause != "r.ok was false" {
		t.Fatalf("describe failed run: %+v", got)
	}
	types := eventTypes(t, e, bad.ID)
	if types[len(types)-1] != "ExecutionFailed" {
		t.Fatalf("last event %s", types[len(types)-1])
	}

	t.Run("name reuse", func(t *testing.T) {
		if _, err := e.Start(ctx, "demo", "run-ok", json.RawMessage(`{"ok":true}`)); !errors.Is(err, ErrExecutionExists) {
			t.Fatalf("want ErrExecutionExists, got %v", err)
		}
	})
	t.Run("invalid names", func(t *testing.T) {
		for _, name := range []string{"has space", "a/b", "x:y", "star*", strings.Repeat("n", 81), "tab\t"} {
			if _, err := e.Start(ctx, "demo", name, nil); !errors.Is(err, ErrInvalidName) {
				t.Fatalf("%q: want ErrInvalidName, got %v", name, err)
			}
		}
	})
	t.Run("unknown machine", func(t *testing.T) {
		if _, err := e.Start(ctx, "nope", "", nil); !errors.Is(err, ErrMachineNotFound) {
			t.Fatalf("want ErrMachineNotFound, got %v", err)
		}
	})
	t.Run("unbound resource", func(t *testing.T) {
		err := e.Register("x", mustLoad(t, `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:local:000000000000:function:nobody","End":true}}}`))
		if err == nil || !strings.Contains(err.Error(), "nobody") {
			t.Fatalf("want unbound resource error, got %v", err)
		}
	})
	t.Run("list", func(t *testing.T) {
		list, err := e.List(ctx, ListFilter{Machine: "demo", Status: StatusFailed})
		if err != nil || len(list) != 1 || list[0].ID != bad.ID {
			t.Fatalf("list failed: %v %+v", err, list)
		}
	})
}

func blockingTask(started chan<- json.RawMessage) TaskFunc {
	return func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
		started <- in
		<-ctx.Done()
		return nil, ctx.Err()
	}
}

func TestExecutorStop(t *testing.T) {
	started := make(chan json.RawMessage, 1)
	e := newTestExecutor(t, WithTasks(map[string]TaskFunc{fnBlock: blockingTask(started)}))
	if err := e.Register("slow", mustLoad(t, `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"`+fnBlock+`","End":true}}}`)); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ex, err := e.Start(ctx, "slow", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	<-started
	stopped, err := e.Stop(ctx, ex.ID, "Operator", "no longer needed")
	if err != nil {
		t.Fatal(err)
	}
	if stopped.Status != StatusAborted || stopped.Error != "Operator" || stopped.Cause != "no longer needed" {
		t.Fatalf("stopped: %+v", stopped)
	}
	types := eventTypes(t, e, ex.ID)
	if types[len(types)-1] != "ExecutionAborted" {
		t.Fatalf("history ends with %s", types[len(types)-1])
	}
	if _, err := e.Stop(ctx, ex.ID, "", ""); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("second stop: want ErrNotRunning, got %v", err)
	}
}

func TestExecutorTaskToken(t *testing.T) {
	tokens := make(chan string, 1)
	notify := func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
		var v struct{ Token string }
		if err := json.Unmarshal(in, &v); err != nil || v.Token == "" {
			return nil, errors.New("no token in input")
		}
		tokens <- v.Token
		return json.RawMessage(`"ignored"`), nil
	}
	def := `{"StartAt":"Approve","States":{"Approve":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke.waitForTaskToken",
		"Parameters":{"FunctionName":"` + fnA + `","Payload":{"Token.$":"$$.Task.Token"}},"HeartbeatSeconds":30,"ResultPath":"$.approval","End":true}}}`
	var (
		e     *Executor
		clock *FakeClock
	)
	ctx := context.Background()
	cases := []struct {
		name     string
		complete func(token string) error
		status   string
		check    func(Execution) bool
	}{
		{"success", func(tok string) error { return e.SendTaskSuccess(ctx, tok, json.RawMessage(`{"approved":true}`)) }, StatusSucceeded,
			func(ex Execution) bool {
				return JSONEqual(ex.Output, []byte(`{"k":1,"approval":{"approved":true}}`))
			}},
		{"failure", func(tok string) error { return e.SendTaskFailure(ctx, tok, "Rejected", "reviewer said no") }, StatusFailed,
			func(ex Execution) bool { return ex.Error == "Rejected" && ex.Cause == "reviewer said no" }},
		{"heartbeat timeout", func(string) error {
			clock.BlockUntil(1, nil) // the heartbeat timer
			clock.Advance(31 * time.Second)
			return nil
		}, StatusFailed, func(ex Execution) bool { return ex.Error == ErrNameHeartbeatTimeout }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clock = NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), false)
			e = newTestExecutor(t, WithClock(clock), WithTasks(map[string]TaskFunc{fnA: notify}))
			if err := e.Register("approve", mustLoad(t, def)); err != nil {
				t.Fatal(err)
			}
			ex, err := e.Start(ctx, "approve", strings.ReplaceAll(tc.name, " ", "-"), json.RawMessage(`{"k":1}`))
			if err != nil {
				t.Fatal(err)
			}
			tok := <-tokens
			if err := tc.complete(tok); err != nil {
				t.Fatal(err)
			}
			got := waitDone(t, e, ex.ID)
			if got.Status != tc.status || !tc.check(got) {
				t.Fatalf("got %+v output %s", got, got.Output)
			}
			if err := e.SendTaskSuccess(ctx, tok, json.RawMessage(`{}`)); !errors.Is(err, ErrTaskTokenInvalid) {
				t.Fatalf("reusing a token: want ErrTaskTokenInvalid, got %v", err)
			}
		})
	}
}

func TestExecutorTimeouts(t *testing.T) {
	ctx := context.Background()
	setup := func(t *testing.T) (*Executor, *FakeClock, chan json.RawMessage) {
		started := make(chan json.RawMessage, 1)
		clock := NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), false)
		return newTestExecutor(t, WithClock(clock), WithTasks(map[string]TaskFunc{fnBlock: blockingTask(started)})), clock, started
	}
	t.Run("task timeout", func(t *testing.T) {
		e, clock, started := setup(t)
		if err := e.Register("task-timeout", mustLoad(t, `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"`+fnBlock+`","TimeoutSeconds":5,"End":true}}}`)); err != nil {
			t.Fatal(err)
		}
		ex, err := e.Start(ctx, "task-timeout", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		<-started
		clock.BlockUntil(1, nil)
		clock.Advance(5 * time.Second)
		got := waitDone(t, e, ex.ID)
		if got.Status != StatusFailed || got.Error != ErrNameTimeout {
			t.Fatalf("got %+v", got)
		}
	})
	t.Run("execution timeout", func(t *testing.T) {
		e, clock, _ := setup(t)
		if err := e.Register("exec-timeout", mustLoad(t, `{"TimeoutSeconds":10,"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":100,"End":true}}}`)); err != nil {
			t.Fatal(err)
		}
		ex, err := e.Start(ctx, "exec-timeout", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		clock.BlockUntil(2, nil) // execution timer and Wait timer
		clock.Advance(10 * time.Second)
		got := waitDone(t, e, ex.ID)
		if got.Status != StatusTimedOut || got.Error != ErrNameTimeout {
			t.Fatalf("got %+v", got)
		}
		types := eventTypes(t, e, ex.ID)
		if types[len(types)-1] != "ExecutionTimedOut" {
			t.Fatalf("history ends with %s", types[len(types)-1])
		}
	})
	t.Run("wait uses the clock", func(t *testing.T) {
		e, clock, _ := setup(t)
		if err := e.Register("wait", mustLoad(t, `{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":60,"End":true}}}`)); err != nil {
			t.Fatal(err)
		}
		ex, err := e.Start(ctx, "wait", "", json.RawMessage(`{"a":1}`))
		if err != nil {
			t.Fatal(err)
		}
		clock.BlockUntil(1, nil)
		if d, _ := e.Describe(ctx, ex.ID); d.Status != StatusRunning {
			t.Fatalf("finished before the clock moved: %+v", d)
		}
		clock.Advance(60 * time.Second)
		if got := waitDone(t, e, ex.ID); got.Status != StatusSucceeded {
			t.Fatalf("got %+v", got)
		}
	})
}

// TestExecutorResume simulates a crash in the middle of an execution: a second executor on
// the same store resumes it from the state it was in, without re-running earlier states.
func TestExecutorResume(t *testing.T) {
	st := NewStoreBacked(memstore.New())
	var firstCalls atomic.Int32
	count := func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
		firstCalls.Add(1)
		return json.RawMessage(`{"step":"first"}`), nil
	}
	def := `{"StartAt":"First","States":{"First":{"Type":"Task","Resource":"` + fnCount + `","ResultPath":"$.first","Next":"Second"},
		"Second":{"Type":"Task","Resource":"` + fnBlock + `","ResultPath":"$.second","End":true}}}`
	started := make(chan json.RawMessage, 1)
	e1 := NewExecutor(WithStore(st), WithTasks(map[string]TaskFunc{fnCount: count, fnBlock: blockingTask(started)}))
	if err := e1.Register("ingest", mustLoad(t, def)); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ex, err := e1.Start(ctx, "ingest", "doc-1", json.RawMessage(`{"doc":"a.pdf"}`))
	if err != nil {
		t.Fatal(err)
	}
	<-started
	if err := e1.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e1.Start(ctx, "ingest", "after-close", nil); err == nil {
		t.Fatal("a closed executor started an execution")
	}
	rec, err := st.GetExecution(ctx, ex.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Status != StatusRunning || rec.Checkpoint == nil || rec.Checkpoint.State != "Second" {
		t.Fatalf("after shutdown: %+v", rec)
	}

	e2 := newTestExecutor(t, WithStore(st), WithTasks(map[string]TaskFunc{
		fnCount: count,
		fnBlock: func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
			return json.RawMessage(`"done"`), nil
		},
	}))
	if err := e2.Register("ingest", mustLoad(t, def)); err != nil {
		t.Fatal(err)
	}
	n, err := e2.Resume(ctx)
	if err != nil || n != 1 {
		t.Fatalf("resume: %d %v", n, err)
	}
	got := waitDone(t, e2, ex.ID)
	if got.Status != StatusSucceeded || !JSONEqual(got.Output, []byte(`{"doc":"a.pdf","first":{"step":"first"},"second":"done"}`)) {
		t.Fatalf("resumed execution: %+v output %s", got, got.Output)
	}
	if firstCalls.Load() != 1 {
		t.Fatalf("First ran %d times, want 1", firstCalls.Load())
	}
	types := eventTypes(t, e2, ex.ID)
	if !strings.Contains(strings.Join(types, ","), "ExecutionResumed,TaskStateEntered") || types[len(types)-1] != "ExecutionSucceeded" {
		t.Fatalf("history %v", types)
	}
	if running, _ := st.ListExecutions(ctx, ListFilter{Status: StatusRunning}); len(running) != 0 {
		t.Fatalf("still listed as running: %+v", running)
	}
}

// runStoreContract checks an ExecutionStore implementation.
func runStoreContract(t *testing.T, newStore func(t *testing.T) ExecutionStore) {
	ctx := context.Background()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	t.Run("save get list", func(t *testing.T) {
		s := newStore(t)
		if _, err := s.GetExecution(ctx, "nope"); !errors.Is(err, ErrExecutionNotFound) {
			t.Fatalf("want ErrExecutionNotFound, got %v", err)
		}
		a := Execution{ID: "a", Name: "a", Machine: "m1", Status: StatusRunning, Input: json.RawMessage(`{}`), StartTime: t0}
		b := Execution{ID: "b", Name: "b", Machine: "m2", Status: StatusRunning, Input: json.RawMessage(`{}`), StartTime: t0.Add(time.Second)}
		for _, ex := range []Execution{a, b} {
			if err := s.SaveExecution(ctx, ex); err != nil {
				t.Fatal(err)
			}
		}
		b.Status = StatusSucceeded
		b.Output = json.RawMessage(`{"x":1}`)
		if err := s.SaveExecution(ctx, b); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetExecution(ctx, "b")
		if err != nil || got.Status != StatusSucceeded || !JSONEqual(got.Output, b.Output) {
			t.Fatalf("get: %+v %v", got, err)
		}
		all, _ := s.ListExecutions(ctx, ListFilter{})
		if len(all) != 2 || all[0].ID != "b" {
			t.Fatalf("list all (newest first): %+v", all)
		}
		running, _ := s.ListExecutions(ctx, ListFilter{Status: StatusRunning})
		if len(running) != 1 || running[0].ID != "a" {
			t.Fatalf("list running: %+v", running)
		}
		m2, _ := s.ListExecutions(ctx, ListFilter{Machine: "m2"})
		if len(m2) != 1 || m2[0].ID != "b" {
			t.Fatalf("list by machine: %+v", m2)
		}
	})
	t.Run("history", func(t *testing.T) {
		s := newStore(t)
		if err := s.SaveExecution(ctx, Execution{ID: "h", Machine: "m", Status: StatusRunning, StartTime: t0}); err != nil {
			t.Fatal(err)
		}
		for i := 1; i <= 12; i++ {
			if err := s.AppendHistory(ctx, "h", []HistoryEvent{{ID: int64(i), Type: "PassStateEntered"}}); err != nil {
				t.Fatal(err)
			}
		}
		evs, err := s.History(ctx, "h")
		if err != nil || len(evs) != 12 || evs[11].ID != 12 || evs[1].ID != 2 {
			t.Fatalf("history: %v %+v", err, evs)
		}
		if _, err := s.History(ctx, "none"); !errors.Is(err, ErrExecutionNotFound) {
			t.Fatalf("history of unknown: %v", err)
		}
	})
}

func TestExecutionStores(t *testing.T) {
	t.Run("memory", func(t *testing.T) {
		runStoreContract(t, func(*testing.T) ExecutionStore { return NewMemoryStore() })
	})
	t.Run("store backed", func(t *testing.T) {
		runStoreContract(t, func(*testing.T) ExecutionStore { return NewStoreBacked(memstore.New()) })
	})
}

func TestRoutes(t *testing.T) {
	started := make(chan json.RawMessage, 1)
	e := newTestExecutor(t, WithTasks(map[string]TaskFunc{fnBlock: blockingTask(started)}))
	if err := e.Register("slow", mustLoad(t, `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"`+fnBlock+`","End":true}}}`)); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	e.Routes(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	do := func(method, path, body string, wantStatus int, out any) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(resp.Body)
		if resp.StatusCode != wantStatus {
			t.Fatalf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, wantStatus, buf.String())
		}
		if out != nil {
			if err := json.Unmarshal(buf.Bytes(), out); err != nil {
				t.Fatalf("%s %s: %v: %s", method, path, err, buf.String())
			}
		}
	}
	var ex Execution
	do("POST", "/admin/state-machines/slow/executions", `{"name":"r1","input":{"a":1}}`, http.StatusCreated, &ex)
	<-started
	id := url.PathEscape(ex.ID)
	var got Execution
	do("GET", "/admin/executions/"+id, "", http.StatusOK, &got)
	if got.Status != StatusRunning || got.Name != "r1" {
		t.Fatalf("describe: %+v", got)
	}
	var list struct{ Data []Execution }
	do("GET", "/admin/executions?machine=slow&status=RUNNING", "", http.StatusOK, &list)
	if len(list.Data) != 1 {
		t.Fatalf("list: %+v", list)
	}
	do("POST", "/admin/executions/"+id+"/stop", `{"error":"Admin","cause":"test"}`, http.StatusOK, &got)
	if got.Status != StatusAborted {
		t.Fatalf("stop: %+v", got)
	}
	var hist struct{ Events []HistoryEvent }
	do("GET", "/admin/executions/"+id+"/history", "", http.StatusOK, &hist)
	if len(hist.Events) < 3 || hist.Events[0].Type != "ExecutionStarted" || hist.Events[len(hist.Events)-1].Type != "ExecutionAborted" {
		t.Fatalf("history: %+v", hist.Events)
	}
	var page struct {
		Events    []HistoryEvent
		NextToken string
	}
	do("GET", "/admin/executions/"+id+"/history?maxResults=2", "", http.StatusOK, &page)
	if len(page.Events) != 2 || page.Events[0].ID != 1 || page.NextToken != "2" {
		t.Fatalf("first page: %+v", page)
	}
	do("GET", "/admin/executions/"+id+"/history?maxResults=2&nextToken="+page.NextToken, "", http.StatusOK, &page)
	if len(page.Events) == 0 || page.Events[0].ID != 3 {
		t.Fatalf("second page: %+v", page)
	}
	do("GET", "/admin/executions/"+id+"/history?reverseOrder=true&maxResults=1", "", http.StatusOK, &page)
	if len(page.Events) != 1 || page.Events[0].Type != "ExecutionAborted" {
		t.Fatalf("reverse page: %+v", page)
	}
	do("GET", "/admin/executions/"+id+"/history?maxResults=0", "", http.StatusBadRequest, nil)
	var apiErr struct {
		Error struct{ Code string }
	}
	do("POST", "/admin/executions/"+id+"/stop", "", http.StatusConflict, &apiErr)
	do("GET", "/admin/executions/nope", "", http.StatusNotFound, &apiErr)
	if apiErr.Error.Code != "not_found" {
		t.Fatalf("error code %q", apiErr.Error.Code)
	}
	do("GET", "/admin/executions?status=BOGUS", "", http.StatusBadRequest, nil)
	do("POST", "/admin/state-machines/none/executions", `{}`, http.StatusNotFound, nil)
}

// TestTaskPanicFailsOnlyItsTask: a task that panics fails with States.TaskFailed naming
// the panic, a Catch can handle it, and the executor and its other executions go on.
func TestTaskPanicFailsOnlyItsTask(t *testing.T) {
	const fnPanic = "arn:aws:lambda:local:000000000000:function:panic"
	release := make(chan struct{})
	e := newTestExecutor(t, WithTasks(map[string]TaskFunc{
		fnPanic: func(context.Context, json.RawMessage) (json.RawMessage, error) {
			var counts map[string]int
			bump(counts) // a nil-map write: a runtime panic
			return nil, nil
		},
		fnBlock: func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
			select {
			case <-release:
				return in, nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		},
	}))
	for name, def := range map[string]string{
		"panics":  `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"` + fnPanic + `","End":true}}}`,
		"catches": `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"` + fnPanic + `","Catch":[{"ErrorEquals":["States.TaskFailed"],"ResultPath":"$.error","Next":"Caught"}],"End":true},"Caught":{"Type":"Pass","End":true}}}`,
		"blocks":  `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"` + fnBlock + `","End":true}}}`,
	} {
		if err := e.Register(name, mustLoad(t, def)); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	other, err := e.Start(ctx, "blocks", "other", json.RawMessage(`{"n":1}`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.Start(ctx, "panics", "p", json.RawMessage(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	got := waitDone(t, e, p.ID)
	if got.Status != "FAILED" || got.Error != ErrNameTaskFailed || !strings.Contains(got.Cause, "assignment to entry in nil map") {
		t.Fatalf("panicking task: %s %s %q, want FAILED States.TaskFailed naming the panic", got.Status, got.Error, got.Cause)
	}
	c, err := e.Start(ctx, "catches", "c", json.RawMessage(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := waitDone(t, e, c.ID); got.Status != "SUCCEEDED" || !strings.Contains(string(got.Output), "nil map") {
		t.Fatalf("caught panic: %s %s", got.Status, got.Output)
	}
	if ex, err := e.Describe(ctx, other.ID); err != nil || ex.Status != "RUNNING" {
		t.Fatalf("the other execution: %+v %v, want RUNNING", ex, err)
	}
	close(release)
	if got := waitDone(t, e, other.ID); got.Status != "SUCCEEDED" || string(got.Output) != `{"n":1}` {
		t.Fatalf("the other execution ended %s %s", got.Status, got.Output)
	}
}

func bump(counts map[string]int) { counts["boom"]++ }

// TestExecutorOnFinish: the finish observer sees each execution's final, stored record
// once: one that succeeded, one stopped while running, and one stopped in the store that
// no process was running (not resumed).
func TestExecutorOnFinish(t *testing.T) {
	started := make(chan json.RawMessage, 1)
	st := NewMemoryStore()
	e := newTestExecutor(t, WithStore(st), WithTasks(map[string]TaskFunc{fnBlock: blockingTask(started)}))
	var mu sync.Mutex
	seen := map[string][]string{}
	e.OnFinish(func(ex Execution) {
		stored, err := st.GetExecution(context.Background(), ex.ID)
		mu.Lock()
		defer mu.Unlock()
		if err != nil || stored.Status != ex.Status {
			t.Errorf("observed %s as %s before it was stored (%v, %s)", ex.ID, ex.Status, err, stored.Status)
		}
		seen[ex.ID] = append(seen[ex.ID], ex.Status)
	})
	ctx := context.Background()
	if err := e.Register("pass", mustLoad(t, `{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}`)); err != nil {
		t.Fatal(err)
	}
	if err := e.Register("slow", mustLoad(t, `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"`+fnBlock+`","End":true}}}`)); err != nil {
		t.Fatal(err)
	}
	ok, err := e.Start(ctx, "pass", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	waitDone(t, e, ok.ID)
	slow, err := e.Start(ctx, "slow", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	<-started
	if _, err := e.Stop(ctx, slow.ID, "Operator", "stop"); err != nil {
		t.Fatal(err)
	}
	orphan := Execution{ID: ExecutionID("slow", "orphan"), Name: "orphan", Machine: "slow", Status: StatusRunning, Input: json.RawMessage(`{}`), StartTime: time.Now()}
	if err := st.SaveExecution(ctx, orphan); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Stop(ctx, orphan.ID, "Operator", "stop"); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := map[string][]string{ok.ID: {StatusSucceeded}, slow.ID: {StatusAborted}, orphan.ID: {StatusAborted}}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Fatalf("observed %v, want %v", seen, want)
	}
}
