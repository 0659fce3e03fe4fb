// Package platformtest runs the local platform binary (functions/local) as a separate
// process for end-to-end tests and benchmarks: it builds the binary once, starts it on
// a free loopback port with its own data directory and admin key, waits until
// /healthz answers, talks to the admin API, and stops it with SIGTERM, reporting a
// non-zero exit status as an error.
package platformtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ErrExited means the platform process ended before it became healthy or before it
// was asked to stop.
var ErrExited = errors.New("platform process exited")

// ModuleRoot walks up from the working directory to the directory holding go.mod.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find module root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("find module root: no go.mod above the working directory: %w", os.ErrNotExist)
		}
		dir = parent
	}
}

// Build compiles the package pkg (e.g. "./functions/local") of the module at root into
// outDir and returns the binary's path. Extra arguments go to "go build" before the
// package (e.g. "-trimpath").
func Build(ctx context.Context, root, pkg, outDir string, extra ...string) (string, error) {
	bin := filepath.Join(outDir, filepath.Base(pkg))
	args := append([]string{"build", "-o", bin}, extra...)
	args = append(args, pkg)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", pkg, err, out.String())
	}
	return bin, nil
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Config says how to start the platform.
type Config struct {
	// Binary is the path of the built functions/local binary.
	Binary string
	// DataDir becomes PLINTH_DATA.
	DataDir string
	// AdminKey becomes PLINTH_ADMIN_KEY.
	AdminKey string
	// Env holds extra environment variables ("NAME=value").
	Env []string
	// Output receives the process's stdout and stderr; nil keeps the last few
	// megabytes in memory for Logs. An *os.File is handed to the process directly.
	Output io.Writer
	// ReadyTimeout bounds the wait for /healthz (default 60 s).
	ReadyTimeout time.Duration
}

// Platform is a running platform process.
type Platform struct {
	// URL is the root URL ("http://127.0.0.1:PORT"); the OpenAI API is under URL+"/v1".
	URL      string
	AdminKey string
	DataDir  string

	cmd    *exec.Cmd
	logs   *tailBuffer
	done   chan struct{}
	waited error
	client *http.Client
}

// Attach returns a Platform for a server that is already running at url (for example
// the platform's handler served in-process by httptest), so the admin helpers can be
// used with it. Process methods (PID, Signal, Wait, Stop) must not be called on it.
func Attach(url, adminKey string) *Platform {
	return &Platform{URL: url, AdminKey: adminKey, done: make(chan struct{}), client: &http.Client{Timeout: 30 * time.Second}}
}

// Start launches the platform on a free port and waits until /healthz answers 200. A
// port taken between choosing and binding is retried with another port.
func Start(ctx context.Context, cfg Config) (*Platform, error) {
	if cfg.Binary == "" || cfg.DataDir == "" || cfg.AdminKey == "" {
		return nil, errors.New("platformtest: Binary, DataDir and AdminKey are required")
	}
	if cfg.ReadyTimeout == 0 {
		cfg.ReadyTimeout = 60 * time.Second
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		p, err := startOnce(ctx, cfg)
		if err == nil {
			return p, nil
		}
		lastErr = err
		if !errors.Is(err, ErrExited) {
			break
		}
	}
	return nil, lastErr
}

func startOnce(ctx context.Context, cfg Config) (*Platform, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(cfg.Binary)
	cmd.Env = append(os.Environ(), "PLINTH_ADDR="+addr, "PLINTH_DATA="+cfg.DataDir, "PLINTH_ADMIN_KEY="+cfg.AdminKey)
	cmd.Env = append(cmd.Env, cfg.Env...)
	p := &Platform{
		URL: "http://" + addr, AdminKey: cfg.AdminKey, DataDir: cfg.DataDir,
		cmd: cmd, done: make(chan struct{}),
		client: &http.Client{Timeout: 30 * time.Second},
	}
	if cfg.Output != nil {
		cmd.Stdout, cmd.Stderr = cfg.Output, cfg.Output
	} else {
		p.logs = &tailBuffer{max: 4 << 20}
		cmd.Stdout, cmd.Stderr = p.logs, p.logs
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", cfg.Binary, err)
	}
	go func() {
		p.waited = cmd.Wait()
		close(p.done)
	}()
	if err := p.waitHealthy(ctx, cfg.ReadyTimeout); err != nil {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
		return nil, err
	}
	return p, nil
}

func (p *Platform) waitHealthy(ctx context.Context, timeout time.Duration) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	probe := &http.Client{Timeout: time.Second}
	for {
		resp, err := probe.Get(p.URL + "/healthz")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.done:
			return fmt.Errorf("%w before /healthz answered (%v); output:\n%s", ErrExited, p.waited, p.Logs())
		case <-deadline.C:
			return fmt.Errorf("platform not healthy after %s (last error %v); output:\n%s", timeout, err, p.Logs())
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// PID is the platform's process ID.
func (p *Platform) PID() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited.
func (p *Platform) Done() <-chan struct{} { return p.done }

// Signal sends sig to the process.
func (p *Platform) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Wait waits up to timeout for the process to exit and returns its exit code; after
// the timeout it kills the process and reports an error.
func (p *Platform) Wait(timeout time.Duration) (int, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode(), nil
	case <-t.C:
		_ = p.cmd.Process.Kill()
		<-p.done
		return -1, fmt.Errorf("platform did not exit within %s; killed; output tail:\n%s", timeout, tail(p.Logs(), 4000))
	}
}

