package platform

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"

	"github.com/plinth-ai/plinth/shared/cache"
	"github.com/plinth-ai/plinth/shared/eval"
	"github.com/plinth-ai/plinth/shared/gateway"
	"github.com/plinth-ai/plinth/shared/gateway/grounding"
	"github.com/plinth-ai/plinth/shared/gateway/guardrails"
	"github.com/plinth-ai/plinth/shared/gateway/routing"
	"github.com/plinth-ai/plinth/shared/guardrail"
	"github.com/plinth-ai/plinth/shared/guardrail/bedrockguard"
	"github.com/plinth-ai/plinth/shared/humaneval"
	"github.com/plinth-ai/plinth/shared/provider"
	"github.com/plinth-ai/plinth/shared/provider/router"
	"github.com/plinth-ai/plinth/shared/quota"
	"github.com/plinth-ai/plinth/shared/rag"
	"github.com/plinth-ai/plinth/shared/rag/index"
	"github.com/plinth-ai/plinth/shared/registry"
	"github.com/plinth-ai/plinth/shared/usage"
	"github.com/plinth-ai/plinth/statemachines"
)

// DefaultAnswerModel is the chat model grounded answers use when a request names none.
const DefaultAnswerModel = "local-chat"

// Guardrails is the guardrail service: the engine, stored policies and tenants'
// assignments. With AWS configuration, policies that name an Amazon Bedrock guardrail
// are evaluated by ApplyGuardrail.
func Guardrails(p *Platform) (*guardrail.Service, error) {
	return part(p, partGuardrails, func() (*guardrail.Service, error) {
		var opts []guardrail.Option
		if p.b.AWS != nil {
			opts = append(opts, guardrail.WithDelegate(bedrockguard.New(bedrockruntime.NewFromConfig(*p.b.AWS))))
		}
		if id := p.b.GuardrailEmbeddingModel; id != "" {
			inv, err := invoker(p)
			if err != nil {
				return nil, err
			}
			opts = append(opts, guardrail.WithEmbedder(modelEmbedder{inv: inv, models: p.Registry, model: id}))
		}
		svc, err := newGuardrails(p.b.Data.Store, p.Tenants, p.now, opts...)
		if err != nil {
			return nil, fmt.Errorf("guardrail engine: %w", err)
		}
		return svc, nil
	})
}

// invoker routes calls to models' deployments: provider keys from the Secrets backend,
// Bedrock on the AWS configuration, the shared upstream HTTP client.
func invoker(p *Platform) (*routing.Invoker, error) {
	return part(p, partInvoker, func() (*routing.Invoker, error) {
		lib, err := tunedModels(p)
		if err != nil {
			return nil, err
		}
		opts := []router.BuildOption{router.WithSharedHTTPClient(p.b.Upstream), router.WithLocalChat(localTuneModels(lib))}
		if p.b.AWS != nil {
			opts = append(opts, router.WithAWSConfig(*p.b.AWS))
		}
		return routing.New(router.New(p.b.Router...), p.Registry, p.b.Secrets, append(opts, p.b.Deployments...)...), nil
	})
}

// Gateway is the model gateway service: tenants' guardrail policies, quotas, the exact
// and semantic response cache, usage records, metrics, and grounding in knowledge bases
// (built when a request first names one).
func Gateway(p *Platform) (*gateway.Gateway, error) {
	return part(p, partGateway, func() (*gateway.Gateway, error) {
		guards, err := Guardrails(p)
		if err != nil {
			return nil, err
		}
		inv, err := invoker(p)
		if err != nil {
			return nil, err
		}
		st := p.b.Data.Store
		opts := []gateway.Option{
			gateway.WithLogger(p.log),
			gateway.WithClock(p.now),
			gateway.WithTenants(p.Tenants),
			gateway.WithGuard(guardrails.New(guards)),
			gateway.WithGrounder(grounding.New(func() (*rag.Service, error) { return RAG(p) })),
			gateway.WithQuota(quota.New(st, quota.WithClock(p.now))),
			gateway.WithUsage(p.Usage),
			gateway.WithCache(cache.New(st, cache.WithClock(p.now), cache.WithEmbedder(semanticEmbedder(inv, p.Registry)))),
		}
		if p.b.Metrics != nil {
			opts = append(opts, gateway.WithMetrics(p.b.Metrics))
		}
		return gateway.New(p.Registry, inv, opts...), nil
	})
}

