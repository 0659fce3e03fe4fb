package customize

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"

	"github.com/plinth-ai/plinth/shared/fault"
	"github.com/plinth-ai/plinth/shared/idpattern"
	"github.com/plinth-ai/plinth/shared/registry"
	"github.com/plinth-ai/plinth/shared/store"
)

// JobRequest is OpenAI's create-fine-tuning-job body with Plinth's extensions.
type JobRequest struct {
	Model          string `json:"model"`
	TrainingFile   string `json:"training_file"`
	ValidationFile string `json:"validation_file,omitempty"`
	// Hyperparameters takes OpenAI's names (n_epochs, batch_size,
	// learning_rate_multiplier) and Bedrock's (epochCount, learningRate, …).
	Hyperparameters map[string]any    `json:"hyperparameters,omitempty"`
	Method          *RequestMethod    `json:"method,omitempty"`
	Suffix          string            `json:"suffix,omitempty"`
	Seed            *int64            `json:"seed,omitempty"`
	Metadata        map[string]string `json:"metadata,omitempty"`
	Integrations    []json.RawMessage `json:"integrations,omitempty"`
	// CustomizationType is FINE_TUNING (default) or CONTINUED_PRE_TRAINING.
	CustomizationType CustomizationType `json:"customization_type,omitempty"`
	// PromoteAlias is the alias the approved model is promoted to (default
	// "<tenant>/<base model>").
	PromoteAlias string `json:"promote_alias,omitempty"`
}

// RequestMethod is OpenAI's method parameter.
type RequestMethod struct {
	Type       string `json:"type"`
	Supervised *struct {
		Hyperparameters map[string]any `json:"hyperparameters"`
	} `json:"supervised,omitempty"`
}

var suffixPattern = idpattern.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// splitHyperparameters separates OpenAI's names from Bedrock's.
func splitHyperparameters(in map[string]any) (map[string]any, OpenAIHyperparameters) {
	bedrock := map[string]any{}
	var oa OpenAIHyperparameters
	for k, v := range in {
		switch k {
		case "n_epochs":
			oa.NEpochs = v
		case "batch_size":
			oa.BatchSize = v
		case "learning_rate_multiplier":
			oa.LearningRateMultiplier = v
		default:
			bedrock[k] = v
		}
	}
	return bedrock, oa
}

// baseModel resolves the model a job customises: an approved chat model the tenant
// may use, served by a provider with a customisation adapter.
func (s *Service) baseModel(ctx context.Context, tenant, name string) (*registry.Model, Family, string, error) {
	m, err := s.models.Resolve(ctx, name)
	if errors.Is(err, registry.ErrNotFound) {
		return nil, Family{}, "", fault.New(ErrUnsupportedModel, "model", "model %q does not exist", name)
	}
	if err != nil {
		return nil, Family{}, "", err
	}
	if !m.Status.Invocable() || m.Kind != registry.KindChat || len(m.Deployments) == 0 {
		return nil, Family{}, "", fault.New(ErrUnsupportedModel, "model", "%s is not an approved chat model", name)
	}
	if s.access != nil {
		if err := s.access(ctx, tenant, m); err != nil {
			return nil, Family{}, "", fmt.Errorf("%w: model %s: %v", ErrForbidden, name, err)
		}
	}
	d := m.Deployments[0]
	providerModel := d.Model
	familyModel := providerModel
	if strings.HasPrefix(familyModel, "ft:") {
		familyModel = strings.SplitN(strings.TrimPrefix(familyModel, "ft:"), ":", 2)[0]
	}
	f, ok := FamilyOf(d.Provider, familyModel)
	if !ok {
		return nil, Family{}, "", fault.New(ErrUnsupportedModel, "model", "%s (%s on %s) belongs to no model family that can be fine-tuned", name, d.Model, d.Provider)
	}
	if d.Provider == registry.ProviderBedrock && s.bedrockFor != nil {
		if err := s.bedrockFor(ctx, tenant); err != nil {
			return nil, Family{}, "", fault.New(ErrUnsupportedModel, "model", "%s cannot be fine-tuned for tenant %s: %v", name, tenant, err)
		}
	}
	if d.Provider == registry.ProviderBedrock && s.bedrock == nil {
		if _, ok := s.customizers[d.Provider]; !ok {
			return nil, Family{}, "", fault.New(ErrUnsupportedModel, "model", "Bedrock model customisation is not configured on this platform")
		}
	} else if d.Provider != registry.ProviderBedrock {
		if _, err := s.customizer(d.Provider); err != nil {
			if d.Provider == registry.ProviderLocal {
				return nil, Family{}, "", fault.New(ErrUnsupportedModel, "model",
					"%s trains in the platform's own process, which only the local platform keeps running for a whole job; here, fine-tune a Bedrock or OpenAI-compatible base model", name)
			}
			return nil, Family{}, "", err
		}
	}
	return m, f, providerModel, nil
}

