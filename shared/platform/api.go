package platform

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/plinth-ai/plinth/shared/audit"
	"github.com/plinth-ai/plinth/shared/console"
	"github.com/plinth-ai/plinth/shared/eval"
	"github.com/plinth-ai/plinth/shared/flow"
	"github.com/plinth-ai/plinth/shared/gateway"
	"github.com/plinth-ai/plinth/shared/guardrail/guardrailhttp"
	"github.com/plinth-ai/plinth/shared/humaneval"
	"github.com/plinth-ai/plinth/shared/mcpgw"
	"github.com/plinth-ai/plinth/shared/rag"
	"github.com/plinth-ai/plinth/shared/registry"
	"github.com/plinth-ai/plinth/shared/tenant"
	"github.com/plinth-ai/plinth/shared/toolhub"
	"github.com/plinth-ai/plinth/shared/usage"
)

// An API is one part of the platform's HTTP surface: it registers its routes on the
// muxes. A runtime serves the APIs it is responsible for (the local platform all of
// them, each Lambda function those API Gateway routes to it).
type API func(p *Platform, m *Muxes) error

// Muxes are the surfaces routes are registered on: V1 routes are served behind the
// edge's tenant authentication and key scopes, Admin routes behind its admin
// authentication, Root routes as they are (/healthz, /openapi.json, and /mcp, which
// authenticates itself with Edge.Tenants).
type Muxes struct {
	Root, V1, Admin *http.ServeMux
	// Edge is the runtime's edge, for routes that authenticate themselves.
	Edge Edge

	adminWrap []func(http.Handler) http.Handler
}

// WrapAdmin adds middleware around the admin routes, inside admin authentication.
func (m *Muxes) WrapAdmin(mw func(http.Handler) http.Handler) { m.adminWrap = append(m.adminWrap, mw) }

// Edge is how a runtime admits callers.
type Edge struct {
	// Tenants admits /v1 callers (API keys, SigV4, an authorizer's context); nil serves
	// no /v1 routes.
	Tenants gateway.Authenticator
	// Admin admits /admin callers (the admin key locally, IAM in AWS); nil serves no
	// /admin routes.
	Admin func(http.Handler) http.Handler
	// Wrap, when set, wraps the whole handler (API Gateway's request IDs in Lambda).
	Wrap func(http.Handler) http.Handler
	// MCPOAuth, when set, makes /mcp accept OAuth 2.1 access tokens issued for it too.
	MCPOAuth *mcpgw.OAuthConfig
}

// Handler serves apis behind edge, with the platform's request IDs, request log,
// audit trail, panic recovery and error-shaped 404/405s. An API whose backends are
// missing (ErrMissingConfig) is left out and logged; other failures are returned.
func Handler(p *Platform, edge Edge, apis ...API) (http.Handler, error) {
	m := &Muxes{Root: http.NewServeMux(), V1: http.NewServeMux(), Admin: http.NewServeMux(), Edge: edge}
	for _, api := range apis {
		if err := api(p, m); err != nil {
			if errors.Is(err, ErrMissingConfig) {
				p.log.Warn("API not served: its backends are not configured", "error", err)
				continue
			}
			return nil, err
		}
	}
	if edge.Tenants != nil {
		m.Root.Handle("/v1/", notFound(m.V1, gateway.Authenticate(edge.Tenants, logRoute(m.V1, auditTrail(p.Audit, m.V1, authorizer(p, m.V1)(m.V1))))))
	}
	if edge.Admin != nil {
		var admin http.Handler = m.Admin
		for _, mw := range m.adminWrap {
			admin = mw(admin)
		}
		admin = authorizer(p, m.Admin)(admin)
		m.Root.Handle("/admin/", notFound(m.Admin, edge.Admin(logRoute(m.Admin, auditTrail(p.Audit, m.Admin, admin)))))
	}
	h := requestIDs(requestLog(p.log, recoverer(p.log, serveMux(m.Root))))
	if edge.Wrap != nil {
		h = edge.Wrap(h)
	}
	return h, nil
}

