package flow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

type runCase struct {
	name    string
	def     string
	input   string
	tasks   map[string]TaskFunc
	want    string // expected output JSON, when wantErr is empty
	wantErr string // expected error name
	cause   string // substring expected in the cause
}

func echo(_ context.Context, in json.RawMessage) (json.RawMessage, error) { return in, nil }

func failWith(typ, cause string) TaskFunc {
	return func(context.Context, json.RawMessage) (json.RawMessage, error) {
		return nil, &TaskError{Type: typ, Cause: cause}
	}
}

// failTimes fails n times with typ, then echoes.
func failTimes(n int32, typ string) TaskFunc {
	var calls atomic.Int32
	return func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
		if calls.Add(1) <= n {
			return nil, &TaskError{Type: typ, Cause: fmt.Sprintf("attempt %d", calls.Load())}
		}
		return json.RawMessage(fmt.Sprintf(`{"attempts":%d}`, calls.Load())), nil
	}
}

func runCases(t *testing.T, cases []runCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m, err := Load([]byte(tc.def), nil)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			in := tc.input
			if in == "" {
				in = "{}"
			}
			clock := NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), true)
			out, err := m.Run(context.Background(), json.RawMessage(in), WithRunTasks(tc.tasks), WithRunClock(clock))
			if tc.wantErr != "" {
				var ee *ExecutionError
				if !errors.As(err, &ee) {
					t.Fatalf("want error %s, got output %s err %v", tc.wantErr, out, err)
				}
				if ee.Name != tc.wantErr || !strings.Contains(ee.Cause, tc.cause) {
					t.Fatalf("want error %s (cause containing %q), got %s: %s", tc.wantErr, tc.cause, ee.Name, ee.Cause)
				}
				return
			}
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if !JSONEqual(out, []byte(tc.want)) {
				t.Fatalf("output\n got %s\nwant %s", out, tc.want)
			}
		})
	}
}

const fnA = "arn:aws:lambda:local:000000000000:function:a"

func TestPassAndPaths(t *testing.T) {
	runCases(t, []runCase{
		{name: "pass through", def: `{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}`, input: `{"a":1}`, want: `{"a":1}`},
		{name: "result at result path", def: `{"StartAt":"P","States":{"P":{"Type":"Pass","Result":{"x":1},"ResultPath":"$.r","End":true}}}`, input: `{"a":1}`, want: `{"a":1,"r":{"x":1}}`},
		{name: "nested result path creates objects", def: `{"StartAt":"P","States":{"P":{"Type":"Pass","Result":7,"ResultPath":"$.a.b.c","End":true}}}`, input: `{"a":{"z":0}}`, want: `{"a":{"z":0,"b":{"c":7}}}`},
		{name: "result path null discards", def: `{"StartAt":"P","States":{"P":{"Type":"Pass","Result":7,"ResultPath":null,"End":true}}}`, input: `{"a":1}`, want: `{"a":1}`},
		{name: "input and output path", def: `{"StartAt":"P","States":{"P":{"Type":"Pass","InputPath":"$.in","ResultPath":"$.copy","OutputPath":"$.copy.v","End":true}}}`, input: `{"in":{"v":[1,2]}}`, want: `[1,2]`},
		{name: "input path null", def: `{"StartAt":"P","States":{"P":{"Type":"Pass","InputPath":null,"End":true}}}`, input: `{"a":1}`, want: `{}`},
		{name: "output path null", def: `{"StartAt":"P","States":{"P":{"Type":"Pass","OutputPath":null,"End":true}}}`, input: `{"a":1}`, want: `{}`},
		{name: "parameters with paths and context", def: `{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"static":"s","v.$":"$.a","name.$":"$$.State.Name","nested":{"w.$":"$.b[1]"},"list":[1,{"q.$":"$.a"}]},"End":true}}}`, input: `{"a":"x","b":[1,2]}`, want: `{"static":"s","v":"x","name":"P","nested":{"w":2},"list":[1,{"q":"x"}]}`},
		{name: "wildcard path yields array", def: `{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"ids.$":"$.items[*].id","first.$":"$.items[0:1]","deep.$":"$..id","f.$":"$.items[?(@.id > 1)].id"},"End":true}}}`, input: `{"items":[{"id":1},{"id":2},{"id":3}]}`, want: `{"ids":[1,2,3],"first":[{"id":1}],"deep":[1,2,3],"f":[2,3]}`},
		{name: "bracket notation", def: `{"StartAt":"P","States":{"P":{"Type":"Pass","InputPath":"$['a b'].c","End":true}}}`, input: `{"a b":{"c":true}}`, want: `true`},
		{name: "missing input path is runtime error", def: `{"StartAt":"P","States":{"P":{"Type":"Pass","InputPath":"$.nope","End":true}}}`, wantErr: ErrNameRuntime},
		{name: "missing parameter path", def: `{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"x.$":"$.nope"},"End":true}}}`, wantErr: ErrNameParameterPathFailure},
		{name: "result path into non-object", def: `{"StartAt":"P","States":{"P":{"Type":"Pass","Result":1,"ResultPath":"$.a.b","End":true}}}`, input: `{"a":"str"}`, wantErr: ErrNameResultPathMatchFailure},
		{name: "execution context", def: `{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"in.$":"$$.Execution.Input","start.$":"$$.Execution.StartTime","sm.$":"$$.StateMachine.Name","entered.$":"$$.State.EnteredTime"},"End":true}}}`, input: `{"k":1}`, want: `{"in":{"k":1},"start":"2026-01-01T00:00:00.000Z","sm":"local","entered":"2026-01-01T00:00:00.000Z"}`},
		{name: "succeed with paths", def: `{"StartAt":"S","States":{"S":{"Type":"Succeed","InputPath":"$.a","OutputPath":"$.b"}}}`, input: `{"a":{"b":2}}`, want: `2`},
	})
}

