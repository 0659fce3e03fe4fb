// Package platform is Plinth's one composition root. New builds the platform once from a
// set of Backends (where data lives, how secrets are read, how flows start and schedules
// run, where metrics and traces go, and the clock); the local runtime and the AWS Lambda
// functions differ only in the backends they pass (LocalBackends, awsplatform.NewBackends) and in
// the part of the platform they serve (Handler with the APIs of their routes, the flow
// tasks of IngestTasks and EvalTasks).
//
// Capabilities are built on first use and shared: the gateway service (Gateway), the
// guardrails (Guardrails), knowledge bases (RAG), evaluation (Eval), human evaluation
// (HumanEval) and the tool hub (Tools). They are package functions rather than methods,
// so a Lambda binary links only the capabilities its routes and tasks reach.
//
// A runtime's story is three steps:
//
//	b, err := awsplatform.NewBackends(ctx, awsplatform.ConfigFromEnv())           // backends
//	p, err := platform.New(ctx, b)                                                 // build
//	h, err := platform.Handler(p, platform.TenantEdge(p), platform.GatewayAPIs()...) // serve
//
// Locally: NewLocalRuntime (backends), New (build), LocalRuntime.Serve (serve all of it).
//
// Tenants' data lives in cells (cells.go). The platform's own records (tenant directory,
// credentials, registry, guardrail baseline, tool catalog, audit trail, executions'
// indexes) always stay in the pool cell; a pool tenant's data shares it, a silo tenant's
// lives in a cell of its own (locally <data dir>/tenants/<id>/, sealed with the tenant's
// key). TenantCells.Routed is the one mechanism: the pool cell's stores behind routers
// that place every record and object by the tenant its key or data names, passed as
// Backends.Data, so capabilities never see tiers. MoveTenant moves a pool tenant into a
// cell of its own.
//
// In AWS a silo tenant's cell is its own DynamoDB table and S3 buckets (named to the
// functions by PLINTH_SILO_TENANTS), encrypted at rest by the tenant's own KMS key
// through the table's and buckets' own server-side encryption, so there is no envelope
// layer there: disabling that key makes the tenant's data unreadable.
package platform

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/plinth-ai/plinth/shared/audit"
	"github.com/plinth-ai/plinth/shared/audit/storelog"
	"github.com/plinth-ai/plinth/shared/blob"
	"github.com/plinth-ai/plinth/shared/customize"
	"github.com/plinth-ai/plinth/shared/eval"
	"github.com/plinth-ai/plinth/shared/federation"
	"github.com/plinth-ai/plinth/shared/gateway"
	"github.com/plinth-ai/plinth/shared/observe"
	"github.com/plinth-ai/plinth/shared/provider/router"
	"github.com/plinth-ai/plinth/shared/rag/index"
	"github.com/plinth-ai/plinth/shared/registry"
	"github.com/plinth-ai/plinth/shared/secret"
	"github.com/plinth-ai/plinth/shared/spool"
	"github.com/plinth-ai/plinth/shared/store"
	"github.com/plinth-ai/plinth/shared/tenant"
	"github.com/plinth-ai/plinth/shared/usage"
)

// ErrMissingConfig means a backend a capability needs was not given (a bucket, a table).
var ErrMissingConfig = errors.New("missing configuration")

