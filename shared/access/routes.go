package access

import (
	"maps"
	"slices"
	"strings"

	"github.com/plinth-ai/plinth/shared/auth"
)

// Role sets of the rules below.
var (
	// readers read a tenant's configuration (with the admin-read scope).
	readers = []auth.Role{auth.RoleAuditor, auth.RoleTenantAdmin, auth.RoleDeveloper, auth.RoleViewer}
	// managers change a tenant's configuration (with the admin scope).
	managers = []auth.Role{auth.RoleTenantAdmin}
	// callers call models, retrieval and tools for their tenant.
	callers = []auth.Role{auth.RoleTenantAdmin, auth.RoleDeveloper}
	// everyone is every tenant role.
	everyone = []auth.Role{auth.RoleAuditor, auth.RoleTenantAdmin, auth.RoleDeveloper, auth.RoleViewer}
	// auditors read platform-wide records.
	auditors = []auth.Role{auth.RoleAuditor}
	// nobody but platform admins.
	nobody []auth.Role
)

var (
	scopeRead      = []auth.Scope{auth.ScopeAdminRead}
	scopeAdmin     = []auth.Scope{auth.ScopeAdmin}
	scopeInference = []auth.Scope{auth.ScopeInference}
	scopeRetrieval = []auth.Scope{auth.ScopeRetrieval}
)

func at(l ...Locator) []Locator { return l }

var (
	platformWide = at()
	global       = at(Locator{Where: Global})
	own          = at(Locator{Where: Own})
	inQuery      = at(Locator{Where: Query})
	inBody       = at(Locator{Where: Body})
)

func inPath(param string) []Locator { return at(Locator{Where: Path, Param: param}) }

func owned(resource, param string) []Locator {
	return at(Locator{Where: Owned, Resource: resource, Param: param})
}

// Resource kinds whose owners Middleware looks up (see Owners).
const (
	ResourceKey             = "key"
	ResourcePrompt          = "prompt"
	ResourceGuardrailPolicy = "guardrail-policy"
	ResourceEvalRun         = "eval-run"
	ResourceReviewQueue     = "review-queue"
	ResourceAgent           = "agent"
	ResourceFineTuningJob   = "fine-tuning-job"
)

