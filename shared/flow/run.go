package flow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"runtime/debug"
	"strings"
	"sync"
	"time"
)

// TaskFunc is the in-process implementation of a Task state's resource. It receives the
// task's effective input (for lambda:invoke, the Payload) and returns its result. Return a
// *TaskError to fail with a named error; any other error fails with States.TaskFailed.
type TaskFunc func(ctx context.Context, input json.RawMessage) (json.RawMessage, error)

// HistoryEvent is one entry of an execution's history, shaped after GetExecutionHistory.
type HistoryEvent struct {
	ID              int64           `json:"id"`
	PreviousEventID int64           `json:"previousEventId,omitempty"`
	Timestamp       time.Time       `json:"timestamp"`
	Type            string          `json:"type"`
	StateName       string          `json:"name,omitempty"`
	Resource        string          `json:"resource,omitempty"`
	Index           *int            `json:"index,omitempty"`
	Input           json.RawMessage `json:"input,omitempty"`
	Output          json.RawMessage `json:"output,omitempty"`
	Error           string          `json:"error,omitempty"`
	Cause           string          `json:"cause,omitempty"`
}

// runEnv is what one execution needs while it runs.
type runEnv struct {
	clock      Clock
	tasks      func(resource string) (TaskFunc, bool)
	taskOver   map[string]TaskFunc
	waitOver   map[string]time.Duration
	retryOver  map[string][]time.Duration
	record     func(HistoryEvent)
	checkpoint func(stateName string, input any)
	tokens     *tokenRegistry
	execCtx    map[string]any
	smCtx      map[string]any
	extraCtx   map[string]any
	// log, when set, records the stack of a task that panicked.
	log *slog.Logger
}

