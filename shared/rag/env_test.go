package rag

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plinth-ai/plinth/shared/blob"
	"github.com/plinth-ai/plinth/shared/blob/fsblob"
	"github.com/plinth-ai/plinth/shared/flow"
	"github.com/plinth-ai/plinth/shared/provider"
	"github.com/plinth-ai/plinth/shared/provider/local"
	"github.com/plinth-ai/plinth/shared/rag/index"
	"github.com/plinth-ai/plinth/shared/store/memstore"
)

// env is a knowledge-base service whose uploads run the real ingestion state machine
// through the embedded executor.
type env struct {
	svc     *Service
	blob    blob.Store
	machine *flow.Machine
	tasks   map[string]flow.TaskFunc

	mu      sync.Mutex
	runs    []runResult
	usage   map[string]int
	history []flow.HistoryEvent
}

type runResult struct {
	out json.RawMessage
	err error
}

type envConfig struct {
	embedder Embedder
	opts     []Option
}

func localEmbedder(dim int) Embedder {
	m := local.NewEmbed(dim)
	return EmbedderFunc(func(ctx context.Context, texts []string, inputType string) ([][]float32, error) {
		resp, err := m.Embed(ctx, &provider.EmbeddingRequest{Input: texts, InputType: inputType})
		if err != nil {
			return nil, err
		}
		out := make([][]float32, len(resp.Data))
		for i, d := range resp.Data {
			out[i] = d.Embedding
		}
		return out, nil
	})
}

func loadDefinition(t testing.TB) []byte {
	t.Helper()
	def, err := os.ReadFile(filepath.Join("..", "..", "statemachines", "ingestion.asl.json"))
	if err != nil {
		t.Fatal(err)
	}
	return def
}

func newEnv(t *testing.T, cfg envConfig) *env {
	t.Helper()
	bs, err := fsblob.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.embedder == nil {
		cfg.embedder = localEmbedder(256)
	}
	e := &env{blob: bs, usage: map[string]int{}}
	def := loadDefinition(t)
	subs := map[string]string{}
	for _, p := range flow.Placeholders(def) {
		subs[p] = p
	}
	e.machine, err = flow.Load(def, subs)
	if err != nil {
		t.Fatal(err)
	}
	opts := append([]Option{
		WithEmbedder(cfg.embedder),
		WithEmbedRetry(2, time.Millisecond),
		WithStarter(e.start),
		WithUsage(func(_ context.Context, tenant, kb, model string, tokens int) {
			e.mu.Lock()
			e.usage[tenant+"/"+kb+"/"+model] += tokens
			e.mu.Unlock()
		}),
	}, cfg.opts...)
	e.svc = NewService(memstore.New(), bs, index.NewManager(bs, index.WithRefreshInterval(-1)), opts...)
	e.tasks = map[string]flow.TaskFunc{}
	for k, fn := range e.svc.Tasks() {
		e.tasks[k] = fn
	}
	return e
}

// start runs the ingestion flow synchronously, as the local platform's starter does
// asynchronously; retry waits are shortened.
func (e *env) start(ctx context.Context, event json.RawMessage) error {
	_, err := e.run(ctx, event)
	var ee *flow.ExecutionError
	if err != nil && !errors.As(err, &ee) {
		return err
	}
	return nil
}

func (e *env) run(ctx context.Context, event json.RawMessage) (json.RawMessage, error) {
	opts := []flow.RunOption{flow.WithRunTasks(e.tasks), flow.WithHistory(func(h flow.HistoryEvent) {
		e.mu.Lock()
		e.history = append(e.history, h)
		e.mu.Unlock()
	})}
	for _, st := range []string{"Prepare", "Extract", "Chunk", "Embed", "Index", "MarkDocument", "DeleteDocument", "RecordFailure"} {
		opts = append(opts, flow.WithRetryOverride(st, time.Millisecond))
	}
	out, err := e.machine.Run(ctx, event, opts...)
	e.mu.Lock()
	e.runs = append(e.runs, runResult{out, err})
	e.mu.Unlock()
	return out, err
}

// entered counts how often a task state was scheduled (retries included) since the last
// reset.
func (e *env) entered(state string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	current := ""
	for _, h := range e.history {
		if strings.HasSuffix(h.Type, "StateEntered") {
			current = h.StateName
		}
		if h.Type == "TaskScheduled" && current == state {
			n++
		}
	}
	return n
}

func (e *env) resetHistory() {
	e.mu.Lock()
	e.history = nil
	e.mu.Unlock()
}

func (e *env) createKB(t *testing.T, kb KnowledgeBase) KnowledgeBase {
	t.Helper()
	out, err := e.svc.CreateKnowledgeBase(context.Background(), kb)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (e *env) upload(t *testing.T, tenant, kb, name, body string, md map[string]any) Document {
	t.Helper()
	d, err := e.svc.UploadDocument(context.Background(), tenant, kb, Upload{Name: name, Body: bytes.NewReader([]byte(body)), Metadata: md})
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.svc.GetDocument(context.Background(), tenant, kb, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func (e *env) retrieve(t *testing.T, tenant, kb string, req RetrieveRequest) []Result {
	t.Helper()
	resp, err := e.svc.Retrieve(context.Background(), tenant, kb, req)
	if err != nil {
		t.Fatal(err)
	}
	return resp.Results
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
