package customize

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/plinth-ai/plinth/shared/blob"
	"github.com/plinth-ai/plinth/shared/registry"
	"github.com/plinth-ai/plinth/shared/store"
)

// Workflow starts and stops customisation flow executions (the embedded executor
// locally, Step Functions in AWS).
type Workflow interface {
	Start(ctx context.Context, name string, input json.RawMessage) (executionID string, err error)
	Stop(ctx context.Context, executionID, errName, cause string) error
}

// TaskCompleter completes the flow's approval step (SendTaskSuccess/SendTaskFailure).
type TaskCompleter interface {
	SendTaskSuccess(ctx context.Context, token string, output json.RawMessage) error
	SendTaskFailure(ctx context.Context, token, errName, cause string) error
}

// EvalSuite is an evaluation suite the flow runs against one model.
type EvalSuite struct {
	Tenant string
	ID     string
	Model  string
	// DatasetKey is a blob key of evaluation items (JSONL of {"id","input"|"messages",
	// "references"}).
	DatasetKey string
	Metrics    []string
}

// SuiteStore creates or replaces evaluation suites (the evaluation service).
type SuiteStore interface {
	PutSuite(ctx context.Context, s EvalSuite) error
}

// AccessCheck reports whether a tenant may use a model (nil when it may): the same
// policy that admits its inference calls.
type AccessCheck func(ctx context.Context, tenant string, m *registry.Model) error

// KeyResolver returns the KMS key that encrypts a tenant's datasets and custom-model
// artefacts ("" when none is configured, as locally).
type KeyResolver func(ctx context.Context, tenant string) (string, error)

// Service is the customisation domain: datasets, jobs, the flow's tasks, approval and
// promotion.
type Service struct {
	store       store.Store
	blobs       blob.Store
	evalBlobs   blob.Store
	evalApart   bool
	models      *registry.Service
	workflow    Workflow
	tasks       TaskCompleter
	suites      SuiteStore
	pii         PIIScanner
	access      AccessCheck
	keys        KeyResolver
	customizers map[string]Customizer
	bedrock     *BedrockSettings
	bedrockFor  func(ctx context.Context, tenant string) error
	now         func() time.Time
	log         *slog.Logger
	pollSeconds int
	maxUpload   int64

	secrets SecretResolver

	feedback   FeedbackSource
	suiteItems SuiteSource
	reviews    ReviewSource
	passages   PassageSource
	generate   Generator

	observe JobObserver
}

// BedrockSettings let the flow build CreateModelCustomizationJob requests for the
// Step Functions optimised integration.
type BedrockSettings struct {
	// RoleARN is the service role Bedrock assumes to read the data and write the output.
	RoleARN string
	// Bucket holds the platform's blobs; blob keys map to s3://Bucket/key.
	Bucket string
}

// Option configures a Service.
type Option func(*Service)

// WithCustomizer serves base models of provider (registry provider name: "local",
// "bedrock", "openai") with c.
func WithCustomizer(provider string, c Customizer) Option {
	return func(s *Service) { s.customizers[provider] = c }
}

// WithWorkflow sets how jobs start and stop their flow. Without one, jobs are created
// but never run (useful only in tests of the API layer).
func WithWorkflow(w Workflow) Option { return func(s *Service) { s.workflow = w } }

// WithTaskCompleter sets how approvals resume the flow.
func WithTaskCompleter(t TaskCompleter) Option { return func(s *Service) { s.tasks = t } }

// WithSuiteStore enables the evaluation step.
func WithSuiteStore(st SuiteStore) Option { return func(s *Service) { s.suites = st } }

// WithPIIScanner scans every dataset record with the tenant's data policy.
func WithPIIScanner(p PIIScanner) Option { return func(s *Service) { s.pii = p } }

// WithAccessCheck applies the tenant model-access policy to base models.
func WithAccessCheck(a AccessCheck) Option { return func(s *Service) { s.access = a } }

// SecretResolver returns a deployment's provider API key (the platform's secret
// resolution: the registry entry, an environment variable, Secrets Manager).
type SecretResolver func(ctx context.Context, d registry.Deployment) (string, error)

// WithSecrets resolves the API keys of OpenAI-compatible base models.
func WithSecrets(f SecretResolver) Option { return func(s *Service) { s.secrets = f } }

// WithEvalBlobs sets where the flow writes the evaluation datasets its suites read: the
// evaluation service's blob store, when it is not the customisation store (separate
// buckets in AWS). They are written under the same keys, without the tenant's
// customisation key (the evaluation functions read them with the store's own).
func WithEvalBlobs(b blob.Store) Option { return func(s *Service) { s.evalBlobs = b } }

// WithKeyResolver sets per-tenant KMS keys.
func WithKeyResolver(k KeyResolver) Option { return func(s *Service) { s.keys = k } }

// WithBedrockTenants decides which tenants may fine-tune Bedrock base models: a job of a
// tenant it refuses (its error says why) is refused as an unsupported model, before
// anything is written.
func WithBedrockTenants(allowed func(ctx context.Context, tenant string) error) Option {
	return func(s *Service) { s.bedrockFor = allowed }
}

// WithBedrock enables Bedrock base models through the Step Functions integration.
func WithBedrock(b BedrockSettings) Option { return func(s *Service) { s.bedrock = &b } }

// WithClock sets the clock.
func WithClock(now func() time.Time) Option { return func(s *Service) { s.now = now } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(s *Service) { s.log = l } }

// WithPollSeconds sets how long the flow waits between provider status checks
// (default 30; the local platform uses 1).
func WithPollSeconds(n int) Option { return func(s *Service) { s.pollSeconds = max(1, n) } }

