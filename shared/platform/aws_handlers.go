package platform

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3vectorsapi "github.com/aws/aws-sdk-go-v2/service/s3vectors"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/plinth-ai/plinth/shared/audit"
	"github.com/plinth-ai/plinth/shared/auth"
	"github.com/plinth-ai/plinth/shared/console"
	"github.com/plinth-ai/plinth/shared/eval"
	"github.com/plinth-ai/plinth/shared/eval/eventbus"
	"github.com/plinth-ai/plinth/shared/gateway"
	"github.com/plinth-ai/plinth/shared/guardrail/guardrailhttp"
	"github.com/plinth-ai/plinth/shared/httpapi"
	"github.com/plinth-ai/plinth/shared/humaneval"
	"github.com/plinth-ai/plinth/shared/rag"
	"github.com/plinth-ai/plinth/shared/rag/index"
	"github.com/plinth-ai/plinth/shared/rag/s3vectors"
	"github.com/plinth-ai/plinth/shared/registry"
	"github.com/plinth-ai/plinth/shared/tenant"
	"github.com/plinth-ai/plinth/shared/tenant/gatewayauth"
	"github.com/plinth-ai/plinth/shared/toolhub"
	"github.com/plinth-ai/plinth/shared/usage"
)

// The per-function assemblies below are functions, not methods of AWS: a binary links
// only the ones it calls (exported methods survive dead-code elimination whenever
// reflection-based method lookup is linked, which would put every capability in every
// function).

// DefaultAnswerModel is the chat model grounded answers use when a request names none.
const DefaultAnswerModel = "local-chat"

// authenticator admits tenant callers in AWS: the key authorizer's context first, then
// an IAM identity API Gateway verified, then (defence in depth) a bearer key read
// directly.
func (a *AWS) authenticator() *gatewayauth.Authenticator {
	return gatewayauth.New(a.Tenants, gatewayauth.WithAuthorizerContext(authorizerContext), gatewayauth.WithIAMIdentity(iamIdentity))
}

// tenantAPI serves v1 behind tenant authentication and key scopes, with the platform's
// request IDs, panic recovery and error-shaped 404/405s.
func (a *AWS) tenantAPI(v1 *http.ServeMux, extra func(root *http.ServeMux)) http.Handler {
	root := http.NewServeMux()
	if extra != nil {
		extra(root)
	}
	root.Handle("/v1/", notFound(v1, gateway.Authenticate(a.authenticator(), logRoute(v1, auditTrail(a.Audit, v1, scopes(v1))))))
	return apiGatewayRequestIDs(requestIDs(requestLog(a.Log, recoverer(a.Log, notFound(root, root)))))
}

// GatewayHandler is the gateway function's HTTP API: /v1/chat/completions,
// /v1/embeddings, /v1/models, /v1/usage, /v1/session, /v1/feedback and the reviewers'
// /v1/review-queues (when PLINTH_EVAL_BUCKET is set), plus unauthenticated /healthz,
// /openapi.json and the web console's static files under /console/.
func GatewayHandler(a *AWS) (http.Handler, error) {
	p, err := a.gateway()
	if err != nil {
		return nil, err
	}
	v1 := http.NewServeMux()
	p.gw.Routes(v1)
	usage.PublicRoutes(v1, p.usage)
	if a.cfg.EvalBucket != "" {
		// Feedback only writes records: a bare evaluation service (no runs, events or
		// scoring) keeps the gateway binary small.
		blobs, err := a.bucket(EnvEvalBucket, a.cfg.EvalBucket)
		if err != nil {
			return nil, err
		}
		svc, err := eval.NewService(a.Store, blobs, evalTarget(p.gw))
		if err != nil {
			return nil, err
		}
		eval.FeedbackRoutes(v1, svc)
		// A tenant's reviewers review with their own key; queues are built by admins.
		reviews, err := humaneval.NewService(a.Store, blobs)
		if err != nil {
			return nil, err
		}
		humaneval.ReviewerRoutes(v1, reviews)
	}
	console.TenantSessionRoute(v1)
	var toolsErr error
	h := a.tenantAPI(v1, func(root *http.ServeMux) {
		root.HandleFunc("GET /healthz", healthz)
		root.HandleFunc("GET /openapi.json", serveOpenAPI)
		root.Handle("GET /console/{path...}", console.Handler())
		toolsErr = a.mountTools(root, v1)
	})
	return h, toolsErr
}