// Backends are what a runtime gives the platform. Only Store is required; a capability
// whose backend is missing fails with ErrMissingConfig when first used.
type Backends struct {
	// Data is where tenants' data lives: the pool cell, or, where silo tenants have cells
	// of their own, Cells.Routed() (the pool cell's stores behind routers that send each
	// silo tenant's records and objects to its cell). Capabilities are built over it once
	// and never see tiers.
	Data Cell
	// Cells, when set, are the tenants' cells Data routes to (nil: every tenant's data is
	// in the pool cell, whatever its tier).
	Cells *TenantCells
	// MoveStep is how long one POST /admin/tenants/{id}/migration runs a tenant's move
	// where moves run in steps (TierStepsAPI, on Lambda; default DefaultMoveStep).
	MoveStep time.Duration

	// Secrets resolves provider and tool credentials (default secret.Env: the entry's own
	// value or an environment variable).
	Secrets secret.Resolver
	// Flows starts the state machines; nil means runs cannot be started from here.
	Flows Flows
	// BedrockCustomization, when set, fine-tunes Bedrock base models (AWS); nil means
	// they cannot be fine-tuned here.
	BedrockCustomization *BedrockCustomization
	// IngestOnUpload starts ingestion through Flows when a document is uploaded; false
	// where the blob store's own notifications start it (S3 → EventBridge in AWS).
	IngestOnUpload bool
	// Schedules runs evaluation suites on their schedules; nil means they are not run.
	Schedules Schedules
	// Events receives evaluation events (runs finished, regressions); nil logs them.
	Events eval.EventPublisher
	// Metrics receives one observation per gateway request (CloudWatch EMF in AWS).
	Metrics gateway.Metrics
	// Tracer traces upstream calls (X-Ray in AWS); nil traces nothing.
	Tracer *observe.Tracer
	// Upstream is the HTTP client of provider and tool calls (default UpstreamHTTPClient).
	Upstream *http.Client
	// AWS is the SDK configuration for Amazon Bedrock, Bedrock Guardrails and Lambda tool
	// servers; nil loads the default chain when one of them is first called.
	AWS *aws.Config
	// GuardrailEmbeddingModel, when set, is the registry embedding model denied topics
	// are also matched with semantically (a paraphrase of a topic is caught); unset keeps
	// topic matching lexical. It is a platform cost, not charged to tenants.
	GuardrailEmbeddingModel string
	// UsageSpool keeps usage records durably until the store has them (optional).
	UsageSpool usage.Spool
	// AuditSpool keeps audit events durably until the audit log has them (optional;
	// without it they are queued in memory and appended with retries).
	AuditSpool spool.Spool[audit.Event]
	// Router tunes the model router (retries, backoff, breakers, default timeouts);
	// Deployments add to how deployments are built.
	Router      []router.Option
	Deployments []router.BuildOption
	// Clock is the platform's one clock (default time.Now): stores judge expiry with the
	// same clock, quotas count windows by it, records (usage, audit, runs, reviews,
	// tool calls) are stamped with it and usage's "today" is its day. Only timers
	// (workflow Wait states, schedules) run on the wall clock.
	Clock func() time.Time
	// Log is the platform's logger (default slog.Default()).
	Log *slog.Logger
	// Central, when configured, is the central platform this one pulls its model registry
	// and guardrail baseline from (decentralised mode, package federation).
	Central federation.Source
}

// Cell is one place tenants' data lives: the single-table store, the blob buckets and
// the vector store of dense knowledge-base vectors.
type Cell struct {
	Store store.Store
	Blobs Buckets
	// Vectors holds the dense vectors of knowledge bases whose index backend is
	// "s3vectors"; nil when that backend is not offered.
	Vectors index.VectorStore
	// IndexCacheDir keeps downloaded index segments on local disk ("" = a temp dir).
	IndexCacheDir string
	// IndexBackend is the index backend of knowledge bases created without one:
	// "embedded" (default) or "s3vectors" (needs Vectors).
	IndexBackend string
}

// Buckets are the blob stores of a cell. Locally one directory serves all three.
type Buckets struct {
	// Documents holds uploaded documents and ingestion intermediates; DocumentsName is
	// the bucket name S3 events and source URIs carry ("local" locally).
	Documents     blob.Store
	DocumentsName string
	// Index holds knowledge-base index segments.
	Index blob.Store
	// Eval holds evaluation datasets, results, reports and ground-truth datasets.
	Eval blob.Store
	// Customization holds tenants' fine-tuning datasets, the jobs' validated records
	// and the models trained locally (each tenant under its own prefix, with its own KMS
	// key in AWS); CustomizationName is its bucket name, for Bedrock's S3 URIs.
	Customization     blob.Store
	CustomizationName string
	// CustomizationKey is the KMS key (ID or ARN) the customisation bucket's objects
	// and the custom models Bedrock trains are encrypted with ("" = the bucket's
	// default, as locally).
	CustomizationKey string
}

// BedrockCustomization lets the platform fine-tune Amazon Bedrock base models: the
// Bedrock control-plane client (job status and metrics, stops) and the service role
// Bedrock assumes to read a job's data and write its output. The flow starts Bedrock
// jobs through Step Functions' .sync integration, so this client never creates one.
type BedrockCustomization struct {
	// Jobs builds the customizer of Bedrock jobs for the customisation settings and
	// bucket (bedrockjob.New over the Bedrock control-plane client, which awsplatform
	// builds): the platform does not link the Bedrock client itself, so the local
	// runtime, which never fine-tunes on Bedrock, does not either.
	Jobs    func(settings customize.BedrockSettings, blobs blob.Store) customize.Customizer
	RoleARN string
}

