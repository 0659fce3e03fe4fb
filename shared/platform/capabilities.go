package platform

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/plinth-ai/plinth/shared/eval"
	"github.com/plinth-ai/plinth/shared/flow"
	"github.com/plinth-ai/plinth/shared/gateway"
	"github.com/plinth-ai/plinth/shared/humaneval"
	"github.com/plinth-ai/plinth/shared/provider"
	"github.com/plinth-ai/plinth/shared/rag"
	"github.com/plinth-ai/plinth/shared/rag/index"
	"github.com/plinth-ai/plinth/shared/registry"
	"github.com/plinth-ai/plinth/shared/schedule"
	"github.com/plinth-ai/plinth/statemachines"
)

// wireCapabilities adds the flow executor, knowledge bases and evaluation to the local
// platform. Their model calls go through the gateway service (gw) as the owning tenant.
func (l *Local) wireCapabilities(ctx context.Context, cfg Config, gw *gateway.Gateway, inv *Invoker, v1, admin *http.ServeMux) error {
	exec := flow.NewExecutor(flow.WithStore(flow.NewStoreBacked(l.Store)), flow.WithLogger(l.log))
	l.Executor = exec
	l.closers = append([]func(context.Context) error{exec.Close}, l.closers...)

	indexes := index.NewManager(l.Blobs, index.WithCacheDir(filepath.Join(cfg.DataDir, "index-cache")))
	l.RAG = rag.NewService(l.Store, l.Blobs, indexes, rag.WithClock(l.now),
		rag.WithEmbedders(ragEmbedders(gw)),
		rag.WithChat(ragChat(gw), DefaultAnswerModel),
		rag.WithStarter(func(ctx context.Context, event json.RawMessage) error {
			_, err := exec.Start(ctx, statemachines.Ingestion, "", event)
			return err
		}),
	)

	var err error
	l.Eval, err = eval.NewService(l.Store, l.Blobs, evalTarget(gw), eval.WithClock(l.now),
		eval.WithJudge(evalJudge(gw)),
		eval.WithRunStarter(exec.Starter(statemachines.Evaluation)),
		eval.WithRetriever(ragRetriever{l.RAG}),
		eval.WithEmbedder(localEmbedder{inv: inv, models: l.Registry}),
		eval.WithEventPublisher(eval.NewMemoryPublisher(func(e eval.Event) {
			l.log.Info("evaluation event", "detail_type", e.DetailType, "source", e.Source, "detail", string(e.Detail))
		})),
		eval.WithLogger(l.log),
		eval.WithPromptResolver(promptResolver(l.Registry)),
	)
	if err != nil {
		return fmt.Errorf("evaluation service: %w", err)
	}

	if err := registerMachine(exec, statemachines.Ingestion, l.RAG.Tasks()); err != nil {
		return err
	}
	if err := registerMachine(exec, statemachines.Evaluation, l.Eval.Tasks()); err != nil {
		return err
	}
	if n, err := exec.Resume(ctx); err != nil {
		return fmt.Errorf("resume executions: %w", err)
	} else if n > 0 {
		l.log.Info("resumed unfinished executions", "count", n)
	}

	l.HumanEval, err = humaneval.NewService(l.Store, l.Blobs,
		humaneval.WithRuns(evalRuns{l.Eval}), humaneval.WithFeedback(evalFeedback{l.Eval}))
	if err != nil {
		return fmt.Errorf("human evaluation: %w", err)
	}

	l.grounder.svc = l.RAG
	for _, mux := range []*http.ServeMux{v1, admin} {
		rag.Routes(mux, l.RAG)
		eval.Routes(mux, l.Eval)
	}
	humaneval.AdminRoutes(admin, l.HumanEval)
	humaneval.ReviewerRoutes(v1, l.HumanEval)
	exec.Routes(admin)

	// Background loops stop, and are waited for, before anything they use is closed.
	bg, cancel := context.WithCancel(context.Background())
	var loops sync.WaitGroup
	l.closers = append([]func(context.Context) error{func(context.Context) error {
		cancel()
		loops.Wait()
		return nil
	}}, l.closers...)
	schedules := &scheduleSync{
		sched:  schedule.NewScheduler(),
		log:    l.log,
		active: map[string]string{},
		start: func(ctx context.Context, input json.RawMessage) error {
			_, err := exec.Start(ctx, statemachines.Evaluation, "", input)
			return err
		},
		list: func(ctx context.Context) (map[string]scheduled, error) {
			suites, err := l.Eval.Schedules(ctx)
			if err != nil {
				return nil, err
			}
			out := make(map[string]scheduled, len(suites))
			for _, s := range suites {
				out[s.Tenant+"/"+s.SuiteID] = scheduled{Expr: s.Schedule, Input: s.Input}
			}
			return out, nil
		},
	}
	loops.Add(2)
	go func() { defer loops.Done(); schedules.run(bg, 30*time.Second) }()
	go func() { defer loops.Done(); l.watchInbox(bg, filepath.Join(cfg.DataDir, "inbox"), 2*time.Second) }()
	return nil
}

// ragRetriever lets evaluation suites with a knowledge base retrieve contexts.
type ragRetriever struct{ svc *rag.Service }

func (r ragRetriever) Retrieve(ctx context.Context, tenantID, kb, query string, topK int) ([]string, error) {
	resp, err := r.svc.Retrieve(ctx, tenantID, kb, rag.RetrieveRequest{Query: query, TopK: topK})
	if err != nil {
		return nil, err
	}
	out := make([]string, len(resp.Results))
	for i, res := range resp.Results {
		out[i] = res.Text
	}
	return out, nil
}

// localEmbedder scores embedding similarity with the built-in embedding model (a
// platform cost, not charged to a tenant).
type localEmbedder struct {
	inv    *Invoker
	models *registry.Service
}

func (e localEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	m, err := e.models.Resolve(ctx, "local-embed")
	if err != nil {
		return nil, err
	}
	resp, _, err := e.inv.Embed(ctx, m, &provider.EmbeddingRequest{Model: m.ID, Input: texts})
	if err != nil {
		return nil, err
	}
	out := make([][]float32, len(texts))
	for _, d := range resp.Data {
		if d.Index >= 0 && d.Index < len(out) {
			out[d.Index] = d.Embedding
		}
	}
	return out, nil
}

// semanticEmbedder embeds prompts for the semantic cache with the built-in embedding
// model: lookups stay local and free, whatever model answered the request.
func semanticEmbedder(inv *Invoker, models *registry.Service) func(ctx context.Context, text string) ([]float32, error) {
	e := localEmbedder{inv: inv, models: models}
	return func(ctx context.Context, text string) ([]float32, error) {
		v, err := e.Embed(ctx, []string{text})
		if err != nil {
			return nil, err
		}
		return v[0], nil
	}
}

// promptResolver lets evaluation suites name versioned prompt templates of the registry.
func promptResolver(reg *registry.Service) eval.PromptResolver {
	return func(ctx context.Context, id string, version int) (string, string, int, error) {
		p, err := reg.Prompt(ctx, id, version)
		if err != nil {
			return "", "", 0, err
		}
		return p.Template, p.System, p.Version, nil
	}
}