// usageService answers usage queries and chargeback reports.
func usageService(p *Platform) (*usage.Service, error) {
	return part(p, partUsage, func() (*usage.Service, error) {
		return usage.NewService(p.b.Data.Store, p.Tenants, usage.WithQueryClock(p.now)), nil
	})
}

// RAG is the knowledge-base service: documents and ingestion intermediates in the
// documents bucket, index segments in the index bucket, dense vectors of "s3vectors"
// knowledge bases in the Vectors backend. Embeddings and answers go through the gateway
// as the owning tenant. It needs the documents and index buckets.
func RAG(p *Platform) (*rag.Service, error) {
	return part(p, partRAG, func() (*rag.Service, error) {
		cell := p.b.Data
		if cell.Blobs.Documents == nil || cell.Blobs.Index == nil {
			return nil, fmt.Errorf("knowledge bases need the documents and index buckets: %w", ErrMissingConfig)
		}
		gw, err := Gateway(p)
		if err != nil {
			return nil, err
		}
		var idxOpts []index.Option
		if cell.IndexCacheDir != "" {
			idxOpts = append(idxOpts, index.WithCacheDir(cell.IndexCacheDir))
			if cells := p.b.Cells; cells != nil {
				// A silo tenant's segments are read from its own cell into memory only:
				// no copy lands in the pool's cache directory.
				idxOpts = append(idxOpts, index.WithTenantCacheDir(func(tenantID string) string {
					if cells.IsSilo(tenantID) {
						return ""
					}
					return cell.IndexCacheDir
				}))
			}
		}
		opts := []rag.Option{
			rag.WithClock(p.now),
			rag.WithEmbedders(ragEmbedders(gw)),
			rag.WithChat(ragChat(gw), DefaultAnswerModel),
			rag.WithReferences(references{p}.ragRefs()),
		}
		if cell.Blobs.DocumentsName != "" {
			opts = append(opts, rag.WithBucket(cell.Blobs.DocumentsName))
		}
		if cells := p.b.Cells; cells != nil {
			// A silo tenant's documents live in its own cell's documents bucket.
			opts = append(opts, rag.WithBucketOf(cells.documentsBucket))
		}
		if cell.Vectors != nil {
			opts = append(opts, rag.WithVectorIndexes(index.NewManager(cell.Blobs.Index, append(idxOpts, index.WithVectorStore(cell.Vectors))...)))
		}
		if cell.IndexBackend != "" {
			opts = append(opts, rag.WithDefaultIndexBackend(cell.IndexBackend))
		}
		if p.b.IngestOnUpload && p.b.Flows != nil {
			opts = append(opts, rag.WithStarter(func(ctx context.Context, event json.RawMessage) error {
				_, err := p.startFlow(ctx, statemachines.Ingestion, event)
				return err
			}))
		}
		return rag.NewService(cell.Store, cell.Blobs.Documents, index.NewManager(cell.Blobs.Index, idxOpts...), opts...), nil
	})
}