func TestFail(t *testing.T) {
	runCases(t, []runCase{
		{name: "static", def: `{"StartAt":"F","States":{"F":{"Type":"Fail","Error":"MyError","Cause":"it broke"}}}`, wantErr: "MyError", cause: "it broke"},
		{name: "paths", def: `{"StartAt":"F","States":{"F":{"Type":"Fail","ErrorPath":"$.e","CausePath":"States.Format('code {}', $.c)"}}}`, input: `{"e":"E1","c":42}`, wantErr: "E1", cause: "code 42"},
	})
}

func TestChoice(t *testing.T) {
	choice := func(rule string) string {
		return `{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[` + rule + `],"Default":"No"},"Yes":{"Type":"Pass","Result":"yes","End":true},"No":{"Type":"Pass","Result":"no","End":true}}}`
	}
	input := `{"s":"beta","n":5,"f":2.5,"b":true,"t":"2026-03-01T10:00:00Z","t2":"2026-03-01T11:00:00Z","nul":null,"s2":"alpha","n2":5,"arr":[1],"short":"abc"}`
	rules := []struct {
		rule string
		want string
	}{
		{`{"Variable":"$.s","StringEquals":"beta","Next":"Yes"}`, "yes"},
		{`{"Variable":"$.s","StringEquals":"gamma","Next":"Yes"}`, "no"},
		{`{"Variable":"$.s","StringEqualsPath":"$.s2","Next":"Yes"}`, "no"},
		{`{"Variable":"$.s","StringLessThan":"c","Next":"Yes"}`, "yes"},
		{`{"Variable":"$.s","StringGreaterThan":"a","Next":"Yes"}`, "yes"},
		{`{"Variable":"$.s","StringLessThanEquals":"beta","Next":"Yes"}`, "yes"},
		{`{"Variable":"$.s","StringGreaterThanEquals":"betb","Next":"Yes"}`, "no"},
		{`{"Variable":"$.s","StringGreaterThanPath":"$.s2","Next":"Yes"}`, "yes"},
		{`{"Variable":"$.s","StringLessThanPath":"$.s2","Next":"Yes"}`, "no"},
		{`{"Variable":"$.s","StringLessThanEqualsPath":"$.s","Next":"Yes"}`, "yes"},
		{`{"Variable":"$.s","StringGreaterThanEqualsPath":"$.s2","Next":"Yes"}`, "yes"},
		{`{"Variable":"$.s","StringMatches":"b*a","Next":"Yes"}`, "yes"},
		{`{"Variable":"$.s","StringMatches":"b\\*a","Next":"Yes"}`, "no"},
		{`{"Variable":"$.n","NumericEquals":5,"Next":"Yes"}`, "yes"},
		{`{"Variable":"$.n","NumericEqualsPath":"$.n2","Next":"Yes"}`, "yes"},
		{`{"Variable":"$.f","NumericLessThan":3,"Next":"Yes"}`, "yes"},
		{`{"Variable":"$.f","NumericGreaterThan":2.5,"Next":"Yes"}`, "no"},
		{`{"Variable":"$.f","NumericGreaterThanEquals":2.5,"Next":"Yes"}`, "yes"},
		{`{"Variable":"$.n","NumericLessThanEquals":4,"Next":"Yes"}`, "no"},
		{`{"Variable":"$.f","NumericLessThanPath":"$.n","Next":"Yes"}`, "yes"},
		{`{"Variable":"$.n","NumericGreaterThanPath":"$.f","Next":"Yes"}`, "yes"},
		{`{"Variable":"$.n","NumericLessThanEqualsPath":"$.n2","Next":"Yes"}`, "yes"},
		{`{"Variable":"$.n","NumericGreaterThanEqualsPath":"$.f","Next":"Yes"}`, "yes"},
		{`{"Variable":"$.s","NumericEquals":5,"Next":"Yes"}`, "no"},
		{`{"Variable":"$.b","BooleanEquals":true,"Next":"Yes"}`, "yes"},
		{`{"Variable":"$.b","BooleanEqualsPath":"$.b","Next":"Yes"}`, "yes"},
		{`{"Variable":"$.t","TimestampEquals":"2026-03-01T10:00:00Z","Next":"Yes"}`, "yes"},
		{`{"Variable":"$.t","TimestampEquals":"2026-03-01T11:00:00+01:00","Next":"Yes"}`, "yes"},
		{`{"Variable":"$.t","TimestampLessThan":"2026-03-01T10:00:01Z","Next":"Yes"}`, "yes"},
		{`{"Variable":"$.t","TimestampGreaterThan":"2026-03-01T10:00:01Z","Next":"Yes"}`, "no"},
		{`{"Variable":"$.t","TimestampLessThanEquals":"2026-03-01T10:00:00Z","Next":"Yes"}`, "yes"},
		{`{"Variable":"$.t","TimestampGreaterThanEquals":"2026-03-01T10:00:00Z","Next":"Yes"}`, "yes"},
		{`{"Variable":"$.t","TimestampLessThanPath":"$.t2","Next":"Yes"}`, "yes"},
		{`{"Variable":"$.t","TimestampEqualsPath":"$.t2","Next":"Yes"}`, "no"},
		{`{"Variable":"$.t2","TimestampGreaterThanPath":"$.t","Next":"Yes"}`, "yes"},
		{`{"Variable":"$.t","TimestampLessThanEqualsPath":"$.t","Next":"Yes"}`, "yes"},
		{`{"Variable":"$.t","TimestampGreaterThanEqualsPath":"$.t2","Next":"Yes"}`, "no"},
		{`{"Variable":"$.nul","IsNull":true,"Next":"Yes"}`, "yes"},
		{`{"Variable":"$.missing","IsPresent":false,"Next":"Yes"}`, "yes"},
		{`{"Variable":"$.s","IsPresent":true,"Next":"Yes"}`, "yes"},
		{`{"Variable":"$.n","IsNumeric":true,"Next":"Yes"}`, "yes"},
		{`{"Variable":"$.s","IsString":true,"Next":"Yes"}`, "yes"},
		{`{"Variable":"$.b","IsBoolean":true,"Next":"Yes"}`, "yes"},
		{`{"Variable":"$.t","IsTimestamp":true,"Next":"Yes"}`, "yes"},
		{`{"Variable":"$.s","IsTimestamp":true,"Next":"Yes"}`, "no"},
		{`{"Variable":"$.short","IsTimestamp":true,"Next":"Yes"}`, "no"},
		{`{"Variable":"$.short","TimestampEquals":"2026-03-01T10:00:00Z","Next":"Yes"}`, "no"},
		{`{"Variable":"$.n","IsTimestamp":true,"Next":"Yes"}`, "no"},
		{`{"And":[{"Variable":"$.n","NumericGreaterThan":1},{"Variable":"$.b","BooleanEquals":true}],"Next":"Yes"}`, "yes"},
		{`{"Or":[{"Variable":"$.n","NumericGreaterThan":10},{"Variable":"$.s","StringEquals":"nope"}],"Next":"Yes"}`, "no"},
		{`{"Not":{"Variable":"$.s","StringEquals":"nope"},"Next":"Yes"}`, "yes"},
		{`{"Variable":"$$.State.Name","StringEquals":"C","Next":"Yes"}`, "yes"},
	}
	var cases []runCase
	for i, r := range rules {
		cases = append(cases, runCase{name: fmt.Sprintf("%02d_%s", i, r.rule), def: choice(r.rule), input: input, want: `"` + r.want + `"`})
	}
	cases = append(cases,
		runCase{name: "no match no default", def: `{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Variable":"$.n","NumericEquals":1,"Next":"E"}]},"E":{"Type":"Succeed"}}}`, input: `{"n":2}`, wantErr: ErrNameNoChoiceMatched},
		runCase{name: "missing variable", def: choice(`{"Variable":"$.missing","StringEquals":"x","Next":"Yes"}`), input: `{}`, wantErr: ErrNameRuntime},
		runCase{name: "choice paths", def: `{"StartAt":"C","States":{"C":{"Type":"Choice","InputPath":"$.in","OutputPath":"$.v","Choices":[{"Variable":"$.v","NumericEquals":1,"Next":"E"}]},"E":{"Type":"Succeed"}}}`, input: `{"in":{"v":1}}`, want: `1`},
	)
	runCases(t, cases)
}

