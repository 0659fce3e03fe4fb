// Package awsplatform assembles the platform on AWS: the backends of one Lambda function
// (DynamoDB, S3, S3 Vectors, Secrets Manager, Step Functions, EventBridge, SQS, Bedrock
// model customisation) from the environment the CDK app sets, and the usage function's
// queue drain. It is apart from package platform so that binaries which never run in
// Lambda (functions/local) do not link, and initialise, the AWS SDK clients only Lambda
// functions use.
package awsplatform

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

	"github.com/plinth-ai/plinth/shared/awsbody"
	"github.com/plinth-ai/plinth/shared/blob"
	"github.com/plinth-ai/plinth/shared/blob/s3blob"
	"github.com/plinth-ai/plinth/shared/customize"
	"github.com/plinth-ai/plinth/shared/customize/bedrockjob"
	"github.com/plinth-ai/plinth/shared/eval/eventbus"
	"github.com/plinth-ai/plinth/shared/gateway"
	"github.com/plinth-ai/plinth/shared/gateway/emf"
	"github.com/plinth-ai/plinth/shared/observe"
	"github.com/plinth-ai/plinth/shared/observe/awstrace"
	"github.com/plinth-ai/plinth/shared/platform"
	"github.com/plinth-ai/plinth/shared/platform/scheduler"
	"github.com/plinth-ai/plinth/shared/platform/stepfunctions"
	"github.com/plinth-ai/plinth/shared/rag/index/s3vectors"
	secretstore "github.com/plinth-ai/plinth/shared/secret/secretsmanager"
	"github.com/plinth-ai/plinth/shared/spool/sqsspool"
	"github.com/plinth-ai/plinth/shared/store/dynamostore"
	"github.com/plinth-ai/plinth/shared/usage"
	"github.com/plinth-ai/plinth/statemachines"
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