// AllAPIs are every API of the platform: what the local platform serves (its
// /openapi.json naming the local platform as the server).
func AllAPIs() []API {
	return []API{LocalHealthAPI, ConsoleAPI, ModelsAPI, UsageAPI, FeedbackAPI, GuardrailsAPI, KnowledgeAPI, EvaluationAPI,
		HumanEvalAPI, RegistryAPI, TenantsAPI, TierAPI, AuditAPI, ToolsAPI, AgentsAPI, KPIsAPI, FineTuningAPI, FederationAPI}
}

// HealthAPI serves GET /healthz and GET /openapi.json, unauthenticated.
func HealthAPI(_ *Platform, m *Muxes) error {
	m.Root.HandleFunc("GET /healthz", healthz)
	m.Root.HandleFunc("GET /openapi.json", serveOpenAPI)
	return nil
}

// LocalHealthAPI is HealthAPI with the document naming the local platform as its server.
func LocalHealthAPI(_ *Platform, m *Muxes) error {
	m.Root.HandleFunc("GET /healthz", healthz)
	m.Root.HandleFunc("GET /openapi.json", serveLocalOpenAPI)
	return nil
}

// ConsoleAPI serves the web console: its static files under /console/ (public, like the
// OpenAPI document: every call the console makes carries the signed-in user's own
// credential) and who is signed in, GET /v1/session and GET /admin/session.
func ConsoleAPI(_ *Platform, m *Muxes) error {
	m.Root.Handle("GET /console/{path...}", console.Handler())
	console.TenantSessionRoute(m.V1)
	console.AdminSessionRoute(m.Admin)
	return nil
}

// ModelsAPI serves the OpenAI-compatible gateway: /v1/chat/completions,
// /v1/embeddings, /v1/models.
func ModelsAPI(p *Platform, m *Muxes) error {
	gw, err := Gateway(p)
	if err != nil {
		return err
	}
	gw.Routes(m.V1)
	return nil
}

// UsageAPI serves GET /v1/usage and the chargeback report GET /admin/usage/report.
func UsageAPI(p *Platform, m *Muxes) error {
	svc, err := usageService(p)
	if err != nil {
		return err
	}
	usage.PublicRoutes(m.V1, svc)
	usage.AdminRoutes(m.Admin, svc)
	return nil
}

// FeedbackAPI serves POST /v1/feedback (needs the eval bucket).
func FeedbackAPI(p *Platform, m *Muxes) error {
	svc, err := Eval(p)
	if err != nil {
		return fmt.Errorf("feedback: %w", err)
	}
	eval.FeedbackRoutes(m.V1, svc)
	return nil
}

// GuardrailsAPI serves POST /v1/guardrails/apply and /admin/guardrail-policies.
func GuardrailsAPI(p *Platform, m *Muxes) error {
	svc, err := Guardrails(p)
	if err != nil {
		return err
	}
	guardrailhttp.Routes(m.V1, svc)
	guardrailhttp.Routes(m.Admin, svc)
	return nil
}

// KnowledgeAPI serves /v1/knowledge-bases/{kb}/... and /admin/knowledge-bases (needs
// the documents and index buckets).
func KnowledgeAPI(p *Platform, m *Muxes) error {
	svc, err := RAG(p)
	if err != nil {
		return err
	}
	rag.Routes(m.V1, svc)
	rag.Routes(m.Admin, svc)
	return nil
}

// EvaluationAPI serves /admin/eval-suites, /admin/eval-runs and the feedback export
// (needs the eval bucket). Every change to a suite re-syncs the Schedules backend.
func EvaluationAPI(p *Platform, m *Muxes) error {
	svc, err := Eval(p)
	if err != nil {
		return fmt.Errorf("evaluation: %w", err)
	}
	eval.Routes(m.Admin, svc)
	if p.b.Schedules != nil {
		m.WrapAdmin(func(next http.Handler) http.Handler { return syncSchedulesAfterChanges(p, next) })
	}
	return nil
}

