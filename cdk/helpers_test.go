package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

// tempDirs are removed when the tests end.
var (
	tempMu   sync.Mutex
	tempDirs []string
)

// tempDir makes a folder that outlives one test but not the test binary.
func tempDir(prefix string) (string, error) {
	dir, err := os.MkdirTemp("", prefix)
	if err == nil {
		tempMu.Lock()
		tempDirs = append(tempDirs, dir)
		tempMu.Unlock()
	}
	return dir, err
}

func TestMain(m *testing.M) {
	// The jsii runtime warns on every run under the machine's Node 20.
	if os.Getenv("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION") == "" {
		os.Setenv("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
	}
	code := m.Run()
	for _, d := range tempDirs {
		os.RemoveAll(d)
	}
	os.Exit(code)
}

// binaries are the function folders the app deploys from the asset directory.
var binaries = []string{"gateway", "authorizer", "guardrails", "retrieval", "ingest", "evaluation", "admin", "usage", "agent", "customize", "finetuning"}

// dummyAssets writes a placeholder bootstrap per function into a new folder;
// synthesis only hashes and copies them.
func dummyAssets() (string, error) {
	dir, err := tempDir("plinth-cdk-assets-")
	if err != nil {
		return "", err
	}
	for _, b := range binaries {
		if err := os.MkdirAll(filepath.Join(dir, b), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(dir, b, "bootstrap"), []byte("#!/bin/sh\n# "+b+"\n"), 0o755); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// repoRoot walks up from the working directory to the folder with go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// definitionsDir gathers the state machine definitions the tests synthesize:
// each file from the repository's statemachines folder when it exists there,
// else its fixture from testdata, so the app is checked against the real
// definitions as they land. It reports where each came from.
func definitionsDir() (dir string, sources []string, err error) {
	root, err := repoRoot()
	if err != nil {
		return "", nil, err
	}
	dir, err = tempDir("plinth-cdk-definitions-")
	if err != nil {
		return "", nil, err
	}
	for _, f := range []string{"ingestion.asl.json", "evaluation.asl.json", "agent.asl.json", "customization.asl.json"} {
		src := filepath.Join(root, "statemachines", f)
		if _, err := os.Stat(src); err != nil {
			src = filepath.Join(root, "cdk", "testdata", f)
		}
		body, err := os.ReadFile(src)
		if err != nil {
			return "", nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, f), body, 0o644); err != nil {
			return "", nil, err
		}
		rel, _ := filepath.Rel(root, src)
		sources = append(sources, rel)
	}
	return dir, sources, nil
}

// synthesized is the platform synthesized once for every test.
type synthesized struct {
	platform *Platform
	assets   string
	defsDir  string
	// defSources says which file each definition was read from.
	defSources []string
	templates  map[string]assertions.Template
	raw        map[string]map[string]any
	err        error
}

var (
	synthOnce sync.Once
	shared    synthesized
)

// platform synthesizes the default platform (nag on) once and returns it.
func platform(t *testing.T) *synthesized {
	t.Helper()
	synthOnce.Do(func() {
		shared.err = func() error {
			assets, err := dummyAssets()
			if err != nil {
				return err
			}
			defs, sources, err := definitionsDir()
			if err != nil {
				return err
			}
			shared.assets, shared.defsDir, shared.defSources = assets, defs, sources
			cfg := DefaultConfig()
			cfg.AssetDir = assets
			cfg.StateMachinesDir = defs
			app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(filepath.Join(assets, "cdk.out"))})
			p, err := NewPlatform(app, cfg, nil)
			if err != nil {
				return err
			}
			shared.platform = p
			shared.templates = map[string]assertions.Template{}
			shared.raw = map[string]map[string]any{}
			for name, stack := range p.stacks() {
				tpl := assertions.Template_FromStack(stack, nil)
				shared.templates[name] = tpl
				shared.raw[name] = *tpl.ToJSON()
			}
			return nil
		}()
	})
	if shared.err != nil {
		t.Fatalf("synthesize platform: %v", shared.err)
	}
	return &shared
}

var variants = struct {
	sync.Mutex
	byName map[string]*variantOnce
}{byName: map[string]*variantOnce{}}

type variantOnce struct {
	once sync.Once
	s    synthesized
}

// variant synthesizes, once per name and with cdk-nag, the platform a deployment with
// these context values gets, reusing the default platform's asset and definition folders.
func variant(t *testing.T, name string, context map[string]any) *synthesized {
	t.Helper()
	base := platform(t)
	variants.Lock()
	v := variants.byName[name]
	if v == nil {
		v = &variantOnce{}
		variants.byName[name] = v
	}
	variants.Unlock()
	v.once.Do(func() {
		v.s.err = func() error {
			app := awscdk.NewApp(&awscdk.AppProps{Context: &context, Outdir: jsii.String(filepath.Join(base.assets, "cdk-"+name+".out"))})
			cfg, err := ConfigFromContext(app)
			if err != nil {
				return err
			}
			cfg.AssetDir, cfg.StateMachinesDir = base.assets, base.defsDir
			p, err := NewPlatform(app, cfg, nil)
			if err != nil {
				return err
			}
			v.s.platform = p
			v.s.templates = map[string]assertions.Template{}
			v.s.raw = map[string]map[string]any{}
			for name, stack := range p.stacks() {
				tpl := assertions.Template_FromStack(stack, nil)
				v.s.templates[name] = tpl
				v.s.raw[name] = *tpl.ToJSON()
			}
			return nil
		}()
	})
	if v.s.err != nil {
		t.Fatalf("synthesize the %s platform: %v", name, v.s.err)
	}
	return &v.s
}

