package platform

import (
	"context"

	"github.com/plinth-ai/plinth/shared/auth/accesstoken"
	"github.com/plinth-ai/plinth/shared/gateway/tenantauth"
)

// Environment variables of the functions' contract with the CDK app (cdk/README.md).
const (
	EnvTable                     = "PLINTH_TABLE"
	EnvDocumentsBucket           = "PLINTH_DOCUMENTS_BUCKET"
	EnvIndexBucket               = "PLINTH_INDEX_BUCKET"
	EnvEvalBucket                = "PLINTH_EVAL_BUCKET"
	EnvProviderSecretARN         = "PLINTH_PROVIDER_SECRET_ARN"
	EnvEventBus                  = "PLINTH_EVENT_BUS"
	EnvTask                      = "PLINTH_TASK"
	EnvEvaluationStateMachineARN = "PLINTH_EVALUATION_STATE_MACHINE_ARN"
	EnvIngestionStateMachineARN  = "PLINTH_INGESTION_STATE_MACHINE_ARN"
	// EnvAgentStateMachineARN names the durable agent run state machine.
	EnvAgentStateMachineARN = "PLINTH_AGENT_STATE_MACHINE_ARN"
	EnvScheduleGroup        = "PLINTH_SCHEDULE_GROUP"
	EnvSchedulerRoleARN     = "PLINTH_SCHEDULER_ROLE_ARN"
	EnvSchedulerDLQARN      = "PLINTH_SCHEDULER_DLQ_ARN"
	// EnvVectorBucket names an S3 Vectors bucket; when set, knowledge bases may use the
	// "s3vectors" index backend.
	EnvVectorBucket = "PLINTH_VECTOR_BUCKET"
	// EnvIndexBackend is the index backend of knowledge bases created without one
	// ("embedded" or "s3vectors").
	EnvIndexBackend = "PLINTH_INDEX_BACKEND"
	// EnvGuardrailEmbeddingModel names the registry embedding model denied topics are
	// matched with semantically (unset: lexical matching only).
	EnvGuardrailEmbeddingModel = "PLINTH_GUARDRAIL_EMBEDDING_MODEL"
	// EnvUsageQueueURL names the SQS queue usage records are spooled to; when unset they
	// are written to the table directly.
	EnvUsageQueueURL = "PLINTH_USAGE_QUEUE_URL"
	// EnvUsageDLQURL names the usage queue's dead-letter queue, which the usage function
	// redrives into the ledger on its schedule.
	EnvUsageDLQURL = "PLINTH_USAGE_DLQ_URL"
	// EnvCustomizationBucket names the bucket of tenants' fine-tuning datasets, the jobs'
	// validated records and Bedrock's output (each tenant under tenants/{tenant}/).
	EnvCustomizationBucket = "PLINTH_CUSTOMIZATION_BUCKET"
	// EnvCustomizationKeyARN names the KMS key customisation objects and custom models
	// are encrypted with.
	EnvCustomizationKeyARN = "PLINTH_CUSTOMIZATION_KEY_ARN"
	// EnvCustomizationRoleARN names the service role Bedrock assumes for model
	// customisation jobs; without it Bedrock base models cannot be fine-tuned.
	EnvCustomizationRoleARN = "PLINTH_CUSTOMIZATION_ROLE_ARN"
	// EnvCustomizationStateMachineARN names the customisation state machine.
	EnvCustomizationStateMachineARN = "PLINTH_CUSTOMIZATION_STATE_MACHINE_ARN"
)

// EnvSiloTenants names where silo tenants' data lives in AWS: a JSON object from tenant
// ID to its table and buckets, as the CDK app sets it on every function that serves
// tenants (cdk/silo.go):
//
//	{"globex":{"table":"…","documents_bucket":"…","index_bucket":"…","eval_bucket":"…",
//	  "vector_bucket":"…","customization_bucket":"…","customization_key":"…"}}
//
// vector_bucket is the tenant's own S3 Vectors bucket, named when the deployment keeps
// knowledge bases' vectors in S3 Vectors; customization_bucket and customization_key are
// its own fine-tuning bucket and the KMS key of its datasets and custom models, named when
// the deployment offers fine-tuning.
const EnvSiloTenants = "PLINTH_SILO_TENANTS"

// TenantEdge is the edge of the Lambda functions behind API Gateway's tenant routes:
// the key authorizer's context first, then an IAM identity API Gateway verified, then
// (defence in depth) a bearer key read directly. API Gateway's request ID becomes the
// platform's.
func TenantEdge(p *Platform) Edge {
	return Edge{
		Tenants: tenantauth.New(p.Tenants, tenantauth.WithAuthorizerContext(authorizerContext), tenantauth.WithIAMIdentity(iamIdentity)),
		Wrap:    apiGatewayRequestIDs,
	}
}

