package platform

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/plinth-ai/plinth/shared/audit"
	"github.com/plinth-ai/plinth/shared/audit/storelog"
	"github.com/plinth-ai/plinth/shared/blob"
	"github.com/plinth-ai/plinth/shared/blob/s3blob"
	"github.com/plinth-ai/plinth/shared/cache"
	"github.com/plinth-ai/plinth/shared/cache/gatewaycache"
	"github.com/plinth-ai/plinth/shared/gateway"
	"github.com/plinth-ai/plinth/shared/guardrail"
	"github.com/plinth-ai/plinth/shared/guardrail/bedrockguard"
	"github.com/plinth-ai/plinth/shared/observe"
	"github.com/plinth-ai/plinth/shared/observe/awstrace"
	"github.com/plinth-ai/plinth/shared/provider/router"
	"github.com/plinth-ai/plinth/shared/quota"
	"github.com/plinth-ai/plinth/shared/quota/gatewayquota"
	"github.com/plinth-ai/plinth/shared/rag/s3vectors"
	"github.com/plinth-ai/plinth/shared/registry"
	"github.com/plinth-ai/plinth/shared/store"
	"github.com/plinth-ai/plinth/shared/store/dynamostore"
	"github.com/plinth-ai/plinth/shared/tenant"
	"github.com/plinth-ai/plinth/shared/usage"
	"github.com/plinth-ai/plinth/shared/usage/gatewayusage"
	"github.com/plinth-ai/plinth/shared/usage/sqsspool"
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
	EnvScheduleGroup             = "PLINTH_SCHEDULE_GROUP"
	EnvSchedulerRoleARN          = "PLINTH_SCHEDULER_ROLE_ARN"
	EnvSchedulerDLQARN           = "PLINTH_SCHEDULER_DLQ_ARN"
	// EnvVectorBucket names an S3 Vectors bucket; when set, knowledge bases may use the
	// "s3vectors" index backend.
	EnvVectorBucket = "PLINTH_VECTOR_BUCKET"
	// EnvUsageQueueURL names the SQS queue usage records are spooled to; when unset they
	// are written to the table directly.
	EnvUsageQueueURL = "PLINTH_USAGE_QUEUE_URL"
	// EnvUsageDLQURL names the usage queue's dead-letter queue, which the usage function
	// redrives into the ledger on its schedule.
	EnvUsageDLQURL = "PLINTH_USAGE_DLQ_URL"
)

// SQSAPI is the part of the SQS client the usage spool and its redrive use.
type SQSAPI interface {
	sqsspool.SendAPI
	sqsspool.RedriveAPI
}

// SecretsAPI is the part of the Secrets Manager client the secret resolver uses.
type SecretsAPI interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// StartExecutionAPI is the part of the Step Functions client that starts runs.
type StartExecutionAPI interface {
	StartExecution(ctx context.Context, in *sfn.StartExecutionInput, optFns ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error)
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
	ScheduleGroup             string
	SchedulerRoleARN          string
	SchedulerDLQARN           string
	VectorBucket              string
	UsageQueueURL             string
	UsageDLQURL               string

	// AWS is the SDK configuration; nil loads the default chain (Lambda's role).
	AWS *aws.Config
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
	SecretsManager SecretsAPI
	StepFunctions  StartExecutionAPI
	EventBridge    PutEventsAPI
	Scheduler      SchedulerAPI
	S3Vectors      s3vectors.API
	SQS            SQSAPI
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
		ScheduleGroup:             os.Getenv(EnvScheduleGroup),
		SchedulerRoleARN:          os.Getenv(EnvSchedulerRoleARN),
		SchedulerDLQARN:           os.Getenv(EnvSchedulerDLQARN),
		VectorBucket:              os.Getenv(EnvVectorBucket),
		UsageQueueURL:             os.Getenv(EnvUsageQueueURL),
		UsageDLQURL:               os.Getenv(EnvUsageDLQURL),
	}
}

// ErrMissingConfig means a setting a function needs is empty.
var ErrMissingConfig = errors.New("missing configuration")

