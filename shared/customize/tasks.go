package customize

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/plinth-ai/plinth/shared/blob"
	"github.com/plinth-ai/plinth/shared/flow"
	"github.com/plinth-ai/plinth/shared/registry"
)

// TaskFunc is a state-machine task: JSON in, JSON out.
type TaskFunc = func(ctx context.Context, in json.RawMessage) (json.RawMessage, error)

// Placeholders of statemachines/customization.asl.json that name the flow's functions.
const (
	TaskValidate          = "ValidateFunctionArn"
	TaskStartTraining     = "StartTrainingFunctionArn"
	TaskCheckTraining     = "CheckTrainingFunctionArn"
	TaskRecordTraining    = "RecordTrainingFunctionArn"
	TaskRegisterModel     = "RegisterModelFunctionArn"
	TaskPrepareEvaluation = "PrepareEvaluationFunctionArn"
	TaskCompareEvaluation = "CompareEvaluationFunctionArn"
	TaskRequestApproval   = "RequestApprovalFunctionArn"
	TaskPromote           = "PromoteFunctionArn"
	TaskRecordRejection   = "RecordRejectionFunctionArn"
	TaskCleanup           = "CleanupFunctionArn"
	// PlaceholderEvaluationMachine names the evaluation state machine the flow runs as
	// nested executions.
	PlaceholderEvaluationMachine = "EvaluationStateMachineArn"
)

// Service-integration resources of the flow, bound in-process locally.
const (
	ResourceBedrockSync        = "arn:aws:states:::bedrock:createModelCustomizationJob.sync"
	ResourceStartExecutionSync = "arn:aws:states:::states:startExecution.sync:2"
)

// Error names the flow's tasks fail with (matched by its Catch).
const (
	ErrNameInvalidTrainingFile   = "InvalidTrainingFile"
	ErrNameInvalidValidationFile = "InvalidValidationFile"
	ErrNameTrainingFailed        = "TrainingFailed"
	ErrNameJobCancelled          = "JobCancelled"
)

// Tasks returns the handler of every task of the customisation flow, keyed by the
// placeholder naming its function.
func (s *Service) Tasks() map[string]TaskFunc {
	return map[string]TaskFunc{
		TaskValidate:          task(s.ValidateJob),
		TaskStartTraining:     task(s.StartTraining),
		TaskCheckTraining:     task(s.CheckTraining),
		TaskRecordTraining:    task(s.RecordTraining),
		TaskRegisterModel:     task(s.RegisterModel),
		TaskPrepareEvaluation: task(s.PrepareEvaluation),
		TaskCompareEvaluation: task(s.CompareEvaluation),
		TaskRequestApproval:   task(s.RequestApproval),
		TaskPromote:           task(s.Promote),
		TaskRecordRejection:   task(s.RecordRejection),
		TaskCleanup:           task(s.Cleanup),
	}
}

func task[In, Out any](f func(context.Context, In) (Out, error)) TaskFunc {
	return func(ctx context.Context, raw json.RawMessage) (json.RawMessage, error) {
		var in In
		if err := json.Unmarshal(raw, &in); err != nil {
			return nil, fmt.Errorf("decode task input: %v: %w", err, ErrInvalid)
		}
		out, err := f(ctx, in)
		if err != nil {
			return nil, err
		}
		return json.Marshal(out)
	}
}

// JobRef names the job a task works on.
type JobRef struct {
	JobID string `json:"job_id"`
}

// Validated is ValidateJob's output: how the flow trains the job.
type Validated struct {
	Provider    string             `json:"provider"`
	PollSeconds int                `json:"poll_seconds"`
	Bedrock     *BedrockJobRequest `json:"bedrock,omitempty"`
}

func (s *Service) liveRecord(ctx context.Context, id string) (*jobRecord, error) {
	rec, _, err := s.getRecord(ctx, id)
	if err != nil {
		return nil, err
	}
	if rec.Job.Status == StatusCancelled {
		return nil, &flow.TaskError{Type: ErrNameJobCancelled, Cause: "job " + id + " was cancelled"}
	}
	return rec, nil
}

func (s *Service) family(rec *jobRecord) (Family, error) {
	m := rec.ProviderModel
	if strings.HasPrefix(m, "ft:") {
		m = strings.SplitN(strings.TrimPrefix(m, "ft:"), ":", 2)[0]
	}
	f, ok := FamilyOf(rec.Job.Details.Provider, m)
	if !ok {
		return Family{}, fmt.Errorf("%w: %s", ErrUnsupportedModel, rec.ProviderModel)
	}
	return f, nil
}

