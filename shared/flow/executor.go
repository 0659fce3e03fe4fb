package flow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
)

// Executor runs registered state machines as durable, observable, cancellable executions.
// It is the embedded stand-in for AWS Step Functions: Start is StartExecution, Describe is
// DescribeExecution, History is GetExecutionHistory, Stop is StopExecution and the
// SendTask* methods complete .waitForTaskToken tasks.
type Executor struct {
	store  ExecutionStore
	clock  Clock
	log    *slog.Logger
	tokens *tokenRegistry

	mu       sync.Mutex
	tasks    map[string]TaskFunc
	lookup   func(string) (TaskFunc, bool)
	machines map[string]*Machine
	running  map[string]*activeExec
	onFinish func(Execution)

	base       context.Context
	baseCancel context.CancelCauseFunc
	wg         sync.WaitGroup
}

type activeExec struct {
	cancel context.CancelCauseFunc
	done   chan struct{}
	mu     sync.Mutex // guards seq, rec and pending, and orders writes to the store
	seq    int64
	rec    Execution
	// pending holds events not yet written; they are written with the next checkpoint,
	// the final record, or once maxPendingEvents accumulate.
	pending []HistoryEvent
}

// maxPendingEvents bounds the history events held in memory between store writes.
const maxPendingEvents = 64

// Option configures an Executor.
type Option func(*Executor)

// WithStore sets where executions are persisted (default: a MemoryStore).
func WithStore(s ExecutionStore) Option { return func(e *Executor) { e.store = s } }

// WithClock sets the executor's clock (default: the wall clock).
func WithClock(c Clock) Option { return func(e *Executor) { e.clock = c } }

// WithTasks binds Task resources to handlers. Keys are function ARNs or names as they
// appear after substitution; a resource matches a key exactly or by function name.
func WithTasks(tasks map[string]TaskFunc) Option {
	return func(e *Executor) {
		for k, v := range tasks {
			e.tasks[k] = v
		}
	}
}

// WithLogger sets the structured logger (default: slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(e *Executor) { e.log = l } }

// NewExecutor returns an Executor. Call Close to stop its executions on shutdown.
func NewExecutor(opts ...Option) *Executor {
	e := &Executor{
		store:    NewMemoryStore(),
		clock:    RealClock,
		log:      slog.Default(),
		tokens:   newTokenRegistry(),
		tasks:    map[string]TaskFunc{},
		machines: map[string]*Machine{},
		running:  map[string]*activeExec{},
	}
	for _, o := range opts {
		o(e)
	}
	if e.store == nil {
		panic("flow: WithStore(nil)")
	}
	e.lookup = lookupTask(e.tasks)
	e.base, e.baseCancel = context.WithCancelCause(context.Background())
	return e
}

