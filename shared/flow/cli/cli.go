// Package cli implements the flow command of the local binary: it runs one States Language
// file with the embedded executor, with the flags and task-override contract of
// aws-local-stepfunctions' local-sfn, so authors can try a definition and tests can compare
// the two implementations.
//
//	flow run -f FILE.asl.json [-t State:SCRIPT]… [-w State:MILLIS]… [-r State:MILLIS[,MILLIS…]]…
//	         [--context JSON] [--context-file FILE] [--sub Name=Value]… < input.json
package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/plinth-ai/plinth/shared/flow"
)

// Exit codes, as local-sfn uses them.
const (
	ExitOK        = 0
	ExitUsage     = 1
	ExitExecution = 2
)

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

const usage = `usage: flow run -f FILE.asl.json [-t State:SCRIPT]... [-w State:MILLIS]... [-r State:MILLIS[,MILLIS...]]...
                [--context JSON | --context-file FILE] [--sub Name=Value]... < input.json

Runs a state machine with the embedded executor and prints its output as one line of JSON
(exit 0), or {"error":"...","cause":"..."} (exit 2) when the execution fails.
  -t State:SCRIPT   run SCRIPT instead of the Task state's resource; it gets the task input
                    JSON as its first argument and prints the result JSON; a non-zero exit
                    fails the task with the errorType/errorMessage of a printed
                    {"errorType","errorMessage"}, else States.TaskFailed
  -w State:MILLIS   make the Wait state pause MILLIS milliseconds
  -r State:MILLIS   make the state's retriers wait MILLIS milliseconds (one per retrier, comma-separated)
  --context JSON    fields merged over the context object ($$)
  --sub Name=Value  substitute ${Name} in the definition (unsubstituted placeholders are kept)
`

// Run executes the flow command. args start after "flow".
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usage)
		if len(args) == 0 {
			return ExitUsage
		}
		return ExitOK
	}
	if args[0] != "run" {
		fmt.Fprintf(stderr, "flow: unknown command %q\n%s", args[0], usage)
		return ExitUsage
	}
	var (
		file, ctxJSON, ctxFile string
		tasks, waits, retries  multi
		subs                   multi
	)
	rest := args[1:]
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		name, val, hasVal := strings.Cut(a, "=")
		if !strings.HasPrefix(a, "--") {
			name, hasVal = a, false
		}
		needVal := func() (string, bool) {
			if hasVal {
				return val, true
			}
			if i+1 >= len(rest) {
				fmt.Fprintf(stderr, "flow: %s needs a value\n", name)
				return "", false
			}
			i++
			return rest[i], true
		}
		var target *string
		var list *multi
		switch name {
		case "-f", "--definition-file":
			target = &file
		case "-t", "--override-task":
			list = &tasks
		case "-w", "--override-wait":
			list = &waits
		case "-r", "--override-retry":
			list = &retries
		case "--context":
			target = &ctxJSON
		case "--context-file":
			target = &ctxFile
		case "--sub":
			list = &subs
		case "-h", "--help":
			fmt.Fprint(stdout, usage)
			return ExitOK
		default:
			fmt.Fprintf(stderr, "flow: unknown flag %q\n%s", a, usage)
			return ExitUsage
		}
		v, ok := needVal()
		if !ok {
			return ExitUsage
		}
		if target != nil {
			*target = v
		} else {
			_ = list.Set(v)
		}
	}
	if file == "" {
		fmt.Fprintf(stderr, "flow: -f FILE is required\n%s", usage)
		return ExitUsage
	}
	def, err := os.ReadFile(file)
	if err != nil {
		fmt.Fprintf(stderr, "flow: %v\n", err)
		return ExitUsage
	}
	var subMap map[string]string
	if len(subs) > 0 {
		subMap = map[string]string{}
		for _, s := range subs {
			k, v, ok := strings.Cut(s, "=")
			if !ok {
				fmt.Fprintf(stderr, "flow: --sub %q must be Name=Value\n", s)
				return ExitUsage
			}
			subMap[k] = v
		}
		for _, p := range flow.Placeholders(def) {
			if _, ok := subMap[p]; !ok {
				subMap[p] = "${" + p + "}"
			}
		}
	}
	m, err := flow.Load(def, subMap)
	if err != nil {
		fmt.Fprintf(stderr, "flow: %v\n", err)
		return ExitUsage
	}
	opts := []flow.RunOption{}
	overridden := map[string]bool{}
	for _, t := range tasks {
		state, script, ok := strings.Cut(t, ":")
		if !ok || state == "" || script == "" {
			fmt.Fprintf(stderr, "flow: -t %q must be State:SCRIPT\n", t)
			return ExitUsage
		}
		overridden[state] = true
		opts = append(opts, flow.WithTaskOverride(state, ScriptTask(script)))
	}
	for state, resource := range placeholderTasks(def, subMap) {
		if !overridden[state] {
			opts = append(opts, flow.WithTaskOverride(state, unboundTask(state, resource)))
		}
	}
	for _, w := range waits {
		state, ms, ok := strings.Cut(w, ":")
		n, err := strconv.ParseFloat(ms, 64)
		if !ok || err != nil || n < 0 {
			fmt.Fprintf(stderr, "flow: -w %q must be State:MILLIS\n", w)
			return ExitUsage
		}
		opts = append(opts, flow.WithWaitOverride(state, time.Duration(n*float64(time.Millisecond))))
	}
	for _, r := range retries {
		state, list, ok := strings.Cut(r, ":")
		if !ok {
			fmt.Fprintf(stderr, "flow: -r %q must be State:MILLIS[,MILLIS...]\n", r)
			return ExitUsage
		}
		var ds []time.Duration
		for _, ms := range strings.Split(list, ",") {
			n, err := strconv.ParseFloat(ms, 64)
			if err != nil {
				fmt.Fprintf(stderr, "flow: -r %q must be State:MILLIS[,MILLIS...]\n", r)
				return ExitUsage
			}
			ds = append(ds, time.Duration(n*float64(time.Millisecond)))
		}
		opts = append(opts, flow.WithRetryOverride(state, ds...))
	}
	if ctxFile != "" {
		b, err := os.ReadFile(ctxFile)
		if err != nil {
			fmt.Fprintf(stderr, "flow: %v\n", err)
			return ExitUsage
		}
		ctxJSON = string(b)
	}
	if ctxJSON != "" {
		var obj map[string]any
		dec := json.NewDecoder(strings.NewReader(ctxJSON))
		dec.UseNumber()
		if err := dec.Decode(&obj); err != nil {
			fmt.Fprintf(stderr, "flow: --context must be a JSON object: %v\n", err)
			return ExitUsage
		}
		opts = append(opts, flow.WithContextObject(obj))
	}
	input, err := io.ReadAll(stdin)
	if err != nil {
		fmt.Fprintf(stderr, "flow: read input: %v\n", err)
		return ExitUsage
	}
	if len(bytes.TrimSpace(input)) == 0 {
		input = []byte("{}")
	}
	if !json.Valid(input) {
		fmt.Fprintln(stderr, "flow: the input on stdin is not valid JSON")
		return ExitUsage
	}
	out, err := m.Run(ctx, input, opts...)
	if err != nil {
		var ee *flow.ExecutionError
		if !errors.As(err, &ee) {
			ee = &flow.ExecutionError{Name: "States.Runtime", Cause: err.Error()}
		}
		b, _ := json.Marshal(struct {
			Error string `json:"error"`
			Cause string `json:"cause"`
		}{ee.Name, ee.Cause})
		fmt.Fprintln(stdout, string(b))
		return ExitExecution
	}
	fmt.Fprintln(stdout, string(out))
	return ExitOK
}