func TestTaskRetryCatch(t *testing.T) {
	runCases(t, []runCase{
		{name: "plain ARN result", def: `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"` + fnA + `","ResultSelector":{"got.$":"$.x"},"ResultPath":"$.r","End":true}}}`, input: `{"x":1}`, tasks: map[string]TaskFunc{fnA: echo}, want: `{"x":1,"r":{"got":1}}`},
		{name: "bound by function name", def: `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"` + fnA + `:live","End":true}}}`, input: `{"x":1}`, tasks: map[string]TaskFunc{"a": echo}, want: `{"x":1}`},
		{name: "lambda invoke payload", def: `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"` + fnA + `","Payload":{"v.$":"$.x"}},"ResultSelector":{"p.$":"$.Payload","code.$":"$.StatusCode"},"End":true}}}`, input: `{"x":3}`, tasks: map[string]TaskFunc{fnA: echo}, want: `{"p":{"v":3},"code":200}`},
		{name: "unbound resource", def: `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"` + fnA + `","End":true}}}`, wantErr: ErrNameTaskFailed, cause: "no handler"},
		{name: "named error", def: `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"` + fnA + `","End":true}}}`, tasks: map[string]TaskFunc{fnA: failWith("Custom", "why")}, wantErr: "Custom", cause: "why"},
		{name: "plain error", def: `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"` + fnA + `","End":true}}}`, tasks: map[string]TaskFunc{fnA: func(context.Context, json.RawMessage) (json.RawMessage, error) { return nil, errors.New("disk") }}, wantErr: ErrNameTaskFailed, cause: "disk"},
		{name: "retry then succeed", def: `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"` + fnA + `","Retry":[{"ErrorEquals":["Flaky"],"IntervalSeconds":2,"MaxAttempts":3,"BackoffRate":2,"MaxDelaySeconds":3,"JitterStrategy":"FULL"}],"End":true}}}`, tasks: map[string]TaskFunc{fnA: failTimes(3, "Flaky")}, want: `{"attempts":4}`},
		{name: "retry exhausted", def: `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"` + fnA + `","Retry":[{"ErrorEquals":["Flaky"],"MaxAttempts":2}],"End":true}}}`, tasks: map[string]TaskFunc{fnA: failTimes(3, "Flaky")}, wantErr: "Flaky", cause: "attempt 3"},
		{name: "max attempts zero", def: `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"` + fnA + `","Retry":[{"ErrorEquals":["States.ALL"],"MaxAttempts":0}],"End":true}}}`, tasks: map[string]TaskFunc{fnA: failTimes(1, "Flaky")}, wantErr: "Flaky"},
		{name: "task failed wildcard", def: `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"` + fnA + `","Retry":[{"ErrorEquals":["States.TaskFailed"]}],"End":true}}}`, tasks: map[string]TaskFunc{fnA: failTimes(2, "Any")}, want: `{"attempts":3}`},
		{name: "catch with result path", def: `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"` + fnA + `","Catch":[{"ErrorEquals":["Other"],"Next":"X"},{"ErrorEquals":["States.ALL"],"ResultPath":"$.err","Next":"H"}],"End":true},"H":{"Type":"Pass","End":true},"X":{"Type":"Fail","Error":"wrong"}}}`, input: `{"k":1}`, tasks: map[string]TaskFunc{fnA: failWith("Boom", "bad")}, want: `{"k":1,"err":{"Error":"Boom","Cause":"bad"}}`},
		{name: "catch replaces input by default", def: `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"` + fnA + `","Catch":[{"ErrorEquals":["Boom"],"Next":"H"}],"End":true},"H":{"Type":"Pass","End":true}}}`, input: `{"k":1}`, tasks: map[string]TaskFunc{fnA: failWith("Boom", "bad")}, want: `{"Error":"Boom","Cause":"bad"}`},
		{name: "runtime errors are not caught by States.ALL", def: `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"` + fnA + `","InputPath":"$.missing","Catch":[{"ErrorEquals":["States.ALL"],"Next":"H"}],"End":true},"H":{"Type":"Pass","End":true}}}`, tasks: map[string]TaskFunc{fnA: echo}, wantErr: ErrNameRuntime},
		{name: "parameter path failure is caught", def: `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"` + fnA + `","Parameters":{"a.$":"$.missing"},"Catch":[{"ErrorEquals":["States.ParameterPathFailure"],"Next":"H"}],"End":true},"H":{"Type":"Pass","End":true}}}`, tasks: map[string]TaskFunc{fnA: echo}, want: `{"Error":"States.ParameterPathFailure","Cause":"The JSONPath '$.missing' could not be found in the input '{}'"}`},
		{name: "data limit", def: `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"` + fnA + `","End":true}}}`, tasks: map[string]TaskFunc{fnA: func(context.Context, json.RawMessage) (json.RawMessage, error) {
			return json.RawMessage(`"` + strings.Repeat("x", 300_000) + `"`), nil
		}}, wantErr: ErrNameDataLimitExceeded},
	})
}

