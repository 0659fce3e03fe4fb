package platform

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3vectorsapi "github.com/aws/aws-sdk-go-v2/service/s3vectors"
	awsscheduler "github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/plinth-ai/plinth/shared/auth/accesstoken"
	"github.com/plinth-ai/plinth/shared/awsbody"
	"github.com/plinth-ai/plinth/shared/blob"
	"github.com/plinth-ai/plinth/shared/blob/s3blob"
	"github.com/plinth-ai/plinth/shared/customize/bedrockjob"
	"github.com/plinth-ai/plinth/shared/eval/eventbus"
	"github.com/plinth-ai/plinth/shared/gateway"
	"github.com/plinth-ai/plinth/shared/gateway/emf"
	"github.com/plinth-ai/plinth/shared/gateway/tenantauth"
	"github.com/plinth-ai/plinth/shared/observe"
	"github.com/plinth-ai/plinth/shared/observe/awstrace"
	"github.com/plinth-ai/plinth/shared/platform/scheduler"
	"github.com/plinth-ai/plinth/shared/platform/stepfunctions"
	"github.com/plinth-ai/plinth/shared/rag/index/s3vectors"
	secretstore "github.com/plinth-ai/plinth/shared/secret/secretsmanager"
	"github.com/plinth-ai/plinth/shared/spool/sqsspool"
	"github.com/plinth-ai/plinth/shared/store/dynamostore"
	"github.com/plinth-ai/plinth/shared/usage"
	"github.com/plinth-ai/plinth/statemachines"
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

// SQSAPI is the part of the SQS client the usage spool and its redrive use.
type SQSAPI interface {
	sqsspool.SendAPI
	sqsspool.RedriveAPI
}

