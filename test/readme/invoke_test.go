package readme

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestMakeInvokeWithoutAWSAnswersAtOnce runs the README's `make invoke FN=gateway
// EVENT=events/apigw-chat-completions.json` (test/tools/invoke.sh) as a newcomer without
// AWS would: the function runs under the Lambda Runtime Interface Emulator, its AWS calls
// go to a closed local port and fail on the first connection, so it answers 503 within
// seconds (not after minutes of retries), and the script says why and what to set.
func TestMakeInvokeWithoutAWSAnswersAtOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a function under the Lambda emulator; runs in make test")
	}
	root := repoRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// The script builds the function itself; here it gets one built with the test's own
	// build settings, so the build cache serves it.
	bootstrap := filepath.Join(t.TempDir(), "bootstrap")
	build := exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc", "-o", bootstrap, "./functions/gateway")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the gateway function: %v\n%s", err, out)
	}

	cmd := exec.CommandContext(ctx, "bash", "test/tools/invoke.sh", "gateway", "events/apigw-chat-completions.json")
	cmd.Dir = root
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AWS_") || strings.HasPrefix(k, "PLINTH_") {
			continue // a newcomer's shell: no AWS settings
		}
		cmd.Env = append(cmd.Env, kv)
	}
	cmd.Env = append(cmd.Env, "PLINTH_INVOKE_BOOTSTRAP="+bootstrap)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("invoke.sh: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), tail(stderr.String(), 40))
	}
	out, log := stdout.String(), stderr.String()
	if !strings.Contains(out, `"statusCode":503`) || !strings.Contains(out, `"code":"service_unavailable"`) {
		t.Errorf("the function's answer:\n%s\nwant a 503 in the API's error shape", out)
	}
	for _, say := range []string{
		"invoke: AWS_ENDPOINT_URL is unset",
		"Point AWS_ENDPOINT_URL and PLINTH_TABLE at DynamoDB or an emulator",
		"invoke: the function answered 503 because no AWS endpoint is set",
	} {
		if !strings.Contains(log, say) {
			t.Errorf("invoke.sh does not say %q:\n%s", say, tail(log, 40))
		}
	}
	// The emulator's REPORT line has the invocation's own duration (builds and start-up
	// excluded): a function that retried its way to the answer would take minutes.
	m := regexp.MustCompile(`REPORT RequestId: \S+\s+Init Duration: [0-9.]+ ms\s+Duration: ([0-9.]+) ms`).FindStringSubmatch(log)
	if m == nil {
		t.Fatalf("no REPORT line from the emulator:\n%s", tail(log, 40))
	}
	if ms, _ := strconv.ParseFloat(m[1], 64); ms > 30_000 {
		t.Errorf("the invocation took %.0f ms without AWS; it must fail on the first refused connection", ms)
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