// Platform is the built platform: the registry, tenants, usage and audit trail every
// part shares, and the capabilities, built on first use.
type Platform struct {
	// Registry, Tenants, Usage, Audit and AuditLog are built with the platform.
	Registry *registry.Service
	Tenants  *tenant.Service
	Usage    *usage.Recorder
	Audit    *audit.Writer
	AuditLog audit.Log

	b   Backends
	log *slog.Logger
	now func() time.Time

	mu      sync.Mutex
	parts   map[partKey]*partEntry
	closers []func(context.Context) error
}

// New builds the platform over b. Close it when done.
func New(ctx context.Context, b Backends) (*Platform, error) {
	if b.Data.Store == nil {
		return nil, fmt.Errorf("platform store: %w", ErrMissingConfig)
	}
	if b.Log == nil {
		b.Log = slog.Default()
	}
	if b.Clock == nil {
		b.Clock = time.Now
	}
	if b.Secrets == nil {
		b.Secrets = secret.Env
	}
	if b.Upstream == nil {
		b.Upstream = UpstreamHTTPClient()
	}
	if b.Tracer != nil && b.Tracer.Enabled() {
		c := *b.Upstream
		c.Transport = b.Tracer.Transport(c.Transport)
		b.Upstream = &c
	}
	st := b.Data.Store
	p := &Platform{b: b, log: b.Log, now: b.Clock, parts: map[partKey]*partEntry{}}
	p.Registry = registry.NewService(st, registry.WithClock(b.Clock))
	p.Tenants = tenant.NewService(st, tenant.WithLogger(b.Log), tenant.WithClock(b.Clock),
		tenant.WithReferences(references{p}.tenantRefs()))
	recOpts := []usage.Option{usage.WithLogger(b.Log), usage.WithClock(b.Clock)}
	if b.UsageSpool != nil {
		recOpts = append(recOpts, usage.WithSpool(b.UsageSpool))
	}
	p.Usage = usage.NewRecorder(st, recOpts...)
	p.AuditLog = storelog.New(st, storelog.WithClock(b.Clock))
	auditOpts := []audit.WriterOption{audit.WithLogger(b.Log), audit.WithClock(b.Clock)}
	if b.AuditSpool != nil {
		auditOpts = append(auditOpts, audit.WithSpool(b.AuditSpool))
	}
	p.Audit = audit.NewWriter(p.AuditLog, auditOpts...)
	p.closers = []func(context.Context) error{p.Audit.Close, p.Usage.Close}
	return p, nil
}

// Backends returns the backends the platform was built with.
func (p *Platform) Backends() Backends { return p.b }

// Log returns the platform's logger.
func (p *Platform) Log() *slog.Logger { return p.log }

// Clock returns the platform's clock.
func (p *Platform) Clock() func() time.Time { return p.now }

// Flush waits until the usage records and audit events so far are written: Lambda
// handlers call it before an invocation completes, as the process may be frozen after.
func (p *Platform) Flush(ctx context.Context) error {
	return errors.Join(p.Usage.Flush(ctx), p.Audit.Flush(ctx))
}

// Close stops the capabilities that run in the background and flushes usage and audit
// events, newest first.
func (p *Platform) Close(ctx context.Context) error {
	p.mu.Lock()
	closers := p.closers
	p.closers = nil
	p.mu.Unlock()
	var errs []error
	for i := len(closers) - 1; i >= 0; i-- {
		errs = append(errs, closers[i](ctx))
	}
	return errors.Join(errs...)
}

// onClose adds fn to what Close runs (before what was added earlier).
func (p *Platform) onClose(fn func(context.Context) error) {
	p.mu.Lock()
	p.closers = append(p.closers, fn)
	p.mu.Unlock()
}

// partKey names a capability built on first use.
type partKey int

const (
	partGuardrails partKey = iota
	partInvoker
	partGateway
	partUsage
	partRAG
	partEval
	partHumanEval
	partTools
	partAgents
	partCustomize
	partTunedModels
)

type partEntry struct {
	once sync.Once
	v    any
	err  error
}

// part builds the capability k once with build and returns it (or the error it failed
// with) on every call. Capabilities may build others they need; none needs itself.
func part[T any](p *Platform, k partKey, build func() (T, error)) (T, error) {
	p.mu.Lock()
	e, ok := p.parts[k]
	if !ok {
		e = &partEntry{}
		p.parts[k] = e
	}
	p.mu.Unlock()
	e.once.Do(func() { e.v, e.err = build() })
	if e.err != nil {
		var zero T
		return zero, e.err
	}
	return e.v.(T), nil
}
