// Command lambda measures the gateway function's cold start under the AWS Lambda
// Runtime Interface Emulator and prints the size of every built bootstrap.
//
// It builds ./functions/<fn> for the host architecture as Lambda runs it (CGO off,
// -tags lambda.norpc, -ldflags='-s -w'), then, for each run, starts a fresh emulator
// with the binary as its bootstrap on free loopback ports, sends one event, and records
// the time from process start to the first response, the time of that first invocation
// (the emulator starts the runtime lazily, so it includes init), the emulator's own
// "INIT REPORT" duration (runtime exec until the runtime first asks for work) and the
// "Init Duration" of its REPORT line.
//
//	go run ./test/bench/lambda [-fn gateway] [-runs 10] [-event FILE]
//
// The emulator is installed with go install into $PLINTH_TOOLS_BIN (default
// <user cache dir>/plinth-tools/bin) when it is not on PATH.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/plinth-ai/plinth/test/e2e/platformtest"
)

// RIEModule is the emulator version the project pins.
const RIEModule = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@v0.0.0-20261030222936-bef5c4ba774d"

const (
	targetInit        = 50 * time.Millisecond
	targetGatewaySize = 15 << 20
	invokePath        = "/2015-03-31/functions/function/invocations"
)

func main() {
	fn := flag.String("fn", "gateway", "function under functions/ to measure")
	runs := flag.Int("runs", 10, "cold starts to measure")
	event := flag.String("event", "", "event JSON (default test/bench/lambda/testdata/apigw-healthz.json)")
	flag.Parse()
	if err := run(*fn, *runs, *event); err != nil {
		fmt.Fprintln(os.Stderr, "bench lambda:", err)
		os.Exit(1)
	}
}

// ToolsBin is where the emulator is installed.
func ToolsBin() (string, error) {
	if d := os.Getenv("PLINTH_TOOLS_BIN"); d != "" {
		return d, nil
	}
	c, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(c, "plinth-tools", "bin"), nil
}

// EnsureRIE returns the emulator's path, installing it when needed.
func EnsureRIE(ctx context.Context) (string, error) {
	if p, err := exec.LookPath("aws-lambda-rie"); err == nil {
		return p, nil
	}
	dir, err := ToolsBin()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "aws-lambda-rie")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	fmt.Println("installing", RIEModule, "into", dir)
	cmd := exec.CommandContext(ctx, "go", "install", RIEModule)
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go install the emulator: %w\n%s", err, out)
	}
	return bin, nil
}

// lambdaEnv is what Lambda would set, plus settings that keep the SDK off the network:
// init must not need AWS to answer.
func lambdaEnv(fn string) []string {
	env := append(os.Environ(),
		"AWS_LAMBDA_FUNCTION_NAME="+fn,
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=1024",
		"AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/"+fn,
		"AWS_LAMBDA_LOG_STREAM_NAME=bench",
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_XRAY_CONTEXT_MISSING=LOG_ERROR",
	)
	defaults := map[string]string{
		"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-1",
		"AWS_ACCESS_KEY_ID": "AKIDPLINTHBENCH", "AWS_SECRET_ACCESS_KEY": "plinth-bench-secret",
		"PLINTH_TABLE": "plinth", "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
	}
	for k, v := range defaults {
		if os.Getenv(k) == "" {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// coldStart is one measured run.
type coldStart struct {
	toFirstResponse time.Duration // emulator process start → first response
	firstInvoke     time.Duration // first invocation request → response (includes init)
	rapidInit       time.Duration // emulator's INIT REPORT(durationMs)
	reportInit      time.Duration // REPORT … Init Duration
	status          int
	response        string
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var (
	rapidInitRE  = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)
	reportInitRE = regexp.MustCompile(`Init Duration: ([0-9.]+) ms`)
)

func msDuration(s string) time.Duration {
	f, _ := strconv.ParseFloat(s, 64)
	return time.Duration(f * float64(time.Millisecond))
}

func waitTCP(addr string, timeout time.Duration, exited <-chan struct{}) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-exited:
			return errors.New("emulator exited before listening")
		case <-time.After(2 * time.Millisecond):
		}
	}
	return fmt.Errorf("emulator not listening on %s after %s", addr, timeout)
}