// CreateJob validates a job request for tenant and starts its flow.
func (s *Service) CreateJob(ctx context.Context, tenant string, req JobRequest, by string) (*Job, error) {
	if req.Model == "" {
		return nil, fault.New(ErrInvalid, "model", "model is required")
	}
	if req.TrainingFile == "" {
		return nil, fault.New(ErrInvalid, "training_file", "training_file is required")
	}
	if len(req.Integrations) > 0 {
		return nil, fault.New(ErrInvalid, "integrations", "integrations are not supported")
	}
	if req.Suffix != "" && !suffixPattern.MatchString(req.Suffix) {
		return nil, fault.New(ErrInvalid, "suffix", "suffix must be 1-64 letters, digits, '-' or '_'")
	}
	hp := req.Hyperparameters
	if req.Method != nil {
		if req.Method.Type != "supervised" {
			return nil, fault.New(ErrInvalid, "method", "method %q is not supported; use supervised", req.Method.Type)
		}
		if req.Method.Supervised != nil && req.Method.Supervised.Hyperparameters != nil {
			if hp != nil {
				return nil, fault.New(ErrInvalid, "hyperparameters", "give hyperparameters either at the top level or in method.supervised")
			}
			hp = req.Method.Supervised.Hyperparameters
		}
	}
	ctype := req.CustomizationType
	if ctype == "" {
		ctype = TypeFineTuning
	}
	for _, id := range []string{req.TrainingFile, req.ValidationFile} {
		if id == "" {
			continue
		}
		f, err := s.GetFile(ctx, tenant, id)
		if errors.Is(err, ErrNotFound) {
			return nil, fault.New(ErrInvalid, "training_file", "file %s does not exist", id)
		}
		if err != nil {
			return nil, err
		}
		if f.Purpose != PurposeFineTune {
			return nil, fault.New(ErrInvalid, "training_file", "file %s has purpose %s, not fine-tune", id, f.Purpose)
		}
	}
	m, family, providerModel, err := s.baseModel(ctx, tenant, req.Model)
	if err != nil {
		return nil, err
	}
	if !family.Supports(ctype) {
		return nil, fault.New(ErrInvalid, "customization_type", "%s models do not support %s", family.Name, ctype)
	}
	bedrockHP, openaiHP := splitHyperparameters(hp)
	resolved, err := family.Resolve(bedrockHP, openaiHP)
	if err != nil {
		return nil, err
	}
	seed := rand.Int64N(1 << 31)
	if req.Seed != nil {
		seed = *req.Seed
	}
	alias := req.PromoteAlias
	if alias == "" {
		alias = tenant + "/" + m.ID
	}
	now := s.now()
	id := newID("ftjob-")
	job := Job{
		ID: id, Object: "fine_tuning.job", CreatedAt: unix(now), Hyperparameters: openAIView(family, resolved),
		Model: m.ID, OrganizationID: tenant, ResultFiles: []string{}, Seed: seed, Status: StatusValidatingFiles,
		TrainingFile: req.TrainingFile, Metadata: req.Metadata,
		Method: JobMethod{Type: "supervised", Supervised: &JobMethodInner{Hyperparameters: openAIView(family, resolved)}},
		Details: Details{Stage: StageValidating, CustomizationType: ctype, Provider: m.Deployments[0].Provider,
			Hyperparameters: resolved, PromoteAlias: alias, CreatedBy: by},
	}
	if req.ValidationFile != "" {
		job.ValidationFile = ptr(req.ValidationFile)
	}
	if req.Suffix != "" {
		job.UserProvidedSuffix = ptr(req.Suffix)
	}
	rec := &jobRecord{Job: job, ProviderModel: providerModel, OutputPrefix: jobPrefix(tenant, id) + "output/", IndexSK: jobIndexSK(now, id)}
	data, err := json.Marshal(rec)
	if err != nil {
		return nil, err
	}
	err = s.store.Transact(ctx, []store.Op{
		{Kind: store.OpPut, Item: store.Item{Key: jobKey(id), Data: data}, Options: store.WriteOptions{Cond: store.IfNotExists}},
		{Kind: store.OpPut, Item: store.Item{Key: store.Key{PK: tenantPK(tenant), SK: rec.IndexSK}, Data: []byte(`"` + id + `"`)}},
	})
	if err != nil {
		return nil, fmt.Errorf("save job: %w", err)
	}
	s.event(ctx, id, "info", "message", "Created fine-tuning job: "+id, nil)
	if s.workflow == nil {
		return &job, nil
	}
	input, _ := json.Marshal(map[string]string{"job_id": id, "tenant": tenant})
	exec, err := s.workflow.Start(ctx, id, input)
	if err != nil {
		_, _ = s.updateJob(context.WithoutCancel(ctx), id, func(r *jobRecord) error {
			s.failJob(r, "workflow_unavailable", "the customisation flow could not start: "+err.Error())
			return nil
		})
		return nil, fmt.Errorf("start customisation flow: %w", err)
	}
	updated, err := s.updateJob(ctx, id, func(r *jobRecord) error { r.Job.Details.Execution = exec; return nil })
	if err != nil {
		return nil, err
	}
	return &updated.Job, nil
}