func (s *Service) putOptions(ctx context.Context, tenant string) (blob.PutOptions, error) {
	opts := blob.PutOptions{ContentType: "application/jsonl"}
	if s.keys != nil {
		k, err := s.keys(ctx, tenant)
		if err != nil {
			return opts, fmt.Errorf("encryption key for tenant %s: %w", tenant, err)
		}
		opts.KMSKeyID = k
	}
	return opts, nil
}

// invalidFile keeps an invalid file's report (every issue with its line) on the job,
// for GET /v1/fine_tuning/jobs/{id}, and returns the task error that fails the flow.
func (s *Service) invalidFile(ctx context.Context, id, name, what string, rep *Report, err error) error {
	if _, uerr := s.updateJob(ctx, id, func(r *jobRecord) error {
		r.Job.Details.Validation = rep
		return nil
	}); uerr != nil {
		s.log.Warn("customize: keep the validation report", "job", id, "err", uerr)
	}
	return &flow.TaskError{Type: name, Cause: what + ": " + strings.TrimPrefix(err.Error(), ErrInvalidDataset.Error()+": ")}
}

// validateInto validates the file at src and writes its accepted records to dst.
func (s *Service) validateInto(ctx context.Context, src, dst string, opts ValidateOptions, put blob.PutOptions) (*Report, error) {
	rc, _, err := s.blobs.Get(ctx, src)
	if err != nil {
		return nil, fmt.Errorf("read dataset: %w", err)
	}
	defer rc.Close()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := s.blobs.Put(ctx, dst, pr, put)
		pr.CloseWithError(err)
		done <- err
	}()
	opts.Out = pw
	rep, verr := Validate(ctx, rc, opts)
	pw.CloseWithError(verr)
	if perr := <-done; perr != nil && verr == nil {
		return nil, fmt.Errorf("store validated records: %w", perr)
	}
	return rep, verr
}

// heldBackShare is the fraction of training records kept aside for evaluation when a
// job has no validation file (at most maxHeldBack, only with minForHoldBack records).
const (
	heldBackShare  = 10
	maxHeldBack    = 200
	minForHoldBack = 20
)

