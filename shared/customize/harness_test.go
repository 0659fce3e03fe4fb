package customize_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/plinth-ai/plinth/shared/blob/fsblob"
	"github.com/plinth-ai/plinth/shared/customize"
	"github.com/plinth-ai/plinth/shared/customize/evalsuite"
	"github.com/plinth-ai/plinth/shared/customize/localjob"
	"github.com/plinth-ai/plinth/shared/eval"
	"github.com/plinth-ai/plinth/shared/flow"
	"github.com/plinth-ai/plinth/shared/provider"
	"github.com/plinth-ai/plinth/shared/registry"
	"github.com/plinth-ai/plinth/shared/store/memstore"
	"github.com/plinth-ai/plinth/statemachines"
)

// harness is the customisation flow in one process: the real state machines (the
// customisation flow and the evaluation flow it nests) on the embedded executor, the
// registry, the evaluation service and local-tune, over an in-memory store and a
// directory of blobs. Evaluation targets are served straight from the registry (the
// platform sends them through the gateway).
type harness struct {
	blobs  *fsblob.Store
	svc    *customize.Service
	reg    *registry.Service
	exec   *flow.Executor
	eval   *eval.Service
	lib    *localjob.Library
	runner *localjob.Runner
}

type executorWorkflow struct{ e *flow.Executor }

func (w executorWorkflow) Start(ctx context.Context, name string, input json.RawMessage) (string, error) {
	ex, err := w.e.Start(ctx, "customization", name, input)
	return ex.ID, err
}

func (w executorWorkflow) Stop(ctx context.Context, id, errName, cause string) error {
	_, err := w.e.Stop(ctx, id, errName, cause)
	return err
}

func register(t testing.TB, e *flow.Executor, name string, tasks map[string]customize.TaskFunc, extra map[string]string) {
	t.Helper()
	def, err := statemachines.Definition(name)
	if err != nil {
		t.Fatal(err)
	}
	subs := map[string]string{}
	for _, ph := range statemachines.Placeholders(def) {
		if v, ok := extra[ph]; ok {
			subs[ph] = v
			continue
		}
		fn, ok := tasks[ph]
		if !ok {
			t.Fatalf("%s: no task for ${%s}", name, ph)
		}
		arn := "arn:aws:lambda:local:000000000000:function:" + ph
		e.Bind(arn, flow.TaskFunc(fn))
		subs[ph] = arn
	}
	m, err := flow.Load(def, subs)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Register(name, m); err != nil {
		t.Fatal(err)
	}
}

func newHarness(t testing.TB, extra ...func(h *harness) []customize.Option) *harness {
	t.Helper()
	ctx := context.Background()
	st := memstore.New()
	blobs, err := fsblob.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{blobs: blobs, reg: registry.NewService(st, registry.WithCacheTTL(0))}
	if err := h.reg.SeedBuiltins(ctx); err != nil {
		t.Fatal(err)
	}
	h.exec = flow.NewExecutor()
	t.Cleanup(func() { _ = h.exec.Close(context.Background()) })
	h.lib = localjob.NewLibrary(blobs, func(ctx context.Context, id string) (string, error) {
		m, err := h.reg.Get(ctx, id)
		if err != nil {
			return "", err
		}
		if m.Lineage == nil || m.Lineage.Artifact == "" {
			return "", fmt.Errorf("%s has no artefact", id)
		}
		return m.Lineage.Artifact, nil
	}, 4)
	h.runner = localjob.New(st, blobs, h.lib)
	t.Cleanup(func() { _ = h.runner.Close(context.Background()) })
	target := eval.TargetFunc(func(ctx context.Context, tenant string, req *provider.ChatRequest) (*provider.ChatResponse, error) {
		m, err := h.reg.Resolve(ctx, req.Model)
		if err != nil {
			return nil, err
		}
		if !m.VisibleTo(tenant) {
			return nil, errors.New("model not visible to the tenant")
		}
		if m.Deployments[0].Provider != "local" {
			// A provider model: a fixed answer stands in for its endpoint.
			return &provider.ChatResponse{Model: m.ID, Choices: []provider.Choice{{Message: provider.Message{Role: "assistant", Content: provider.TextContent("unknown")}, FinishReason: "stop"}}}, nil
		}
		chat, err := h.lib.Chat(ctx, m.ID)
		if err != nil {
			return nil, err
		}
		return chat.Chat(ctx, req)
	})
	h.eval, err = eval.NewService(st, blobs, target, eval.WithRunStarter(h.exec.Starter(statemachines.Evaluation)))
	if err != nil {
		t.Fatal(err)
	}
	base := []customize.Option{
		customize.WithCustomizer("local", h.runner), customize.WithWorkflow(executorWorkflow{h.exec}),
		customize.WithTaskCompleter(h.exec), customize.WithSuiteStore(evalsuite.New(h.eval, blobs)), customize.WithPollSeconds(1),
	}
	for _, e := range extra {
		base = append(base, e(h)...)
	}
	h.svc, err = customize.NewService(st, blobs, h.reg, base...)
	if err != nil {
		t.Fatal(err)
	}
	h.reg.ObserveReviews(h.svc.ObserveReview)
	h.exec.Bind(flow.ResourceStartExecutionSync, h.exec.StartExecutionSync())
	h.exec.Bind(customize.ResourceBedrockSync, flow.TaskFunc(h.svc.BedrockSyncTask()))
	register(t, h.exec, statemachines.Evaluation, h.eval.Tasks(), nil)
	register(t, h.exec, "customization", h.svc.Tasks(), map[string]string{
		customize.PlaceholderEvaluationMachine: "arn:aws:states:local:000000000000:stateMachine:" + statemachines.Evaluation,
	})
	return h
}

func (h *harness) upload(t testing.TB, tenant, name, body string) string {
	t.Helper()
	f, err := h.svc.CreateFile(context.Background(), tenant, name, customize.PurposeFineTune, strings.NewReader(body), nil)
	if err != nil {
		t.Fatal(err)
	}
	return f.ID
}

// waitJob polls the job until done reports true or the job's flow has ended.
func (h *harness) waitJob(t testing.TB, tenant, id string, done func(*customize.Job) bool) *customize.Job {
	t.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		j, err := h.svc.GetJob(context.Background(), tenant, id)
		if err != nil {
			t.Fatal(err)
		}
		if done(j) {
			return j
		}
		if ex, err := h.exec.Describe(context.Background(), j.Details.Execution); err == nil && ex.Status != flow.StatusRunning {
			if j, _ = h.svc.GetJob(context.Background(), tenant, id); done(j) {
				return j
			}
			t.Fatalf("the flow ended %s (%s: %s) before the job got there; job %+v", ex.Status, ex.Error, ex.Cause, j)
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s did not get there within five minutes: %+v", id, j)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (h *harness) events(t testing.TB, tenant, id string) []customize.Event {
	t.Helper()
	var all []customize.Event
	after := ""
	for {
		page, err := h.svc.ListEvents(context.Background(), tenant, id, after, 100)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page.Data...)
		if !page.HasMore {
			return all
		}
		after = page.Data[len(page.Data)-1].ID
	}
}
