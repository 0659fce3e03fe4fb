package eval

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plinth-ai/plinth/shared/blob"
	"github.com/plinth-ai/plinth/shared/flow"
	"github.com/plinth-ai/plinth/shared/provider"
	"github.com/plinth-ai/plinth/shared/store/memstore"
)

// memBlob is an in-memory blob.Store for tests.
type memBlob struct {
	mu   sync.Mutex
	objs map[string][]byte
}

var _ blob.Store = (*memBlob)(nil)

func newMemBlob() *memBlob { return &memBlob{objs: map[string][]byte{}} }

func (m *memBlob) Put(_ context.Context, key string, body io.Reader, opts blob.PutOptions) (blob.Object, error) {
	b, err := io.ReadAll(body)
	if err != nil {
		return blob.Object{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.objs[key]; ok && opts.IfNoneMatch {
		return blob.Object{}, blob.ErrPreconditionFailed
	}
	m.objs[key] = b
	return blob.Object{Key: key, Size: int64(len(b))}, nil
}

func (m *memBlob) Get(_ context.Context, key string) (io.ReadCloser, blob.Object, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.objs[key]
	if !ok {
		return nil, blob.Object{}, blob.ErrNotFound
	}
	return io.NopCloser(bytes.NewReader(b)), blob.Object{Key: key, Size: int64(len(b))}, nil
}

func (m *memBlob) Head(_ context.Context, key string) (blob.Object, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.objs[key]
	if !ok {
		return blob.Object{}, blob.ErrNotFound
	}
	return blob.Object{Key: key, Size: int64(len(b))}, nil
}

func (m *memBlob) Delete(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.objs, key)
	return nil
}

func (m *memBlob) List(_ context.Context, prefix string) ([]blob.Object, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []blob.Object
	for k, b := range m.objs {
		if strings.HasPrefix(k, prefix) {
			out = append(out, blob.Object{Key: k, Size: int64(len(b))})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// repoRoot walks up to the directory holding go.mod.
func repoRoot(t testing.TB) string {
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
			t.Fatal("go.mod not found above the test directory")
		}
		dir = parent
	}
}

// reply builds a chat response.
func reply(model, text string, prompt, completion int) *provider.ChatResponse {
	return &provider.ChatResponse{
		Model:   model,
		Choices: []provider.Choice{{Message: provider.Message{Role: "assistant", Content: provider.TextContent(text)}, FinishReason: "stop"}},
		Usage:   &provider.Usage{PromptTokens: prompt, CompletionTokens: completion, TotalTokens: prompt + completion},
	}
}

// fakeTarget answers the model under test from a question → answer table and the judge
// model with a fixed verdict; it counts calls per model.
type fakeTarget struct {
	mu      sync.Mutex
	answers map[string]string
	verdict string
	calls   map[string]int
	tenants map[string]int
}

func newFakeTarget(answers map[string]string) *fakeTarget {
	return &fakeTarget{answers: answers, verdict: `{"score": 4, "rationale": "fine"}`, calls: map[string]int{}, tenants: map[string]int{}}
}

func (f *fakeTarget) setAnswers(a map[string]string) {
	f.mu.Lock()
	f.answers = a
	f.mu.Unlock()
}

func (f *fakeTarget) count(model string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[model]
}

func (f *fakeTarget) Chat(_ context.Context, tenant string, req *provider.ChatRequest) (*provider.ChatResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[req.Model]++
	f.tenants[tenant]++
	if req.Model == "judge" {
		return reply("judge", f.verdict, 200, 30), nil
	}
	prompt := req.Messages[len(req.Messages)-1].Content.String()
	for q, a := range f.answers {
		if strings.Contains(prompt, q) {
			return reply(req.Model, a, 50, 5), nil
		}
	}
	return nil, &provider.Error{Kind: provider.KindBadRequest, Message: "no answer for " + prompt}
}

// flowHarness runs the real evaluation state machine on the embedded executor.
type flowHarness struct {
	exec *flow.Executor
}

func newFlowHarness(t testing.TB, svc *Service) *flowHarness {
	t.Helper()
	def, err := os.ReadFile(filepath.Join(repoRoot(t), "statemachines", "evaluation.asl.json"))
	if err != nil {
		t.Fatal(err)
	}
	subs := map[string]string{}
	tasks := map[string]flow.TaskFunc{}
	for name, fn := range svc.Tasks() {
		arn := "arn:aws:lambda:us-east-1:000000000000:function:" + name
		subs[name] = arn
		tasks[arn] = flow.TaskFunc(fn)
	}
	m, err := flow.Load(def, subs)
	if err != nil {
		t.Fatal(err)
	}
	ex := flow.NewExecutor(flow.WithTasks(tasks))
	t.Cleanup(func() { _ = ex.Close(context.Background()) })
	if err := ex.Register("evaluation", m); err != nil {
		t.Fatal(err)
	}
	return &flowHarness{exec: ex}
}

// starter binds the service's RunStarter to the executor.
func (h *flowHarness) starter(ctx context.Context, input json.RawMessage) (string, error) {
	e, err := h.exec.Start(ctx, "evaluation", "", input)
	return e.ID, err
}

func (h *flowHarness) wait(t testing.TB, id string) flow.Execution {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e, err := h.exec.Wait(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// newTestService builds a service over in-memory adapters with the flow bound.
func newTestService(t testing.TB, target Target, opts ...Option) (*Service, *flowHarness, *MemoryPublisher, *memBlob) {
	t.Helper()
	pub := NewMemoryPublisher(nil)
	blobs := newMemBlob()
	var h *flowHarness
	opts = append([]Option{WithEventPublisher(pub), WithRunStarter(func(ctx context.Context, in json.RawMessage) (string, error) {
		return h.starter(ctx, in)
	})}, opts...)
	svc, err := NewService(memstore.New(), blobs, target, opts...)
	if err != nil {
		t.Fatal(err)
	}
	h = newFlowHarness(t, svc)
	return svc, h, pub, blobs
}

func blobPut() blob.PutOptions { return blob.PutOptions{ContentType: "application/x-ndjson"} }