// GuardrailsHandler is the guardrails function's API: POST /v1/guardrails/apply.
func GuardrailsHandler(a *AWS) (http.Handler, error) {
	svc, err := a.guardrails()
	if err != nil {
		return nil, err
	}
	v1 := http.NewServeMux()
	guardrailhttp.Routes(v1, svc)
	return a.tenantAPI(v1, nil), nil
}

// RetrievalHandler is the retrieval function's API: /v1/knowledge-bases/{kb}/documents
// (upload, list, get, delete), /retrieve and /answer.
func RetrievalHandler(a *AWS) (http.Handler, error) {
	svc, err := a.ragService()
	if err != nil {
		return nil, err
	}
	v1 := http.NewServeMux()
	rag.Routes(v1, svc)
	return a.tenantAPI(v1, nil), nil
}

// AdminHandler is the admin function's API under /admin/ (IAM-authorized by API Gateway;
// every verified IAM caller is a platform admin): registry, tenants and keys, usage
// reports, guardrail policies, and, when their buckets are configured, knowledge bases
// and evaluation suites. With PLINTH_SCHEDULE_GROUP and PLINTH_SCHEDULER_ROLE_ARN, every
// change to a suite reconciles the group's EventBridge Scheduler schedules (one per
// scheduled suite, starting the evaluation state machine, DLQ PLINTH_SCHEDULER_DLQ_ARN).
// It seeds the built-in models on first use of a table.
func AdminHandler(ctx context.Context, a *AWS) (http.Handler, error) {
	if err := a.Registry.SeedBuiltins(ctx); err != nil {
		return nil, err
	}
	p, err := a.gateway()
	if err != nil {
		return nil, err
	}
	admin := http.NewServeMux()
	registry.Routes(admin, a.Registry)
	registry.PromptRoutes(admin, a.Registry)
	tenant.Routes(admin, a.Tenants)
	usage.AdminRoutes(admin, p.usage)
	audit.Routes(admin, a.AuditLog)
	tools, _, err := a.tools()
	if err != nil {
		return nil, err
	}
	toolhub.Routes(admin, tools)
	console.AdminSessionRoute(admin)
	gsvc, err := a.guardrails()
	if err != nil {
		return nil, err
	}
	guardrailhttp.Routes(admin, gsvc)
	var ragSvc *rag.Service
	if a.cfg.DocumentsBucket != "" && a.cfg.IndexBucket != "" {
		if ragSvc, err = a.ragService(); err != nil {
			return nil, err
		}
		rag.Routes(admin, ragSvc)
	}
	var handler http.Handler = admin
	if a.cfg.EvalBucket != "" {
		esvc, err := a.evalService(ragSvc)
		if err != nil {
			return nil, err
		}
		eval.Routes(admin, esvc)
		blobs, err := a.bucket(EnvEvalBucket, a.cfg.EvalBucket)
		if err != nil {
			return nil, err
		}
		reviews, err := humaneval.NewService(a.Store, blobs, humaneval.WithRuns(evalRuns{esvc}), humaneval.WithFeedback(evalFeedback{esvc}))
		if err != nil {
			return nil, err
		}
		humaneval.AdminRoutes(admin, reviews)
		if a.cfg.ScheduleGroup != "" && a.cfg.SchedulerRoleARN != "" && a.cfg.EvaluationStateMachineARN != "" {
			sync := &schedulerSync{client: a.schedulerClient(), suites: esvc.Schedules, group: a.cfg.ScheduleGroup,
				machine: a.cfg.EvaluationStateMachineARN, role: a.cfg.SchedulerRoleARN, dlq: a.cfg.SchedulerDLQARN, log: a.Log}
			handler = sync.syncAfterChanges(admin)
		}
	}
	root := http.NewServeMux()
	root.Handle("/admin/", notFound(admin, iamAdmin(logRoute(admin, auditTrail(a.Audit, admin, handler)))))
	return apiGatewayRequestIDs(requestIDs(requestLog(a.Log, recoverer(a.Log, notFound(root, root))))), nil
}

// iamAdmin admits the IAM principal API Gateway verified as a platform admin; a request
// without one (the route is not IAM-authorized) is refused.
func iamAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arn, ok := iamIdentity(r)
		if !ok {
			httpapi.WriteError(w, httpapi.Errorf(http.StatusForbidden, "iam_required", "the admin API needs AWS IAM (SigV4) authorization"))
			return
		}
		p := auth.Principal{Admin: true, KeyID: arn}
		next.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), p)))
	})
}