// JobObserver is told of each change of a job's status once it is stored, with the
// status it had before (the platform's audit trail). It must not block for long.
type JobObserver func(ctx context.Context, job Job, from string)

// WithJobObserver tells o of every status change of every job.
func WithJobObserver(o JobObserver) Option { return func(s *Service) { s.observe = o } }

// WithMaxUploadBytes caps uploaded files (default 512 MiB).
func WithMaxUploadBytes(n int64) Option { return func(s *Service) { s.maxUpload = n } }

// NewService returns the customisation service. The store, blob store and registry are
// required.
func NewService(st store.Store, blobs blob.Store, models *registry.Service, opts ...Option) (*Service, error) {
	if st == nil || blobs == nil || models == nil {
		return nil, errors.New("customize: store, blob store and registry are required")
	}
	s := &Service{store: st, blobs: blobs, models: models, customizers: map[string]Customizer{},
		now: time.Now, log: slog.Default(), pollSeconds: 30, maxUpload: 512 << 20}
	for _, o := range opts {
		o(s)
	}
	if s.evalApart = s.evalBlobs != nil; !s.evalApart {
		s.evalBlobs = blobs
	}
	return s, nil
}

func newID(prefix string) string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// Storage layout.
func tenantPK(tenant string) string        { return "FT#T#" + tenant }
func fileSK(id string) string              { return "FILE#" + id }
func jobKey(id string) store.Key           { return store.Key{PK: "FT#JOB#" + id, SK: "META"} }
func modelIndexKey(model string) store.Key { return store.Key{PK: "FT#MODEL", SK: model} }
func jobIndexSK(created time.Time, id string) string {
	return "JOB#" + fmt.Sprintf("%019d", created.UnixNano()) + "#" + id
}

// Blob layout: everything of a tenant under tenants/{tenant}/customization/.
func tenantPrefix(tenant string) string { return "tenants/" + tenant + "/customization/" }
func fileKey(tenant, id string) string  { return tenantPrefix(tenant) + "files/" + id + ".jsonl" }
func jobPrefix(tenant, id string) string {
	return tenantPrefix(tenant) + "jobs/" + id + "/"
}

func (s *Service) getRecord(ctx context.Context, id string) (*jobRecord, int64, error) {
	it, err := s.store.Get(ctx, jobKey(id))
	if errors.Is(err, store.ErrNotFound) {
		return nil, 0, fmt.Errorf("fine-tuning job %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("get job %s: %w", id, err)
	}
	var rec jobRecord
	if err := json.Unmarshal(it.Data, &rec); err != nil {
		return nil, 0, fmt.Errorf("decode job %s: %w", id, err)
	}
	return &rec, it.Version, nil
}

// updateJob applies change with optimistic concurrency, retrying on conflicts.
func (s *Service) updateJob(ctx context.Context, id string, change func(*jobRecord) error) (*jobRecord, error) {
	for attempt := 0; attempt < 8; attempt++ {
		rec, version, err := s.getRecord(ctx, id)
		if err != nil {
			return nil, err
		}
		from := rec.Job.Status
		if err := change(rec); err != nil {
			return nil, err
		}
		data, err := json.Marshal(rec)
		if err != nil {
			return nil, err
		}
		_, err = s.store.Put(ctx, store.Item{Key: jobKey(id), Data: data}, store.WriteOptions{Cond: store.IfVersion, Version: version})
		if errors.Is(err, store.ErrConditionFailed) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("save job %s: %w", id, err)
		}
		if s.observe != nil && rec.Job.Status != from {
			s.observe(ctx, rec.Job, from)
		}
		return rec, nil
	}
	return nil, fmt.Errorf("job %s: %w: changed concurrently", id, ErrConflict)
}

// event appends a job event (best effort: a failed write is logged, never fatal).
func (s *Service) event(ctx context.Context, jobID, level, typ, msg string, data map[string]any) {
	now := s.now()
	suffix := fmt.Sprintf("%019d", now.UnixNano()) + newID("")[:8]
	ev := Event{ID: "ftevent-" + suffix, Object: "fine_tuning.job.event", CreatedAt: now.Unix(), Level: level, Message: msg, Data: data, Type: typ}
	if ev.Data == nil {
		ev.Data = map[string]any{}
	}
	b, _ := json.Marshal(ev)
	if _, err := s.store.Put(ctx, store.Item{Key: store.Key{PK: jobKey(jobID).PK, SK: "EVENT#" + suffix}, Data: b}, store.WriteOptions{}); err != nil {
		s.log.Warn("fine-tuning event not recorded", "job", jobID, "message", msg, "error", err)
	}
}

// metricEvents appends one metrics event per training step.
func (s *Service) metricEvents(ctx context.Context, jobID string, steps []StepMetric, total int) {
	for _, st := range steps {
		s.event(ctx, jobID, "info", "metrics", "Step "+strconv.Itoa(st.Step)+"/"+strconv.Itoa(total)+": training loss="+strconv.FormatFloat(st.TrainingLoss, 'f', 4, 64),
			map[string]any{"step": st.Step, "epoch": st.Epoch, "train_loss": st.TrainingLoss, "total_steps": total})
	}
}

// customizer returns the adapter for a provider.
func (s *Service) customizer(provider string) (Customizer, error) {
	c, ok := s.customizers[provider]
	if !ok {
		return nil, fmt.Errorf("%w: no customisation provider is configured for %q models", ErrUnsupportedModel, provider)
	}
	return c, nil
}
