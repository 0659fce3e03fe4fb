package flow

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Machine is a loaded, validated state machine definition.
type Machine struct {
	// Comment is the definition's top-level comment.
	Comment string
	// Definition is the definition text after placeholder substitution.
	Definition json.RawMessage
	root       *graph
}

// graph is one set of states with a start state: a machine, a Parallel branch or a Map processor.
type graph struct {
	startAt string
	states  map[string]*state
	timeout time.Duration
}

// rawState mirrors every field a state may carry.
type rawState struct {
	Type           string          `json:"Type"`
	Comment        string          `json:"Comment"`
	Next           string          `json:"Next"`
	End            bool            `json:"End"`
	InputPath      *string         `json:"InputPath"`
	OutputPath     *string         `json:"OutputPath"`
	ResultPath     *string         `json:"ResultPath"`
	Parameters     json.RawMessage `json:"Parameters"`
	ResultSelector json.RawMessage `json:"ResultSelector"`
	Result         json.RawMessage `json:"Result"`
	QueryLanguage  string          `json:"QueryLanguage"`

	Resource             string   `json:"Resource"`
	TimeoutSeconds       *float64 `json:"TimeoutSeconds"`
	TimeoutSecondsPath   string   `json:"TimeoutSecondsPath"`
	HeartbeatSeconds     *float64 `json:"HeartbeatSeconds"`
	HeartbeatSecondsPath string   `json:"HeartbeatSecondsPath"`
	Retry                []retrier
	Catch                []catcher

	Choices []json.RawMessage `json:"Choices"`
	Default string            `json:"Default"`

	Seconds       *float64 `json:"Seconds"`
	Timestamp     string   `json:"Timestamp"`
	SecondsPath   string   `json:"SecondsPath"`
	TimestampPath string   `json:"TimestampPath"`

	Error     string `json:"Error"`
	Cause     string `json:"Cause"`
	ErrorPath string `json:"ErrorPath"`
	CausePath string `json:"CausePath"`

	Branches []rawGraph `json:"Branches"`

	ItemsPath                  string          `json:"ItemsPath"`
	ItemSelector               json.RawMessage `json:"ItemSelector"`
	ItemProcessor              *rawGraph       `json:"ItemProcessor"`
	Iterator                   *rawGraph       `json:"Iterator"`
	MaxConcurrency             *int            `json:"MaxConcurrency"`
	MaxConcurrencyPath         string          `json:"MaxConcurrencyPath"`
	ToleratedFailureCount      *int            `json:"ToleratedFailureCount"`
	ToleratedFailurePercentage *float64        `json:"ToleratedFailurePercentage"`
	ToleratedFailureCountPath  string          `json:"ToleratedFailureCountPath"`
	ToleratedFailurePctPath    string          `json:"ToleratedFailurePercentagePath"`
	ItemReader                 json.RawMessage `json:"ItemReader"`
	ItemBatcher                *itemBatcher    `json:"ItemBatcher"`
}

type itemBatcher struct {
	MaxItemsPerBatch *int            `json:"MaxItemsPerBatch"`
	BatchInput       json.RawMessage `json:"BatchInput"`
}

type rawGraph struct {
	Comment        string                     `json:"Comment"`
	StartAt        string                     `json:"StartAt"`
	States         map[string]json.RawMessage `json:"States"`
	TimeoutSeconds *float64                   `json:"TimeoutSeconds"`
	QueryLanguage  string                     `json:"QueryLanguage"`
	Version        string                     `json:"Version"`
}

type retrier struct {
	ErrorEquals     []string `json:"ErrorEquals"`
	IntervalSeconds *float64 `json:"IntervalSeconds"`
	MaxAttempts     *int     `json:"MaxAttempts"`
	BackoffRate     *float64 `json:"BackoffRate"`
	MaxDelaySeconds *float64 `json:"MaxDelaySeconds"`
	JitterStrategy  string   `json:"JitterStrategy"`
}

type catcher struct {
	ErrorEquals []string `json:"ErrorEquals"`
	Next        string   `json:"Next"`
	ResultPath  *string  `json:"ResultPath"`
	resultPath  *path
	discard     bool
}