func measure(rie, bootstrap, fn string, event []byte) (coldStart, string, error) {
	var cs coldStart
	apiPort, err := platformtest.FreePort()
	if err != nil {
		return cs, "", err
	}
	runtimePort, err := platformtest.FreePort()
	if err != nil {
		return cs, "", err
	}
	addr := "127.0.0.1:" + strconv.Itoa(apiPort)
	cmd := exec.Command(rie, "--runtime-interface-emulator-address", addr,
		"--runtime-api-address", "127.0.0.1:"+strconv.Itoa(runtimePort), bootstrap)
	cmd.Dir = filepath.Dir(bootstrap)
	cmd.Env = lambdaEnv(fn)
	logs := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return cs, "", fmt.Errorf("start the emulator: %w", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	defer stop()
	if err := waitTCP(addr, 10*time.Second, exited); err != nil {
		return cs, logs.String(), err
	}
	t0 := time.Now()
	resp, err := http.Post("http://"+addr+invokePath, "application/json", bytes.NewReader(event))
	if err != nil {
		return cs, logs.String(), fmt.Errorf("invoke: %w", err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	now := time.Now()
	if err != nil {
		return cs, logs.String(), fmt.Errorf("read the invocation response: %w", err)
	}
	cs.firstInvoke = now.Sub(t0)
	cs.toFirstResponse = now.Sub(start)
	cs.status = resp.StatusCode
	cs.response = strings.ReplaceAll(string(body), "\x00", "")
	stop()
	out := logs.String()
	if m := rapidInitRE.FindStringSubmatch(out); m != nil {
		cs.rapidInit = msDuration(m[1])
	}
	if m := reportInitRE.FindStringSubmatch(out); m != nil {
		cs.reportInit = msDuration(m[1])
	}
	return cs, out, nil
}

func stats(ds []time.Duration) string {
	if len(ds) == 0 {
		return "n/a"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond)) }
	return fmt.Sprintf("min %s  median %s  max %s ms", ms(s[0]), ms(s[len(s)/2]), ms(s[len(s)-1]))
}

func run(fn string, runs int, eventPath string) error {
	ctx := context.Background()
	root, err := platformtest.ModuleRoot()
	if err != nil {
		return err
	}
	if eventPath == "" {
		eventPath = filepath.Join(root, "test", "bench", "lambda", "testdata", "apigw-healthz.json")
	}
	event, err := os.ReadFile(eventPath)
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(root, "functions", fn, "main.go")); err != nil {
		return fmt.Errorf("functions/%s: %w", fn, err)
	}
	rie, err := EnsureRIE(ctx)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "plinth-lambda-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bootstrap := filepath.Join(tmp, "bootstrap")
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-tags", "lambda.norpc", "-ldflags=-s -w", "-o", bootstrap, "./functions/"+fn)
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("build functions/%s: %w\n%s", fn, err, out)
	}
	st, err := os.Stat(bootstrap)
	if err != nil {
		return err
	}

	fmt.Printf("Cold start of functions/%s under the Lambda Runtime Interface Emulator (%s), event %s, %d runs\n",
		fn, filepath.Base(rie), filepath.Base(eventPath), runs)
	fmt.Printf("host-arch bootstrap (CGO off, lambda.norpc, -s -w): %.1f MB\n\n", float64(st.Size())/(1<<20))
	var toFirst, first, rapid, report []time.Duration
	for i := range runs {
		cs, logs, err := measure(rie, bootstrap, fn, event)
		if err != nil {
			return fmt.Errorf("run %d: %w\nemulator output:\n%s", i+1, err, logs)
		}
		if i == 0 {
			fmt.Printf("first response: %d %.200s\n\n", cs.status, cs.response)
		}
		fmt.Printf("run %2d: start→first response %6.1f ms  first invoke (init+invoke) %6.1f ms  emulator INIT REPORT %6.1f ms  REPORT Init Duration %5.2f ms\n",
			i+1, ms(cs.toFirstResponse), ms(cs.firstInvoke), ms(cs.rapidInit), ms(cs.reportInit))
		if cs.status != http.StatusOK {
			return fmt.Errorf("run %d: the emulator answered %d: %s\n%s", i+1, cs.status, cs.response, logs)
		}
		toFirst = append(toFirst, cs.toFirstResponse)
		first = append(first, cs.firstInvoke)
		if cs.rapidInit > 0 {
			rapid = append(rapid, cs.rapidInit)
		}
		if cs.reportInit > 0 {
			report = append(report, cs.reportInit)
		}
	}
	fmt.Println()
	fmt.Println("emulator start → first response:     ", stats(toFirst))
	fmt.Println("first invocation (init + invoke):    ", stats(first))
	fmt.Println("emulator INIT REPORT (runtime init): ", stats(rapid))
	fmt.Println("REPORT Init Duration:                ", stats(report), "(the emulator does not time init here; INIT REPORT does)")
	if len(rapid) > 0 {
		med := slices.Sorted(slices.Values(rapid))[len(rapid)/2]
		fmt.Printf("target: init ≤ %.0f ms (median INIT REPORT %.1f ms)  %s\n", ms(targetInit), ms(med), verdict(med <= targetInit))
	}

	fmt.Println("\nbuilt bootstraps (make build: linux/arm64):")
	matches, _ := filepath.Glob(filepath.Join(root, "build", "*", "bootstrap"))
	if len(matches) == 0 {
		fmt.Println("  none under build/ (run make build)")
	}
	for _, m := range matches {
		fi, err := os.Stat(m)
		if err != nil {
			continue
		}
		name := filepath.Base(filepath.Dir(m))
		line := fmt.Sprintf("  %-12s %6.1f MB", name, float64(fi.Size())/(1<<20))
		if name == "gateway" {
			line += fmt.Sprintf("  (target ≤ %d MB)  %s", targetGatewaySize>>20, verdict(fi.Size() <= targetGatewaySize))
		}
		fmt.Println(line)
	}
	if fn == "gateway" {
		fmt.Printf("  host-arch gateway %.1f MB  (target ≤ %d MB)  %s\n", float64(st.Size())/(1<<20), targetGatewaySize>>20, verdict(st.Size() <= targetGatewaySize))
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func verdict(ok bool) string {
	if ok {
		return "MET"
	}
	return "MISSED"
}
