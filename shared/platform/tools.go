package platform

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/plinth-ai/plinth/shared/audit"
	"github.com/plinth-ai/plinth/shared/eval"
	"github.com/plinth-ai/plinth/shared/gateway"
	"github.com/plinth-ai/plinth/shared/gateway/guardrails"
	"github.com/plinth-ai/plinth/shared/guardrail"
	"github.com/plinth-ai/plinth/shared/mcpgw"
	"github.com/plinth-ai/plinth/shared/provider"
	"github.com/plinth-ai/plinth/shared/rag"
	"github.com/plinth-ai/plinth/shared/secret"
	"github.com/plinth-ai/plinth/shared/toolhub"
	"github.com/plinth-ai/plinth/shared/toolhub/builtin"
	"github.com/plinth-ai/plinth/shared/toolhub/lambdatool"
	"github.com/plinth-ai/plinth/shared/toolhub/mcpclient"
	"github.com/plinth-ai/plinth/shared/toolhub/openapitool"
	"github.com/plinth-ai/plinth/shared/usage"
)

// toolSecrets resolves tool servers' credentials like provider keys: a stored value, an
// environment variable, or (in AWS) a Secrets Manager secret.
func toolSecrets(resolve secret.Resolver) toolhub.Secrets {
	return func(ctx context.Context, c *toolhub.Credential) (string, error) {
		return resolve(ctx, secret.Ref{Owner: "tool credential", Value: c.Value, Env: c.Env, Secret: c.Secret})
	}
}

// Tooling is the tool catalog and the hub that calls tools for /mcp and agents.
type Tooling struct {
	Catalog *toolhub.Service
	Hub     *toolhub.Hub
}

// Tools builds the tool catalog and hub over the store, with guardrails and usage
// records shared with the model gateway, and the built-in tools over the platform's
// knowledge bases, guardrails and evaluations (those available here).
func Tools(p *Platform) (*Tooling, error) {
	return part(p, partTools, func() (*Tooling, error) {
		guards, err := Guardrails(p)
		if err != nil {
			return nil, err
		}
		st, log := p.b.Data.Store, p.log
		client := mcpclient.New(mcpclient.WithHTTPClient(p.b.Upstream), mcpclient.WithLogger(log))
		p.onClose(func(ctx context.Context) error { client.Close(ctx); return nil })
		svc := toolhub.NewService(st,
			toolhub.WithBackend(toolhub.KindMCP, mcpclient.NewBackend(client)),
			toolhub.WithBackend(toolhub.KindOpenAPI, openapitool.New(p.b.Upstream)),
			toolhub.WithBackend(toolhub.KindBuiltin, builtin.New(builtinPorts(p, guards))),
			toolhub.WithBackend(toolhub.KindLambda, lambdatool.New(lambdaClient(p.b.AWS))),
			toolhub.WithSecrets(toolSecrets(p.b.Secrets)),
			toolhub.WithGrantTenants(references{p}.tenantExists),
			toolhub.WithLogger(log), toolhub.WithClock(p.now))
		hub := toolhub.NewHub(svc,
			toolhub.WithGuard(toolGuard{g: guardrails.New(guards)}),
			toolhub.WithRecorder(toolRecorder{rec: p.Usage, trail: p.Audit, log: log, now: p.now}),
			toolhub.WithRateLimitStore(st),
			toolhub.WithTenants(p.Tenants.CachedTenant),
			toolhub.WithHubLogger(log))
		return &Tooling{Catalog: svc, Hub: hub}, nil
	})
}

// toolGuard applies the caller's tenant guardrail policy to tool arguments and results.
type toolGuard struct{ g *guardrails.Guard }

func (t toolGuard) Check(ctx context.Context, c *toolhub.Caller, src toolhub.GuardSource, texts []string) (toolhub.GuardVerdict, error) {
	gc := &gateway.Caller{Principal: c.Principal, Tenant: c.Tenant}
	var v gateway.GuardVerdict
	var err error
	if src == toolhub.GuardInput {
		msgs := make([]provider.Message, len(texts))
		for i, s := range texts {
			msgs[i] = provider.Message{Role: "user", Content: provider.TextContent(s)}
		}
		v, err = t.g.Input(ctx, gc, msgs)
	} else {
		v, err = t.g.Output(ctx, gc, texts)
	}
	return toolhub.GuardVerdict{Blocked: v.Blocked, Message: v.Message, Texts: v.Texts, Changed: v.Changed, Findings: v.Findings}, err
}

// toolRecorder writes one audit event per tool call or refusal, and a usage record per
// call (model "tool:<server>/<tool>", so usage reports and chargeback include tools).
type toolRecorder struct {
	now   func() time.Time
	rec   *usage.Recorder
	trail audit.Recorder
	log   *slog.Logger
}