// ScriptTask returns a TaskFunc that runs an executable: the task input JSON is its first
// argument and it prints the result JSON on stdout. A non-zero exit fails the task with the
// errorType/errorMessage of a {"errorType","errorMessage"} printed on stdout, else with
// States.TaskFailed and the script's stderr as cause.
func ScriptTask(script string) flow.TaskFunc {
	return func(ctx context.Context, input json.RawMessage) (json.RawMessage, error) {
		cmd := exec.CommandContext(ctx, script, string(input))
		cmd.WaitDelay = time.Second
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		if err != nil {
			var exitErr *exec.ExitError
			if !errors.As(err, &exitErr) {
				return nil, &flow.TaskError{Type: flow.ErrNameTaskFailed, Cause: fmt.Sprintf("run %s: %v", script, err)}
			}
			var e struct {
				ErrorType    string `json:"errorType"`
				ErrorMessage string `json:"errorMessage"`
			}
			if json.Unmarshal(bytes.TrimSpace(out.Bytes()), &e) == nil && e.ErrorType != "" {
				return nil, &flow.TaskError{Type: e.ErrorType, Cause: e.ErrorMessage}
			}
			cause := strings.TrimSpace(errb.String())
			if cause == "" {
				cause = fmt.Sprintf("%s exited with status %d", script, exitErr.ExitCode())
			}
			return nil, &flow.TaskError{Type: flow.ErrNameTaskFailed, Cause: cause}
		}
		res := bytes.TrimSpace(out.Bytes())
		if !json.Valid(res) {
			return nil, &flow.TaskError{Type: flow.ErrNameTaskFailed, Cause: fmt.Sprintf("%s printed invalid JSON: %q", script, res)}
		}
		return res, nil
	}
}

// placeholderTasks returns the Task states (name → resource) whose resource is still a
// ${Placeholder} after subs: in the platform the deployment fills it in, here nothing
// implements it.
func placeholderTasks(def []byte, subs map[string]string) map[string]string {
	var doc any
	if json.Unmarshal(def, &doc) != nil {
		return nil
	}
	out := map[string]string{}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if states, ok := v["States"].(map[string]any); ok {
				for name, st := range states {
					s, _ := st.(map[string]any)
					res, _ := s["Resource"].(string)
					if s["Type"] == "Task" && strings.Contains(res, "${") {
						for k, val := range subs {
							res = strings.ReplaceAll(res, "${"+k+"}", val)
						}
						if strings.Contains(res, "${") {
							out[name] = res
						}
					}
				}
			}
			for _, child := range v {
				walk(child)
			}
		case []any:
			for _, child := range v {
				walk(child)
			}
		}
	}
	walk(doc)
	return out
}

// unboundTask fails a Task state nothing implements, saying how to give it an
// implementation.
func unboundTask(state, resource string) flow.TaskFunc {
	return func(context.Context, json.RawMessage) (json.RawMessage, error) {
		return nil, &flow.TaskError{Type: flow.ErrNameTaskFailed, Cause: fmt.Sprintf(
			"state %s has no implementation here: its resource %s is a placeholder the deployment fills in; "+
				"stub it with -t %s:SCRIPT (SCRIPT gets the task input as its first argument and prints the result)",
			state, resource, state)}
	}
}