// GatewayEdge is the gateway function's edge: TenantEdge, with /mcp an OAuth 2.1
// resource server when getenv configures one (PLINTH_MCP_OAUTH_ISSUER,
// PLINTH_MCP_OAUTH_JWKS_URL, PLINTH_MCP_RESOURCE, PLINTH_MCP_OAUTH_TENANT_CLAIM). The key
// authorizer reads the same settings and admits a token for /mcp only; the function
// checks it again, so a token that expired while API Gateway cached the authorizer's
// answer is still refused. A partial setting is an error, so the function does not start
// without the OAuth it was meant to have.
func GatewayEdge(p *Platform, getenv func(string) string) (Edge, error) {
	e := TenantEdge(p)
	cfg, err := accesstoken.ConfigFromEnv(getenv, "")
	if err != nil {
		return Edge{}, err
	}
	e.MCPOAuth = cfg
	return e, nil
}

// AdminEdge is the edge of the admin function: API Gateway authorizes /admin with
// AWS_IAM; an IAM principal mapped to a role (a tenant's, or a platform auditor) acts
// with it, and one mapped nowhere is a platform admin. The access policy decides the rest.
func AdminEdge(p *Platform) Edge {
	return Edge{Admin: iamAdmin(p.Tenants), Wrap: apiGatewayRequestIDs}
}

// What each Lambda function serves, as API Gateway routes to it (cdk/api_stack.go). Each
// is a function of its own so a binary links only its APIs.

// GatewayAPIs are the gateway function's: /v1/chat/completions (with knowledge_base
// grounding when the documents and index buckets are configured), /v1/embeddings,
// /v1/models, /v1/usage, /v1/session, /v1/feedback and the reviewers'
// /v1/review-queues (with the eval bucket), the MCP gateway /mcp and GET /v1/tools,
// /healthz, /openapi.json and the web console's static files under /console/. On Lambda, 2026-07-28 MCP clients are served
// statelessly by any instance; a 2025-11-25 session lives in the instance that opened
// it, and a client whose request reaches another is told (404) to initialize again, as
// the transport specifies.
func GatewayAPIs() []API {
	return []API{HealthAPI, ConsoleAPI, ModelsAPI, UsageAPI, FeedbackAPI, HumanEvalAPI, ToolsAPI, AgentsAPI}
}

// GuardrailsAPIs are the guardrails function's: POST /v1/guardrails/apply.
func GuardrailsAPIs() []API { return []API{GuardrailsAPI} }

// RetrievalAPIs are the retrieval function's: /v1/knowledge-bases/{kb}/... (documents,
// retrieval, grounded answers).
func RetrievalAPIs() []API { return []API{KnowledgeAPI} }

// FineTuningAPIs are the fine-tuning function's: OpenAI's files and fine-tuning
// endpoints (/v1/files, /v1/fine_tuning/...). Uploads arrive as API Gateway binary
// media (multipart/form-data, base64-encoded in the proxy event), which the proxy
// adapter decodes.
func FineTuningAPIs() []API { return []API{FineTuningAPI} }

// AdminAPIs are the admin function's, everything under /admin: registry, tenants and
// keys, usage reports, audit, guardrail policies, and with their buckets knowledge
// bases, evaluation suites and runs, review queues and datasets, fine-tuning jobs and
// alias promotion (a review of a fine-tuned model resumes its flow); the tool catalog;
// who is signed in (GET /admin/session); the platform's KPIs (GET /admin/kpis); the
// exports decentralised Plinths pull (GET /admin/sync/...); with silo tenants, moving a
// pool tenant into its own table and buckets one step per call
// (/admin/tenants/{id}/migration).
func AdminAPIs() []API {
	return []API{RegistryAPI, TenantsAPI, TierStepsAPI, UsageAPI, AuditAPI, ConsoleAPI, GuardrailsAPI, KnowledgeAPI, EvaluationAPI, HumanEvalAPI, ToolsAPI, AgentsAPI, KPIsAPI, FineTuningAPI,
		FederationAPI}
}

// Flusher is what a Lambda handler runs before an invocation completes: the usage
// records and audit events of the invocation written, as Lambda may freeze the process
// right after.
func Flusher(p *Platform) func(context.Context) {
	return func(ctx context.Context) {
		if err := p.Flush(ctx); err != nil {
			p.log.ErrorContext(ctx, "flush before the invocation ends", "error", err)
		}
	}
}