// stacks lists the platform's stacks by short name.
func (p *Platform) stacks() map[string]awscdk.Stack {
	out := map[string]awscdk.Stack{
		"data": p.Data.Stack, "workflows": p.Workflows.Stack, "api": p.API.Stack, "observability": p.Observability.Stack,
	}
	if p.Network != nil {
		out["network"] = p.Network.Stack
	}
	return out
}

// has runs a jsii assertion, turning its panic into a test failure.
func has(t *testing.T, what string, assert func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s: %v", what, r)
		}
	}()
	assert()
}

// resources returns a template's resources of one type, by logical ID.
func resources(tpl map[string]any, typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, r := range tpl["Resources"].(map[string]any) {
		res := r.(map[string]any)
		if res["Type"] == typ {
			out[id] = res
		}
	}
	return out
}

// props returns a resource's Properties.
func props(res map[string]any) map[string]any {
	p, _ := res["Properties"].(map[string]any)
	return p
}

// list normalises a CloudFormation scalar-or-list value.
func list(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	if v == nil {
		return nil
	}
	return []any{v}
}

// jsonText renders a value as compact JSON (for reference matching).
func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// getAttTarget returns the logical ID of {"Fn::GetAtt":[id,"Arn"]} or {"Ref":id}.
func getAttTarget(v any) string {
	m, ok := v.(map[string]any)
	if !ok {
		return ""
	}
	if ga, ok := m["Fn::GetAtt"].([]any); ok && len(ga) == 2 {
		return ga[0].(string)
	}
	if ref, ok := m["Ref"].(string); ok {
		return ref
	}
	return ""
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// statements yields every statement of every IAM policy of a template.
func statements(tpl map[string]any) map[string][]map[string]any {
	out := map[string][]map[string]any{}
	for id, res := range resources(tpl, "AWS::IAM::Policy") {
		doc := props(res)["PolicyDocument"].(map[string]any)
		for _, s := range list(doc["Statement"]) {
			out[id] = append(out[id], s.(map[string]any))
		}
	}
	for id, res := range resources(tpl, "AWS::IAM::Role") {
		for _, p := range list(props(res)["Policies"]) {
			doc := p.(map[string]any)["PolicyDocument"].(map[string]any)
			for _, s := range list(doc["Statement"]) {
				out[id] = append(out[id], s.(map[string]any))
			}
		}
	}
	return out
}

// policyOfRole finds the statements of the policy attached to a role.
func policyOfRole(tpl map[string]any, roleID string) []map[string]any {
	var out []map[string]any
	policies := resources(tpl, "AWS::IAM::Policy")
	for id, res := range resources(tpl, "AWS::IAM::ManagedPolicy") {
		policies[id] = res
	}
	for _, res := range policies {
		p := props(res)
		attached := false
		for _, r := range list(p["Roles"]) {
			if getAttTarget(r) == roleID {
				attached = true
			}
		}
		if !attached {
			continue
		}
		for _, s := range list(p["PolicyDocument"].(map[string]any)["Statement"]) {
			out = append(out, s.(map[string]any))
		}
	}
	return out
}

// hasAction reports whether a statement allows an action.
func hasAction(stmt map[string]any, action string) bool {
	for _, a := range list(stmt["Action"]) {
		if a == action {
			return true
		}
	}
	return false
}

// containsAll reports whether s contains every part.
func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// logicalID resolves a Ref or GetAtt token of a stack's resource to its logical ID.
func logicalID(stack interface{ Resolve(any) any }, token *string) string {
	return getAttTarget(toMap(stack.Resolve(token)))
}

// toMap converts a resolved jsii value to plain JSON maps.
func toMap(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}

// checkGoFunction asserts the runtime settings every Plinth function shares.
func checkGoFunction(t *testing.T, id string, p map[string]any) {
	t.Helper()
	if p["Runtime"] != "provided.al2023" || p["Handler"] != "bootstrap" {
		t.Errorf("%s: runtime %v handler %v, want provided.al2023/bootstrap", id, p["Runtime"], p["Handler"])
	}
	if a := list(p["Architectures"]); len(a) != 1 || a[0] != "arm64" {
		t.Errorf("%s: architectures %v, want [arm64]", id, a)
	}
	if tc, _ := p["TracingConfig"].(map[string]any); tc["Mode"] != "Active" {
		t.Errorf("%s: tracing %v, want Active", id, tc)
	}
	lc, _ := p["LoggingConfig"].(map[string]any)
	if lc["LogFormat"] != "JSON" || lc["LogGroup"] == nil {
		t.Errorf("%s: logging %v, want JSON to its own log group", id, lc)
	}
}