// Config configures the AWS assembly of one Lambda function. ConfigFromEnv fills
// the names from the environment the CDK app sets; the client fields replace SDK
// clients (emulators in tests) and are built from AWS when nil.
type Config struct {
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
	Central platform.CentralSettings
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

// ConfigFromEnv reads the function's configuration from the environment.
func ConfigFromEnv() Config {
	return Config{
		Table:                     os.Getenv(platform.EnvTable),
		DocumentsBucket:           os.Getenv(platform.EnvDocumentsBucket),
		IndexBucket:               os.Getenv(platform.EnvIndexBucket),
		EvalBucket:                os.Getenv(platform.EnvEvalBucket),
		ProviderSecretARN:         os.Getenv(platform.EnvProviderSecretARN),
		EventBus:                  os.Getenv(platform.EnvEventBus),
		EvaluationStateMachineARN: os.Getenv(platform.EnvEvaluationStateMachineARN),
		IngestionStateMachineARN:  os.Getenv(platform.EnvIngestionStateMachineARN),
		AgentStateMachineARN:      os.Getenv(platform.EnvAgentStateMachineARN),
		ScheduleGroup:             os.Getenv(platform.EnvScheduleGroup),
		SchedulerRoleARN:          os.Getenv(platform.EnvSchedulerRoleARN),
		SchedulerDLQARN:           os.Getenv(platform.EnvSchedulerDLQARN),
		VectorBucket:              os.Getenv(platform.EnvVectorBucket),
		IndexBackend:              os.Getenv(platform.EnvIndexBackend),
		GuardrailEmbeddingModel:   os.Getenv(platform.EnvGuardrailEmbeddingModel),
		UsageQueueURL:             os.Getenv(platform.EnvUsageQueueURL),
		UsageDLQURL:               os.Getenv(platform.EnvUsageDLQURL),

		CustomizationBucket:          os.Getenv(platform.EnvCustomizationBucket),
		CustomizationKeyARN:          os.Getenv(platform.EnvCustomizationKeyARN),
		CustomizationRoleARN:         os.Getenv(platform.EnvCustomizationRoleARN),
		CustomizationStateMachineARN: os.Getenv(platform.EnvCustomizationStateMachineARN),
		SiloTenants:                  os.Getenv(platform.EnvSiloTenants),
		Central:                      platform.CentralSettingsFrom(os.Getenv),
	}
}

// New builds the platform on the AWS backends cfg names: what every function does
// once per cold start before it serves its part of the platform.
func New(ctx context.Context, cfg Config) (*platform.Platform, error) {
	b, err := NewBackends(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return platform.New(ctx, b)
}

// NewBackends builds the AWS backends of one Lambda function, once per cold start: the
// DynamoDB table, the S3 buckets it names (documents, index, eval, customisation), Bedrock
// model customisation (with the customisation bucket and role), S3 Vectors, Secrets
// Manager for provider keys, Step Functions for runs, EventBridge Scheduler for
// evaluation schedules and the event bus for evaluation events, CloudWatch EMF metrics,
// and X-Ray tracing of AWS and provider calls when the function traces. Only the table
// is required; clients are built only for what is configured. With silo tenants
// (PLINTH_SILO_TENANTS) the data is routed by tenant as locally: Backends.Cells holds the
// silo tenants' cells, each its own table and buckets encrypted by its own KMS key.
func NewBackends(ctx context.Context, cfg Config) (platform.Backends, error) {
	if cfg.Table == "" {
		return platform.Backends{}, fmt.Errorf("%s: %w", platform.EnvTable, platform.ErrMissingConfig)
	}
	silos, err := ParseSiloTenants(cfg.SiloTenants)
	if err != nil {
		return platform.Backends{}, err
	}
	b := platform.Backends{Log: cfg.Logger, Tracer: cfg.Tracer, Metrics: cfg.Metrics, Upstream: cfg.UpstreamHTTPClient,
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
			return platform.Backends{}, fmt.Errorf("load AWS configuration: %w", err)
		}
	}
	// Every client built from sdk reads its answers on the connection they came on
	// (see awsbody): an SQS receive is not sent twice, its first messages left invisible.
	sdk.HTTPClient = awsbody.Client(sdk.HTTPClient)
	awstrace.Instrument(&sdk.APIOptions, b.Tracer)
	b.AWS = &sdk
	if b.Central, err = cfg.Central.Source(ctx, sdk.Credentials); err != nil {
		return platform.Backends{}, err
	}

	db := cfg.DynamoDB
	if db == nil {
		db = dynamodb.NewFromConfig(sdk)
	}
	st, err := dynamostore.New(db, cfg.Table, dynamostore.WithClock(b.Clock))
	if err != nil {
		return platform.Backends{}, err
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
			return platform.Backends{}, err
		}
		if b.Data.Blobs.Index, err = bucket(cfg.IndexBucket); err != nil {
			return platform.Backends{}, err
		}
		if b.Data.Blobs.Eval, err = bucket(cfg.EvalBucket); err != nil {
			return platform.Backends{}, err
		}
		b.Data.Blobs.DocumentsName = cfg.DocumentsBucket
		if b.Data.Blobs.Customization, err = bucket(cfg.CustomizationBucket); err != nil {
			return platform.Backends{}, err
		}
		b.Data.Blobs.CustomizationName = cfg.CustomizationBucket
		b.Data.Blobs.CustomizationKey = cfg.CustomizationKeyARN
	}
	if cfg.CustomizationBucket != "" && cfg.CustomizationRoleARN != "" {
		api := cfg.Bedrock
		if api == nil {
			api = bedrock.NewFromConfig(sdk)
		}
		b.BedrockCustomization = &platform.BedrockCustomization{RoleARN: cfg.CustomizationRoleARN,
			Jobs: func(settings customize.BedrockSettings, blobs blob.Store) customize.Customizer {
				return bedrockjob.New(api, settings, blobs)
			}}
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
		b.Cells = platform.NewTenantCells(b.Data, &awsSilos{tenants: silos, db: db, s3: client, vectors: vectors, clock: b.Clock}, b.Log)
		ttl := cfg.PlacementTTL
		if ttl <= 0 {
			ttl = platform.DefaultPlacementTTL
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
			return platform.Backends{}, err
		}
	}
	return b, nil
}

func sqsClient(cfg Config, sdk aws.Config) SQSAPI {
	if cfg.SQS != nil {
		return cfg.SQS
	}
	return sqs.NewFromConfig(sdk)
}

var (
	_ platform.Flows          = (*stepfunctions.Flows)(nil)
	_ platform.Schedules      = (*scheduler.Schedules)(nil)
	_ customize.TaskCompleter = (*stepfunctions.Flows)(nil)
)