func (t toolRecorder) RecordCall(ctx context.Context, r toolhub.CallRecord) {
	model := "tool:" + r.Server + "/" + r.Tool
	if r.Method != "tools/call" {
		model = "tool:" + r.Server + "#" + r.Method
	}
	if r.Server == "" {
		model = "tool:" + r.Tool
	}
	e := audit.Event{Tenant: r.Tenant, Actor: r.KeyID, ActorType: audit.ActorAPIKey, Action: "mcp." + r.Method,
		Resource: strings.TrimPrefix(model, "tool:"), RequestID: r.RequestID, Outcome: audit.OutcomeSuccess,
		Details: map[string]string{"status": r.Status, "latency_ms": strconv.FormatInt(r.LatencyMS, 10)}}
	switch {
	case strings.HasPrefix(r.KeyID, "arn:"):
		e.ActorType = audit.ActorIAM
	case r.Tenant == "":
		e.ActorType = audit.ActorAdmin
	}
	if e.Actor == "" {
		e.Actor = e.ActorType
	}
	switch r.Status {
	case "denied":
		e.Outcome = audit.OutcomeDenied
	case "blocked":
		e.Outcome = audit.OutcomeRejected
	case "error", "cancelled":
		e.Outcome = audit.OutcomeFailed
	}
	if r.Code != "" {
		e.ErrorCode = r.Code
	}
	t.trail.Record(ctx, e)
	if r.Tenant == "" || r.Status == "denied" {
		return
	}
	status := usage.StatusOK
	switch r.Status {
	case "error":
		status = usage.StatusError
	case "blocked":
		status = usage.StatusBlocked
	case "cancelled":
		status = usage.StatusCanceled
	}
	if err := t.rec.Record(ctx, usage.Record{RequestID: r.RequestID, Tenant: r.Tenant, KeyID: r.KeyID, Model: model,
		LatencyMS: r.LatencyMS, Guardrail: r.Guardrail, Status: status, Time: t.now().UTC()}); err != nil {
		t.log.ErrorContext(ctx, "tool usage record lost", "tenant", r.Tenant, "server", r.Server, "tool", r.Tool, "error", err)
	}
}

// mountMCP serves /mcp (and the OAuth metadata when configured) and GET /v1/tools.
func mountMCP(root, v1 *http.ServeMux, gw *mcpgw.Gateway) {
	gw.Routes(root)
	gw.ToolRoutes(v1)
}

// builtinPorts gives the built-in tools the platform's knowledge bases, guardrails and
// evaluations, each for the calling tenant only. Tools whose capability this runtime
// does not have (no buckets for it) answer that they are unavailable.
func builtinPorts(p *Platform, guards *guardrail.Service) builtin.Ports {
	ports := builtin.Ports{
		Guard: func(ctx context.Context, tenantID, source, text string) (any, error) {
			return guards.Apply(ctx, tenantID, guardrail.ApplyRequest{Source: guardrail.Source(source),
				Content: []guardrail.ContentBlock{{Text: &guardrail.TextBlock{Text: text}}}})
		},
	}
	blobs := p.b.Data.Blobs
	if blobs.Documents != nil && blobs.Index != nil {
		ports.Retrieve = func(ctx context.Context, tenantID, id, query string, topK int) (any, error) {
			kb, err := RAG(p)
			if err != nil {
				return nil, err
			}
			return kb.Retrieve(ctx, tenantID, id, rag.RetrieveRequest{Query: query, TopK: topK})
		}
	}
	if blobs.Eval == nil {
		return ports
	}
	ports.StartEvaluation = func(ctx context.Context, tenantID, suite string) (any, error) {
		ev, err := Eval(p)
		if err != nil {
			return nil, err
		}
		if tenantID == "" {
			return nil, builtin.ErrForeign
		}
		// The tenant's own suite only: another tenant's suite of the same ID is not seen,
		// exactly as one that does not exist.
		r, err := ev.StartRun(ctx, tenantID, suite, 0)
		if errors.Is(err, eval.ErrNotFound) {
			return nil, builtin.ErrForeign
		}
		return r, err
	}
	ports.EvaluationRun = func(ctx context.Context, tenantID, id string) (any, error) {
		ev, err := Eval(p)
		if err != nil {
			return nil, err
		}
		r, err := ev.GetRun(ctx, id)
		if err != nil {
			return nil, err
		}
		if r.Tenant != tenantID {
			return nil, builtin.ErrForeign
		}
		return r, nil
	}
	return ports
}

// lambdaClient builds the Lambda client of Lambda tool servers from the platform's AWS
// configuration, or, without one, the default chain when first needed
// (AWS_ENDPOINT_URL_LAMBDA points it at an emulator).
func lambdaClient(sdk *aws.Config) func(ctx context.Context) (lambdatool.InvokeAPI, error) {
	return func(ctx context.Context) (lambdatool.InvokeAPI, error) {
		if sdk != nil {
			return lambda.NewFromConfig(*sdk), nil
		}
		cfg, err := config.LoadDefaultConfig(ctx)
		if err != nil {
			return nil, err
		}
		return lambda.NewFromConfig(cfg), nil
	}
}
