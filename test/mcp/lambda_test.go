package mcp

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/plinth-ai/plinth/test/e2e/platformtest"
)

// rieModule is the Lambda Runtime Interface Emulator the repository's tools use.
const rieModule = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@v0.0.0-20261030222936-bef5c4ba774d"

// TestLambdaServer registers a Lambda function's declared tools and calls them through
// /mcp; the function runs in the Lambda Runtime Interface Emulator, reached with the AWS
// SDK's Lambda client.
func TestLambdaServer(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a function and runs the Lambda emulator; runs in make test")
	}
	root, err := platformtest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rie := ensureRIE(ctx, t)
	build := exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc", "-o", filepath.Join(dir, "bootstrap"), "./test/mcp/testdata/lambdatool")
	build.Dir, build.Env = root, append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the function: %v\n%s", err, out)
	}
	api, runtime := freePort(t), freePort(t)
	cmd := exec.Command(rie, "--runtime-interface-emulator-address", api, "--runtime-api-address", runtime, filepath.Join(dir, "bootstrap"))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "AWS_LAMBDA_FUNCTION_NAME=function", "AWS_REGION=eu-west-1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for i := 0; ; i++ {
		if c, err := net.Dial("tcp", api); err == nil {
			c.Close()
			break
		}
		if i > 500 {
			t.Fatal("the emulator did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Setenv("AWS_ENDPOINT_URL_LAMBDA", "http://"+api)
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDPLINTHTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "plinth-test-secret")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")

	e := newEnv(t)
	key := e.tenant("lambda-co")
	e.do("POST", "/admin/tool-servers", adminKey, map[string]any{"id": "calc", "kind": "lambda", "function": "function", "tools": []map[string]any{
		{"name": "add", "description": "Adds two numbers", "input_schema": map[string]any{"type": "object", "properties": map[string]any{"a": map[string]string{"type": "number"}, "b": map[string]string{"type": "number"}}, "required": []string{"a", "b"}}},
		{"name": "divide", "description": "Not implemented by the function", "input_schema": map[string]any{"type": "object"}},
	}}, http.StatusCreated, nil)
	e.do("POST", "/admin/tool-servers/calc/review", adminKey, map[string]any{"decision": "approve", "reviewer": "alice"}, http.StatusOK, nil)
	e.grant("lambda-co", map[string]any{"server": "calc"})

	cs, err := e.connect(ctx, key, "")
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "add", Arguments: map[string]any{"a": 2, "b": 40}})
	if err != nil || res.IsError {
		t.Fatalf("add: %v %s", err, text(t, res))
	}
	if sc, _ := res.StructuredContent.(map[string]any); sc["sum"] != 42.0 || sc["tenant"] != "lambda-co" {
		t.Fatalf("add answered %v", res.StructuredContent)
	}
	res, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "divide", Arguments: map[string]any{}})
	if err != nil || !res.IsError || !strings.Contains(text(t, res), "no such tool") {
		t.Fatalf("a failing function: %v %s", err, text(t, res))
	}
}

func freePort(t *testing.T) string {
	p, err := platformtest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("127.0.0.1:%d", p)
}

// ensureRIE finds the emulator on PATH or in the tools cache, installing it there.
func ensureRIE(ctx context.Context, t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("aws-lambda-rie"); err == nil {
		return p
	}
	dir := os.Getenv("PLINTH_TOOLS_BIN")
	if dir == "" {
		c, err := os.UserCacheDir()
		if err != nil {
			t.Fatal(err)
		}
		dir = filepath.Join(c, "plinth-tools", "bin")
	}
	bin := filepath.Join(dir, "aws-lambda-rie")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	cmd := exec.CommandContext(ctx, "go", "install", rieModule)
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("install the Lambda emulator: %v\n%s", err, out)
	}
	return bin
}