func TestWaitStates(t *testing.T) {
	runCases(t, []runCase{
		{name: "seconds", def: `{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":3600,"Next":"P"},"P":{"Type":"Pass","Parameters":{"t.$":"$$.State.EnteredTime"},"End":true}}}`, want: `{"t":"2026-01-01T01:00:00.000Z"}`},
		{name: "timestamp", def: `{"StartAt":"W","States":{"W":{"Type":"Wait","Timestamp":"2026-01-02T00:00:00Z","Next":"P"},"P":{"Type":"Pass","Parameters":{"t.$":"$$.State.EnteredTime"},"End":true}}}`, want: `{"t":"2026-01-02T00:00:00.000Z"}`},
		{name: "seconds path", def: `{"StartAt":"W","States":{"W":{"Type":"Wait","SecondsPath":"$.s","Next":"P"},"P":{"Type":"Pass","Parameters":{"t.$":"$$.State.EnteredTime"},"End":true}}}`, input: `{"s":60}`, want: `{"t":"2026-01-01T00:01:00.000Z"}`},
		{name: "timestamp path", def: `{"StartAt":"W","States":{"W":{"Type":"Wait","TimestampPath":"$.ts","Next":"P"},"P":{"Type":"Pass","Parameters":{"t.$":"$$.State.EnteredTime"},"End":true}}}`, input: `{"ts":"2026-01-01T00:00:30Z"}`, want: `{"t":"2026-01-01T00:00:30.000Z"}`},
		{name: "timestamp in the past", def: `{"StartAt":"W","States":{"W":{"Type":"Wait","Timestamp":"2020-01-01T00:00:00Z","End":true}}}`, input: `{"a":1}`, want: `{"a":1}`},
		{name: "bad seconds path", def: `{"StartAt":"W","States":{"W":{"Type":"Wait","SecondsPath":"$.s","End":true}}}`, input: `{"s":"x"}`, wantErr: ErrNameRuntime},
	})
}