// call runs a task's handler. A handler that panics fails its task with States.TaskFailed
// naming the panic, as a crashed Lambda function fails its task in Step Functions; the
// execution may retry or catch it, and the process and other executions go on.
func (env *runEnv) call(ctx context.Context, state string, fn TaskFunc, in json.RawMessage) (out json.RawMessage, err error) {
	defer func() {
		if v := recover(); v != nil {
			if env.log != nil {
				env.log.ErrorContext(ctx, "flow: task panicked", "state", state, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			}
			out, err = nil, &TaskError{Type: ErrNameTaskFailed, Cause: fmt.Sprintf("the task of state %q panicked: %v", state, v)}
		}
	}()
	return fn(ctx, in)
}

func (env *runEnv) event(ev HistoryEvent) {
	if env.record != nil {
		env.record(ev)
	}
}

func (env *runEnv) sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return context.Cause(ctx)
	}
	if sk, ok := env.clock.(interface{ skip(time.Duration) bool }); ok && sk.skip(d) {
		return context.Cause(ctx)
	}
	select {
	case <-env.clock.After(d):
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// contextObject builds $$ for a state.
func (env *runEnv) contextObject(name string, entered time.Time, retry int) map[string]any {
	c := map[string]any{
		"Execution":    env.execCtx,
		"StateMachine": env.smCtx,
		"State": map[string]any{
			"Name":        name,
			"EnteredTime": entered.UTC().Format("2006-01-02T15:04:05.000Z"),
			"RetryCount":  intNum(int64(retry)),
		},
	}
	for k, v := range env.extraCtx {
		if base, ok := c[k].(map[string]any); ok {
			if over, ok := v.(map[string]any); ok {
				merged := make(map[string]any, len(base)+len(over))
				for kk, vv := range base {
					merged[kk] = vv
				}
				for kk, vv := range over {
					merged[kk] = vv
				}
				c[k] = merged
				continue
			}
		}
		c[k] = v
	}
	return c
}

// runGraph runs states from start until an End, Succeed or error.
func (env *runEnv) runGraph(ctx context.Context, g *graph, start string, input any, top bool) (any, error) {
	name := start
	for {
		if err := context.Cause(ctx); err != nil {
			return nil, err
		}
		s := g.states[name]
		if top && env.checkpoint != nil && s.durable() {
			env.checkpoint(name, input)
		}
		entered := env.clock.Now()
		env.event(HistoryEvent{Timestamp: entered, Type: s.Type + "StateEntered", StateName: name, Input: mustMarshal(input)})
		out, next, err := env.runState(ctx, s, input, entered)
		if err != nil {
			return nil, err
		}
		if s.Type != "Fail" {
			env.event(HistoryEvent{Timestamp: env.clock.Now(), Type: s.Type + "StateExited", StateName: name, Output: mustMarshal(out)})
		}
		if next == "" {
			return out, nil
		}
		name, input = next, out
	}
}

// durable reports whether entering the state is checkpointed. States that only transform
// data (Pass, Choice, Succeed, Fail) are not: re-running them after a resume gives the same
// result, so the checkpoint of the state before them suffices and costs no store write.
func (s *state) durable() bool {
	switch s.Type {
	case "Task", "Parallel", "Map", "Wait":
		return true
	}
	return false
}

func (s *state) applyInputPath(raw any, ctxObj any) (any, error) {
	if s.inputNull {
		return map[string]any{}, nil
	}
	if s.inputPath == nil {
		return raw, nil
	}
	root := raw
	if s.inputPath.context {
		root = ctxObj
	}
	v, err := s.inputPath.eval(root)
	if err != nil {
		return nil, fail(ErrNameRuntime, "An error occurred while executing the state '%s'. Invalid path '%s' : No results for path: %s", s.name, s.inputPath.src, s.inputPath.src)
	}
	return v, nil
}

func (s *state) applyOutputPath(v any, ctxObj any) (any, error) {
	if s.outputNull {
		return map[string]any{}, nil
	}
	if s.outputPath == nil {
		return v, nil
	}
	root := v
	if s.outputPath.context {
		root = ctxObj
	}
	out, err := s.outputPath.eval(root)
	if err != nil {
		return nil, fail(ErrNameRuntime, "An error occurred while executing the state '%s'. Invalid path '%s' : No results for path: %s", s.name, s.outputPath.src, s.outputPath.src)
	}
	return out, nil
}

func applyResultPath(name string, p *path, discard bool, raw, result any) (any, error) {
	if discard {
		return raw, nil
	}
	if p == nil || len(p.segs) == 0 {
		return result, nil
	}
	out, err := setPath(raw, p, result)
	if err != nil {
		return nil, fail(ErrNameResultPathMatchFailure, "An error occurred while executing the state '%s'. Unable to apply ResultPath '%s' to input '%s': %v", name, p.src, mustMarshal(raw), err)
	}
	return out, nil
}

// runState runs one state, including its Retry and Catch policies.
func (env *runEnv) runState(ctx context.Context, s *state, raw any, entered time.Time) (any, string, error) {
	switch s.Type {
	case "Pass", "Choice", "Wait", "Succeed", "Fail":
		ctxObj := env.contextObject(s.name, entered, 0)
		return env.runSimple(ctx, s, raw, ctxObj)
	}
	attempts := make([]int, len(s.Retry))
	retries := 0
	for {
		ctxObj := env.contextObject(s.name, entered, retries)
		res, err := env.runAction(ctx, s, raw, ctxObj)
		if err == nil {
			var out any
			if out, err = s.finishResult(res, raw, ctxObj); err == nil {
				return out, s.Next, nil
			}
		}
		if cerr := context.Cause(ctx); cerr != nil {
			return nil, "", cerr
		}
		out, next, retry, herr := env.handleFailure(ctx, s, raw, asFailure(err), attempts, &retries)
		if retry {
			continue
		}
		return out, next, herr
	}
}

// handleFailure applies the state's Retry then Catch policies to a failure: it waits and
// reports retry, or returns the catcher's output and next state, or returns the failure.
func (env *runEnv) handleFailure(ctx context.Context, s *state, raw any, f *failure, attempts []int, retries *int) (out any, next string, retry bool, err error) {
	env.event(HistoryEvent{Timestamp: env.clock.Now(), Type: s.Type + "StateFailed", StateName: s.name, Error: f.name, Cause: f.cause})
	for i, r := range s.Retry {
		if !errorMatches(r.ErrorEquals, f, s.Type) {
			continue
		}
		limit := 3
		if r.MaxAttempts != nil {
			limit = *r.MaxAttempts
		}
		if attempts[i] >= limit {
			break // the first matching retrier decides, even when exhausted
		}
		delay := retryDelay(r, attempts[i])
		if ov, ok := env.retryOver[s.name]; ok {
			switch {
			case len(ov) == 1:
				delay = ov[0]
			case i < len(ov) && ov[i] >= 0:
				delay = ov[i]
			}
		}
		attempts[i]++
		*retries++
		if err := env.sleep(ctx, delay); err != nil {
			return nil, "", false, err
		}
		env.event(HistoryEvent{Timestamp: env.clock.Now(), Type: s.Type + "StateRetried", StateName: s.name, Error: f.name})
		return nil, "", true, nil
	}
	for _, c := range s.Catch {
		if !errorMatches(c.ErrorEquals, f, s.Type) {
			continue
		}
		errOut := map[string]any{"Error": f.name, "Cause": f.cause}
		out, err := applyResultPath(s.name, c.resultPath, c.discard, raw, errOut)
		if err != nil {
			return nil, "", false, err
		}
		env.event(HistoryEvent{Timestamp: env.clock.Now(), Type: s.Type + "StateCaught", StateName: s.name, Error: f.name, Cause: f.cause})
		return out, c.Next, false, nil
	}
	return nil, "", false, f
}

func errorMatches(names []string, f *failure, stateType string) bool {
	for _, n := range names {
		switch {
		case n == f.name:
			return true
		case f.terminal:
		case n == ErrNameALL:
			return true
		case n == ErrNameTaskFailed && stateType == "Task" && f.name != ErrNameTimeout && f.name != ErrNameHeartbeatTimeout:
			return true
		}
	}
	return false
}

func retryDelay(r retrier, attempt int) time.Duration {
	interval, rate := 1.0, 2.0
	if r.IntervalSeconds != nil {
		interval = *r.IntervalSeconds
	}
	if r.BackoffRate != nil {
		rate = *r.BackoffRate
	}
	secs := interval * math.Pow(rate, float64(attempt))
	if r.MaxDelaySeconds != nil && secs > *r.MaxDelaySeconds {
		secs = *r.MaxDelaySeconds
	}
	if r.JitterStrategy == "FULL" {
		secs = rand.Float64() * secs
	}
	return time.Duration(secs * float64(time.Second))
}

// finishResult applies ResultSelector, ResultPath and OutputPath to a Task/Parallel/Map result.
func (s *state) finishResult(res, raw any, ctxObj any) (any, error) {
	if s.resultSelector != nil {
		v, err := s.resultSelector.eval(res, ctxObj)
		if err != nil {
			return nil, err
		}
		res = v
	}
	out, err := applyResultPath(s.name, s.resultPath, s.resultDiscard, raw, res)
	if err != nil {
		return nil, err
	}
	return s.applyOutputPath(out, ctxObj)
}

func (env *runEnv) runSimple(ctx context.Context, s *state, raw any, ctxObj map[string]any) (any, string, error) {
	if s.Type == "Fail" {
		name, cause := s.Error, s.Cause
		if s.ErrorPath != "" {
			v, err := evalDynamicString(s.ErrorPath, raw, ctxObj)
			if err != nil {
				return nil, "", err
			}
			name = v
		}
		if s.CausePath != "" {
			v, err := evalDynamicString(s.CausePath, raw, ctxObj)
			if err != nil {
				return nil, "", err
			}
			cause = v
		}
		env.event(HistoryEvent{Timestamp: env.clock.Now(), Type: "FailStateExited", StateName: s.name, Error: name, Cause: cause})
		return nil, "", &failure{name: name, cause: cause}
	}
	eff, err := s.applyInputPath(raw, ctxObj)
	if err != nil {
		return nil, "", err
	}
	switch s.Type {
	case "Pass":
		if s.parameters != nil {
			if eff, err = s.parameters.eval(eff, ctxObj); err != nil {
				return nil, "", err
			}
		}
		res := eff
		if s.Result != nil {
			res = s.result
		}
		out, err := applyResultPath(s.name, s.resultPath, s.resultDiscard, raw, res)
		if err != nil {
			return nil, "", err
		}
		out, err = s.applyOutputPath(out, ctxObj)
		return out, s.Next, err
	case "Choice":
		next := ""
		for _, r := range s.choices {
			ok, err := r.match(eff, ctxObj)
			if err != nil {
				return nil, "", err
			}
			if ok {
				next = r.next
				break
			}
		}
		if next == "" {
			next = s.Default
		}
		if next == "" {
			return nil, "", fail(ErrNameNoChoiceMatched, "No Choice Rules matched and no Default was specified in state %q", s.name)
		}
		out, err := s.applyOutputPath(eff, ctxObj)
		return out, next, err
	case "Wait":
		d, err := env.waitDuration(s, eff)
		if err != nil {
			return nil, "", err
		}
		if err := env.sleep(ctx, d); err != nil {
			return nil, "", err
		}
		out, err := s.applyOutputPath(eff, ctxObj)
		return out, s.Next, err
	case "Succeed":
		out, err := s.applyOutputPath(eff, ctxObj)
		return out, "", err
	}
	return nil, "", fail(ErrNameRuntime, "unknown state type %q", s.Type)
}

func evalDynamicString(src string, raw, ctxObj any) (string, error) {
	n, err := compileDynamic(src)
	if err != nil {
		return "", fail(ErrNameRuntime, "%v", err)
	}
	v, err := n.eval(raw, ctxObj)
	if err != nil {
		return "", err
	}
	s, ok := v.(string)
	if !ok {
		return "", fail(ErrNameRuntime, "%s must resolve to a string, got %s", src, jsonType(v))
	}
	return s, nil
}

func (env *runEnv) waitDuration(s *state, eff any) (time.Duration, error) {
	if d, ok := env.waitOver[s.name]; ok {
		return d, nil
	}
	now := env.clock.Now()
	switch {
	case s.Seconds != nil:
		return time.Duration(*s.Seconds * float64(time.Second)), nil
	case s.Timestamp != "":
		t, _ := time.Parse(time.RFC3339Nano, s.Timestamp)
		return t.Sub(now), nil
	case s.SecondsPath != "":
		p, err := compilePath(s.SecondsPath)
		if err != nil {
			return 0, fail(ErrNameRuntime, "%v", err)
		}
		v, err := p.eval(eff)
		if err != nil {
			return 0, fail(ErrNameRuntime, "Invalid path '%s': No results for path", s.SecondsPath)
		}
		n, ok := toInt(v)
		if !ok || n < 0 {
			return 0, fail(ErrNameRuntime, "SecondsPath '%s' must resolve to a non-negative integer", s.SecondsPath)
		}
		return time.Duration(n) * time.Second, nil
	default:
		p, err := compilePath(s.TimestampPath)
		if err != nil {
			return 0, fail(ErrNameRuntime, "%v", err)
		}
		v, err := p.eval(eff)
		if err != nil {
			return 0, fail(ErrNameRuntime, "Invalid path '%s': No results for path", s.TimestampPath)
		}
		str, _ := v.(string)
		t, ok := parseTimestamp(str)
		if !ok {
			return 0, fail(ErrNameRuntime, "TimestampPath '%s' must resolve to an RFC 3339 timestamp", s.TimestampPath)
		}
		return t.Sub(now), nil
	}
}

// runAction runs the action of a Task, Parallel or Map state once and returns its raw result.
func (env *runEnv) runAction(ctx context.Context, s *state, raw any, ctxObj map[string]any) (any, error) {
	var token string
	if s.waitForToken {
		token = env.tokens.newToken()
		defer env.tokens.forget(token)
		ctxObj["Task"] = map[string]any{"Token": token}
	}
	eff, err := s.applyInputPath(raw, ctxObj)
	if err != nil {
		return nil, err
	}
	if s.parameters != nil {
		if eff, err = s.parameters.eval(eff, ctxObj); err != nil {
			return nil, err
		}
	}
	switch s.Type {
	case "Task":
		return env.runTask(ctx, s, eff, ctxObj, token)
	case "Parallel":
		return env.runParallel(ctx, s, eff)
	case "Map":
		return env.runMap(ctx, s, eff, ctxObj)
	}
	return nil, fail(ErrNameRuntime, "unknown state type %q", s.Type)
}

func (env *runEnv) pathSeconds(src string, eff any) (float64, error) {
	p, err := compilePath(src)
	if err != nil {
		return 0, fail(ErrNameRuntime, "%v", err)
	}
	v, err := p.eval(eff)
	if err != nil {
		return 0, fail(ErrNameRuntime, "Invalid path '%s': No results for path", src)
	}
	n, ok := toInt(v)
	if !ok || n < 1 {
		return 0, fail(ErrNameRuntime, "'%s' must resolve to a positive integer", src)
	}
	return float64(n), nil
}

// pathNumber reads a number in [lo, hi] (an integer when integer is set) at src in eff.
func pathNumber(src string, eff any, lo, hi float64, integer bool) (float64, error) {
	p, err := compilePath(src)
	if err != nil {
		return 0, fail(ErrNameRuntime, "%v", err)
	}
	v, err := p.eval(eff)
	if err != nil {
		return 0, fail(ErrNameRuntime, "Invalid path '%s': No results for path", src)
	}
	n, ok := toFloat(v)
	if _, isInt := toInt(v); !ok || n < lo || n > hi || (integer && !isInt) {
		return 0, fail(ErrNameRuntime, "'%s' must resolve to a number from %v to %v", src, lo, hi)
	}
	return n, nil
}

func (env *runEnv) runTask(ctx context.Context, s *state, eff any, ctxObj map[string]any, token string) (any, error) {
	resource := strings.TrimSuffix(s.Resource, ".waitForTaskToken")
	payload := eff
	if s.lambdaInvoke {
		m, _ := eff.(map[string]any)
		fn, _ := m["FunctionName"].(string)
		if fn == "" {
			return nil, fail(ErrNameRuntime, "state %q: lambda:invoke Parameters must set FunctionName", s.name)
		}
		resource = fn
		payload = m["Payload"]
	}
	fn, ok := env.taskOver[s.name]
	if ok {
		// An override stands for the whole task, callback included: its output is the
		// result even for .waitForTaskToken, as with local-sfn's overrides.
		token = ""
	} else if env.tasks != nil {
		fn, ok = env.tasks(resource)
	}
	if !ok {
		return nil, fail(ErrNameTaskFailed, "no handler is bound for resource %q (state %q)", resource, s.name)
	}
	in, err := marshalJSON(payload)
	if err != nil {
		return nil, fail(ErrNameRuntime, "marshal task input: %v", err)
	}
	if len(in) > maxPayloadBytes {
		return nil, fail(ErrNameDataLimitExceeded, "The state/task %q input exceeds the maximum number of bytes (%d)", s.name, maxPayloadBytes)
	}
	timeout := 0.0
	if s.TimeoutSeconds != nil {
		timeout = *s.TimeoutSeconds
	} else if s.TimeoutSecondsPath != "" {
		if timeout, err = env.pathSeconds(s.TimeoutSecondsPath, eff); err != nil {
			return nil, err
		}
	}
	heartbeat := 0.0
	if s.HeartbeatSeconds != nil {
		heartbeat = *s.HeartbeatSeconds
	} else if s.HeartbeatSecondsPath != "" {
		if heartbeat, err = env.pathSeconds(s.HeartbeatSecondsPath, eff); err != nil {
			return nil, err
		}
	}
	env.event(HistoryEvent{Timestamp: env.clock.Now(), Type: "TaskScheduled", StateName: s.name, Resource: s.Resource, Input: in})
	taskCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var timeoutC <-chan time.Time
	if timeout > 0 {
		timeoutC = env.clock.After(time.Duration(timeout * float64(time.Second)))
	}
	type result struct {
		out json.RawMessage
		err error
	}
	done := make(chan result, 1)
	var tokenC <-chan tokenResult
	var heartbeatC <-chan struct{}
	if token != "" {
		tokenC, heartbeatC = env.tokens.channels(token)
	}
	go func() {
		out, err := env.call(taskCtx, s.name, fn, in)
		done <- result{out, err}
	}()
	env.event(HistoryEvent{Timestamp: env.clock.Now(), Type: "TaskStarted", StateName: s.name, Resource: s.Resource})
	var out json.RawMessage
	var hbTimer <-chan time.Time
	if token != "" && heartbeat > 0 {
		hbTimer = env.clock.After(time.Duration(heartbeat * float64(time.Second)))
	}
	for {
		select {
		case r := <-done:
			if r.err != nil {
				f := asFailure(r.err)
				env.event(HistoryEvent{Timestamp: env.clock.Now(), Type: "TaskFailed", StateName: s.name, Error: f.name, Cause: f.cause})
				return nil, f
			}
			if token == "" {
				out = r.out
				goto finished
			}
			done = nil
		case r := <-tokenC:
			if r.err != nil {
				env.event(HistoryEvent{Timestamp: env.clock.Now(), Type: "TaskFailed", StateName: s.name, Error: r.err.name, Cause: r.err.cause})
				return nil, r.err
			}
			out = r.out
			goto finished
		case <-heartbeatC:
			hbTimer = env.clock.After(time.Duration(heartbeat * float64(time.Second)))
		case <-hbTimer:
			env.event(HistoryEvent{Timestamp: env.clock.Now(), Type: "TaskTimedOut", StateName: s.name, Error: ErrNameHeartbeatTimeout})
			return nil, fail(ErrNameHeartbeatTimeout, "task %q sent no heartbeat for %v seconds", s.name, heartbeat)
		case <-timeoutC:
			env.event(HistoryEvent{Timestamp: env.clock.Now(), Type: "TaskTimedOut", StateName: s.name, Error: ErrNameTimeout})
			return nil, fail(ErrNameTimeout, "task %q timed out after %v seconds", s.name, timeout)
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	}
finished:
	if len(out) > maxPayloadBytes {
		return nil, fail(ErrNameDataLimitExceeded, "The state/task %q returned a result exceeding the maximum number of bytes (%d)", s.name, maxPayloadBytes)
	}
	if len(out) == 0 {
		out = json.RawMessage("null")
	}
	env.event(HistoryEvent{Timestamp: env.clock.Now(), Type: "TaskSucceeded", StateName: s.name, Output: out})
	v, err := decodeJSON(out)
	if err != nil {
		return nil, fail(ErrNameTaskFailed, "task %q returned invalid JSON: %v", s.name, err)
	}
	if s.lambdaInvoke && !s.waitForToken {
		v = map[string]any{
			"ExecutedVersion": "$LATEST",
			"Payload":         v,
			"SdkHttpMetadata": map[string]any{
				"HttpHeaders":    map[string]any{"Content-Type": "application/json"},
				"HttpStatusCode": json.Number("200"),
			},
			"SdkResponseMetadata": map[string]any{"RequestId": newUUID()},
			"StatusCode":          json.Number("200"),
		}
	}
	return v, nil
}

func (env *runEnv) runParallel(ctx context.Context, s *state, eff any) (any, error) {
	env.event(HistoryEvent{Timestamp: env.clock.Now(), Type: "ParallelStateStarted", StateName: s.name})
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	results := make([]any, len(s.branches))
	var (
		mu    sync.Mutex
		first *failure
		wg    sync.WaitGroup
	)
	for i, b := range s.branches {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := env.runGraph(ctx, b, b.startAt, eff, false)
			if err != nil {
				mu.Lock()
				if first == nil && context.Cause(ctx) == nil {
					first = asFailure(err)
					cancel(errBranchFailed)
				}
				mu.Unlock()
				return
			}
			results[i] = out
		}()
	}
	wg.Wait()
	if first == nil {
		if err := context.Cause(ctx); err != nil && !errors.Is(err, errBranchFailed) {
			return nil, err
		}
	}
	if first != nil {
		env.event(HistoryEvent{Timestamp: env.clock.Now(), Type: "ParallelStateFailed", StateName: s.name, Error: first.name, Cause: first.cause})
		return nil, first
	}
	env.event(HistoryEvent{Timestamp: env.clock.Now(), Type: "ParallelStateSucceeded", StateName: s.name})
	return results, nil
}

var errBranchFailed = errors.New("a sibling branch failed")

// inlineMapConcurrency is how many iterations an inline Map runs at once when
// MaxConcurrency is 0 (unbounded), as Step Functions caps inline Maps at 40.
const inlineMapConcurrency = 40

func (env *runEnv) runMap(ctx context.Context, s *state, eff any, ctxObj map[string]any) (any, error) {
	itemsV := eff
	if s.itemsPath != nil {
		root := eff
		if s.itemsPath.context {
			root = ctxObj
		}
		v, err := s.itemsPath.eval(root)
		if err != nil {
			return nil, fail(ErrNameRuntime, "An error occurred while executing the state '%s'. Invalid path '%s': No results for path", s.name, s.ItemsPath)
		}
		itemsV = v
	}
	items, ok := itemsV.([]any)
	if !ok {
		return nil, fail(ErrNameRuntime, "An error occurred while executing the state '%s'. Items of a Map state must be a JSON array, got %s", s.name, jsonType(itemsV))
	}
	maxc := 0
	if s.MaxConcurrency != nil {
		maxc = *s.MaxConcurrency
	} else if s.MaxConcurrencyPath != "" {
		n, err := pathNumber(s.MaxConcurrencyPath, eff, 0, math.MaxInt32, true)
		if err != nil {
			return nil, err
		}
		maxc = int(n)
	}
	toleratedCount, toleratedPct := -1, -1.0
	if s.ToleratedFailureCount != nil {
		toleratedCount = *s.ToleratedFailureCount
	} else if s.ToleratedFailureCountPath != "" {
		n, err := pathNumber(s.ToleratedFailureCountPath, eff, 0, math.MaxInt32, true)
		if err != nil {
			return nil, err
		}
		toleratedCount = int(n)
	}
	if s.ToleratedFailurePercentage != nil {
		toleratedPct = *s.ToleratedFailurePercentage
	} else if s.ToleratedFailurePctPath != "" {
		n, err := pathNumber(s.ToleratedFailurePctPath, eff, 0, 100, false)
		if err != nil {
			return nil, err
		}
		toleratedPct = n
	}
	tolerant := toleratedCount >= 0 || toleratedPct >= 0

	// Build the iteration inputs first: ItemSelector sees $$.Map.Item.
	inputs := make([]any, 0, len(items))
	for i, it := range items {
		if s.itemSelector == nil {
			inputs = append(inputs, it)
			continue
		}
		c := make(map[string]any, len(ctxObj)+1)
		for k, v := range ctxObj {
			c[k] = v
		}
		c["Map"] = map[string]any{"Item": map[string]any{"Index": intNum(int64(i)), "Value": it}}
		v, err := s.itemSelector.eval(eff, c)
		if err != nil {
			return nil, err
		}
		inputs = append(inputs, v)
	}
	if s.ItemBatcher != nil {
		size := len(inputs)
		if s.ItemBatcher.MaxItemsPerBatch != nil && *s.ItemBatcher.MaxItemsPerBatch > 0 {
			size = *s.ItemBatcher.MaxItemsPerBatch
		}
		var batchInput any
		if s.batchInput != nil {
			v, err := s.batchInput.eval(eff, ctxObj)
			if err != nil {
				return nil, err
			}
			batchInput = v
		}
		var batches []any
		for i := 0; i < len(inputs); i += max(size, 1) {
			b := map[string]any{"Items": append([]any{}, inputs[i:min(len(inputs), i+size)]...)}
			if batchInput != nil {
				b["BatchInput"] = batchInput
			}
			batches = append(batches, b)
		}
		inputs = batches
	}
	env.event(HistoryEvent{Timestamp: env.clock.Now(), Type: "MapStateStarted", StateName: s.name})
	n := len(inputs)
	if maxc <= 0 {
		maxc = inlineMapConcurrency
	}
	workers := min(n, maxc)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	results := make([]any, n)
	var (
		mu       sync.Mutex
		first    *failure
		failures int
		wg       sync.WaitGroup
		next     int
	)
	worker := func() {
		defer wg.Done()
		for {
			mu.Lock()
			if next >= n || (first != nil && !tolerant) {
				mu.Unlock()
				return
			}
			i := next
			next++
			mu.Unlock()
			idx := i
			env.event(HistoryEvent{Timestamp: env.clock.Now(), Type: "MapIterationStarted", StateName: s.name, Index: &idx})
			out, err := env.runGraph(ctx, s.processor, s.processor.startAt, inputs[i], false)
			if err != nil {
				if context.Cause(ctx) != nil {
					return
				}
				f := asFailure(err)
				env.event(HistoryEvent{Timestamp: env.clock.Now(), Type: "MapIterationFailed", StateName: s.name, Index: &idx, Error: f.name, Cause: f.cause})
				mu.Lock()
				failures++
				if !tolerant {
					if first == nil {
						first = f
						cancel(errBranchFailed)
					}
				} else {
					results[i] = map[string]any{"Error": f.name, "Cause": f.cause}
				}
				mu.Unlock()
				continue
			}
			env.event(HistoryEvent{Timestamp: env.clock.Now(), Type: "MapIterationSucceeded", StateName: s.name, Index: &idx})
			results[i] = out
		}
	}
	wg.Add(workers)
	for range workers {
		go worker()
	}
	wg.Wait()
	if first == nil {
		if err := context.Cause(ctx); err != nil && !errors.Is(err, errBranchFailed) {
			return nil, err
		}
	}
	if first == nil && tolerant && failures > 0 {
		exceeded := false
		if toleratedCount >= 0 && failures > toleratedCount {
			exceeded = true
		}
		if toleratedPct >= 0 && float64(failures)*100/float64(n) > toleratedPct {
			exceeded = true
		}
		if toleratedCount >= 0 && toleratedPct >= 0 {
			exceeded = failures > toleratedCount && float64(failures)*100/float64(n) > toleratedPct
		}
		if exceeded {
			first = fail(ErrNameExceedToleratedFailure, "The specified tolerated failure threshold was exceeded: %d of %d items failed", failures, n)
		}
	}
	if first != nil {
		env.event(HistoryEvent{Timestamp: env.clock.Now(), Type: "MapStateFailed", StateName: s.name, Error: first.name, Cause: first.cause})
		return nil, first
	}
	env.event(HistoryEvent{Timestamp: env.clock.Now(), Type: "MapStateSucceeded", StateName: s.name})
	return results, nil
}

// tokenRegistry tracks the task tokens of .waitForTaskToken tasks.
type tokenRegistry struct {
	mu     sync.Mutex
	tokens map[string]*tokenWait
}

type tokenWait struct {
	result    chan tokenResult
	heartbeat chan struct{}
}

type tokenResult struct {
	out json.RawMessage
	err *failure
}

func newTokenRegistry() *tokenRegistry { return &tokenRegistry{tokens: map[string]*tokenWait{}} }

func (r *tokenRegistry) newToken() string {
	t := strings.ReplaceAll(newUUID()+newUUID(), "-", "")
	r.mu.Lock()
	r.tokens[t] = &tokenWait{result: make(chan tokenResult, 1), heartbeat: make(chan struct{}, 1)}
	r.mu.Unlock()
	return t
}

func (r *tokenRegistry) channels(t string) (<-chan tokenResult, <-chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	w := r.tokens[t]
	return w.result, w.heartbeat
}

func (r *tokenRegistry) forget(t string) {
	r.mu.Lock()
	delete(r.tokens, t)
	r.mu.Unlock()
}

func (r *tokenRegistry) complete(t string, res tokenResult) error {
	r.mu.Lock()
	w, ok := r.tokens[t]
	if ok {
		delete(r.tokens, t)
	}
	r.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: %.12s…", ErrTaskTokenInvalid, t)
	}
	w.result <- res
	return nil
}

func (r *tokenRegistry) heartbeat(t string) error {
	r.mu.Lock()
	w, ok := r.tokens[t]
	r.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: %.12s…", ErrTaskTokenInvalid, t)
	}
	select {
	case w.heartbeat <- struct{}{}:
	default:
	}
	return nil
}
