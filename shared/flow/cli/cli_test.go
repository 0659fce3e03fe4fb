package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/plinth-ai/plinth/shared/flow"
)

func TestRun(t *testing.T) {
	base := []string{"run", "-f", "testdata/order.asl.json", "-t", "Price:testdata/price.sh", "-w", "Cool:0", "-r", "Price:0"}
	cases := []struct {
		name     string
		args     []string
		input    string
		code     int
		want     string // JSON output, or the error line
		contains string // substring of stderr
	}{
		{name: "success", args: append(base, "--context", `{"Execution":{"Name":"ord-7"}}`), input: `{"order":"o-1"}`, code: ExitOK,
			want: `{"order":"o-1","total":42,"execution":"ord-7"}`},
		{name: "fail state with cause path", args: base, input: `{"order":"o-2","big":true}`, code: ExitExecution,
			want: `{"error":"TooExpensive","cause":"total 250 over budget"}`},
		{name: "typed task error after retries", args: base, input: `{"fail":"typed"}`, code: ExitExecution,
			want: `{"error":"Busy","cause":"pricing is busy"}`},
		{name: "plain task error", args: base, input: `{"fail":"plain"}`, code: ExitExecution,
			want: `{"error":"States.TaskFailed","cause":"pricing crashed"}`},
		{name: "script printing garbage", args: base, input: `{"fail":"garbage"}`, code: ExitExecution,
			want: `{"error":"States.TaskFailed","cause":"testdata/price.sh printed invalid JSON: \"not json\""}`},
		{name: "no override and no binding", args: []string{"run", "-f", "testdata/order.asl.json", "-w", "Cool:0"}, input: `{}`, code: ExitExecution,
			want: `{"error":"States.TaskFailed","cause":"state Price has no implementation here: its resource ${PriceFunctionArn} is a placeholder the deployment fills in; stub it with -t Price:SCRIPT (SCRIPT gets the task input as its first argument and prints the result)"}`},
		{name: "the platform's ingestion machine on the shipped event, unstubbed", args: []string{"run", "-f", "../../../statemachines/ingestion.asl.json"},
			input: mustRead(t, "../../../events/s3-object-created.json"), code: ExitExecution,
			want: `{"error":"EventRejected","cause":"state Prepare has no implementation here: its resource ${PrepareFunctionArn} is a placeholder the deployment fills in; stub it with -t Prepare:SCRIPT (SCRIPT gets the task input as its first argument and prints the result)"}`},
		{name: "empty stdin is {}", args: base, input: ``, code: ExitExecution, want: `{"error":"States.ParameterPathFailure"}`},
		{name: "substitutions and context file", args: []string{"run", "-f", "testdata/order.asl.json", "--sub", "PriceFunctionArn=price", "--context-file", "testdata/context.json", "-w", "Cool:0"}, input: `{"order":"o-3"}`, code: ExitExecution,
			want: `{"error":"States.TaskFailed","cause":"no handler is bound for resource \"price\" (state \"Price\")"}`},
		{name: "long flags", args: []string{"run", "--definition-file=testdata/order.asl.json", "--override-task", "Price:testdata/price.sh", "--override-wait=Cool:0", "--context-file", "testdata/context.json"}, input: `{"order":"o-4"}`, code: ExitOK,
			want: `{"order":"o-4","total":42,"execution":"from-file"}`},
		{name: "missing file flag", args: []string{"run"}, code: ExitUsage, contains: "-f FILE is required"},
		{name: "unknown flag", args: []string{"run", "-x"}, code: ExitUsage, contains: "unknown flag"},
		{name: "bad wait override", args: []string{"run", "-f", "testdata/order.asl.json", "-w", "Cool"}, code: ExitUsage, contains: "State:MILLIS"},
		{name: "invalid input", args: base, input: `{`, code: ExitUsage, contains: "not valid JSON"},
		{name: "unknown command", args: []string{"walk"}, code: ExitUsage, contains: "unknown command"},
		{name: "no command", args: nil, code: ExitUsage, contains: "usage: flow run"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := Run(context.Background(), tc.args, strings.NewReader(tc.input), &out, &errb)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stdout %q stderr %q", code, tc.code, out.String(), errb.String())
			}
			if tc.contains != "" && !strings.Contains(errb.String(), tc.contains) {
				t.Fatalf("stderr %q lacks %q", errb.String(), tc.contains)
			}
			if tc.want == "" {
				return
			}
			if strings.Count(out.String(), "\n") != 1 {
				t.Fatalf("want exactly one line of output, got %q", out.String())
			}
			if tc.code == ExitExecution && !strings.Contains(tc.want, `"cause"`) {
				var got struct{ Error string }
				if err := json.Unmarshal(out.Bytes(), &got); err != nil || !strings.Contains(tc.want, got.Error) {
					t.Fatalf("output %s, want error of %s", out.String(), tc.want)
				}
				return
			}
			if !flow.JSONEqual(out.Bytes(), []byte(tc.want)) {
				t.Fatalf("output %s, want %s", out.String(), tc.want)
			}
		})
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