// AWS is the platform assembled on AWS services for one Lambda function, built once per
// cold start. Only the table client is created eagerly; S3, Secrets Manager, Step
// Functions, EventBridge and Bedrock clients are created on first use, so a function
// pays for none it does not call.
type AWS struct {
	cfg    AWSConfig
	sdk    aws.Config
	Log    *slog.Logger
	Tracer *observe.Tracer

	Store    store.Store
	Registry *registry.Service
	Tenants  *tenant.Service
	Usage    *usage.Recorder
	// Audit records audit events into AuditLog, flushed with usage by Flush.
	Audit    *audit.Writer
	AuditLog audit.Log
	Secrets  *SecretsResolver

	metrics  gateway.Metrics
	upstream *http.Client

	s3Once sync.Once
	s3     s3blob.Client
	sfnOne sync.Once
	sfn    StartExecutionAPI
	ebOnce sync.Once
	eb     PutEventsAPI

	gwOnce sync.Once
	gw     *gatewayParts
	gwErr  error

	toolParts awsTools
	grOnce    sync.Once
	gr        *guardrail.Service
	grErr     error
}

// NewAWS builds the shared part of every function: SDK configuration (with X-Ray
// instrumentation when tracing is active), the DynamoDB store, the registry, tenants and
// the usage recorder. It needs cfg.Table.
func NewAWS(ctx context.Context, cfg AWSConfig) (*AWS, error) {
	if cfg.Table == "" {
		return nil, fmt.Errorf("%s: %w", EnvTable, ErrMissingConfig)
	}
	a := &AWS{cfg: cfg, Log: cfg.Logger, Tracer: cfg.Tracer, metrics: cfg.Metrics}
	if a.Log == nil {
		a.Log = observe.NewLogger(os.Stdout)
	}
	if a.Tracer == nil {
		a.Tracer = observe.NewTracer()
	}
	if a.metrics == nil {
		a.metrics = observe.NewEMF(os.Stdout)
	}
	if cfg.AWS != nil {
		a.sdk = cfg.AWS.Copy()
	} else {
		sdk, err := config.LoadDefaultConfig(ctx)
		if err != nil {
			return nil, fmt.Errorf("load AWS configuration: %w", err)
		}
		a.sdk = sdk
	}
	awstrace.Instrument(&a.sdk.APIOptions, a.Tracer)

	a.upstream = cfg.UpstreamHTTPClient
	if a.upstream == nil {
		a.upstream = UpstreamHTTPClient()
	}
	if a.Tracer.Enabled() {
		c := *a.upstream
		c.Transport = a.Tracer.Transport(c.Transport)
		a.upstream = &c
	}

	db := cfg.DynamoDB
	if db == nil {
		db = dynamodb.NewFromConfig(a.sdk)
	}
	st, err := dynamostore.New(db, cfg.Table)
	if err != nil {
		return nil, err
	}
	a.Store = st
	a.Registry = registry.NewService(st)
	a.Tenants = tenant.NewService(st, tenant.WithLogger(a.Log))
	// Lambda freezes the process between invocations: records are flushed before each
	// invocation returns (Flush), so the queue never holds more than one request's worth.
	usageOpts := []usage.Option{usage.WithLogger(a.Log)}
	if cfg.UsageQueueURL != "" {
		// Records are sent to the usage queue before the invocation returns; the usage
		// function drains it into the table.
		usageOpts = append(usageOpts, usage.WithSpool(sqsspool.New(a.sqsClient(), cfg.UsageQueueURL)))
	}
	a.Usage = usage.NewRecorder(st, usageOpts...)
	a.AuditLog = storelog.New(st)
	a.Audit = audit.NewWriter(a.AuditLog, audit.WithLogger(a.Log))
	a.Secrets = NewSecretsResolver(a.secretsClient, cfg.ProviderSecretARN)
	return a, nil
}

// Flush waits until the usage records and audit events of the invocation so far are
// written; handlers call it before an invocation completes, as Lambda may freeze the
// process right after.
func (a *AWS) Flush(ctx context.Context) error {
	return errors.Join(a.Usage.Flush(ctx), a.Audit.Flush(ctx))
}

