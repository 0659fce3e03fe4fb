// Package apiroutes is the route table of the deployed REST API: which function serves
// each route and how its callers are admitted. The CDK app builds API Gateway from it,
// and the parity suite (test/parity) dispatches API Gateway proxy events by it, so the
// two cannot drift. It has no dependencies, so the CDK app links nothing else.
package apiroutes

import "strings"

// Functions of the deployed stack that serve HTTP routes.
const (
	FunctionGateway    = "gateway"
	FunctionGuardrails = "guardrails"
	FunctionRetrieval  = "retrieval"
	FunctionFineTuning = "finetuning"
	FunctionAdmin      = "admin"
)

// RouteAuth is how API Gateway admits the callers of a route.
type RouteAuth string

// Route admissions.
const (
	// AuthTenant routes take a tenant's credential: an API key through the Lambda
	// REQUEST authorizer on the main API, an IAM principal mapped to a tenant (SigV4)
	// on the IAM API.
	AuthTenant RouteAuth = "tenant"
	// AuthIAM routes take IAM (SigV4) callers only: the admin API.
	AuthIAM RouteAuth = "iam"
	// AuthNone routes are public: they reveal no tenant data.
	AuthNone RouteAuth = "none"
)

// A Route is one route of the deployed REST API (cdk/api_stack.go builds the API from
// these): the method, the resource path in API Gateway's syntax ({name} path
// parameters, a final {proxy+}), the function that serves it and how callers are
// admitted. Model names the JSON schema API Gateway checks a request body against ("" =
// none); Why says why a public route is public.
type Route struct {
	Method   string
	Path     string
	Function string
	Stream   bool
	Auth     RouteAuth
	Model    string
	Why      string
}

// All are the routes of the deployed REST API, in the order they are
// created. Every gateway route streams (the gateway function answers in the
// response-streaming format); the others are buffered proxy integrations. The admin
// API (fine-tuning jobs and alias promotion included) is one greedy route.
func All() []Route {
	gw := func(method, path string, auth RouteAuth, model, why string) Route {
		return Route{Method: method, Path: path, Function: FunctionGateway, Stream: true, Auth: auth, Model: model, Why: why}
	}
	tenantGW := func(method, path, model string) Route { return gw(method, path, AuthTenant, model, "") }
	retrieval := func(method, path, model string) Route {
		return Route{Method: method, Path: path, Function: FunctionRetrieval, Auth: AuthTenant, Model: model}
	}
	fineTuning := func(method, path string) Route {
		return Route{Method: method, Path: path, Function: FunctionFineTuning, Auth: AuthTenant}
	}
	public := "it reveals no tenant data"
	return []Route{
		tenantGW("POST", "/v1/chat/completions", "ChatCompletionRequest"),
		tenantGW("POST", "/v1/embeddings", "EmbeddingRequest"),
		tenantGW("GET", "/v1/models", ""),
		tenantGW("GET", "/v1/models/{model+}", ""),
		tenantGW("GET", "/v1/usage", ""),
		tenantGW("POST", "/v1/feedback", "FeedbackRequest"),
		tenantGW("GET", "/v1/session", ""),
		tenantGW("GET", "/v1/review-queues", ""),
		tenantGW("GET", "/v1/review-queues/{id}", ""),
		tenantGW("POST", "/v1/review-queues/{id}/next", ""),
		tenantGW("POST", "/v1/review-queues/{id}/reviews", ""),
		tenantGW("GET", "/v1/tools", ""),
		tenantGW("POST", "/v1/responses", ""),
		tenantGW("GET", "/v1/responses/{id}", ""),
		tenantGW("POST", "/v1/agent-runs", ""),
		tenantGW("GET", "/v1/agent-runs/{id}", ""),
		tenantGW("POST", "/v1/agent-runs/{id}/approvals", ""),
		tenantGW("POST", "/v1/agent-runs/{id}/outputs", ""),
		tenantGW("POST", "/mcp", ""),
		tenantGW("GET", "/mcp", ""),
		tenantGW("DELETE", "/mcp", ""),
		{Method: "POST", Path: "/v1/guardrails/apply", Function: FunctionGuardrails, Auth: AuthTenant, Model: "GuardrailApplyRequest"},
		retrieval("POST", "/v1/knowledge-bases/{kb}/retrieve", "RetrieveRequest"),
		retrieval("POST", "/v1/knowledge-bases/{kb}/answer", "AnswerRequest"),
		retrieval("GET", "/v1/knowledge-bases/{kb}/documents", ""),
		retrieval("POST", "/v1/knowledge-bases/{kb}/documents", ""),
		retrieval("GET", "/v1/knowledge-bases/{kb}/documents/{document}", ""),
		retrieval("DELETE", "/v1/knowledge-bases/{kb}/documents/{document}", ""),
		fineTuning("POST", "/v1/files"),
		fineTuning("GET", "/v1/files"),
		fineTuning("GET", "/v1/files/{id}"),
		fineTuning("DELETE", "/v1/files/{id}"),
		fineTuning("GET", "/v1/files/{id}/content"),
		fineTuning("POST", "/v1/fine_tuning/jobs"),
		fineTuning("GET", "/v1/fine_tuning/jobs"),
		fineTuning("GET", "/v1/fine_tuning/jobs/{id}"),
		fineTuning("GET", "/v1/fine_tuning/jobs/{id}/events"),
		fineTuning("GET", "/v1/fine_tuning/jobs/{id}/checkpoints"),
		fineTuning("POST", "/v1/fine_tuning/jobs/{id}/cancel"),
		fineTuning("POST", "/v1/fine_tuning/datasets"),
		{Method: "ANY", Path: "/admin/{proxy+}", Function: FunctionAdmin, Auth: AuthIAM},
		gw("GET", "/.well-known/oauth-protected-resource/mcp", AuthNone, "", "RFC 9728 metadata tells clients how to authenticate"),
		gw("GET", "/healthz", AuthNone, "", public+" (liveness)"),
		gw("GET", "/openapi.json", AuthNone, "", public+" (the public API description)"),
		gw("GET", "/console", AuthNone, "", public+" (the console's static files; its calls carry the user's own credential)"),
		gw("GET", "/console/{proxy+}", AuthNone, "", public+" (the console's static files; its calls carry the user's own credential)"),
	}
}

// Match finds the route API Gateway sends method path to, and its path
// parameters; ok is false when none matches (API Gateway answers 403 Missing
// Authentication Token, which the stack maps to 404).
func Match(routes []Route, method, path string) (r Route, params map[string]string, ok bool) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for _, rt := range routes {
		if rt.Method != method && rt.Method != "ANY" {
			continue
		}
		if p, ok := matchPath(strings.Split(strings.Trim(rt.Path, "/"), "/"), segs); ok {
			return rt, p, true
		}
	}
	return Route{}, nil, false
}

func matchPath(tmpl, segs []string) (map[string]string, bool) {
	params := map[string]string{}
	for i, t := range tmpl {
		if strings.HasPrefix(t, "{") && strings.HasSuffix(t, "+}") {
			if i >= len(segs) || segs[i] == "" {
				return nil, false
			}
			params[strings.TrimSuffix(strings.TrimPrefix(t, "{"), "+}")] = strings.Join(segs[i:], "/")
			return params, true
		}
		if i >= len(segs) {
			return nil, false
		}
		switch {
		case strings.HasPrefix(t, "{") && strings.HasSuffix(t, "}"):
			if segs[i] == "" {
				return nil, false
			}
			params[strings.Trim(t, "{}")] = segs[i]
		case t != segs[i]:
			return nil, false
		}
	}
	return params, len(tmpl) == len(segs)
}