// Bind binds one Task resource to a handler.
func (e *Executor) Bind(resource string, fn TaskFunc) {
	if fn == nil {
		panic("flow: Bind with nil TaskFunc")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.tasks[resource] = fn
	e.lookup = lookupTask(e.tasks)
}

func (e *Executor) task(resource string) (TaskFunc, bool) {
	e.mu.Lock()
	l := e.lookup
	e.mu.Unlock()
	return l(resource)
}

// Register makes m startable under name. Every Task resource of m must already be bound.
func (e *Executor) Register(name string, m *Machine) error {
	if name == "" || m == nil {
		return fmt.Errorf("register state machine: name and machine are required")
	}
	var unbound []string
	for _, r := range m.Resources() {
		if _, ok := e.task(r); !ok {
			unbound = append(unbound, r)
		}
	}
	if len(unbound) > 0 {
		return fmt.Errorf("register state machine %s: no handler bound for %s", name, strings.Join(unbound, ", "))
	}
	e.mu.Lock()
	e.machines[name] = m
	e.mu.Unlock()
	return nil
}

// OnFinish makes the executor call fn with the final record of every execution that
// ends (succeeded, failed, timed out or aborted) once that record is stored; executions
// left running by Close are not ended. fn runs on the execution's goroutine and must not
// block for long.
func (e *Executor) OnFinish(fn func(Execution)) {
	e.mu.Lock()
	e.onFinish = fn
	e.mu.Unlock()
}

func (e *Executor) finished(rec Execution) {
	e.mu.Lock()
	fn := e.onFinish
	e.mu.Unlock()
	if fn != nil {
		fn(rec)
	}
}

// Machines returns the registered state machine names, sorted.
func (e *Executor) Machines() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]string, 0, len(e.machines))
	for k := range e.machines {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ExecutionID returns the ID (execution ARN) an execution named name of machine gets.
func ExecutionID(machine, name string) string { return executionARN(machine, name) }

// Start starts an execution of the named machine and returns its record at once; the
// execution runs in the background. An empty name gets a random one. Starting a name that
// is already RUNNING with the same input returns that execution (as StartExecution does);
// any other reuse of a name fails with ErrExecutionExists.
func (e *Executor) Start(ctx context.Context, machine, name string, input json.RawMessage) (Execution, error) {
	if e.base.Err() != nil {
		return Execution{}, fmt.Errorf("start %s: %w", machine, errShutdown)
	}
	e.mu.Lock()
	m, ok := e.machines[machine]
	e.mu.Unlock()
	if !ok {
		return Execution{}, fmt.Errorf("state machine %q does not exist; list them with GET /admin/state-machines: %w", machine, ErrMachineNotFound)
	}
	if len(input) == 0 {
		input = json.RawMessage("{}")
	}
	in, err := decodeJSON(input)
	if err != nil {
		return Execution{}, fmt.Errorf("start %s: invalid input: %w", machine, err)
	}
	if len(input) > maxPayloadBytes {
		return Execution{}, fmt.Errorf("start %s: input exceeds %d bytes (%s)", machine, maxPayloadBytes, ErrNameDataLimitExceeded)
	}
	if name == "" {
		name = newUUID()
	}
	if err := validateExecutionName(name); err != nil {
		return Execution{}, fmt.Errorf("start %s: %w", machine, err)
	}
	id := executionARN(machine, name)
	if prev, err := e.store.GetExecution(ctx, id); err == nil {
		if prev.Status == StatusRunning && JSONEqual(prev.Input, input) {
			return prev, nil
		}
		return Execution{}, fmt.Errorf("an execution named %q already ran with a different input; choose another name: %w", id, ErrExecutionExists)
	} else if !errors.Is(err, ErrExecutionNotFound) {
		return Execution{}, fmt.Errorf("start %s: %w", id, err)
	}
	canon, _ := marshalJSON(in)
	rec := Execution{
		ID: id, Name: name, Machine: machine, MachineID: machineARN(machine),
		Status: StatusRunning, Input: canon, StartTime: e.clock.Now(),
	}
	if err := e.store.SaveExecution(ctx, rec); err != nil {
		return Execution{}, fmt.Errorf("start %s: %w", id, err)
	}
	e.launch(m, rec, nil, 0)
	return rec, nil
}

// ErrInvalidName means an execution name breaks StartExecution's naming rules.
var ErrInvalidName = errors.New("flow: invalid execution name")

// validateExecutionName applies StartExecution's rules: 1 to 80 characters, none of them
// white space, brackets, wildcards, the specials " # % \ ^ | ~ ` $ & , ; : / or control
// characters.
func validateExecutionName(name string) error {
	if len(name) > 80 {
		return fmt.Errorf("%w: %q is longer than 80 characters", ErrInvalidName, name)
	}
	for _, r := range name {
		if r <= 0x20 || (r >= 0x7f && r <= 0x9f) || strings.ContainsRune("<>{}[]?*\"#%\\^|~`$&,;:/", r) {
			return fmt.Errorf("%w: %q contains %q", ErrInvalidName, name, r)
		}
	}
	return nil
}

// Starter returns a function that starts an execution of machine with a generated name and
// returns its ID, for packages that only need to start a flow (a workflow starter port).
func (e *Executor) Starter(machine string) func(ctx context.Context, input json.RawMessage) (string, error) {
	return func(ctx context.Context, input json.RawMessage) (string, error) {
		ex, err := e.Start(ctx, machine, "", input)
		return ex.ID, err
	}
}

// launch runs rec in the background, from its checkpoint when resuming.
func (e *Executor) launch(m *Machine, rec Execution, cp *Checkpoint, seq int64) *activeExec {
	ctx, cancel := context.WithCancelCause(e.base)
	a := &activeExec{cancel: cancel, done: make(chan struct{}), seq: seq, rec: rec}
	e.mu.Lock()
	e.running[rec.ID] = a
	e.mu.Unlock()
	in, _ := decodeJSON(rec.Input)
	env := &runEnv{
		clock:   e.clock,
		tasks:   e.task,
		tokens:  e.tokens,
		execCtx: executionContext(rec.Machine, rec.Name, in, rec.StartTime),
		smCtx:   map[string]any{"Id": rec.MachineID, "Name": rec.Machine},
		log:     e.log,
	}
	env.record = func(ev HistoryEvent) { e.appendEvent(a, ev) }
	env.checkpoint = func(st string, input any) {
		a.mu.Lock()
		defer a.mu.Unlock()
		a.rec.Checkpoint = &Checkpoint{State: st, Input: mustMarshal(input), Entered: e.clock.Now()}
		if err := e.saveLocked(context.WithoutCancel(ctx), a); err != nil {
			e.log.Error("flow: save checkpoint", "execution", a.rec.ID, "err", err)
		}
	}
	start, startInput := m.root.startAt, in
	if cp != nil {
		if _, ok := m.root.states[cp.State]; ok {
			start = cp.State
			startInput, _ = decodeJSON(cp.Input)
		}
		e.appendEvent(a, HistoryEvent{Timestamp: e.clock.Now(), Type: "ExecutionResumed", StateName: start, Input: cp.Input})
	} else {
		e.appendEvent(a, HistoryEvent{Timestamp: rec.StartTime, Type: "ExecutionStarted", Input: rec.Input})
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		defer close(a.done)
		defer cancel(nil)
		defer func() {
			// A fault of the interpreter itself fails this execution, never the process.
			if v := recover(); v != nil {
				e.log.Error("flow: execution panicked", "execution", rec.ID, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				e.finish(ctx, a, nil, fail(ErrNameRuntime, "the executor failed: %v", v))
			}
		}()
		out, err := runWithTimeout(ctx, env, m.root, start, startInput)
		e.finish(ctx, a, out, err)
	}()
	return a
}

// stopRequest is the cancellation cause of StopExecution.
type stopRequest struct{ name, cause string }

func (s *stopRequest) Error() string { return "execution aborted: " + s.cause }

var errShutdown = errors.New("flow: executor closed")

func (e *Executor) finish(ctx context.Context, a *activeExec, out any, err error) {
	defer func() {
		e.mu.Lock()
		delete(e.running, a.rec.ID)
		e.mu.Unlock()
	}()
	cause := context.Cause(ctx)
	if errors.Is(cause, errShutdown) {
		return // left RUNNING; Resume picks it up after a restart
	}
	now := e.clock.Now()
	a.mu.Lock()
	rec := a.rec
	a.mu.Unlock()
	rec.StopTime = &now
	rec.Checkpoint = nil
	var ev HistoryEvent
	var stop *stopRequest
	var f *failure
	switch {
	case errors.As(cause, &stop):
		rec.Status, rec.Error, rec.Cause = StatusAborted, stop.name, stop.cause
		ev = HistoryEvent{Type: "ExecutionAborted", Error: stop.name, Cause: stop.cause}
	case err == nil:
		b, merr := marshalJSON(out)
		if merr == nil && len(b) > maxPayloadBytes {
			merr = errors.New("execution output exceeds the maximum number of bytes")
		}
		if merr != nil {
			rec.Status, rec.Error, rec.Cause = StatusFailed, ErrNameDataLimitExceeded, merr.Error()
			ev = HistoryEvent{Type: "ExecutionFailed", Error: rec.Error, Cause: rec.Cause}
			break
		}
		rec.Status, rec.Output = StatusSucceeded, b
		ev = HistoryEvent{Type: "ExecutionSucceeded", Output: b}
	case errors.As(err, &f) && f == errExecutionTimeout:
		rec.Status, rec.Error, rec.Cause = StatusTimedOut, f.name, f.cause
		ev = HistoryEvent{Type: "ExecutionTimedOut", Error: f.name, Cause: f.cause}
	default:
		f = asFailure(err)
		rec.Status, rec.Error, rec.Cause = StatusFailed, f.name, f.cause
		ev = HistoryEvent{Type: "ExecutionFailed", Error: f.name, Cause: f.cause}
	}
	ev.Timestamp = now
	e.appendEvent(a, ev)
	a.mu.Lock()
	a.rec = rec
	err = e.saveLocked(context.Background(), a)
	a.mu.Unlock()
	if err != nil {
		e.log.Error("flow: save execution", "execution", rec.ID, "err", err)
	}
	e.log.Info("flow: execution finished", "execution", rec.ID, "status", rec.Status, "error", rec.Error)
	e.finished(rec)
}

func (e *Executor) appendEvent(a *activeExec, ev HistoryEvent) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.seq++
	ev.ID = a.seq
	if a.seq > 1 {
		ev.PreviousEventID = a.seq - 1
	}
	a.pending = append(a.pending, ev)
	if len(a.pending) >= maxPendingEvents {
		if err := e.store.AppendHistory(context.Background(), a.rec.ID, a.pending); err != nil {
			e.log.Error("flow: append history", "execution", a.rec.ID, "err", err)
		}
		a.pending = a.pending[:0]
	}
}

// saveLocked writes a.rec and the pending events; a.mu must be held.
func (e *Executor) saveLocked(ctx context.Context, a *activeExec) error {
	var err error
	if hs, ok := e.store.(HistorySaver); ok {
		err = hs.SaveExecutionWithHistory(ctx, a.rec, a.pending)
	} else {
		if len(a.pending) > 0 {
			err = e.store.AppendHistory(ctx, a.rec.ID, a.pending)
		}
		if err == nil {
			err = e.store.SaveExecution(ctx, a.rec)
		}
	}
	a.pending = a.pending[:0]
	return err
}

// Describe returns an execution's record (DescribeExecution).
func (e *Executor) Describe(ctx context.Context, id string) (Execution, error) {
	return e.store.GetExecution(ctx, id)
}

// History returns an execution's events in order (GetExecutionHistory), including those of
// a running execution not yet written to the store.
func (e *Executor) History(ctx context.Context, id string) ([]HistoryEvent, error) {
	e.mu.Lock()
	a, ok := e.running[id]
	e.mu.Unlock()
	if !ok {
		return e.store.History(ctx, id)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	evs, err := e.store.History(ctx, id)
	if err != nil {
		return nil, err
	}
	return append(evs, a.pending...), nil
}

// List returns executions matching f, newest first (ListExecutions).
func (e *Executor) List(ctx context.Context, f ListFilter) ([]Execution, error) {
	return e.store.ListExecutions(ctx, f)
}

// Wait blocks until the execution is no longer RUNNING in this process (or ctx ends) and
// returns its record.
func (e *Executor) Wait(ctx context.Context, id string) (Execution, error) {
	e.mu.Lock()
	a, ok := e.running[id]
	e.mu.Unlock()
	if ok {
		select {
		case <-a.done:
		case <-ctx.Done():
			return Execution{}, ctx.Err()
		}
	}
	return e.store.GetExecution(ctx, id)
}

// Stop aborts a running execution (StopExecution) with an optional error name and cause and
// returns its final record.
func (e *Executor) Stop(ctx context.Context, id, errName, cause string) (Execution, error) {
	e.mu.Lock()
	a, ok := e.running[id]
	e.mu.Unlock()
	if !ok {
		rec, err := e.store.GetExecution(ctx, id)
		if err != nil {
			return Execution{}, err
		}
		if rec.Status != StatusRunning {
			return rec, fmt.Errorf("stop %s: %w", id, ErrNotRunning)
		}
		// RUNNING in the store but not in this process (not resumed): abort it in place.
		now := e.clock.Now()
		rec.Status, rec.Error, rec.Cause, rec.StopTime, rec.Checkpoint = StatusAborted, errName, cause, &now, nil
		if err := e.store.SaveExecution(ctx, rec); err != nil {
			return Execution{}, err
		}
		e.finished(rec)
		return rec, nil
	}
	a.cancel(&stopRequest{name: errName, cause: cause})
	select {
	case <-a.done:
	case <-ctx.Done():
		return Execution{}, ctx.Err()
	}
	return e.store.GetExecution(ctx, id)
}

// SendTaskSuccess completes a .waitForTaskToken task with output.
func (e *Executor) SendTaskSuccess(_ context.Context, token string, output json.RawMessage) error {
	if _, err := decodeJSON(output); err != nil {
		return fmt.Errorf("send task success: invalid output: %w", err)
	}
	return e.tokens.complete(token, tokenResult{out: output})
}

// SendTaskFailure fails a .waitForTaskToken task with an error name and cause.
func (e *Executor) SendTaskFailure(_ context.Context, token, errName, cause string) error {
	if errName == "" {
		errName = ErrNameTaskFailed
	}
	return e.tokens.complete(token, tokenResult{err: &failure{name: errName, cause: cause}})
}

// SendTaskHeartbeat resets the HeartbeatSeconds timer of a .waitForTaskToken task.
func (e *Executor) SendTaskHeartbeat(_ context.Context, token string) error {
	return e.tokens.heartbeat(token)
}

// Resume restarts every RUNNING execution in the store that this process is not running,
// from the top-level state it last entered (a Task there runs again, so tasks should be
// idempotent, as Step Functions' at-least-once tasks must be anyway). It returns how many
// executions it resumed. Executions of unregistered machines are left alone.
func (e *Executor) Resume(ctx context.Context) (int, error) {
	recs, err := e.store.ListExecutions(ctx, ListFilter{Status: StatusRunning})
	if err != nil {
		return 0, fmt.Errorf("resume: %w", err)
	}
	n := 0
	for _, rec := range recs {
		e.mu.Lock()
		m, known := e.machines[rec.Machine]
		_, active := e.running[rec.ID]
		e.mu.Unlock()
		if !known || active {
			continue
		}
		hist, err := e.store.History(ctx, rec.ID)
		if err != nil {
			return n, fmt.Errorf("resume %s: %w", rec.ID, err)
		}
		cp := rec.Checkpoint
		if cp == nil {
			cp = &Checkpoint{State: m.root.startAt, Input: rec.Input}
		}
		e.launch(m, rec, cp, int64(len(hist)))
		n++
	}
	return n, nil
}

// Close stops every running execution without finishing it, so that it stays RUNNING in
// the store and a later Resume continues it, and waits for them to unwind or ctx to end.
func (e *Executor) Close(ctx context.Context) error {
	e.baseCancel(errShutdown)
	done := make(chan struct{})
	go func() { e.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Running reports how many executions this process is running.
func (e *Executor) Running() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.running)
}