func TestParallelAndMap(t *testing.T) {
	double := func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
		var n int
		if err := json.Unmarshal(in, &n); err != nil {
			return nil, err
		}
		if n < 0 {
			return nil, &TaskError{Type: "Negative", Cause: fmt.Sprint(n)}
		}
		return json.RawMessage(fmt.Sprint(n * 2)), nil
	}
	tasks := map[string]TaskFunc{fnA: double}
	runCases(t, []runCase{
		{name: "parallel", def: `{"StartAt":"P","States":{"P":{"Type":"Parallel","Branches":[{"StartAt":"A","States":{"A":{"Type":"Pass","InputPath":"$.a","End":true}}},{"StartAt":"B","States":{"B":{"Type":"Task","Resource":"` + fnA + `","InputPath":"$.b","End":true}}}],"ResultSelector":{"first.$":"$[0]","second.$":"$[1]"},"End":true}}}`, input: `{"a":"x","b":4}`, tasks: tasks, want: `{"first":"x","second":8}`},
		{name: "parallel branch failure caught", def: `{"StartAt":"P","States":{"P":{"Type":"Parallel","Branches":[{"StartAt":"A","States":{"A":{"Type":"Fail","Error":"BranchErr","Cause":"c"}}},{"StartAt":"B","States":{"B":{"Type":"Pass","End":true}}}],"Catch":[{"ErrorEquals":["BranchErr"],"Next":"H"}],"End":true},"H":{"Type":"Pass","End":true}}}`, tasks: tasks, want: `{"Error":"BranchErr","Cause":"c"}`},
		{name: "map item selector", def: `{"StartAt":"M","States":{"M":{"Type":"Map","ItemsPath":"$.nums","MaxConcurrency":2,"ItemSelector":{"n.$":"$$.Map.Item.Value","i.$":"$$.Map.Item.Index","k.$":"$.k"},"ItemProcessor":{"ProcessorConfig":{"Mode":"INLINE"},"StartAt":"D","States":{"D":{"Type":"Task","Resource":"` + fnA + `","InputPath":"$.n","ResultPath":"$.d","End":true}}},"ResultPath":"$.out","End":true}}}`, input: `{"k":"c","nums":[1,2,3]}`, tasks: tasks, want: `{"k":"c","nums":[1,2,3],"out":[{"n":1,"i":0,"k":"c","d":2},{"n":2,"i":1,"k":"c","d":4},{"n":3,"i":2,"k":"c","d":6}]}`},
		{name: "map legacy iterator parameters", def: `{"StartAt":"M","States":{"M":{"Type":"Map","Parameters":{"v.$":"$$.Map.Item.Value"},"Iterator":{"StartAt":"D","States":{"D":{"Type":"Pass","OutputPath":"$.v","End":true}}},"End":true}}}`, input: `["a","b"]`, want: `["a","b"]`},
		{name: "map failure", def: `{"StartAt":"M","States":{"M":{"Type":"Map","ItemProcessor":{"StartAt":"D","States":{"D":{"Type":"Task","Resource":"` + fnA + `","End":true}}},"End":true}}}`, input: `[1,-2,3]`, tasks: tasks, wantErr: "Negative", cause: "-2"},
		{name: "map tolerated", def: `{"StartAt":"M","States":{"M":{"Type":"Map","ToleratedFailureCount":1,"ItemProcessor":{"StartAt":"D","States":{"D":{"Type":"Task","Resource":"` + fnA + `","End":true}}},"End":true}}}`, input: `[1,-2,3]`, tasks: tasks, want: `[2,{"Error":"Negative","Cause":"-2"},6]`},
		{name: "map tolerance exceeded", def: `{"StartAt":"M","States":{"M":{"Type":"Map","ToleratedFailurePercentage":10,"ItemProcessor":{"StartAt":"D","States":{"D":{"Type":"Task","Resource":"` + fnA + `","End":true}}},"End":true}}}`, input: `[1,-2,3]`, tasks: tasks, wantErr: ErrNameExceedToleratedFailure},
		{name: "map concurrency and tolerance from paths", def: `{"StartAt":"M","States":{"M":{"Type":"Map","ItemsPath":"$.xs","MaxConcurrencyPath":"$.c","ToleratedFailureCountPath":"$.tc","ItemProcessor":{"StartAt":"D","States":{"D":{"Type":"Task","Resource":"` + fnA + `","End":true}}},"End":true}}}`, input: `{"xs":[1,-2,3],"c":0,"tc":1}`, tasks: tasks, want: `[2,{"Error":"Negative","Cause":"-2"},6]`},
		{name: "tolerated percentage path exceeded", def: `{"StartAt":"M","States":{"M":{"Type":"Map","ItemsPath":"$.xs","ToleratedFailurePercentagePath":"$.p","ItemProcessor":{"StartAt":"D","States":{"D":{"Type":"Task","Resource":"` + fnA + `","End":true}}},"End":true}}}`, input: `{"xs":[1,-2,3],"p":33.3}`, tasks: tasks, wantErr: ErrNameExceedToleratedFailure},
		{name: "bad max concurrency path", def: `{"StartAt":"M","States":{"M":{"Type":"Map","MaxConcurrencyPath":"$.c","ItemsPath":"$.xs","ItemProcessor":{"StartAt":"D","States":{"D":{"Type":"Pass","End":true}}},"End":true}}}`, input: `{"xs":[],"c":-1}`, wantErr: ErrNameRuntime},
		{name: "map items not array", def: `{"StartAt":"M","States":{"M":{"Type":"Map","ItemsPath":"$.x","ItemProcessor":{"StartAt":"D","States":{"D":{"Type":"Pass","End":true}}},"End":true}}}`, input: `{"x":1}`, wantErr: ErrNameRuntime},
		{name: "map batcher", def: `{"StartAt":"M","States":{"M":{"Type":"Map","ItemBatcher":{"MaxItemsPerBatch":2,"BatchInput":{"b":1}},"ItemProcessor":{"StartAt":"D","States":{"D":{"Type":"Pass","End":true}}},"End":true}}}`, input: `[1,2,3]`, want: `[{"Items":[1,2],"BatchInput":{"b":1}},{"Items":[3],"BatchInput":{"b":1}}]`},
		{name: "empty map", def: `{"StartAt":"M","States":{"M":{"Type":"Map","ItemProcessor":{"StartAt":"D","States":{"D":{"Type":"Pass","End":true}}},"End":true}}}`, input: `[]`, want: `[]`},
	})
}