// SDKConfig returns the (instrumented) AWS SDK configuration.
func (a *AWS) SDKConfig() aws.Config { return a.sdk }

func (a *AWS) sqsClient() SQSAPI {
	if a.cfg.SQS != nil {
		return a.cfg.SQS
	}
	return sqs.NewFromConfig(a.sdk)
}

func (a *AWS) secretsClient() SecretsAPI {
	if a.cfg.SecretsManager != nil {
		return a.cfg.SecretsManager
	}
	return secretsmanager.NewFromConfig(a.sdk)
}

func (a *AWS) s3Client() s3blob.Client {
	a.s3Once.Do(func() {
		a.s3 = a.cfg.S3
		if a.s3 == nil {
			a.s3 = s3.NewFromConfig(a.sdk)
		}
	})
	return a.s3
}

func (a *AWS) sfnClient() StartExecutionAPI {
	a.sfnOne.Do(func() {
		a.sfn = a.cfg.StepFunctions
		if a.sfn == nil {
			a.sfn = sfn.NewFromConfig(a.sdk)
		}
	})
	return a.sfn
}

func (a *AWS) eventBridgeClient() PutEventsAPI {
	a.ebOnce.Do(func() {
		a.eb = a.cfg.EventBridge
		if a.eb == nil {
			a.eb = eventbridge.NewFromConfig(a.sdk)
		}
	})
	return a.eb
}

func (a *AWS) schedulerClient() SchedulerAPI {
	if a.cfg.Scheduler != nil {
		return a.cfg.Scheduler
	}
	return scheduler.NewFromConfig(a.sdk)
}

// bucket returns the blob store of an S3 bucket named by the setting env.
func (a *AWS) bucket(env, name string) (blob.Store, error) {
	if name == "" {
		return nil, fmt.Errorf("%s: %w", env, ErrMissingConfig)
	}
	return s3blob.New(a.s3Client(), name)
}

// gatewayParts is the model gateway service and what is built with it.
type gatewayParts struct {
	gw    *gateway.Gateway
	inv   *Invoker
	usage *usage.Service
}

// gateway builds the model gateway once: the router with Secrets Manager keys and
// Bedrock on the function's credentials, tenants' guardrail policies inline, DynamoDB
// quotas, the exact and semantic cache, usage, EMF metrics.
func (a *AWS) gateway() (*gatewayParts, error) {
	a.gwOnce.Do(func() {
		guards, err := a.guardrails()
		if err != nil {
			a.gwErr = err
			return
		}
		inv := NewInvoker(router.New(), a.Registry, a.Secrets.Resolve,
			router.WithSharedHTTPClient(a.upstream), router.WithAWSConfig(a.sdk))
		gw := gateway.New(a.Registry, inv,
			gateway.WithLogger(a.Log),
			gateway.WithTenants(a.Tenants),
			gateway.WithGuard(newGuardAdapter(guards)),
			gateway.WithQuota(gatewayquota.New(quota.New(a.Store))),
			gateway.WithUsage(gatewayusage.New(a.Usage, a.Log)),
			gateway.WithCache(gatewaycache.New(cache.New(a.Store, cache.WithEmbedder(semanticEmbedder(inv, a.Registry))), a.Log)),
			gateway.WithMetrics(a.metrics),
		)
		a.gw = &gatewayParts{gw: gw, inv: inv, usage: usage.NewService(a.Store, a.Tenants)}
	})
	return a.gw, a.gwErr
}

// guardrails builds the guardrail service once (engine, stored policies, tenants'
// assignments); policies that name an Amazon Bedrock guardrail are evaluated by
// ApplyGuardrail with the function's credentials.
func (a *AWS) guardrails() (*guardrail.Service, error) {
	a.grOnce.Do(func() {
		a.gr, a.grErr = newGuardrails(a.Store, a.Tenants, time.Now, guardrail.WithDelegate(bedrockguard.New(bedrockruntime.NewFromConfig(a.sdk))))
		if a.grErr != nil {
			a.grErr = fmt.Errorf("guardrail engine: %w", a.grErr)
		}
	})
	return a.gr, a.grErr
}
