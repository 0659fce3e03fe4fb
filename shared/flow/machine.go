package flow

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// RunOption configures Machine.Run.
type RunOption func(*runConfig)

type runConfig struct {
	clock     Clock
	tasks     map[string]TaskFunc
	taskOver  map[string]TaskFunc
	waitOver  map[string]time.Duration
	retryOver map[string][]time.Duration
	context   map[string]any
	record    func(HistoryEvent)
	name      string
}

// WithRunClock sets the clock of a run (default: the wall clock).
func WithRunClock(c Clock) RunOption { return func(r *runConfig) { r.clock = c } }

// WithRunTasks binds Task resources (function ARNs or lambda:invoke FunctionNames) to handlers.
func WithRunTasks(tasks map[string]TaskFunc) RunOption {
	return func(r *runConfig) { r.tasks = tasks }
}

// WithTaskOverride runs fn instead of the resource of every Task state named state, as
// local-sfn's --override-task does. For a .waitForTaskToken task, fn's output is the
// task's result (Machine.Run has no SendTaskSuccess, so such tasks need an override).
func WithTaskOverride(state string, fn TaskFunc) RunOption {
	return func(r *runConfig) {
		if r.taskOver == nil {
			r.taskOver = map[string]TaskFunc{}
		}
		r.taskOver[state] = fn
	}
}

// WithWaitOverride makes every Wait state named state pause for d instead of its own duration.
func WithWaitOverride(state string, d time.Duration) RunOption {
	return func(r *runConfig) {
		if r.waitOver == nil {
			r.waitOver = map[string]time.Duration{}
		}
		r.waitOver[state] = d
	}
}

// WithRetryOverride makes the retriers of the state named state wait d (one value for every
// retrier, or one per retrier in order; a negative value keeps that retrier's own interval).
func WithRetryOverride(state string, d ...time.Duration) RunOption {
	return func(r *runConfig) {
		if r.retryOver == nil {
			r.retryOver = map[string][]time.Duration{}
		}
		r.retryOver[state] = d
	}
}

// WithContextObject merges obj over the generated context object ($$), field by field at
// the top level, as local-sfn's --context does.
func WithContextObject(obj map[string]any) RunOption { return func(r *runConfig) { r.context = obj } }

// WithHistory receives every history event of the run.
func WithHistory(fn func(HistoryEvent)) RunOption { return func(r *runConfig) { r.record = fn } }

// WithExecutionName sets $$.Execution.Name (default: a random UUID).
func WithExecutionName(name string) RunOption { return func(r *runConfig) { r.name = name } }

// Run executes the machine synchronously without persistence and returns its output. A
// failed execution returns an *ExecutionError carrying the States Language error name and
// cause; a cancelled ctx returns ctx's cause.
func (m *Machine) Run(ctx context.Context, input json.RawMessage, opts ...RunOption) (json.RawMessage, error) {
	cfg := runConfig{clock: RealClock}
	for _, o := range opts {
		o(&cfg)
	}
	in, err := decodeJSON(input)
	if err != nil {
		return nil, &ExecutionError{Name: ErrNameRuntime, Cause: "invalid execution input: " + err.Error()}
	}
	if cfg.name == "" {
		cfg.name = newUUID()
	}
	smName := "local"
	env := &runEnv{
		clock:     cfg.clock,
		taskOver:  cfg.taskOver,
		waitOver:  cfg.waitOver,
		retryOver: cfg.retryOver,
		record:    cfg.record,
		tokens:    newTokenRegistry(),
		execCtx:   executionContext(smName, cfg.name, in, cfg.clock.Now()),
		smCtx:     map[string]any{"Id": machineARN(smName), "Name": smName},
		extraCtx:  cfg.context,
	}
	if cfg.tasks != nil {
		env.tasks = lookupTask(cfg.tasks)
	}
	out, err := runWithTimeout(ctx, env, m.root, m.root.startAt, in)
	if err != nil {
		return nil, toExecutionError(err)
	}
	b, err := marshalJSON(out)
	if err != nil {
		return nil, &ExecutionError{Name: ErrNameRuntime, Cause: err.Error()}
	}
	if len(b) > maxPayloadBytes {
		return nil, &ExecutionError{Name: ErrNameDataLimitExceeded, Cause: "execution output exceeds the maximum number of bytes"}
	}
	return b, nil
}

func toExecutionError(err error) error {
	var f *failure
	if errors.As(err, &f) {
		return &ExecutionError{Name: f.name, Cause: f.cause}
	}
	return err
}

// errExecutionTimeout is the cancellation cause when a machine's TimeoutSeconds elapses.
var errExecutionTimeout = &failure{name: ErrNameTimeout, cause: "The execution timed out", terminal: true}

// runWithTimeout runs the graph, cancelling it when the machine's TimeoutSeconds elapses.
func runWithTimeout(ctx context.Context, env *runEnv, g *graph, start string, in any) (any, error) {
	if g.timeout <= 0 {
		return env.runGraph(ctx, g, start, in, true)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	fired := env.clock.After(g.timeout)
	go func() {
		select {
		case <-fired:
			cancel(errExecutionTimeout)
		case <-ctx.Done():
		}
	}()
	out, err := env.runGraph(ctx, g, start, in, true)
	if errors.Is(context.Cause(ctx), errExecutionTimeout) {
		return nil, errExecutionTimeout
	}
	return out, err
}

func machineARN(name string) string {
	return "arn:aws:states:local:000000000000:stateMachine:" + name
}

func executionARN(machine, name string) string {
	return "arn:aws:states:local:000000000000:execution:" + machine + ":" + name
}

func executionContext(machine, name string, input any, start time.Time) map[string]any {
	return map[string]any{
		"Id":           executionARN(machine, name),
		"Input":        input,
		"Name":         name,
		"RoleArn":      "arn:aws:iam::000000000000:role/plinth-local-states",
		"StartTime":    start.UTC().Format("2006-01-02T15:04:05.000Z"),
		"RedriveCount": json.Number("0"),
	}
}

// lookupTask resolves a resource against bindings: exact key first, then by function name,
// so "plinth-ingest-extract", its function ARN and a qualified ARN (":live") all match.
func lookupTask(tasks map[string]TaskFunc) func(string) (TaskFunc, bool) {
	byName := map[string]TaskFunc{}
	for k, fn := range tasks {
		byName[functionName(k)] = fn
	}
	return func(resource string) (TaskFunc, bool) {
		if fn, ok := tasks[resource]; ok {
			return fn, true
		}
		fn, ok := byName[functionName(resource)]
		return fn, ok
	}
}

// functionName extracts a Lambda function's name from a name, ARN or qualified ARN.
func functionName(s string) string {
	const marker = ":function:"
	for i := 0; i+len(marker) <= len(s); i++ {
		if s[i:i+len(marker)] == marker {
			rest := s[i+len(marker):]
			for j := 0; j < len(rest); j++ {
				if rest[j] == ':' {
					return rest[:j]
				}
			}
			return rest
		}
	}
	return s
}
