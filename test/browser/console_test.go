package browser

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/plinth-ai/plinth/shared/platform"
	"github.com/plinth-ai/plinth/shared/tenant/sigv4"
)

// chromium is where Debian's chromium package puts the browser (`make test` installs it).
const chromium = "/usr/bin/chromium"

// sigv4Key is a local SigV4 credential mapped to the demo tenant, so the suite signs in
// the way IAM Identity Center users do in AWS.
var sigv4Key = sigv4.Credential{AccessKeyID: "AKIACONSOLETEST00001", SecretAccessKey: "console-test-secret-key-0000000000000000", PrincipalARN: "arn:aws:iam::123456789012:role/console-reviewer"}

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
			t.Fatal("go.mod not found")
		}
		dir = parent
	}
}

func nodeBinary(t *testing.T, tools string) string {
	t.Helper()
	if _, err := os.Stat(filepath.Join(tools, "node_modules", "playwright-core", "package.json")); err != nil {
		t.Fatalf("npm package playwright-core is not installed in %s (run `make tools`): %v", tools, err)
	}
	p, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is not installed: %v", err)
	}
	return p
}

// TestConsoleInChromium runs console.spec.mjs against a fresh local platform and
// reports its figures (page load times, agreement) from the script's JSON result line.
func TestConsoleInChromium(t *testing.T) {
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("%s is missing: `make test` installs Debian's chromium package (apt-get install chromium): %v", chromium, err)
	}
	root := moduleRoot(t)
	node := nodeBinary(t, filepath.Join(root, "test", "tools"))

	dir, err := os.MkdirTemp("", "plinth-console-")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	l, err := platform.NewLocal(ctx, platform.Config{DataDir: dir, SigV4: []sigv4.Credential{sigv4Key},
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Tenants.MapIAMPrincipal(ctx, platform.DemoTenant, sigv4Key.PrincipalARN, nil); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(l.Handler)
	t.Cleanup(func() {
		srv.Close()
		_ = l.Close(context.Background())
		os.RemoveAll(dir)
	})

	artifacts := filepath.Join(root, "test", "browser", "artifacts")
	if err := os.RemoveAll(artifacts); err != nil { // screenshots of an earlier run would mislead
		t.Fatal(err)
	}
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithTimeout(ctx, 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(runCtx, node, filepath.Join(root, "test", "browser", "console.spec.mjs"))
	cmd.Env = append(os.Environ(),
		"PLINTH_URL="+srv.URL, "PLINTH_ADMIN_KEY="+l.AdminKey, "PLINTH_DEMO_KEY="+l.DemoKey,
		"SIGV4_ACCESS_KEY_ID="+sigv4Key.AccessKeyID, "SIGV4_SECRET_ACCESS_KEY="+sigv4Key.SecretAccessKey,
		"ARTIFACTS="+artifacts, "CHROMIUM="+chromium)
	cmd.Dir = root
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var result map[string]any
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "RESULT "); ok {
			if err := json.Unmarshal([]byte(rest), &result); err != nil {
				t.Errorf("result line is not JSON: %v", err)
			}
			continue
		}
		t.Log(line)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the browser suite failed after %s: %v", time.Since(start).Round(time.Millisecond), err)
	}
	if result == nil {
		t.Fatal("the browser suite printed no result")
	}
	b, _ := json.MarshalIndent(result, "", "  ")
	t.Logf("browser suite passed in %s; figures:\n%s", time.Since(start).Round(time.Millisecond), b)
	fmt.Fprintf(os.Stderr, "console screenshots: %s\n", artifacts)
}