func TestIntrinsics(t *testing.T) {
	cases := []struct{ expr, input, want string }{
		{`States.Format('Hello, {}! {} {} {}', $.name, $.n, $.b, $.nul)`, `{"name":"Ada","n":1.5,"b":true,"nul":null}`, `"Hello, Ada! 1.5 true null"`},
		{`States.Format('esc \{\} and \'q\' {}', 'x')`, `{}`, `"esc {} and 'q' x"`},
		{`States.StringToJson($.s)`, `{"s":"{\"a\":[1,2]}"}`, `{"a":[1,2]}`},
		{`States.JsonToString($.o)`, `{"o":{"a":1}}`, `"{\"a\":1}"`},
		{`States.Array('a', 1, $.o, null)`, `{"o":{"a":1}}`, `["a",1,{"a":1},null]`},
		{`States.ArrayPartition($.a, 2)`, `{"a":[1,2,3,4,5]}`, `[[1,2],[3,4],[5]]`},
		{`States.ArrayContains($.a, $.v)`, `{"a":[1,{"x":2}],"v":{"x":2}}`, `true`},
		{`States.ArrayContains($.a, 3)`, `{"a":[1,2]}`, `false`},
		{`States.ArrayRange(1, 9, 2)`, `{}`, `[1,3,5,7,9]`},
		{`States.ArrayRange(5, 1, -2)`, `{}`, `[5,3,1]`},
		{`States.ArrayGetItem($.a, 1)`, `{"a":["x","y"]}`, `"y"`},
		{`States.ArrayLength($.a)`, `{"a":[1,2,3]}`, `3`},
		{`States.ArrayUnique($.a)`, `{"a":[1,2,1,"1",{"k":1},{"k":1}]}`, `[1,2,"1",{"k":1}]`},
		{`States.Base64Encode('Data to encode')`, `{}`, `"RGF0YSB0byBlbmNvZGU="`},
		{`States.Base64Decode('RGF0YSB0byBlbmNvZGU=')`, `{}`, `"Data to encode"`},
		{`States.Hash('input data', 'SHA-1')`, `{}`, `"aaff4a450a104cd177d28d18d74485e8cae074b7"`},
		{`States.Hash('abc', 'MD5')`, `{}`, `"900150983cd24fb0d6963f7d28e17f72"`},
		{`States.Hash('abc', 'SHA-256')`, `{}`, `"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"`},
		{`States.JsonMerge($.a, $.b, false)`, `{"a":{"x":1,"y":{"z":1}},"b":{"y":{"w":2}}}`, `{"x":1,"y":{"w":2}}`},
		{`States.MathAdd($.v, -3)`, `{"v":111}`, `108`},
		{`States.MathAdd(1.5, 2)`, `{}`, `3.5`},
		{`States.StringSplit('1,2,3', ',')`, `{}`, `["1","2","3"]`},
		{`States.StringSplit('This.is+a,test=string', '.+,=')`, `{}`, `["This","is","a","test","string"]`},
		{`States.ArrayLength(States.StringSplit($.csv, ','))`, `{"csv":"a,b"}`, `2`},
		{`States.Format('{}', $$.State.Name)`, `{}`, `"P"`},
	}
	var rc []runCase
	for i, c := range cases {
		def := `{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"v.$":` + mustJSONString(c.expr) + `},"OutputPath":"$.v","End":true}}}`
		rc = append(rc, runCase{name: fmt.Sprintf("%02d", i), def: def, input: c.input, want: c.want})
	}
	fails := []string{
		`States.Format('{} {}', 'one')`,
		`States.StringToJson('{bad')`,
		`States.ArrayGetItem($.a, 5)`,
		`States.ArrayRange(0, 2000, 1)`,
		`States.Hash('x', 'CRC32')`,
		`States.JsonMerge($.o, $.o, true)`,
		`States.Base64Decode('***')`,
		`States.MathAdd('a', 1)`,
		`States.ArrayLength($.missing)`,
	}
	for i, f := range fails {
		def := `{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"v.$":` + mustJSONString(f) + `},"End":true}}}`
		rc = append(rc, runCase{name: fmt.Sprintf("fail%02d", i), def: def, input: `{"a":[1],"o":{}}`, wantErr: ErrNameIntrinsicFailure})
	}
	runCases(t, rc)
}

