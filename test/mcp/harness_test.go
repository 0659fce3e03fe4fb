package mcp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/plinth-ai/plinth/shared/platform"
	"github.com/plinth-ai/plinth/test/mcpfixture"
)

const adminKey = "adm-mcp-test-key"

// env is a local platform served on a loopback port.
type env struct {
	t   *testing.T
	l   *platform.Local
	srv *httptest.Server
}

func newEnv(t *testing.T) *env {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	l, err := platform.NewLocal(context.Background(), platform.Config{DataDir: t.TempDir(), AdminKey: adminKey, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(l.Handler)
	t.Cleanup(func() {
		srv.Close()
		if err := l.Close(context.Background()); err != nil {
			t.Errorf("close platform: %v", err)
		}
	})
	return &env{t: t, l: l, srv: srv}
}

// do calls the platform's HTTP API and decodes a JSON answer into out (when not nil),
// failing the test unless the status is want.
func (e *env) do(method, path, key string, body any, want int, out any) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		e.t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, b, want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
}

// tenant creates a tenant and returns an API key of it.
func (e *env) tenant(id string) string {
	e.t.Helper()
	e.do("POST", "/admin/tenants", adminKey, map[string]any{"id": id, "name": id}, http.StatusCreated, nil)
	var k struct {
		Key string `json:"key"`
	}
	e.do("POST", "/admin/tenants/"+id+"/keys", adminKey, map[string]any{}, http.StatusCreated, &k)
	return k.Key
}

// upstream starts a fixture MCP server and registers, approves it under id.
func (e *env) upstream(id, prefix string) (*mcpfixture.Fixture, string) {
	e.t.Helper()
	f, url := e.fixtureServer()
	e.register(id, prefix, url)
	return f, url
}

// fixtureServer starts a fixture MCP server.
func (e *env) fixtureServer() (*mcpfixture.Fixture, string) {
	f := mcpfixture.New()
	up := httptest.NewServer(f.Handler())
	e.t.Cleanup(up.Close)
	return f, up.URL
}

func (e *env) register(id, prefix, url string) {
	e.t.Helper()
	var s struct {
		SyncError string `json:"sync_error"`
		Tools     []any  `json:"tools"`
	}
	e.do("POST", "/admin/tool-servers", adminKey, map[string]any{"id": id, "kind": "mcp", "url": url, "prefix": prefix,
		"owner": "platform-team", "credential": map[string]string{"value": "upstream-secret-" + id}}, http.StatusCreated, &s)
	if s.SyncError != "" || len(s.Tools) == 0 {
		e.t.Fatalf("register %s: sync error %q, %d tools", id, s.SyncError, len(s.Tools))
	}
	e.do("POST", "/admin/tool-servers/"+id+"/review", adminKey, map[string]any{"decision": "approve", "reviewer": "alice"}, http.StatusOK, nil)
}

func (e *env) grant(tenantID string, body map[string]any) string {
	e.t.Helper()
	var g struct {
		ID string `json:"id"`
	}
	e.do("POST", "/admin/tenants/"+tenantID+"/tool-grants", adminKey, body, http.StatusCreated, &g)
	return g.ID
}

// keyed serves the platform on a loopback port with a fixed API key added to every
// request, as a client configured with that key would send it (the conformance suite
// has no way to send credentials).
func keyed(t *testing.T, h http.Handler, key string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Set("Authorization", "Bearer "+key)
		h.ServeHTTP(w, r)
	})}}
	srv.Start()
	t.Cleanup(srv.Close)
	return fmt.Sprintf("http://127.0.0.1:%d/mcp", ln.Addr().(*net.TCPAddr).Port)
}

// headerTransport adds headers to every request of an SDK client.
type headerTransport struct {
	base http.RoundTripper
	h    http.Header
}

func (t *headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, v := range t.h {
		r.Header[k] = v
	}
	return t.base.RoundTrip(r)
}

// connect opens a Go SDK client session to /mcp with key, at the given revision
// ("" lets the SDK negotiate the newest).
func (e *env) connect(ctx context.Context, key, version string) (*mcp.ClientSession, error) {
	tr := &mcp.StreamableClientTransport{Endpoint: e.srv.URL + "/mcp", MaxRetries: -1, DisableStandaloneSSE: true,
		HTTPClient: &http.Client{Transport: &headerTransport{base: http.DefaultTransport, h: http.Header{"Authorization": {"Bearer " + key}}}}}
	c := mcp.NewClient(&mcp.Implementation{Name: "plinth-test", Version: "1.0.0"}, nil)
	var opts *mcp.ClientSessionOptions
	if version != "" {
		opts = &mcp.ClientSessionOptions{ProtocolVersion: version}
	}
	return c.Connect(ctx, tr, opts)
}