// HumanEvalAPI serves review queues, reviews and ground-truth datasets (/admin and the
// reviewers' /v1/review-queues; needs the eval bucket).
func HumanEvalAPI(p *Platform, m *Muxes) error {
	svc, err := HumanEval(p)
	if err != nil {
		return fmt.Errorf("human evaluation: %w", err)
	}
	humaneval.AdminRoutes(m.Admin, svc)
	humaneval.ReviewerRoutes(m.V1, svc)
	return nil
}

// RegistryAPI serves /admin/models and /admin/prompts.
func RegistryAPI(p *Platform, m *Muxes) error {
	registry.Routes(m.Admin, p.Registry)
	registry.PromptRoutes(m.Admin, p.Registry)
	return nil
}

// TenantsAPI serves /admin/tenants (keys, IAM principals).
func TenantsAPI(p *Platform, m *Muxes) error {
	tenant.Routes(m.Admin, p.Tenants)
	return nil
}

// AuditAPI serves GET /admin/audit.
func AuditAPI(p *Platform, m *Muxes) error {
	audit.Routes(m.Admin, p.AuditLog)
	return nil
}

// ToolsAPI serves the tool catalog (/admin/tool-servers, tool grants), GET /v1/tools and
// the MCP gateway at /mcp, which authenticates tenants with the edge's authenticator.
func ToolsAPI(p *Platform, m *Muxes) error {
	t, err := Tools(p)
	if err != nil {
		return err
	}
	toolhub.Routes(m.Admin, t.Catalog)
	if m.Edge.Tenants == nil {
		return nil
	}
	opts := []mcpgw.Option{mcpgw.WithLogger(p.log)}
	if m.Edge.MCPOAuth != nil {
		o, err := mcpgw.NewOAuth(*m.Edge.MCPOAuth, p.Tenants.CachedTenant)
		if err != nil {
			return err
		}
		opts = append(opts, mcpgw.WithOAuth(o))
	}
	mcp := mcpgw.New(t.Hub, mcpAccess{m.Edge.Tenants}, opts...)
	p.onClose(func(context.Context) error { mcp.Close(); return nil })
	mountMCP(m.Root, m.V1, mcp)
	return nil
}

// ExecutionsAPI serves the embedded executor's /admin/executions (local mode; Step
// Functions has its own console and API).
func ExecutionsAPI(exec *flow.Executor) API {
	return func(_ *Platform, m *Muxes) error {
		exec.Routes(m.Admin)
		return nil
	}
}

// syncSchedulesAfterChanges re-syncs the Schedules backend after every successful
// change to evaluation suites, so a suite's schedule exists exactly while the suite has
// one. A failed sync is logged; the next change reconciles again.
func syncSchedulesAfterChanges(p *Platform, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if r.Method == http.MethodGet || sw.status >= 300 || !isSuiteChange(r.URL.Path) {
			return
		}
		if err := SyncSchedules(r.Context(), p); err != nil {
			p.log.ErrorContext(r.Context(), "evaluation schedules out of sync", "error", err)
		}
	})
}

// SyncSchedules makes the Schedules backend hold exactly the scheduled suites.
func SyncSchedules(ctx context.Context, p *Platform) error {
	if p.b.Schedules == nil {
		return nil
	}
	svc, err := Eval(p)
	if err != nil {
		return err
	}
	suites, err := svc.Schedules(ctx)
	if err != nil {
		return fmt.Errorf("list scheduled suites: %w", err)
	}
	return p.b.Schedules.Sync(ctx, suites)
}

// isSuiteChange matches /admin/eval-suites and /admin/eval-suites/{id}, not runs.
func isSuiteChange(path string) bool {
	rest, ok := strings.CutPrefix(path, "/admin/eval-suites")
	return ok && (rest == "" || strings.Count(rest, "/") == 1)
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(s int) {
	if w.status == 0 {
		w.status = s
	}
	w.ResponseWriter.WriteHeader(s)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}