// ValidateJob validates the job's files with the base model family's rules, PII-scans
// them, writes the accepted records for training and estimates the cost. A job with
// no validation file holds back a tenth of its training records for evaluation.
func (s *Service) ValidateJob(ctx context.Context, ref JobRef) (*Validated, error) {
	rec, err := s.liveRecord(ctx, ref.JobID)
	if err != nil {
		return nil, err
	}
	j := &rec.Job
	tenant := j.OrganizationID
	fam, err := s.family(rec)
	if err != nil {
		return nil, err
	}
	put, err := s.putOptions(ctx, tenant)
	if err != nil {
		return nil, err
	}
	base := ValidateOptions{Type: j.Details.CustomizationType, Family: fam, PII: s.pii, Tenant: tenant, MaxBytes: fam.Limits.MaxTrainingBytes}
	if base.Family.Limits.MaxRecordTokens == 0 {
		if m, err := s.models.Get(ctx, j.Model); err == nil {
			base.MaxRecordTokens = m.ContextWindow
		}
	}
	s.event(ctx, j.ID, "info", "message", "Validating training file: "+j.TrainingFile, nil)
	trainFile, err := s.fileRecord(ctx, tenant, j.TrainingFile)
	if err != nil {
		return nil, err
	}
	dataPrefix := jobPrefix(tenant, j.ID) + "data/"
	trainKey := dataPrefix + "training.jsonl"
	trainRep, err := s.validateInto(ctx, trainFile.Key, trainKey, base, put)
	if err != nil {
		return nil, err
	}
	if err := trainRep.Err(); err != nil {
		return nil, s.invalidFile(ctx, j.ID, ErrNameInvalidTrainingFile, "training file "+j.TrainingFile, trainRep, err)
	}
	datasets := []DatasetRef{{FileID: j.TrainingFile, Role: "training", SHA256: trainRep.SHA256, Records: trainRep.Records, Tokens: trainRep.Tokens()}}
	validKey := ""
	if j.ValidationFile != nil {
		s.event(ctx, j.ID, "info", "message", "Validating validation file: "+*j.ValidationFile, nil)
		vf, err := s.fileRecord(ctx, tenant, *j.ValidationFile)
		if err != nil {
			return nil, err
		}
		vopts := base
		vopts.Format, vopts.Against, vopts.MaxBytes = trainRep.Format, trainRep, fam.Limits.MaxValidationBytes
		vopts.Family.Limits.MinRecords = 1
		validKey = dataPrefix + "validation.jsonl"
		vrep, err := s.validateInto(ctx, vf.Key, validKey, vopts, put)
		if err != nil {
			return nil, err
		}
		if err := vrep.Err(); err != nil {
			return nil, s.invalidFile(ctx, j.ID, ErrNameInvalidValidationFile, "validation file "+*j.ValidationFile, vrep, err)
		}
		datasets = append(datasets, DatasetRef{FileID: *j.ValidationFile, Role: "validation", SHA256: vrep.SHA256, Records: vrep.Records, Tokens: vrep.Tokens()})
	} else if j.Details.CustomizationType == TypeFineTuning && trainRep.Records >= minForHoldBack {
		validKey = dataPrefix + "held_back.jsonl"
		held, kept, sum, err := s.holdBack(ctx, trainKey, validKey, trainRep.Records, put)
		if err != nil {
			return nil, err
		}
		datasets[0].Records = kept
		datasets = append(datasets, DatasetRef{FileID: j.TrainingFile, Role: "held_back", SHA256: sum, Records: held})
		s.event(ctx, j.ID, "info", "message", fmt.Sprintf("Held back %d of %d training records for evaluation", held, trainRep.Records), nil)
	}
	cost := s.estimate(ctx, j, datasets[0].Tokens)
	msg := fmt.Sprintf("Files validated: %d training records, %d tokens", datasets[0].Records, trainRep.Tokens())
	if trainRep.PII != nil && (trainRep.PII.MaskedRecords > 0) {
		msg += fmt.Sprintf("; personal data masked in %d records (%s)", trainRep.PII.MaskedRecords, findingList(trainRep.PII.Findings))
	}
	s.event(ctx, j.ID, "info", "message", msg, map[string]any{"records": datasets[0].Records, "tokens": trainRep.Tokens(), "warnings": trainRep.Warnings})
	s.event(ctx, j.ID, "info", "message", fmt.Sprintf("Estimated cost: %.4f USD for %d trained tokens", cost.USD, cost.TrainedTokens), nil)
	rec, err = s.updateJob(ctx, j.ID, func(r *jobRecord) error {
		if r.Job.Status == StatusCancelled {
			return &flow.TaskError{Type: ErrNameJobCancelled, Cause: "job " + j.ID + " was cancelled"}
		}
		r.TrainingKey, r.ValidationKey = trainKey, validKey
		r.Job.Status, r.Job.Details.Stage = StatusQueued, StageQueued
		r.Job.Details.Datasets, r.Job.Details.Validation, r.Job.Details.Cost = datasets, trainRep, cost
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := &Validated{Provider: rec.Job.Details.Provider, PollSeconds: s.pollSeconds}
	if out.Provider == "bedrock" && s.bedrock != nil {
		spec, err := s.spec(ctx, rec)
		if err != nil {
			return nil, err
		}
		req := s.bedrock.BedrockRequest(spec)
		out.Bedrock = &req
	}
	return out, nil
}

// holdBack splits the validated training records: every k-th goes to heldKey.
func (s *Service) holdBack(ctx context.Context, trainKey, heldKey string, n int, put blob.PutOptions) (held, kept int, sum string, err error) {
	want := min(maxHeldBack, max(1, n/heldBackShare))
	every := n / want
	rc, _, err := s.blobs.Get(ctx, trainKey)
	if err != nil {
		return 0, 0, "", err
	}
	defer rc.Close()
	var train, heldOut strings.Builder
	sc := bufio.NewScanner(rc)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for i := 0; sc.Scan(); i++ {
		if i%every == every-1 && held < want {
			heldOut.Write(sc.Bytes())
			heldOut.WriteByte('\n')
			held++
			continue
		}
		train.Write(sc.Bytes())
		train.WriteByte('\n')
		kept++
	}
	if err := sc.Err(); err != nil {
		return 0, 0, "", err
	}
	if _, err := s.blobs.Put(ctx, trainKey, strings.NewReader(train.String()), put); err != nil {
		return 0, 0, "", err
	}
	if _, err := s.blobs.Put(ctx, heldKey, strings.NewReader(heldOut.String()), put); err != nil {
		return 0, 0, "", err
	}
	sum256 := sha256.Sum256([]byte(heldOut.String()))
	return held, kept, hex.EncodeToString(sum256[:]), nil
}

func (s *Service) estimate(ctx context.Context, j *Job, tokens int64) *CostEstimate {
	epochs, _ := strconv.Atoi(j.Details.Hyperparameters["epochCount"])
	if epochs == 0 {
		epochs = 1
	}
	c := &CostEstimate{TrainedTokens: tokens * int64(epochs)}
	if m, err := s.models.Get(ctx, j.Model); err == nil {
		c.PricePerMillion = m.Prices.TrainingPerMillion
	}
	c.USD = float64(c.TrainedTokens) * c.PricePerMillion / 1e6
	if c.PricePerMillion == 0 {
		c.Note = "the base model has no training price in the registry (local-tune trains for free)"
	}
	return c
}

// spec is the provider job specification of a job.
func (s *Service) spec(ctx context.Context, rec *jobRecord) (JobSpec, error) {
	j := &rec.Job
	spec := JobSpec{Name: j.ID, Tenant: j.OrganizationID, BaseModel: rec.ProviderModel, OutputModelName: modelName(j),
		Type: j.Details.CustomizationType, Hyperparameters: copyMap(j.Details.Hyperparameters),
		TrainingKey: rec.TrainingKey, ValidationKey: rec.ValidationKey, OutputPrefix: rec.OutputPrefix,
		Tags: map[string]string{"plinth:tenant": j.OrganizationID, "plinth:job": j.ID}}
	if j.Details.Provider == "local" {
		spec.Hyperparameters["seed"] = strconv.FormatInt(j.Seed, 10)
	}
	if s.keys != nil {
		k, err := s.keys(ctx, j.OrganizationID)
		if err != nil {
			return spec, fmt.Errorf("encryption key for tenant %s: %w", j.OrganizationID, err)
		}
		spec.KMSKeyID = k
	}
	if j.Details.Provider == registry.ProviderOpenAI {
		m, err := s.models.Get(ctx, j.Model)
		if err != nil {
			return spec, fmt.Errorf("base model %s: %w", j.Model, err)
		}
		d := m.Deployments[0]
		spec.Endpoint.BaseURL = d.BaseURL
		if s.secrets != nil {
			if spec.Endpoint.APIKey, err = s.secrets(ctx, d); err != nil {
				return spec, fmt.Errorf("API key of %s: %w", j.Model, err)
			}
		} else {
			spec.Endpoint.APIKey = d.APIKey
		}
	}
	return spec, nil
}

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// modelName is the fine-tuned model's ID, in OpenAI's form
// ft:{base}:{tenant}:{suffix}:{id}.
func modelName(j *Job) string {
	suffix := ""
	if j.UserProvidedSuffix != nil {
		suffix = *j.UserProvidedSuffix
	}
	short := strings.TrimPrefix(j.ID, "ftjob-")
	if len(short) > 8 {
		short = short[:8]
	}
	return "ft:" + j.Model + ":" + j.OrganizationID + ":" + suffix + ":" + short
}

// Training is the state of the provider job in the flow.
type Training struct {
	ProviderJobID string `json:"provider_job_id"`
	Status        string `json:"status"`
	Done          bool   `json:"done"`
	OutputModel   string `json:"output_model,omitempty"`
}

// StartTraining starts the provider job (once: a retry returns the job already started).
func (s *Service) StartTraining(ctx context.Context, ref JobRef) (*Training, error) {
	rec, err := s.liveRecord(ctx, ref.JobID)
	if err != nil {
		return nil, err
	}
	if id := rec.Job.Details.ProviderJobID; id != "" {
		return &Training{ProviderJobID: id, Status: string(ProviderInProgress)}, nil
	}
	c, err := s.customizer(rec.Job.Details.Provider)
	if err != nil {
		return nil, err
	}
	spec, err := s.spec(ctx, rec)
	if err != nil {
		return nil, err
	}
	id, err := c.Start(ctx, spec)
	if err != nil {
		return nil, fmt.Errorf("%w: start: %v", ErrProvider, err)
	}
	if _, err := s.updateJob(ctx, ref.JobID, func(r *jobRecord) error {
		if r.Job.Status == StatusCancelled {
			return &flow.TaskError{Type: ErrNameJobCancelled, Cause: "job " + ref.JobID + " was cancelled"}
		}
		r.Job.Details.ProviderJobID = id
		r.Job.Status, r.Job.Details.Stage = StatusRunning, StageTraining
		return nil
	}); err != nil {
		_ = c.Stop(context.WithoutCancel(ctx), spec, id)
		return nil, err
	}
	s.event(ctx, ref.JobID, "info", "message", "Fine-tuning job started", map[string]any{"provider": rec.Job.Details.Provider, "provider_job_id": id})
	return &Training{ProviderJobID: id, Status: string(ProviderInProgress)}, nil
}

// CheckTraining polls the provider job; it fails with TrainingFailed when the provider
// reports failure and records the steps reported so far as metrics events.
func (s *Service) CheckTraining(ctx context.Context, ref JobRef) (*Training, error) {
	rec, err := s.liveRecord(ctx, ref.JobID)
	if err != nil {
		return nil, err
	}
	c, err := s.customizer(rec.Job.Details.Provider)
	if err != nil {
		return nil, err
	}
	spec, err := s.spec(ctx, rec)
	if err != nil {
		return nil, err
	}
	pj, err := c.Get(ctx, spec, rec.Job.Details.ProviderJobID)
	if err != nil {
		return nil, fmt.Errorf("%w: status of %s: %v", ErrProvider, rec.Job.Details.ProviderJobID, err)
	}
	s.reportSteps(ctx, rec, pj)
	switch pj.Status {
	case ProviderFailed, ProviderStopped:
		msg := pj.FailureMessage
		if msg == "" {
			msg = "the provider job ended " + string(pj.Status)
		}
		return nil, &flow.TaskError{Type: ErrNameTrainingFailed, Cause: msg}
	}
	return &Training{ProviderJobID: pj.ID, Status: string(pj.Status), Done: pj.Status == ProviderCompleted, OutputModel: pj.OutputModel}, nil
}

// reportSteps turns the provider's new steps into metrics events.
func (s *Service) reportSteps(ctx context.Context, rec *jobRecord, pj ProviderJob) {
	if len(pj.Steps) <= len(rec.Steps) {
		return
	}
	fresh := pj.Steps[len(rec.Steps):]
	total := pj.TotalSteps
	if total == 0 {
		total = pj.Steps[len(pj.Steps)-1].Step
	}
	if _, err := s.updateJob(ctx, rec.Job.ID, func(r *jobRecord) error {
		if len(pj.Steps) > len(r.Steps) {
			r.Steps = append([]StepMetric(nil), pj.Steps...)
		}
		return nil
	}); err != nil {
		s.log.Warn("record training steps", "job", rec.Job.ID, "error", err)
		return
	}
	s.metricEvents(ctx, rec.Job.ID, fresh, total)
}

// RecordInput is RecordTraining's input: the job and the training outcome (from
// CheckTraining, or the Bedrock integration's result).
type RecordInput struct {
	JobID    string   `json:"job_id"`
	Training Training `json:"training"`
}

// Recorded is RecordTraining's output.
type Recorded struct {
	OutputModel   string `json:"output_model"`
	TrainedTokens int64  `json:"trained_tokens"`
}

// RecordTraining stores the finished provider job's metrics and result files.
func (s *Service) RecordTraining(ctx context.Context, in RecordInput) (*Recorded, error) {
	rec, err := s.liveRecord(ctx, in.JobID)
	if err != nil {
		return nil, err
	}
	if in.Training.ProviderJobID != "" && rec.Job.Details.ProviderJobID == "" {
		rec.Job.Details.ProviderJobID = in.Training.ProviderJobID
	}
	pj := ProviderJob{ID: rec.Job.Details.ProviderJobID, Status: ProviderCompleted, OutputModel: in.Training.OutputModel}
	if c, err := s.customizer(rec.Job.Details.Provider); err == nil {
		spec, err := s.spec(ctx, rec)
		if err != nil {
			return nil, err
		}
		got, err := c.Get(ctx, spec, pj.ID)
		if err != nil {
			return nil, fmt.Errorf("%w: status of %s: %v", ErrProvider, pj.ID, err)
		}
		pj = got
	}
	if pj.OutputModel == "" {
		pj.OutputModel = in.Training.OutputModel
	}
	if pj.OutputModel == "" {
		return nil, fmt.Errorf("%w: provider job %s finished without a model", ErrProvider, pj.ID)
	}
	var resultIDs []string
	for _, key := range pj.ResultKeys {
		if len(pj.Steps) == 0 && strings.HasSuffix(key, "step_wise_training_metrics.csv") {
			if steps, err := s.readStepMetrics(ctx, key); err == nil {
				pj.Steps = steps
			} else {
				s.log.Warn("read training metrics", "job", in.JobID, "key", key, "error", err)
			}
		}
		id, err := s.addResultFile(ctx, rec.Job.OrganizationID, key, key[strings.LastIndexByte(key, '/')+1:])
		if err != nil {
			return nil, fmt.Errorf("record result file %s: %w", key, err)
		}
		resultIDs = append(resultIDs, id)
	}
	s.reportSteps(ctx, rec, pj)
	tokens := pj.TrainedTokens
	if tokens == 0 && rec.Job.Details.Cost != nil {
		tokens = rec.Job.Details.Cost.TrainedTokens
	}
	if _, err := s.updateJob(ctx, in.JobID, func(r *jobRecord) error {
		r.Job.Details.ProviderJobID = pj.ID
		r.OutputModel = pj.OutputModel
		r.Job.ResultFiles = resultIDs
		r.Job.TrainedTokens = &tokens
		if len(pj.Steps) > len(r.Steps) {
			r.Steps = pj.Steps
		}
		r.ValidationLoss = pj.ValidationLoss
		r.Job.Details.Stage = StageRegistering
		return nil
	}); err != nil {
		return nil, err
	}
	data := map[string]any{}
	if pj.TrainingLoss != nil {
		data["train_loss"] = *pj.TrainingLoss
	}
	if pj.ValidationLoss != nil {
		data["valid_loss"] = *pj.ValidationLoss
	}
	s.event(ctx, in.JobID, "info", "message", "Training finished", data)
	return &Recorded{OutputModel: pj.OutputModel, TrainedTokens: tokens}, nil
}

func (s *Service) readStepMetrics(ctx context.Context, key string) ([]StepMetric, error) {
	rc, _, err := s.blobs.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return ParseStepMetrics(rc)
}

// causeText extracts a readable message from a flow error's cause: Lambda failures
// arrive as {"errorMessage","errorType"} JSON.
func causeText(cause string) string {
	var le struct {
		ErrorMessage string `json:"errorMessage"`
	}
	if strings.HasPrefix(strings.TrimSpace(cause), "{") && json.Unmarshal([]byte(cause), &le) == nil && le.ErrorMessage != "" {
		return le.ErrorMessage
	}
	return cause
}

// FlowError is the {"Error","Cause"} object a Catch puts in the state.
type FlowError struct {
	Error string `json:"Error"`
	Cause string `json:"Cause"`
}

// CleanupInput is Cleanup's input.
type CleanupInput struct {
	JobID string     `json:"job_id"`
	Error *FlowError `json:"error"`
}

// Cleanup ends a job whose flow failed: the job fails with the reason (a cancelled job
// stays cancelled), the provider job is stopped, intermediate data is removed and a
// model registered but not yet reviewed is rejected.
func (s *Service) Cleanup(ctx context.Context, in CleanupInput) (*JobRef, error) {
	name, cause := "States.TaskFailed", "the customisation flow failed"
	if in.Error != nil {
		name, cause = in.Error.Error, causeText(in.Error.Cause)
	}
	code := map[string]string{
		ErrNameInvalidTrainingFile: "invalid_training_file", ErrNameInvalidValidationFile: "invalid_validation_file",
		ErrNameTrainingFailed: "training_failed", "States.Timeout": "timeout",
	}[name]
	if code == "" {
		code = "flow_failed"
	}
	var model string
	rec, err := s.updateJob(ctx, in.JobID, func(r *jobRecord) error {
		if r.Job.Status != StatusCancelled {
			s.failJob(r, code, cause)
		}
		if r.Job.FineTunedModel != nil {
			model = *r.Job.FineTunedModel
		}
		r.TaskToken = ""
		return nil
	})
	if err != nil {
		return nil, err
	}
	if rec.Job.Status != StatusCancelled {
		s.event(ctx, in.JobID, "error", "message", "Fine-tuning job failed: "+cause, map[string]any{"error": name})
	}
	if model == "" {
		s.stopProvider(ctx, rec)
	} else if m, err := s.models.Get(ctx, model); err == nil && m.Status == "pending-review" {
		if _, err := s.models.Review(ctx, model, "reject", "platform:customization", "the customisation flow failed: "+cause); err != nil {
			s.log.Warn("reject model of failed job", "job", in.JobID, "model", model, "error", err)
		}
	}
	s.removeIntermediate(ctx, rec)
	return &JobRef{JobID: in.JobID}, nil
}