// state is a compiled state.
type state struct {
	rawState
	name           string
	inputPath      *path // nil: "$"; discard when inputNull
	inputNull      bool
	outputPath     *path
	outputNull     bool
	resultPath     *path
	resultDiscard  bool
	parameters     *template
	resultSelector *template
	itemSelector   *template
	result         any
	choices        []*rule
	branches       []*graph
	processor      *graph
	itemsPath      *path
	batchInput     *template
	waitForToken   bool
	lambdaInvoke   bool
}

var placeholderRE = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)\}`)

// Placeholders returns the distinct ${Name} placeholders a definition text uses, sorted.
func Placeholders(def []byte) []string {
	seen := map[string]bool{}
	for _, m := range placeholderRE.FindAllSubmatch(def, -1) {
		seen[string(m[1])] = true
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Load parses a States Language (JSONPath) definition after replacing every ${Name}
// placeholder with subs[Name], as CloudFormation's DefinitionSubstitutions do. A placeholder
// missing from subs is an error unless subs is nil, in which case the text is kept as is
// (useful for running a definition with every task overridden).
func Load(def []byte, subs map[string]string) (*Machine, error) {
	text := def
	if subs != nil {
		var missing []string
		text = placeholderRE.ReplaceAllFunc(def, func(m []byte) []byte {
			name := string(m[2 : len(m)-1])
			v, ok := subs[name]
			if !ok {
				missing = append(missing, name)
				return m
			}
			b, _ := json.Marshal(v)
			return b[1 : len(b)-1]
		})
		if len(missing) > 0 {
			return nil, fmt.Errorf("%w: no substitution for placeholders %s", ErrInvalidDefinition, strings.Join(missing, ", "))
		}
	}
	var rg rawGraph
	if err := json.Unmarshal(text, &rg); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidDefinition, err)
	}
	if rg.QueryLanguage != "" && rg.QueryLanguage != "JSONPath" {
		return nil, fmt.Errorf("%w: QueryLanguage %q is not supported (JSONPath only)", ErrInvalidDefinition, rg.QueryLanguage)
	}
	g, err := compileGraph(&rg, "")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidDefinition, err)
	}
	if dup := duplicateStateName(g, map[string]bool{}); dup != "" {
		return nil, fmt.Errorf("%w: state name %q is used more than once (names must be unique across the machine, branches and Map processors included)", ErrInvalidDefinition, dup)
	}
	return &Machine{Comment: rg.Comment, Definition: text, root: g}, nil
}

func duplicateStateName(g *graph, seen map[string]bool) string {
	for _, name := range sortedStateNames(g) {
		if seen[name] {
			return name
		}
		seen[name] = true
		s := g.states[name]
		for _, b := range s.branches {
			if d := duplicateStateName(b, seen); d != "" {
				return d
			}
		}
		if s.processor != nil {
			if d := duplicateStateName(s.processor, seen); d != "" {
				return d
			}
		}
	}
	return ""
}

func sortedStateNames(g *graph) []string {
	names := make([]string, 0, len(g.states))
	for n := range g.states {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Resources returns the distinct Task resources of the machine (after substitution), with
// the FunctionName of lambda:invoke tasks where it is a literal, sorted.
func (m *Machine) Resources() []string {
	seen := map[string]bool{}
	var walk func(g *graph)
	walk = func(g *graph) {
		for _, s := range g.states {
			if s.Type == "Task" {
				if s.lambdaInvoke {
					if fn := literalFunctionName(s); fn != "" {
						seen[fn] = true
					}
				} else {
					seen[strings.TrimSuffix(s.Resource, ".waitForTaskToken")] = true
				}
			}
			for _, b := range s.branches {
				walk(b)
			}
			if s.processor != nil {
				walk(s.processor)
			}
		}
	}
	walk(m.root)
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func literalFunctionName(s *state) string {
	if s.parameters == nil || s.parameters.node.kind != tObject {
		return ""
	}
	for i, k := range s.parameters.node.keys {
		if k == "FunctionName" && s.parameters.node.fields[i].kind == tLiteral {
			v, _ := s.parameters.node.fields[i].value.(string)
			return v
		}
	}
	return ""
}

func compileGraph(rg *rawGraph, where string) (*graph, error) {
	if rg.StartAt == "" {
		return nil, fmt.Errorf("%sStartAt is required", where)
	}
	if len(rg.States) == 0 {
		return nil, fmt.Errorf("%sStates is empty", where)
	}
	g := &graph{startAt: rg.StartAt, states: map[string]*state{}}
	if rg.TimeoutSeconds != nil {
		g.timeout = time.Duration(*rg.TimeoutSeconds * float64(time.Second))
	}
	for name, raw := range rg.States {
		s, err := compileState(name, raw, where)
		if err != nil {
			return nil, err
		}
		g.states[name] = s
	}
	if _, ok := g.states[g.startAt]; !ok {
		return nil, fmt.Errorf("%sStartAt %q names no state", where, g.startAt)
	}
	for name, s := range g.states {
		targets := []string{s.Next, s.Default}
		for _, c := range s.Catch {
			targets = append(targets, c.Next)
		}
		for _, r := range s.choices {
			targets = append(targets, r.next)
		}
		for _, t := range targets {
			if t == "" {
				continue
			}
			if _, ok := g.states[t]; !ok {
				return nil, fmt.Errorf("%sstate %q: transition to unknown state %q", where, name, t)
			}
		}
	}
	return g, nil
}

func optPath(p *string, what string) (*path, bool, error) {
	if p == nil {
		return nil, false, nil
	}
	if *p == "" {
		return nil, false, fmt.Errorf("%s must not be empty", what)
	}
	cp, err := compilePath(*p)
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", what, err)
	}
	return cp, false, nil
}

// nullablePath handles InputPath/OutputPath/ResultPath, which may be JSON null.
func nullablePath(raw map[string]json.RawMessage, key, what string) (*path, bool, error) {
	v, ok := raw[key]
	if !ok {
		return nil, false, nil
	}
	if string(v) == "null" {
		return nil, true, nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return nil, false, fmt.Errorf("%s must be a string or null", what)
	}
	p, _, err := optPath(&s, what)
	return p, false, err
}

func compileState(name string, raw json.RawMessage, where string) (*state, error) {
	at := fmt.Sprintf("%sstate %q: ", where, name)
	if len(name) > 80 {
		return nil, fmt.Errorf("%sname longer than 80 characters", at)
	}
	s := &state{name: name}
	if err := json.Unmarshal(raw, &s.rawState); err != nil {
		return nil, fmt.Errorf("%s%v", at, err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, fmt.Errorf("%s%v", at, err)
	}
	if s.QueryLanguage != "" && s.QueryLanguage != "JSONPath" {
		return nil, fmt.Errorf("%sQueryLanguage %q is not supported", at, s.QueryLanguage)
	}
	var err error
	if s.inputPath, s.inputNull, err = nullablePath(fields, "InputPath", "InputPath"); err != nil {
		return nil, fmt.Errorf("%s%v", at, err)
	}
	if s.outputPath, s.outputNull, err = nullablePath(fields, "OutputPath", "OutputPath"); err != nil {
		return nil, fmt.Errorf("%s%v", at, err)
	}
	if s.resultPath, s.resultDiscard, err = nullablePath(fields, "ResultPath", "ResultPath"); err != nil {
		return nil, fmt.Errorf("%s%v", at, err)
	}
	if s.resultPath != nil && (!s.resultPath.definite || s.resultPath.context) {
		return nil, fmt.Errorf("%sResultPath %q must be a reference path", at, s.resultPath.src)
	}
	compileT := func(r json.RawMessage, what string) (*template, error) {
		if len(r) == 0 {
			return nil, nil
		}
		v, err := decodeJSON(r)
		if err != nil {
			return nil, fmt.Errorf("%s%s: %v", at, what, err)
		}
		t, err := compileTemplate(v)
		if err != nil {
			return nil, fmt.Errorf("%s%s: %v", at, what, err)
		}
		return t, nil
	}
	if s.parameters, err = compileT(s.Parameters, "Parameters"); err != nil {
		return nil, err
	}
	if s.resultSelector, err = compileT(s.ResultSelector, "ResultSelector"); err != nil {
		return nil, err
	}
	if s.itemSelector, err = compileT(s.ItemSelector, "ItemSelector"); err != nil {
		return nil, err
	}
	if len(s.Result) > 0 {
		if s.result, err = decodeJSON(s.Result); err != nil {
			return nil, fmt.Errorf("%sResult: %v", at, err)
		}
	}
	terminal := s.Type == "Succeed" || s.Type == "Fail" || s.Type == "Choice"
	if !terminal {
		if s.End == (s.Next != "") {
			return nil, fmt.Errorf("%sexactly one of Next or End is required", at)
		}
	} else if s.Next != "" || s.End {
		return nil, fmt.Errorf("%s%s states take neither Next nor End", at, s.Type)
	}
	for i := range s.Catch {
		c := &s.Catch[i]
		if len(c.ErrorEquals) == 0 || c.Next == "" {
			return nil, fmt.Errorf("%sCatch[%d] needs ErrorEquals and Next", at, i)
		}
		if c.ResultPath != nil {
			if *c.ResultPath == "" {
				return nil, fmt.Errorf("%sCatch[%d].ResultPath must not be empty", at, i)
			}
			if c.resultPath, err = compilePath(*c.ResultPath); err != nil {
				return nil, fmt.Errorf("%sCatch[%d].ResultPath: %v", at, i, err)
			}
		}
	}
	if err := markNullCatchResultPaths(fields["Catch"], s.Catch); err != nil {
		return nil, fmt.Errorf("%s%v", at, err)
	}
	for i, r := range s.Retry {
		if len(r.ErrorEquals) == 0 {
			return nil, fmt.Errorf("%sRetry[%d] needs ErrorEquals", at, i)
		}
		if r.JitterStrategy != "" && r.JitterStrategy != "FULL" && r.JitterStrategy != "NONE" {
			return nil, fmt.Errorf("%sRetry[%d].JitterStrategy must be FULL or NONE", at, i)
		}
		if r.BackoffRate != nil && *r.BackoffRate < 1 {
			return nil, fmt.Errorf("%sRetry[%d].BackoffRate must be at least 1.0", at, i)
		}
		if r.MaxAttempts != nil && *r.MaxAttempts < 0 {
			return nil, fmt.Errorf("%sRetry[%d].MaxAttempts must not be negative", at, i)
		}
		if r.IntervalSeconds != nil && *r.IntervalSeconds < 1 || r.MaxDelaySeconds != nil && *r.MaxDelaySeconds < 1 {
			return nil, fmt.Errorf("%sRetry[%d]: IntervalSeconds and MaxDelaySeconds must be at least 1", at, i)
		}
	}
	if err := checkCatchAllLast(s); err != nil {
		return nil, fmt.Errorf("%s%v", at, err)
	}
	switch s.Type {
	case "Pass", "Succeed":
	case "Task":
		if s.Resource == "" {
			return nil, fmt.Errorf("%sResource is required", at)
		}
		base := s.Resource
		if strings.HasSuffix(base, ".waitForTaskToken") {
			s.waitForToken = true
			base = strings.TrimSuffix(base, ".waitForTaskToken")
		}
		s.lambdaInvoke = base == "arn:aws:states:::lambda:invoke"
		if s.lambdaInvoke && s.parameters == nil {
			return nil, fmt.Errorf("%slambda:invoke needs Parameters with FunctionName", at)
		}
		if s.TimeoutSeconds != nil && s.TimeoutSecondsPath != "" || s.HeartbeatSeconds != nil && s.HeartbeatSecondsPath != "" {
			return nil, fmt.Errorf("%sTimeoutSeconds/HeartbeatSeconds and their ...Path variants are exclusive", at)
		}
		if s.TimeoutSeconds != nil && *s.TimeoutSeconds <= 0 || s.HeartbeatSeconds != nil && *s.HeartbeatSeconds <= 0 {
			return nil, fmt.Errorf("%sTimeoutSeconds and HeartbeatSeconds must be positive", at)
		}
		if s.TimeoutSeconds != nil && s.HeartbeatSeconds != nil && *s.HeartbeatSeconds >= *s.TimeoutSeconds {
			return nil, fmt.Errorf("%sHeartbeatSeconds must be smaller than TimeoutSeconds", at)
		}
	case "Choice":
		if len(s.Choices) == 0 {
			return nil, fmt.Errorf("%sChoices must not be empty", at)
		}
		for i, c := range s.Choices {
			r, err := compileRule(c, true)
			if err != nil {
				return nil, fmt.Errorf("%sChoices[%d]: %v", at, i, err)
			}
			s.choices = append(s.choices, r)
		}
	case "Wait":
		n := 0
		for _, set := range []bool{s.Seconds != nil, s.Timestamp != "", s.SecondsPath != "", s.TimestampPath != ""} {
			if set {
				n++
			}
		}
		if n != 1 {
			return nil, fmt.Errorf("%sexactly one of Seconds, Timestamp, SecondsPath, TimestampPath is required", at)
		}
		if s.Seconds != nil && *s.Seconds < 0 {
			return nil, fmt.Errorf("%sSeconds must not be negative", at)
		}
		if s.Timestamp != "" {
			if _, err := time.Parse(time.RFC3339Nano, s.Timestamp); err != nil {
				return nil, fmt.Errorf("%sTimestamp: %v", at, err)
			}
		}
	case "Fail":
		if s.Error != "" && s.ErrorPath != "" || s.Cause != "" && s.CausePath != "" {
			return nil, fmt.Errorf("%sError/ErrorPath and Cause/CausePath are exclusive", at)
		}
	case "Parallel":
		if len(s.Branches) == 0 {
			return nil, fmt.Errorf("%sBranches must not be empty", at)
		}
		for i := range s.Branches {
			g, err := compileGraph(&s.Branches[i], fmt.Sprintf("%sBranches[%d] ", at, i))
			if err != nil {
				return nil, err
			}
			s.branches = append(s.branches, g)
		}
	case "Map":
		proc := s.ItemProcessor
		if proc == nil {
			proc = s.Iterator
		}
		if proc == nil {
			return nil, fmt.Errorf("%sItemProcessor (or Iterator) is required", at)
		}
		if len(s.ItemReader) > 0 {
			return nil, fmt.Errorf("%sItemReader (distributed Map) is not supported by the embedded executor", at)
		}
		if s.MaxConcurrency != nil && s.MaxConcurrencyPath != "" ||
			s.ToleratedFailureCount != nil && s.ToleratedFailureCountPath != "" ||
			s.ToleratedFailurePercentage != nil && s.ToleratedFailurePctPath != "" {
			return nil, fmt.Errorf("%sa field and its ...Path variant are exclusive", at)
		}
		if s.MaxConcurrency != nil && *s.MaxConcurrency < 0 || s.ToleratedFailureCount != nil && *s.ToleratedFailureCount < 0 ||
			s.ToleratedFailurePercentage != nil && (*s.ToleratedFailurePercentage < 0 || *s.ToleratedFailurePercentage > 100) {
			return nil, fmt.Errorf("%sMaxConcurrency, ToleratedFailureCount and ToleratedFailurePercentage must be in range", at)
		}
		if s.itemSelector != nil && s.parameters != nil {
			return nil, fmt.Errorf("%sItemSelector and Parameters are exclusive", at)
		}
		if s.itemSelector == nil {
			s.itemSelector = s.parameters
		}
		s.parameters = nil
		g, err := compileGraph(proc, at+"ItemProcessor ")
		if err != nil {
			return nil, err
		}
		s.processor = g
		if s.ItemsPath != "" {
			if s.itemsPath, err = compilePath(s.ItemsPath); err != nil {
				return nil, fmt.Errorf("%sItemsPath: %v", at, err)
			}
		}
		if s.ItemBatcher != nil {
			if s.batchInput, err = compileT(s.ItemBatcher.BatchInput, "BatchInput"); err != nil {
				return nil, err
			}
		}
	default:
		return nil, fmt.Errorf("%sunknown Type %q", at, s.Type)
	}
	return s, nil
}

func markNullCatchResultPaths(raw json.RawMessage, cs []catcher) error {
	if len(raw) == 0 {
		return nil
	}
	var arr []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &arr); err != nil {
		return fmt.Errorf("catchers: %v", err)
	}
	for i := range arr {
		if v, ok := arr[i]["ResultPath"]; ok && string(v) == "null" && i < len(cs) {
			cs[i].discard = true
		}
	}
	return nil
}

func checkCatchAllLast(s *state) error {
	check := func(lists [][]string, what string) error {
		for i, l := range lists {
			for _, e := range l {
				if e == ErrNameALL && (len(l) != 1 || i != len(lists)-1) {
					return errors.New(what + ": States.ALL must appear alone in the last entry")
				}
			}
		}
		return nil
	}
	var r, c [][]string
	for _, x := range s.Retry {
		r = append(r, x.ErrorEquals)
	}
	for _, x := range s.Catch {
		c = append(c, x.ErrorEquals)
	}
	if err := check(r, "Retry"); err != nil {
		return err
	}
	return check(c, "Catch")
}
