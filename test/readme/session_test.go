package readme

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// commandTimeout bounds one README command, the platform's start included.
const commandTimeout = 3 * time.Minute

// shell is one long-lived bash process fed commands on stdin, as a terminal would be.
type shell struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string
	marker string
}

func newShell(t *testing.T, dir string, env []string) *shell {
	t.Helper()
	cmd := exec.Command("bash", "--noprofile", "--norc")
	cmd.Dir, cmd.Env = dir, env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatalf("start bash: %v", err)
	}
	w.Close()
	var nonce [8]byte
	_, _ = rand.Read(nonce[:])
	s := &shell{cmd: cmd, stdin: stdin, lines: make(chan string, 1024), marker: "__readme_done_" + hex.EncodeToString(nonce[:])}
	go func() {
		defer close(s.lines)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		_ = stdin.Close()
		stopGroup(cmd, 5*time.Second)
	})
	return s
}

// run executes one command in the session and returns its output and exit status.
func (s *shell) run(ctx context.Context, text string) (string, int, error) {
	// The command reads no input of its own: the session's stdin is the script.
	script := fmt.Sprintf("{\n%s\n} </dev/null 2>&1\nprintf '\\n%s %%d\\n' \"$?\"\n", text, s.marker)
	if _, err := io.WriteString(s.stdin, script); err != nil {
		return "", 0, fmt.Errorf("write to bash: %w", err)
	}
	var out []string
	for {
		select {
		case line, ok := <-s.lines:
			if !ok {
				return strings.Join(out, "\n"), 0, errors.New("bash exited")
			}
			if rest, found := strings.CutPrefix(line, s.marker+" "); found {
				var code int
				fmt.Sscanf(rest, "%d", &code)
				// The marker is printed after a newline of its own: drop that empty line.
				if n := len(out); n > 0 && out[n-1] == "" {
					out = out[:n-1]
				}
				return strings.Join(out, "\n"), code, nil
			}
			out = append(out, line)
		case <-ctx.Done():
			return strings.Join(out, "\n"), 0, fmt.Errorf("still running after %s", commandTimeout)
		}
	}
}

// platform is the background process "make run" started.
type platform struct {
	cmd *exec.Cmd
	mu  sync.Mutex
	out bytes.Buffer
}

func (p *platform) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

func (p *platform) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// startPlatform runs the README's "make run" command in the background and waits until
// the platform answers /healthz on addr.
func startPlatform(ctx context.Context, t *testing.T, text, dir, addr string, env []string) (*platform, error) {
	p := &platform{}
	p.cmd = exec.Command("bash", "-c", text)
	p.cmd.Dir, p.cmd.Env = dir, env
	p.cmd.Stdout, p.cmd.Stderr = p, p
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- p.cmd.Wait() }()
	t.Cleanup(func() {
		// SIGTERM lets the platform drain and flush, as Ctrl-C would.
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	})
	client := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-exited:
			exited <- err
			return p, fmt.Errorf("make run exited before serving: %v\n%s", err, p.output())
		case <-ctx.Done():
			return p, fmt.Errorf("the platform did not answer /healthz within %s\n%s", commandTimeout, p.output())
		case <-tick.C:
			resp, err := client.Get("http://" + addr + "/healthz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return p, nil
				}
			}
		}
	}
}

// stopGroup ends a process group started with Setpgid: SIGTERM, then SIGKILL.
func stopGroup(cmd *exec.Cmd, grace time.Duration) {
	if cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

// freeAddr returns a loopback address nothing listened on a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// repoRoot walks up from the working directory to the directory holding go.mod.
func repoRoot(t *testing.T) string {
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
			t.Fatal("no go.mod above the working directory")
		}
		dir = parent
	}
}

// readmeEnv is the environment README commands run in: this process's, without any Plinth
// setting a developer may have exported, plus the platform's address and data directory.
func readmeEnv(addr, data string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PLINTH_") && !strings.HasPrefix(kv, "PLINTH_DATASETS=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "PLINTH_ADDR="+addr, "PLINTH_DATA="+data, "NO_COLOR=1", "TERM=dumb")
}