// Eval is the evaluation service on the eval bucket: targets and judges through the
// gateway as the suite's tenant, runs started on the Flows backend, events to the
// Events backend, knowledge-base targets when knowledge bases are available. It needs
// the eval bucket.
func Eval(p *Platform) (*eval.Service, error) {
	return part(p, partEval, func() (*eval.Service, error) {
		blobs := p.b.Data.Blobs.Eval
		if blobs == nil {
			return nil, fmt.Errorf("evaluation needs the eval bucket: %w", ErrMissingConfig)
		}
		gw, err := Gateway(p)
		if err != nil {
			return nil, err
		}
		inv, err := invoker(p)
		if err != nil {
			return nil, err
		}
		events := p.b.Events
		if events == nil {
			events = eval.NewMemoryPublisher(func(e eval.Event) {
				p.log.Info("evaluation event", "detail_type", e.DetailType, "source", e.Source, "detail", string(e.Detail))
			})
		}
		opts := []eval.Option{
			eval.WithClock(p.now),
			eval.WithLogger(p.log),
			eval.WithJudge(evalJudge(gw)),
			eval.WithEmbedder(localEmbedder{inv: inv, models: p.Registry}),
			eval.WithEventPublisher(events),
			eval.WithPromptResolver(promptResolver(p.Registry)),
			eval.WithRetriever(ragRetriever{p}),
			eval.WithReferences(references{p}.evalRefs()),
		}
		if p.b.Flows != nil {
			opts = append(opts, eval.WithRunStarter(func(ctx context.Context, input json.RawMessage) (string, error) {
				return p.startFlow(ctx, statemachines.Evaluation, input)
			}))
		}
		return eval.NewService(p.b.Data.Store, blobs, evalTarget(gw), opts...)
	})
}

// HumanEval holds review queues, reviews and ground-truth datasets, built from
// evaluation runs and end users' feedback. It needs the eval bucket.
func HumanEval(p *Platform) (*humaneval.Service, error) {
	return part(p, partHumanEval, func() (*humaneval.Service, error) {
		ev, err := Eval(p)
		if err != nil {
			return nil, err
		}
		svc, err := humaneval.NewService(p.b.Data.Store, p.b.Data.Blobs.Eval,
			humaneval.WithRuns(evalRuns{ev}), humaneval.WithFeedback(evalFeedback{ev}),
			humaneval.WithTenants(references{p}.tenantExists), humaneval.WithClock(p.now))
		if err != nil {
			return nil, fmt.Errorf("human evaluation: %w", err)
		}
		return svc, nil
	})
}

// ragRetriever lets evaluation suites with a knowledge base retrieve contexts (when the
// platform has knowledge bases).
type ragRetriever struct{ p *Platform }

func (r ragRetriever) Retrieve(ctx context.Context, tenantID, kb, query string, topK int) ([]string, error) {
	svc, err := RAG(r.p)
	if err != nil {
		return nil, fmt.Errorf("knowledge-base targets: %w", err)
	}
	resp, err := svc.Retrieve(ctx, tenantID, kb, rag.RetrieveRequest{Query: query, TopK: topK})
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
	inv    *routing.Invoker
	models gateway.Models
}

func (e localEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	return modelEmbedder{inv: e.inv, models: e.models, model: "local-embed"}.Embed(ctx, texts)
}

// modelEmbedder embeds with a registry embedding model through the router, as a
// platform cost (the guardrails' denied topics, evaluation's similarity, the semantic
// cache): no tenant is charged.
type modelEmbedder struct {
	inv    *routing.Invoker
	models gateway.Models
	model  string
}

func (e modelEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	m, err := e.models.Resolve(ctx, e.model)
	if err != nil {
		return nil, fmt.Errorf("embedding model %s: %w", e.model, err)
	}
	if m.Kind != registry.KindEmbedding || !m.Status.Invocable() {
		return nil, fmt.Errorf("model %s is a %s model, %s: not an approved embedding model", e.model, m.Kind, m.Status)
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
func semanticEmbedder(inv *routing.Invoker, models gateway.Models) func(ctx context.Context, text string) ([]float32, error) {
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
		pr, err := reg.Prompt(ctx, id, version)
		if err != nil {
			return "", "", 0, err
		}
		return pr.Template, pr.System, pr.Version, nil
	}
}