// failJob ends a job as failed with an OpenAI error.
func (s *Service) failJob(r *jobRecord, code, msg string) {
	if r.Job.Final() && r.Job.Status != StatusSucceeded {
		return
	}
	now := unix(s.now())
	if r.Job.Status == StatusSucceeded {
		// The model exists; what failed is the governance after training.
		r.Job.Details.Stage, r.Job.Details.StageError = StageFailed, msg
		return
	}
	r.Job.Status, r.Job.FinishedAt = StatusFailed, &now
	r.Job.Error = &JobError{Code: code, Message: msg}
	r.Job.Details.Stage, r.Job.Details.StageError = StageFailed, msg
}

// GetJob returns a tenant's job ("" tenant: any, for admins).
func (s *Service) GetJob(ctx context.Context, tenant, id string) (*Job, error) {
	rec, _, err := s.getRecord(ctx, id)
	if err != nil {
		return nil, err
	}
	if tenant != "" && rec.Job.OrganizationID != tenant {
		return nil, fmt.Errorf("fine-tuning job %s: %w", id, ErrNotFound)
	}
	return &rec.Job, nil
}

// ListJobs returns a page of a tenant's jobs, newest first, after the job with ID after.
func (s *Service) ListJobs(ctx context.Context, tenant, after string, limit int) (*Page[Job], error) {
	limit = pageLimit(limit)
	opts := store.QueryOptions{Prefix: "JOB#", Desc: true}
	if after != "" {
		rec, _, err := s.getRecord(ctx, after)
		if err != nil || rec.Job.OrganizationID != tenant {
			return nil, fault.New(ErrInvalid, "after", "no job %s", after)
		}
		opts.After = rec.IndexSK
	}
	opts.Limit = limit + 1
	items, err := s.store.Query(ctx, tenantPK(tenant), opts)
	if err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	page := &Page[Job]{Object: "list", Data: []Job{}}
	for i, it := range items {
		if i == limit {
			page.HasMore = true
			break
		}
		var id string
		if err := json.Unmarshal(it.Data, &id); err != nil {
			return nil, fmt.Errorf("decode job index %s: %w", it.SK, err)
		}
		j, err := s.GetJob(ctx, tenant, id)
		if err != nil {
			return nil, err
		}
		page.Data = append(page.Data, *j)
	}
	return page, nil
}

func pageLimit(n int) int {
	switch {
	case n <= 0:
		return 20
	case n > 100:
		return 100
	}
	return n
}

// ListEvents returns a page of a job's events, newest first.
func (s *Service) ListEvents(ctx context.Context, tenant, id, after string, limit int) (*Page[Event], error) {
	if _, err := s.GetJob(ctx, tenant, id); err != nil {
		return nil, err
	}
	limit = pageLimit(limit)
	opts := store.QueryOptions{Prefix: "EVENT#", Desc: true, Limit: limit + 1}
	if after != "" {
		opts.After = "EVENT#" + strings.TrimPrefix(after, "ftevent-")
	}
	items, err := s.store.Query(ctx, jobKey(id).PK, opts)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	page := &Page[Event]{Object: "list", Data: []Event{}}
	for i, it := range items {
		if i == limit {
			page.HasMore = true
			break
		}
		var ev Event
		if err := json.Unmarshal(it.Data, &ev); err != nil {
			return nil, fmt.Errorf("decode event: %w", err)
		}
		page.Data = append(page.Data, ev)
	}
	return page, nil
}