// Stop sends SIGTERM and waits up to timeout; an exit status other than 0 is an error.
func (p *Platform) Stop(timeout time.Duration) error {
	select {
	case <-p.done:
		return fmt.Errorf("%w on its own earlier (%v); output tail:\n%s", ErrExited, p.waited, tail(p.Logs(), 4000))
	default:
	}
	if err := p.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("send SIGTERM: %w", err)
	}
	code, err := p.Wait(timeout)
	if err != nil {
		return err
	}
	if code != 0 {
		return fmt.Errorf("platform exited with status %d after SIGTERM (%v); output tail:\n%s", code, p.waited, tail(p.Logs(), 4000))
	}
	return nil
}

// Logs returns the output kept in memory (empty when Config.Output was set).
func (p *Platform) Logs() string {
	if p.logs == nil {
		return ""
	}
	return p.logs.String()
}

// Response is a buffered HTTP answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v.
func (r *Response) JSON(v any) error {
	if err := json.Unmarshal(r.Body, v); err != nil {
		return fmt.Errorf("decode %d response %q: %w", r.Status, tail(string(r.Body), 500), err)
	}
	return nil
}

// String describes the response for failure messages.
func (r *Response) String() string {
	return fmt.Sprintf("%d %s", r.Status, tail(string(r.Body), 1000))
}

// Do sends a request with a bearer token (none when empty). body may be nil, []byte,
// string, or a value to encode as JSON.
func (p *Platform) Do(ctx context.Context, method, path, bearer string, body any) (*Response, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			return nil, fmt.Errorf("encode %s %s body: %w", method, path, err)
		}
		rd = bytes.NewReader(enc)
	}
	req, err := http.NewRequestWithContext(ctx, method, p.URL+path, rd)
	if err != nil {
		return nil, err
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: read body: %w", method, path, err)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
}

// Admin sends a request with the admin key.
func (p *Platform) Admin(ctx context.Context, method, path string, body any) (*Response, error) {
	return p.Do(ctx, method, path, p.AdminKey, body)
}

func (p *Platform) adminExpect(ctx context.Context, want int, method, path string, body, out any) error {
	resp, err := p.Admin(ctx, method, path, body)
	if err != nil {
		return err
	}
	if resp.Status != want {
		return fmt.Errorf("%s %s: want %d, got %s", method, path, want, resp)
	}
	if out != nil {
		return resp.JSON(out)
	}
	return nil
}

// CreateTenant posts a tenant document (at least "id" and "name") and expects 201.
func (p *Platform) CreateTenant(ctx context.Context, tenant map[string]any) error {
	return p.adminExpect(ctx, http.StatusCreated, http.MethodPost, "/admin/tenants", tenant, nil)
}

// Key is an API key as created by the admin API.
type Key struct {
	ID  string `json:"id"`
	Key string `json:"key"`
}

// CreateKey issues an API key for the tenant and expects 201 with its ID and secret.
func (p *Platform) CreateKey(ctx context.Context, tenantID string) (Key, error) {
	var k Key
	if err := p.adminExpect(ctx, http.StatusCreated, http.MethodPost, "/admin/tenants/"+tenantID+"/keys", map[string]any{}, &k); err != nil {
		return Key{}, err
	}
	if k.ID == "" || k.Key == "" {
		return Key{}, fmt.Errorf("create key for %s: the answer lacks id or key: %+v", tenantID, k)
	}
	return k, nil
}

// RegisterModel posts a model document and expects 201; it returns the model's status.
func (p *Platform) RegisterModel(ctx context.Context, model map[string]any) (string, error) {
	var out struct {
		Status string `json:"status"`
	}
	err := p.adminExpect(ctx, http.StatusCreated, http.MethodPost, "/admin/models", model, &out)
	return out.Status, err
}

// Review approves (or rejects) a model and returns its new status.
func (p *Platform) Review(ctx context.Context, modelID, decision string) (string, error) {
	var out struct {
		Status string `json:"status"`
	}
	err := p.adminExpect(ctx, http.StatusOK, http.MethodPost, "/admin/models/"+modelID+"/review",
		map[string]any{"decision": decision, "reviewer": "e2e@plinth.test"}, &out)
	return out.Status, err
}

// OpenAIModel is a model backed by an OpenAI-compatible upstream at baseURL.
func OpenAIModel(id, kind, baseURL, upstreamModel string, fallbacks ...string) map[string]any {
	m := map[string]any{
		"id": id, "kind": kind,
		"deployments": []any{map[string]any{"provider": "openai", "base_url": baseURL, "model": upstreamModel, "api_key": "sk-upstream-" + id}},
		"prices":      map[string]any{"input_per_million": 0.15, "output_per_million": 0.6},
	}
	if len(fallbacks) > 0 {
		m["fallbacks"] = fallbacks
	}
	return m
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) > b.max {
		b.buf = append(b.buf[:0], b.buf[len(b.buf)-b.max/2:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