// routes are the rules, keyed by the ServeMux pattern each route is registered with.
var routes = map[string]Rule{
	// Tenants, keys and IAM principals.
	"POST /admin/tenants":                                {Roles: nobody, Tenant: platformWide},
	"GET /admin/tenants":                                 {Roles: auditors, Tenant: platformWide},
	"GET /admin/tenants/{id}":                            {Roles: readers, Scopes: scopeRead, Tenant: inPath("id")},
	"PATCH /admin/tenants/{id}":                          {Roles: nobody, Tenant: inPath("id")},
	"POST /admin/tenants/{id}/migration":                 {Roles: nobody, Tenant: inPath("id")},
	"GET /admin/tenants/{id}/migration":                  {Roles: readers, Scopes: scopeRead, Tenant: inPath("id")},
	"POST /admin/tenants/{id}/keys":                      {Roles: managers, Scopes: scopeAdmin, Tenant: inPath("id")},
	"GET /admin/tenants/{id}/keys":                       {Roles: readers, Scopes: scopeRead, Tenant: inPath("id")},
	"DELETE /admin/keys/{id}":                            {Roles: managers, Scopes: scopeAdmin, Tenant: owned(ResourceKey, "id")},
	"POST /admin/keys":                                   {Roles: nobody, Tenant: platformWide},
	"GET /admin/keys":                                    {Roles: auditors, Tenant: platformWide},
	"POST /admin/tenants/{id}/iam-principals":            {Roles: nobody, Tenant: inPath("id")},
	"GET /admin/tenants/{id}/iam-principals":             {Roles: readers, Scopes: scopeRead, Tenant: inPath("id")},
	"DELETE /admin/tenants/{id}/iam-principals/{arn...}": {Roles: nobody, Tenant: inPath("id")},
	"POST /admin/iam-principals":                         {Roles: nobody, Tenant: platformWide},
	"GET /admin/iam-principals":                          {Roles: auditors, Tenant: platformWide},
	"DELETE /admin/iam-principals/{arn...}":              {Roles: nobody, Tenant: platformWide},

	// Model registry: the platform admin approves models.
	"POST /admin/models":          {Roles: nobody, Tenant: platformWide},
	"GET /admin/models":           {Roles: auditors, Tenant: platformWide},
	"GET /admin/models/{id...}":   {Roles: auditors, Tenant: platformWide},
	"PATCH /admin/models/{id...}": {Roles: nobody, Tenant: platformWide},
	"POST /admin/models/{id...}":  {Roles: nobody, Tenant: platformWide},

	// Prompt templates: a tenant's own, or platform-shared ones every tenant may read.
	"POST /admin/prompts":                        {Roles: managers, Scopes: scopeAdmin, Tenant: inBody},
	"GET /admin/prompts/{id}":                    {Roles: readers, Scopes: scopeRead, Tenant: owned(ResourcePrompt, "id"), SharedRead: true},
	"GET /admin/prompts/{id}/versions/{version}": {Roles: readers, Scopes: scopeRead, Tenant: owned(ResourcePrompt, "id"), SharedRead: true},

	// Guardrail policies: a tenant's own (always tightened by the platform's baseline), or
	// platform-shared ones.
	"POST /admin/guardrail-policies":                        {Roles: managers, Scopes: scopeAdmin, Tenant: inBody},
	"GET /admin/guardrail-policies":                         {Roles: readers, Scopes: scopeRead, Tenant: inQuery},
	"GET /admin/guardrail-policies/{id}":                    {Roles: readers, Scopes: scopeRead, Tenant: owned(ResourceGuardrailPolicy, "id"), SharedRead: true},
	"PUT /admin/guardrail-policies/{id}":                    {Roles: managers, Scopes: scopeAdmin, Tenant: owned(ResourceGuardrailPolicy, "id")},
	"POST /admin/guardrail-policies/{id}/versions":          {Roles: managers, Scopes: scopeAdmin, Tenant: owned(ResourceGuardrailPolicy, "id")},
	"GET /admin/guardrail-policies/{id}/versions/{version}": {Roles: readers, Scopes: scopeRead, Tenant: owned(ResourceGuardrailPolicy, "id"), SharedRead: true},
	"GET /admin/guardrail-baseline":                         {Roles: readers, Scopes: scopeRead, Tenant: global},
	"PUT /admin/guardrail-baseline":                         {Roles: nobody, Tenant: platformWide},

	// Knowledge bases.
	"POST /admin/knowledge-bases":        {Roles: managers, Scopes: scopeAdmin, Tenant: inBody},
	"GET /admin/knowledge-bases":         {Roles: readers, Scopes: scopeRead, Tenant: inQuery},
	"GET /admin/knowledge-bases/{kb}":    {Roles: readers, Scopes: scopeRead, Tenant: inQuery},
	"DELETE /admin/knowledge-bases/{kb}": {Roles: managers, Scopes: scopeAdmin, Tenant: inQuery},

	// Evaluation.
	"POST /admin/eval-suites":               {Roles: managers, Scopes: scopeAdmin, Tenant: inBody},
	"GET /admin/eval-suites":                {Roles: readers, Scopes: scopeRead, Tenant: inQuery},
	"GET /admin/eval-suites/{id}":           {Roles: readers, Scopes: scopeRead, Tenant: inQuery},
	"PUT /admin/eval-suites/{id}":           {Roles: managers, Scopes: scopeAdmin, Tenant: at(Locator{Where: Query}, Locator{Where: Body})},
	"DELETE /admin/eval-suites/{id}":        {Roles: managers, Scopes: scopeAdmin, Tenant: inQuery},
	"POST /admin/eval-suites/{id}/runs":     {Roles: managers, Scopes: scopeAdmin, Tenant: inQuery},
	"GET /admin/eval-suites/{id}/runs":      {Roles: readers, Scopes: scopeRead, Tenant: inQuery},
	"GET /admin/eval-suites/{id}/trend":     {Roles: readers, Scopes: scopeRead, Tenant: inQuery},
	"GET /admin/eval-runs/{id}":             {Roles: readers, Scopes: scopeRead, Tenant: owned(ResourceEvalRun, "id")},
	"GET /admin/eval-runs/{id}/report.html": {Roles: readers, Scopes: scopeRead, Tenant: owned(ResourceEvalRun, "id")},
	"GET /admin/feedback/export":            {Roles: readers, Scopes: scopeRead, Tenant: inQuery},

	// Human evaluation.
	"POST /admin/review-queues":                     {Roles: managers, Scopes: scopeAdmin, Tenant: inBody},
	"GET /admin/review-queues":                      {Roles: readers, Scopes: scopeRead, Tenant: inQuery},
	"GET /admin/review-queues/{id}":                 {Roles: readers, Scopes: scopeRead, Tenant: owned(ResourceReviewQueue, "id")},
	"DELETE /admin/review-queues/{id}":              {Roles: managers, Scopes: scopeAdmin, Tenant: owned(ResourceReviewQueue, "id")},
	"GET /admin/review-queues/{id}/items":           {Roles: readers, Scopes: scopeRead, Tenant: owned(ResourceReviewQueue, "id")},
	"POST /admin/review-queues/{id}/next":           {Roles: managers, Scopes: scopeAdmin, Tenant: owned(ResourceReviewQueue, "id")},
	"POST /admin/review-queues/{id}/reviews":        {Roles: managers, Scopes: scopeAdmin, Tenant: owned(ResourceReviewQueue, "id")},
	"GET /admin/review-queues/{id}/agreement":       {Roles: readers, Scopes: scopeRead, Tenant: owned(ResourceReviewQueue, "id")},
	"POST /admin/review-queues/{id}/datasets":       {Roles: managers, Scopes: scopeAdmin, Tenant: owned(ResourceReviewQueue, "id")},
	"GET /admin/datasets":                           {Roles: readers, Scopes: scopeRead, Tenant: inQuery},
	"GET /admin/datasets/{name}":                    {Roles: readers, Scopes: scopeRead, Tenant: inQuery},
	"GET /admin/datasets/{name}/versions/{version}": {Roles: readers, Scopes: scopeRead, Tenant: inQuery},

	// Agents: a tenant's own definitions, run through the gateway and the tool hub.
	"POST /admin/agents":                        {Roles: managers, Scopes: scopeAdmin, Tenant: inBody},
	"GET /admin/agents":                         {Roles: readers, Scopes: scopeRead, Tenant: inQuery},
	"GET /admin/agents/{id}":                    {Roles: readers, Scopes: scopeRead, Tenant: owned(ResourceAgent, "id")},
	"GET /admin/agents/{id}/versions/{version}": {Roles: readers, Scopes: scopeRead, Tenant: owned(ResourceAgent, "id")},

	// Fine-tuning: tenants' jobs, read by their tenant's readers; aliases are moved by
	// the platform admin (the customisation flow promotes after an approval).
	"GET /admin/fine_tuning/jobs":             {Roles: readers, Scopes: scopeRead, Tenant: inQuery},
	"GET /admin/fine_tuning/jobs/{id}":        {Roles: readers, Scopes: scopeRead, Tenant: owned(ResourceFineTuningJob, "id")},
	"GET /admin/fine_tuning/jobs/{id}/events": {Roles: readers, Scopes: scopeRead, Tenant: owned(ResourceFineTuningJob, "id")},
	"POST /admin/aliases/promote":             {Roles: nobody, Tenant: platformWide},
	"POST /admin/aliases/rollback":            {Roles: nobody, Tenant: platformWide},
	"GET /admin/aliases/history":              {Roles: auditors, Tenant: platformWide},

	// Tools: the platform admin approves tool servers and grants them.
	"POST /admin/tool-servers":                       {Roles: nobody, Tenant: platformWide},
	"GET /admin/tool-servers":                        {Roles: auditors, Tenant: platformWide},
	"GET /admin/tool-servers/{id}":                   {Roles: auditors, Tenant: platformWide},
	"PATCH /admin/tool-servers/{id}":                 {Roles: nobody, Tenant: platformWide},
	"DELETE /admin/tool-servers/{id}":                {Roles: nobody, Tenant: platformWide},
	"POST /admin/tool-servers/{id}/sync":             {Roles: nobody, Tenant: platformWide},
	"POST /admin/tool-servers/{id}/review":           {Roles: nobody, Tenant: platformWide},
	"GET /admin/tenants/{id}/tool-grants":            {Roles: readers, Scopes: scopeRead, Tenant: inPath("id")},
	"POST /admin/tenants/{id}/tool-grants":           {Roles: nobody, Tenant: inPath("id")},
	"DELETE /admin/tenants/{id}/tool-grants/{grant}": {Roles: nobody, Tenant: inPath("id")},

	// Records of the platform.
	"GET /admin/audit":        {Roles: []auth.Role{auth.RoleAuditor, auth.RoleTenantAdmin}, Scopes: scopeRead, Tenant: inQuery},
	"GET /admin/usage/report": {Roles: auditors, Tenant: platformWide},
	"GET /admin/kpis":         {Roles: auditors, Tenant: platformWide},
	// Decentralised Plinths pull the central registry and baseline with an auditor key.
	"GET /admin/sync/registry": {Roles: auditors, Tenant: platformWide},
	"GET /admin/sync/baseline": {Roles: auditors, Tenant: platformWide},
	"GET /admin/session":       {Roles: everyone, Tenant: global},

	// Flows (the embedded executor's API).
	"GET /admin/executions":                        {Roles: auditors, Tenant: platformWide},
	"GET /admin/executions/{id}":                   {Roles: auditors, Tenant: platformWide},
	"GET /admin/executions/{id}/history":           {Roles: auditors, Tenant: platformWide},
	"POST /admin/executions/{id}/stop":             {Roles: nobody, Tenant: platformWide},
	"GET /admin/state-machines":                    {Roles: auditors, Tenant: platformWide},
	"POST /admin/state-machines/{name}/executions": {Roles: nobody, Tenant: platformWide},

	// The tenant API: always the caller's own tenant.
	"POST /v1/chat/completions":                      {Roles: callers, Scopes: scopeInference, Tenant: own},
	"POST /v1/embeddings":                            {Roles: callers, Scopes: scopeInference, Tenant: own},
	"GET /v1/models":                                 {Roles: callers, Scopes: scopeInference, Tenant: own},
	"GET /v1/models/{id...}":                         {Roles: callers, Scopes: scopeInference, Tenant: own},
	"POST /v1/guardrails/apply":                      {Roles: callers, Scopes: scopeInference, Tenant: own},
	"POST /v1/feedback":                              {Roles: callers, Scopes: scopeInference, Tenant: own},
	"GET /v1/tools":                                  {Roles: callers, Scopes: scopeInference, Tenant: own},
	"POST /v1/responses":                             {Roles: callers, Scopes: scopeInference, Tenant: own},
	"GET /v1/responses/{id}":                         {Roles: callers, Scopes: scopeInference, Tenant: own},
	"POST /v1/agent-runs":                            {Roles: callers, Scopes: scopeInference, Tenant: own},
	"GET /v1/agent-runs/{id}":                        {Roles: callers, Scopes: scopeInference, Tenant: own},
	"POST /v1/agent-runs/{id}/approvals":             {Roles: callers, Scopes: scopeInference, Tenant: own},
	"POST /v1/agent-runs/{id}/outputs":               {Roles: callers, Scopes: scopeInference, Tenant: own},
	"POST /mcp":                                      {Roles: callers, Scopes: scopeInference, Tenant: own},
	"GET /mcp":                                       {Roles: callers, Scopes: scopeInference, Tenant: own},
	"DELETE /mcp":                                    {Roles: callers, Scopes: scopeInference, Tenant: own},
	"POST /v1/knowledge-bases/{kb}/documents":        {Roles: callers, Scopes: scopeRetrieval, Tenant: own},
	"GET /v1/knowledge-bases/{kb}/documents":         {Roles: everyone, Scopes: []auth.Scope{auth.ScopeRetrieval, auth.ScopeAdminRead}, Tenant: own},
	"GET /v1/knowledge-bases/{kb}/documents/{id}":    {Roles: everyone, Scopes: []auth.Scope{auth.ScopeRetrieval, auth.ScopeAdminRead}, Tenant: own},
	"DELETE /v1/knowledge-bases/{kb}/documents/{id}": {Roles: callers, Scopes: scopeRetrieval, Tenant: own},
	"POST /v1/knowledge-bases/{kb}/retrieve":         {Roles: callers, Scopes: scopeRetrieval, Tenant: own},
	"POST /v1/knowledge-bases/{kb}/answer":           {Roles: callers, Scopes: scopeRetrieval, Tenant: own},
	"GET /v1/usage":                                  {Roles: everyone, Tenant: own},
	"GET /v1/session":                                {Roles: everyone, Tenant: own},
	"GET /v1/review-queues":                          {Roles: everyone, Tenant: own},
	"GET /v1/review-queues/{id}":                     {Roles: everyone, Tenant: own},
	"POST /v1/review-queues/{id}/next":               {Roles: callers, Tenant: own},
	"POST /v1/review-queues/{id}/reviews":            {Roles: callers, Tenant: own},
	"POST /v1/files":                                 {Roles: callers, Scopes: scopeInference, Tenant: own},
	"GET /v1/files":                                  {Roles: callers, Scopes: scopeInference, Tenant: own},
	"GET /v1/files/{id}":                             {Roles: callers, Scopes: scopeInference, Tenant: own},
	"DELETE /v1/files/{id}":                          {Roles: callers, Scopes: scopeInference, Tenant: own},
	"GET /v1/files/{id}/content":                     {Roles: callers, Scopes: scopeInference, Tenant: own},
	"POST /v1/fine_tuning/jobs":                      {Roles: callers, Scopes: scopeInference, Tenant: own},
	"GET /v1/fine_tuning/jobs":                       {Roles: callers, Scopes: scopeInference, Tenant: own},
	"GET /v1/fine_tuning/jobs/{id}":                  {Roles: callers, Scopes: scopeInference, Tenant: own},
	"GET /v1/fine_tuning/jobs/{id}/events":           {Roles: callers, Scopes: scopeInference, Tenant: own},
	"GET /v1/fine_tuning/jobs/{id}/checkpoints":      {Roles: callers, Scopes: scopeInference, Tenant: own},
	"POST /v1/fine_tuning/jobs/{id}/cancel":          {Roles: callers, Scopes: scopeInference, Tenant: own},
	"POST /v1/fine_tuning/datasets":                  {Roles: callers, Scopes: scopeInference, Tenant: own},
}