// IngestTasks returns the ingestion flow's tasks keyed by placeholder name.
func IngestTasks(a *AWS) (map[string]TaskFunc, error) {
	svc, err := a.ragService()
	if err != nil {
		return nil, err
	}
	return svc.Tasks(), nil
}

// EvalTasks returns the evaluation flow's tasks keyed by placeholder name. Knowledge-base
// targets are available when the documents and index buckets are configured.
func EvalTasks(a *AWS) (map[string]TaskFunc, error) {
	var ragSvc *rag.Service
	if a.cfg.DocumentsBucket != "" && a.cfg.IndexBucket != "" {
		var err error
		if ragSvc, err = a.ragService(); err != nil {
			return nil, err
		}
	}
	svc, err := a.evalService(ragSvc)
	if err != nil {
		return nil, err
	}
	return svc.Tasks(), nil
}

// ragService builds knowledge bases on S3: documents and ingestion intermediates in the
// documents bucket, index segments in the index bucket, and with PLINTH_VECTOR_BUCKET the
// dense vectors of "s3vectors" knowledge bases in S3 Vectors. Embeddings and answers go
// through the gateway as the owning tenant. Ingestion starts from the bucket's
// EventBridge notifications, so uploads need no starter.
func (a *AWS) ragService() (*rag.Service, error) {
	docs, err := a.bucket(EnvDocumentsBucket, a.cfg.DocumentsBucket)
	if err != nil {
		return nil, err
	}
	idx, err := a.bucket(EnvIndexBucket, a.cfg.IndexBucket)
	if err != nil {
		return nil, err
	}
	p, err := a.gateway()
	if err != nil {
		return nil, err
	}
	var vectors []rag.Option
	if a.cfg.VectorBucket != "" {
		api := a.cfg.S3Vectors
		if api == nil {
			api = s3vectorsapi.NewFromConfig(a.sdk)
		}
		vectors = append(vectors, rag.WithVectorIndexes(index.NewManager(idx, index.WithVectorStore(s3vectors.New(api, a.cfg.VectorBucket)))))
	}
	return rag.NewService(a.Store, docs, index.NewManager(idx), append(vectors,
		rag.WithBucket(a.cfg.DocumentsBucket),
		rag.WithEmbedders(ragEmbedders(p.gw)),
		rag.WithChat(ragChat(p.gw), DefaultAnswerModel),
	)...), nil
}

// evalService builds evaluation on the eval bucket: targets and judges through the
// gateway as the suite's tenant, runs started on the evaluation state machine, events
// published to the platform bus; ragSvc (optional) serves knowledge-base targets.
func (a *AWS) evalService(ragSvc *rag.Service) (*eval.Service, error) {
	blobs, err := a.bucket(EnvEvalBucket, a.cfg.EvalBucket)
	if err != nil {
		return nil, err
	}
	p, err := a.gateway()
	if err != nil {
		return nil, err
	}
	opts := []eval.Option{eval.WithLogger(a.Log), eval.WithEmbedder(localEmbedder{inv: p.inv, models: a.Registry})}
	if ragSvc != nil {
		opts = append(opts, eval.WithRetriever(ragRetriever{ragSvc}))
	}
	if arn := a.cfg.EvaluationStateMachineARN; arn != "" {
		opts = append(opts, eval.WithRunStarter(a.startExecution(arn)))
	}
	if a.cfg.EventBus != "" {
		pub, err := eventbus.New(a.eventBridgeClient(), a.cfg.EventBus)
		if err != nil {
			return nil, err
		}
		opts = append(opts, eval.WithEventPublisher(pub))
	}
	opts = append(opts, eval.WithPromptResolver(promptResolver(a.Registry)))
	opts = append(opts, eval.WithJudge(evalJudge(p.gw)))
	return eval.NewService(a.Store, blobs, evalTarget(p.gw), opts...)
}

// startExecution starts the state machine with input and returns the execution ARN.
func (a *AWS) startExecution(arn string) func(ctx context.Context, input json.RawMessage) (string, error) {
	return func(ctx context.Context, input json.RawMessage) (string, error) {
		out, err := a.sfnClient().StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(arn), Input: aws.String(string(input))})
		if err != nil {
			return "", fmt.Errorf("start execution of %s: %w", arn, err)
		}
		return aws.ToString(out.ExecutionArn), nil
	}
}