// ListCheckpoints returns the job's checkpoints: the final model with its last
// training and validation losses once the job succeeded.
func (s *Service) ListCheckpoints(ctx context.Context, tenant, id string) (*Page[Checkpoint], error) {
	rec, _, err := s.getRecord(ctx, id)
	if err != nil || rec.Job.OrganizationID != tenant {
		return nil, fmt.Errorf("fine-tuning job %s: %w", id, ErrNotFound)
	}
	page := &Page[Checkpoint]{Object: "list", Data: []Checkpoint{}}
	if rec.Job.FineTunedModel == nil || len(rec.Steps) == 0 {
		return page, nil
	}
	last := rec.Steps[len(rec.Steps)-1]
	cp := Checkpoint{ID: "ftckpt-" + strings.TrimPrefix(id, "ftjob-"), Object: "fine_tuning.job.checkpoint",
		CreatedAt: *rec.Job.FinishedAt, FineTunedModelCheckpoint: *rec.Job.FineTunedModel, FineTuningJobID: id,
		StepNumber: last.Step, Metrics: CheckpointMetrics{Step: float64(last.Step), TrainLoss: last.TrainingLoss,
			ValidLoss: rec.ValidationLoss, FullValidLoss: rec.ValidationLoss}}
	page.Data = append(page.Data, cp)
	page.FirstID, page.LastID = cp.ID, cp.ID
	return page, nil
}

// CancelJob cancels a running job: the flow stops, the provider job is stopped and the
// job's intermediate data removed.
func (s *Service) CancelJob(ctx context.Context, tenant, id string) (*Job, error) {
	var exec string
	rec, err := s.updateJob(ctx, id, func(r *jobRecord) error {
		if r.Job.OrganizationID != tenant {
			return fmt.Errorf("fine-tuning job %s: %w", id, ErrNotFound)
		}
		if r.Job.Final() {
			return fmt.Errorf("%w: job %s is already %s", ErrConflict, id, r.Job.Status)
		}
		now := unix(s.now())
		r.Job.Status, r.Job.FinishedAt = StatusCancelled, &now
		r.Job.Details.Stage = StageCancelled
		exec = r.Job.Details.Execution
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.event(ctx, id, "info", "message", "Fine-tuning job cancelled", nil)
	if exec != "" && s.workflow != nil {
		if err := s.workflow.Stop(ctx, exec, "Cancelled", "cancelled by the tenant"); err != nil {
			s.log.Warn("stop customisation flow", "job", id, "error", err)
		}
	}
	s.stopProvider(ctx, rec)
	s.removeIntermediate(ctx, rec)
	return &rec.Job, nil
}

// stopProvider stops a provider job, recording a warning event when that fails.
func (s *Service) stopProvider(ctx context.Context, rec *jobRecord) {
	providerJob := rec.Job.Details.ProviderJobID
	jobID := rec.Job.ID
	if providerJob == "" && rec.Job.Details.Provider == registry.ProviderBedrock && rec.TrainingKey != "" {
		// Step Functions started the Bedrock job (.sync) and the flow has not recorded
		// its ARN yet; Bedrock also finds a job by its name, the job's ID.
		providerJob = jobID
	}
	if providerJob == "" {
		return
	}
	c, err := s.customizer(rec.Job.Details.Provider)
	if err != nil {
		return
	}
	spec, err := s.spec(ctx, rec)
	if err != nil {
		s.log.Warn("stop provider job", "job", jobID, "error", err)
		return
	}
	if err := c.Stop(ctx, spec, providerJob); err != nil {
		s.log.Warn("stop provider job", "job", jobID, "provider_job", providerJob, "error", err)
		s.event(ctx, jobID, "warn", "message", "Could not stop the provider job "+providerJob+": "+err.Error(), nil)
	}
}

// removeIntermediate deletes a job's validated data and any partial output. Uploaded
// files and a registered model's artefacts are kept.
func (s *Service) removeIntermediate(ctx context.Context, rec *jobRecord) {
	prefix := jobPrefix(rec.Job.OrganizationID, rec.Job.ID)
	objs, err := s.blobs.List(ctx, prefix)
	if err != nil {
		s.log.Warn("list job data for cleanup", "job", rec.Job.ID, "error", err)
		return
	}
	for _, o := range objs {
		if rec.Job.FineTunedModel != nil && strings.HasPrefix(o.Key, rec.OutputPrefix) {
			continue
		}
		if err := s.blobs.Delete(ctx, o.Key); err != nil {
			s.log.Warn("delete job data", "key", o.Key, "error", err)
		}
	}
}

func sortFiles(fs []File) {
	sort.Slice(fs, func(i, j int) bool {
		if fs[i].CreatedAt != fs[j].CreatedAt {
			return fs[i].CreatedAt > fs[j].CreatedAt
		}
		return fs[i].ID > fs[j].ID
	})
}

// JobData lists the blob keys a job holds (validated records, evaluation items, the
// provider's output).
func (s *Service) JobData(ctx context.Context, tenant, id string) ([]string, error) {
	if _, err := s.GetJob(ctx, tenant, id); err != nil {
		return nil, err
	}
	objs, err := s.blobs.List(ctx, jobPrefix(tenant, id))
	if err != nil {
		return nil, err
	}
	keys := make([]string, len(objs))
	for i, o := range objs {
		keys[i] = o.Key
	}
	return keys, nil
}