// RuleFor returns the rule of the route registered with pattern ("METHOD /path").
func RuleFor(pattern string) (Rule, bool) {
	r, ok := routes[pattern]
	return r, ok
}

// Patterns lists every pattern with a rule, sorted.
func Patterns() []string { return slices.Sorted(maps.Keys(routes)) }

// Allowed lists the routes p may call about its own tenant (any tenant for platform
// principals), sorted: what a console shows the signed-in user.
func Allowed(p auth.Principal) []string {
	out := []string{}
	for _, pat := range Patterns() {
		r := routes[pat]
		if p.TenantID == "" && r.where() == Own {
			continue
		}
		if Decide(p, r, Target{Tenant: p.TenantID}) == nil {
			out = append(out, pat)
		}
	}
	return out
}

// DocRoles are the roles the documentation lists for the rule: platform admins and the
// rule's roles (the tenant API's routes take tenants' credentials only, so platform
// admins are not listed there).
func (r Rule) DocRoles() []auth.Role {
	var out []auth.Role
	for _, role := range auth.Roles {
		if role == auth.RolePlatformAdmin && r.where() == Own {
			continue
		}
		if r.Allows(role) {
			out = append(out, role)
		}
	}
	return out
}

// DocTenant says where the rule finds the request's tenant, as the documentation writes
// it: platform, global, own, path:<param>, query, body, owner:<resource> (several joined
// by "+").
func (r Rule) DocTenant() string {
	if len(r.Tenant) == 0 {
		return Platform.String()
	}
	parts := make([]string, len(r.Tenant))
	for i, l := range r.Tenant {
		switch l.Where {
		case Path:
			parts[i] = "path:" + l.Param
		case Owned:
			parts[i] = "owner:" + l.Resource
		default:
			parts[i] = l.Where.String()
		}
	}
	return strings.Join(parts, "+")
}