// PutEventsAPI is the part of the EventBridge client that publishes events.
type PutEventsAPI interface {
	PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, optFns ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

// AWSConfig configures the AWS assembly of one Lambda function. AWSConfigFromEnv fills
// the names from the environment the CDK app sets; the client fields replace SDK
// clients (emulators in tests) and are built from AWS when nil.
type AWSConfig struct {
	Table                     string
	DocumentsBucket           string
	IndexBucket               string
	EvalBucket                string
	ProviderSecretARN         string
	EventBus                  string
	EvaluationStateMachineARN string
	IngestionStateMachineARN  string
	AgentStateMachineARN      string
	ScheduleGroup             string
	SchedulerRoleARN          string
	SchedulerDLQARN           string
	VectorBucket              string
	IndexBackend              string
	GuardrailEmbeddingModel   string
	UsageQueueURL             string
	UsageDLQURL               string
	// Customisation (fine-tuning): the bucket, its KMS key, Bedrock's service role and
	// the state machine.
	CustomizationBucket          string
	CustomizationKeyARN          string
	CustomizationRoleARN         string
	CustomizationStateMachineARN string
	// SiloTenants is PLINTH_SILO_TENANTS: the silo tenants' own tables and buckets (JSON,
	// see EnvSiloTenants). When set, the platform's data is routed by tenant: a silo
	// tenant's records and objects go to its own table and buckets, never the pool's, and
	// a tenant the directory calls silo with no entry here is refused rather than kept in
	// the pool. Unset, every tenant's data is in the pool table and buckets.
	SiloTenants string
	// Central is decentralised mode (PLINTH_CENTRAL_URL, PLINTH_CENTRAL_AUTH, ...): the
	// centre whose model registry and guardrail baseline this platform pulls. With
	// PLINTH_CENTRAL_AUTH=sigv4 the pulls are signed with the function's own credentials
	// (AWS below, else the default chain). Unset, the platform is not decentralised.
	Central CentralSettings
	// PlacementTTL is how long a function trusts what it read of a tenant's tier and
	// move before reading it again (default DefaultPlacementTTL): a move the admin
	// function runs is seen by every other function within it.
	PlacementTTL time.Duration
	// MoveStep is how long one POST /admin/tenants/{id}/migration moves a tenant before
	// it answers with the move's progress (default DefaultMoveStep).
	MoveStep time.Duration

	// AWS is the SDK configuration; nil loads the default chain (Lambda's role).
	AWS *aws.Config
	// Clock is the function's one clock (default time.Now): the table judges expiry by it
	// and the platform stamps with it, as Config.Clock does locally.
	Clock func() time.Time
	// Logger defaults to observe.NewLogger(os.Stdout).
	Logger *slog.Logger
	// Tracer defaults to observe.NewTracer() (active only in Lambda with tracing on).
	Tracer *observe.Tracer
	// Metrics defaults to CloudWatch EMF lines on stdout.
	Metrics gateway.Metrics
	// UpstreamHTTPClient is the provider HTTP client (default UpstreamHTTPClient, traced).
	UpstreamHTTPClient *http.Client

	DynamoDB       dynamostore.Client
	S3             s3blob.Client
	SecretsManager secretstore.API
	StepFunctions  stepfunctions.API
	EventBridge    PutEventsAPI
	Scheduler      scheduler.API
	S3Vectors      s3vectors.API
	SQS            SQSAPI
	Bedrock        bedrockjob.API
}

// AWSConfigFromEnv reads the function's configuration from the environment.
func AWSConfigFromEnv() AWSConfig {
	return AWSConfig{
		Table:                     os.Getenv(EnvTable),
		DocumentsBucket:           os.Getenv(EnvDocumentsBucket),
		IndexBucket:               os.Getenv(EnvIndexBucket),
		EvalBucket:                os.Getenv(EnvEvalBucket),
		ProviderSecretARN:         os.Getenv(EnvProviderSecretARN),
		EventBus:                  os.Getenv(EnvEventBus),
		EvaluationStateMachineARN: os.Getenv(EnvEvaluationStateMachineARN),
		IngestionStateMachineARN:  os.Getenv(EnvIngestionStateMachineARN),
		AgentStateMachineARN:      os.Getenv(EnvAgentStateMachineARN),
		ScheduleGroup:             os.Getenv(EnvScheduleGroup),
		SchedulerRoleARN:          os.Getenv(EnvSchedulerRoleARN),
		SchedulerDLQARN:           os.Getenv(EnvSchedulerDLQARN),
		VectorBucket:              os.Getenv(EnvVectorBucket),
		IndexBackend:              os.Getenv(EnvIndexBackend),
		GuardrailEmbeddingModel:   os.Getenv(EnvGuardrailEmbeddingModel),
		UsageQueueURL:             os.Getenv(EnvUsageQueueURL),
		UsageDLQURL:               os.Getenv(EnvUsageDLQURL),

		CustomizationBucket:          os.Getenv(EnvCustomizationBucket),
		CustomizationKeyARN:          os.Getenv(EnvCustomizationKeyARN),
		CustomizationRoleARN:         os.Getenv(EnvCustomizationRoleARN),
		CustomizationStateMachineARN: os.Getenv(EnvCustomizationStateMachineARN),
		SiloTenants:                  os.Getenv(EnvSiloTenants),
		Central:                      CentralSettingsFrom(os.Getenv),
	}
}

// NewAWS builds the platform on the AWS backends cfg names: what every function does
// once per cold start before it serves its part of the platform.
func NewAWS(ctx context.Context, cfg AWSConfig) (*Platform, error) {
	b, err := AWSBackends(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return New(ctx, b)
}

// AWSBackends builds the AWS backends of one Lambda function, once per cold start: the
// DynamoDB table, the S3 buckets it names (documents, index, eval, customisation), Bedrock
// model customisation (with the customisation bucket and role), S3 Vectors, Secrets
// Manager for provider keys, Step Functions for runs, EventBridge Scheduler for
// evaluation schedules and the event bus for evaluation events, CloudWatch EMF metrics,
// and X-Ray tracing of AWS and provider calls when the function traces. Only the table
// is required; clients are built only for what is configured. With silo tenants
// (PLINTH_SILO_TENANTS) the data is routed by tenant as locally: Backends.Cells holds the
// silo tenants' cells, each its own table and buckets encrypted by its own KMS key.
func AWSBackends(ctx context.Context, cfg AWSConfig) (Backends, error) {
	if cfg.Table == "" {
		return Backends{}, fmt.Errorf("%s: %w", EnvTable, ErrMissingConfig)
	}
	silos, err := ParseSiloTenants(cfg.SiloTenants)
	if err != nil {
		return Backends{}, err
	}
	b := Backends{Log: cfg.Logger, Tracer: cfg.Tracer, Metrics: cfg.Metrics, Upstream: cfg.UpstreamHTTPClient,
		GuardrailEmbeddingModel: cfg.GuardrailEmbeddingModel, Clock: cfg.Clock}
	if b.Clock == nil {
		b.Clock = time.Now
	}
	if b.Log == nil {
		b.Log = observe.NewLogger(os.Stdout)
	}
	if b.Tracer == nil {
		b.Tracer = observe.NewTracer()
	}
	if b.Metrics == nil {
		b.Metrics = emf.New(os.Stdout)
	}
	var sdk aws.Config
	if cfg.AWS != nil {
		sdk = cfg.AWS.Copy()
	} else {
		var err error
		if sdk, err = config.LoadDefaultConfig(ctx); err != nil {
			return Backends{}, fmt.Errorf("load AWS configuration: %w", err)
		}
	}
	// Every client built from sdk reads its answers on the connection they came on
	// (see awsbody): an SQS receive is not sent twice, its first messages left invisible.
	sdk.HTTPClient = awsbody.Client(sdk.HTTPClient)
	awstrace.Instrument(&sdk.APIOptions, b.Tracer)
	b.AWS = &sdk
	if b.Central, err = cfg.Central.Source(ctx, sdk.Credentials); err != nil {
		return Backends{}, err
	}

	db := cfg.DynamoDB
	if db == nil {
		db = dynamodb.NewFromConfig(sdk)
	}
	st, err := dynamostore.New(db, cfg.Table, dynamostore.WithClock(b.Clock))
	if err != nil {
		return Backends{}, err
	}
	b.Data.Store = st
	if cfg.DocumentsBucket != "" || cfg.IndexBucket != "" || cfg.EvalBucket != "" || cfg.CustomizationBucket != "" {
		client := cfg.S3
		if client == nil {
			client = s3.NewFromConfig(sdk)
		}
		bucket := func(name string) (blob.Store, error) {
			if name == "" {
				return nil, nil
			}
			return s3blob.New(client, name)
		}
		if b.Data.Blobs.Documents, err = bucket(cfg.DocumentsBucket); err != nil {
			return Backends{}, err
		}
		if b.Data.Blobs.Index, err = bucket(cfg.IndexBucket); err != nil {
			return Backends{}, err
		}
		if b.Data.Blobs.Eval, err = bucket(cfg.EvalBucket); err != nil {
			return Backends{}, err
		}
		b.Data.Blobs.DocumentsName = cfg.DocumentsBucket
		if b.Data.Blobs.Customization, err = bucket(cfg.CustomizationBucket); err != nil {
			return Backends{}, err
		}
		b.Data.Blobs.CustomizationName = cfg.CustomizationBucket
		b.Data.Blobs.CustomizationKey = cfg.CustomizationKeyARN
	}
	if cfg.CustomizationBucket != "" && cfg.CustomizationRoleARN != "" {
		api := cfg.Bedrock
		if api == nil {
			api = bedrock.NewFromConfig(sdk)
		}
		b.BedrockCustomization = &BedrockCustomization{API: api, RoleARN: cfg.CustomizationRoleARN}
	}
	var vectors s3vectors.API
	if cfg.VectorBucket != "" {
		vectors = cfg.S3Vectors
		if vectors == nil {
			vectors = s3vectorsapi.NewFromConfig(sdk)
		}
		b.Data.Vectors = s3vectors.New(vectors, cfg.VectorBucket)
	}
	b.Data.IndexBackend = cfg.IndexBackend
	if len(silos) > 0 {
		client := cfg.S3
		if client == nil {
			client = s3.NewFromConfig(sdk)
		}
		b.Cells = NewTenantCells(b.Data, &awsSilos{tenants: silos, db: db, s3: client, vectors: vectors, clock: b.Clock}, b.Log)
		ttl := cfg.PlacementTTL
		if ttl <= 0 {
			ttl = DefaultPlacementTTL
		}
		b.Cells.RereadPlacements(ttl)
		b.MoveStep = cfg.MoveStep
		b.Data = b.Cells.Routed()
	}
	secrets := cfg.SecretsManager
	b.Secrets = secretstore.New(func() secretstore.API {
		if secrets != nil {
			return secrets
		}
		return secretsmanager.NewFromConfig(sdk)
	}, cfg.ProviderSecretARN).Resolve

	machines := map[string]string{}
	if cfg.EvaluationStateMachineARN != "" {
		machines[statemachines.Evaluation] = cfg.EvaluationStateMachineARN
	}
	if cfg.IngestionStateMachineARN != "" {
		machines[statemachines.Ingestion] = cfg.IngestionStateMachineARN
	}
	if cfg.AgentStateMachineARN != "" {
		machines[statemachines.Agent] = cfg.AgentStateMachineARN
	}
	if cfg.CustomizationStateMachineARN != "" {
		machines[statemachines.Customization] = cfg.CustomizationStateMachineARN
	}
	if len(machines) > 0 {
		client := cfg.StepFunctions
		if client == nil {
			client = sfn.NewFromConfig(sdk)
		}
		b.Flows = &stepfunctions.Flows{Client: client, Machines: machines}
	}
	if cfg.ScheduleGroup != "" && cfg.SchedulerRoleARN != "" && cfg.EvaluationStateMachineARN != "" {
		client := cfg.Scheduler
		if client == nil {
			client = awsscheduler.NewFromConfig(sdk)
		}
		b.Schedules = &scheduler.Schedules{Client: client, Group: cfg.ScheduleGroup, Machine: cfg.EvaluationStateMachineARN,
			Role: cfg.SchedulerRoleARN, DLQ: cfg.SchedulerDLQARN}
	}
	if cfg.UsageQueueURL != "" {
		// Records are sent to the usage queue before the invocation returns; the usage
		// function drains it into the table.
		b.UsageSpool = sqsspool.New[usage.Record](sqsClient(cfg, sdk), cfg.UsageQueueURL)
	}
	if cfg.EventBus != "" {
		client := cfg.EventBridge
		if client == nil {
			client = eventbridge.NewFromConfig(sdk)
		}
		if b.Events, err = eventbus.New(client, cfg.EventBus); err != nil {
			return Backends{}, err
		}
	}
	return b, nil
}

func sqsClient(cfg AWSConfig, sdk aws.Config) SQSAPI {
	if cfg.SQS != nil {
		return cfg.SQS
	}
	return sqs.NewFromConfig(sdk)
}

var (
	_ Flows     = (*stepfunctions.Flows)(nil)
	_ Schedules = (*scheduler.Schedules)(nil)
)

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
