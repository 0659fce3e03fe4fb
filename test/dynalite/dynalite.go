// Package dynalite runs the npm dynalite DynamoDB emulator (installed under test/tools)
// for tests that need a real DynamoDB endpoint. A missing emulator fails the test: the
// emulator contract suites must run, never be skipped.
//
// dynalite speaks DynamoDB's JSON protocol on LevelDB (in memory here). Its known gaps:
// no TransactWriteItems/TransactGetItems, no TTL API (DescribeTimeToLive and
// UpdateTimeToLive), and tables stay CREATING for --createTableMs (set to 0 here).
package dynalite

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// Bin returns the path of the dynalite executable under the project's test/tools.
func Bin() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("dynalite: go.mod not found above the working directory")
		}
		dir = parent
	}
	bin := filepath.Join(dir, "test", "tools", "node_modules", ".bin", "dynalite")
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("dynalite: not installed (run npm install in test/tools): %w", err)
	}
	return bin, nil
}

// Start runs dynalite on a free loopback port until the test ends and returns its
// endpoint URL. It fails the test if dynalite is not installed or does not start.
func Start(t testing.TB) string {
	t.Helper()
	bin, err := Bin()
	if err != nil {
		t.Fatal(err)
	}
	var lastErr error
	for range 3 { // a port picked free may be taken before dynalite binds it
		url, err := start(t, bin)
		if err == nil {
			return url
		}
		lastErr = err
	}
	t.Fatalf("dynalite: %v", lastErr)
	return ""
}

func start(t testing.TB, bin string) (string, error) {
	port, err := freePort()
	if err != nil {
		return "", err
	}
	cmd := exec.Command(bin, "--host", "127.0.0.1", "--port", strconv.Itoa(port),
		"--createTableMs", "0", "--deleteTableMs", "0", "--updateTableMs", "0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return "", err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if line := sc.Text(); strings.Contains(line, "listening at") {
				ready <- line
			}
		}
	}()
	stop := func() {
		_ = cmd.Process.Kill()
		<-exited
	}
	select {
	case <-ready:
		t.Cleanup(stop)
		return fmt.Sprintf("http://127.0.0.1:%d", port), nil
	case err := <-exited:
		return "", fmt.Errorf("exited before listening: %v: %s", err, stderr.String())
	case <-time.After(30 * time.Second):
		stop()
		return "", errors.New("did not start within 30s")
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Client returns a DynamoDB client for endpoint with a static dummy credential.
func Client(endpoint string) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDLOCAL", "local-secret", ""),
	})
}

// WaitActive waits until table is ACTIVE, for emulators that report table status.
func WaitActive(ctx context.Context, c *dynamodb.Client, table string) error {
	w := dynamodb.NewTableExistsWaiter(c, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay = 10 * time.Millisecond
		o.MaxDelay = 100 * time.Millisecond
	})
	return w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)}, 30*time.Second)
}