func TestIntrinsicRandomAndUUID(t *testing.T) {
	m, err := Load([]byte(`{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"r.$":"States.MathRandom(1, 10)","s1.$":"States.MathRandom(0, 1000, 7)","s2.$":"States.MathRandom(0, 1000, 7)","u.$":"States.UUID()"},"End":true}}}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		out, err := m.Run(context.Background(), json.RawMessage(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		var v struct {
			R, S1, S2 int
			U         string
		}
		if err := json.Unmarshal(out, &v); err != nil {
			t.Fatal(err)
		}
		if v.R < 1 || v.R >= 10 || v.S1 != v.S2 || len(v.U) != 36 || v.U[14] != '4' {
			t.Fatalf("bad random values: %s", out)
		}
	}
}

func mustJSONString(s string) string { b, _ := json.Marshal(s); return string(b) }

func TestLoadValidation(t *testing.T) {
	bad := map[string]string{
		"no start":           `{"States":{"A":{"Type":"Pass","End":true}}}`,
		"unknown next":       `{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"B"}}}`,
		"next and end":       `{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"A","End":true}}}`,
		"unknown type":       `{"StartAt":"A","States":{"A":{"Type":"Nope","End":true}}}`,
		"bad intrinsic":      `{"StartAt":"A","States":{"A":{"Type":"Pass","Parameters":{"x.$":"States.Nope()"},"End":true}}}`,
		"bad path":           `{"StartAt":"A","States":{"A":{"Type":"Pass","InputPath":"a.b","End":true}}}`,
		"wait two fields":    `{"StartAt":"A","States":{"A":{"Type":"Wait","Seconds":1,"SecondsPath":"$.s","End":true}}}`,
		"choice bad op":      `{"StartAt":"A","States":{"A":{"Type":"Choice","Choices":[{"Variable":"$.a","StringEqualz":"x","Next":"A"}]}}}`,
		"states.all first":   `{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"x","Catch":[{"ErrorEquals":["States.ALL"],"Next":"A"},{"ErrorEquals":["X"],"Next":"A"}],"End":true}}}`,
		"missing sub":        `{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"${Missing}","End":true}}}`,
		"duplicate names":    `{"StartAt":"A","States":{"A":{"Type":"Parallel","Branches":[{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}],"End":true}}}`,
		"negative attempts":  `{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"x","Retry":[{"ErrorEquals":["X"],"MaxAttempts":-1}],"End":true}}}`,
		"heartbeat too long": `{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"x","TimeoutSeconds":5,"HeartbeatSeconds":5,"End":true}}}`,
		"concurrency twice":  `{"StartAt":"A","States":{"A":{"Type":"Map","MaxConcurrency":1,"MaxConcurrencyPath":"$.c","ItemProcessor":{"StartAt":"B","States":{"B":{"Type":"Pass","End":true}}},"End":true}}}`,
		"jsonata":            `{"QueryLanguage":"JSONata","StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}`,
	}
	for name, def := range bad {
		t.Run(name, func(t *testing.T) {
			_, err := Load([]byte(def), map[string]string{})
			if !errors.Is(err, ErrInvalidDefinition) {
				t.Fatalf("want ErrInvalidDefinition, got %v", err)
			}
		})
	}
	t.Run("substitution", func(t *testing.T) {
		def := `{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"${Fn}","End":true}}}`
		if got := Placeholders([]byte(def)); len(got) != 1 || got[0] != "Fn" {
			t.Fatalf("Placeholders = %v", got)
		}
		m, err := Load([]byte(def), map[string]string{"Fn": fnA})
		if err != nil {
			t.Fatal(err)
		}
		if r := m.Resources(); len(r) != 1 || r[0] != fnA {
			t.Fatalf("Resources = %v", r)
		}
	})
}

func TestMapMaxConcurrencyBound(t *testing.T) {
	for _, limit := range []int{1, 3, 0} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			var inFlight, peak atomic.Int32
			release := make(chan struct{})
			task := func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
				n := inFlight.Add(1)
				for {
					p := peak.Load()
					if n <= p || peak.CompareAndSwap(p, n) {
						break
					}
				}
				<-release
				inFlight.Add(-1)
				return in, nil
			}
			m, err := Load([]byte(fmt.Sprintf(`{"StartAt":"M","States":{"M":{"Type":"Map","MaxConcurrency":%d,
				"ItemProcessor":{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"%s","End":true}}},"End":true}}}`, limit, fnA)), nil)
			if err != nil {
				t.Fatal(err)
			}
			const items = 8
			done := make(chan error, 1)
			go func() {
				_, err := m.Run(context.Background(), json.RawMessage(`[1,2,3,4,5,6,7,8]`), WithRunTasks(map[string]TaskFunc{fnA: task}))
				done <- err
			}()
			want := int32(limit)
			if limit == 0 {
				want = items // unbounded: every item runs at once
			}
			// Release items one at a time once the expected number are in flight.
			for released := 0; released < items; released++ {
				if released == 0 {
					for inFlight.Load() < want {
						runtime.Gosched()
					}
				}
				release <- struct{}{}
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if peak.Load() != want {
				t.Fatalf("peak concurrency %d, want %d", peak.Load(), want)
			}
		})
	}
}

func TestParallelFailureCancelsSiblings(t *testing.T) {
	started, cancelled := make(chan struct{}), make(chan struct{})
	slow := func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
		close(started)
		<-ctx.Done()
		close(cancelled)
		return nil, ctx.Err()
	}
	boom := func(context.Context, json.RawMessage) (json.RawMessage, error) {
		<-started
		return nil, &TaskError{Type: "Boom", Cause: "first"}
	}
	const fnB = "arn:aws:lambda:local:000000000000:function:b"
	m, err := Load([]byte(`{"StartAt":"P","States":{"P":{"Type":"Parallel","Branches":[
		{"StartAt":"Slow","States":{"Slow":{"Type":"Task","Resource":"`+fnA+`","End":true}}},
		{"StartAt":"Boom","States":{"Boom":{"Type":"Task","Resource":"`+fnB+`","End":true}}}],"End":true}}}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.Run(context.Background(), json.RawMessage(`{}`), WithRunTasks(map[string]TaskFunc{fnA: slow, fnB: boom}))
	var ee *ExecutionError
	if !errors.As(err, &ee) || ee.Name != "Boom" {
		t.Fatalf("want Boom, got %v", err)
	}
	<-cancelled // the sibling branch's task saw its context cancelled
}

func TestOverrideCompletesTokenTask(t *testing.T) {
	m, err := Load([]byte(`{"StartAt":"Approve","States":{"Approve":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke.waitForTaskToken",
		"Parameters":{"FunctionName":"`+fnA+`","Payload":{"token.$":"$$.Task.Token"}},"ResultPath":"$.approval","End":true}}}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	var gotToken bool
	out, err := m.Run(context.Background(), json.RawMessage(`{"k":1}`), WithTaskOverride("Approve", func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
		var p struct{ Token string }
		_ = json.Unmarshal(in, &p)
		gotToken = p.Token != ""
		return json.RawMessage(`{"approved":true}`), nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	if !gotToken || !JSONEqual(out, []byte(`{"k":1,"approval":{"approved":true}}`)) {
		t.Fatalf("token passed %v, output %s", gotToken, out)
	}
}
