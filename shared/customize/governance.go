package customize

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/plinth-ai/plinth/shared/blob"
	"github.com/plinth-ai/plinth/shared/flow"
	"github.com/plinth-ai/plinth/shared/registry"
	"github.com/plinth-ai/plinth/shared/store"
)

// reviewer names the platform when it acts on the registry.
const platformActor = "platform:customization"

// Registered is RegisterModel's output.
type Registered struct {
	Model string `json:"model"`
}

// RegisterModel registers the trained model as pending-review with its lineage and
// marks the job succeeded.
func (s *Service) RegisterModel(ctx context.Context, ref JobRef) (*Registered, error) {
	rec, err := s.liveRecord(ctx, ref.JobID)
	if err != nil {
		return nil, err
	}
	j := &rec.Job
	name := modelName(j)
	base, err := s.models.Get(ctx, j.Model)
	if err != nil {
		return nil, fmt.Errorf("base model %s: %w", j.Model, err)
	}
	dep := base.Deployments[0]
	dep.ID, dep.Weight = j.Details.Provider, 1
	dep.Model = rec.OutputModel
	if j.Details.Provider == registry.ProviderLocal {
		dep.Model = name
	}
	datasets := make([]registry.LineageDataset, 0, len(j.Details.Datasets))
	for _, d := range j.Details.Datasets {
		datasets = append(datasets, registry.LineageDataset{FileID: d.FileID, Role: d.Role, SHA256: d.SHA256, Records: d.Records})
	}
	metrics := map[string]float64{}
	if n := len(rec.Steps); n > 0 {
		metrics["training_loss"] = rec.Steps[n-1].TrainingLoss
	}
	if rec.ValidationLoss != nil {
		metrics["validation_loss"] = *rec.ValidationLoss
	}
	m := registry.Model{
		ID: name, Kind: registry.KindChat, Owner: j.OrganizationID, Tenant: j.OrganizationID,
		Description:   fmt.Sprintf("Fine-tuned from %s by job %s.", j.Model, j.ID),
		Deployments:   []registry.Deployment{dep},
		Prices:        registry.Prices{InputPerMillion: base.Prices.InputPerMillion, OutputPerMillion: base.Prices.OutputPerMillion},
		ContextWindow: base.ContextWindow, MaxOutputTokens: base.MaxOutputTokens,
		Tags: map[string]string{"fine-tuned": "true", "job": j.ID},
		Lineage: &registry.Lineage{
			BaseModel: j.Model, Dataset: j.TrainingFile, JobARN: j.Details.ProviderJobID, Job: j.ID,
			Provider: j.Details.Provider, CustomizationType: string(j.Details.CustomizationType),
			Datasets: datasets, Hyperparameters: j.Details.Hyperparameters, Metrics: metrics,
			Artifact: rec.OutputModel, StartedBy: j.Details.CreatedBy,
		},
	}
	idx, _ := json.Marshal(JobRef{JobID: j.ID})
	if _, err := s.store.Put(ctx, store.Item{Key: modelIndexKey(name), Data: idx}, store.WriteOptions{}); err != nil {
		return nil, fmt.Errorf("index model %s: %w", name, err)
	}
	if _, err := s.models.Create(ctx, m, platformActor); err != nil && !errors.Is(err, registry.ErrExists) {
		return nil, fmt.Errorf("register %s: %w", name, err)
	}
	if _, err := s.updateJob(ctx, j.ID, func(r *jobRecord) error {
		now := unix(s.now())
		r.Job.FineTunedModel, r.Job.Status, r.Job.FinishedAt = &name, StatusSucceeded, &now
		r.Job.Details.Stage = StageEvaluating
		return nil
	}); err != nil {
		return nil, err
	}
	s.event(ctx, j.ID, "info", "message", "New fine-tuned model created: "+name, map[string]any{"model": name})
	s.event(ctx, j.ID, "info", "message", "The job has successfully completed; the model is registered pending review", nil)
	return &Registered{Model: name}, nil
}

// EvalTarget is one model the flow evaluates before approval.
type EvalTarget struct {
	Role    string `json:"role"` // candidate, base, production
	Model   string `json:"model"`
	SuiteID string `json:"suite_id"`
}

// EvalPlan is PrepareEvaluation's output; Count 0 skips the evaluation.
type EvalPlan struct {
	Targets []EvalTarget `json:"targets"`
	Count   int          `json:"count"`
}

// evalMetrics are the scores compared before approval; f1 is the primary one.
var evalMetrics = []string{"exact_match", "f1", "rougeL", "bleu"}

// PrepareEvaluation writes the held-out records as an evaluation dataset and creates
// one suite for the candidate, one for its base model and one for the model the
// promotion alias names today (when there is one).
func (s *Service) PrepareEvaluation(ctx context.Context, ref JobRef) (*EvalPlan, error) {
	rec, err := s.liveRecord(ctx, ref.JobID)
	if err != nil {
		return nil, err
	}
	j := &rec.Job
	plan := &EvalPlan{Targets: []EvalTarget{}}
	if s.suites == nil || rec.ValidationKey == "" || j.Details.CustomizationType != TypeFineTuning || j.FineTunedModel == nil {
		s.event(ctx, j.ID, "info", "message", "No evaluation: the job has no held-out records to score", nil)
		return plan, nil
	}
	key := jobPrefix(j.OrganizationID, j.ID) + "eval/items.jsonl"
	n, err := s.writeEvalItems(ctx, rec.ValidationKey, key, j.OrganizationID)
	if err != nil {
		return nil, err
	}
	targets := []EvalTarget{{Role: "candidate", Model: *j.FineTunedModel}, {Role: "base", Model: j.Model}}
	if alias := j.Details.PromoteAlias; alias != "" {
		if m, err := s.models.Resolve(ctx, alias); err == nil && m.ID != *j.FineTunedModel && m.ID != j.Model && m.Status.Invocable() {
			targets = append(targets, EvalTarget{Role: "production", Model: alias})
		}
	}
	for i := range targets {
		t := &targets[i]
		t.SuiteID = "ft-" + strings.TrimPrefix(j.ID, "ftjob-") + "-" + t.Role
		if err := s.suites.PutSuite(ctx, EvalSuite{Tenant: j.OrganizationID, ID: t.SuiteID, Model: t.Model, DatasetKey: key, Metrics: evalMetrics}); err != nil {
			return nil, fmt.Errorf("evaluation suite %s: %w", t.SuiteID, err)
		}
	}
	plan.Targets, plan.Count = targets, len(targets)
	s.event(ctx, j.ID, "info", "message", fmt.Sprintf("Evaluating %d models on %d held-out records", len(targets), n), nil)
	return plan, nil
}

// writeEvalItems turns validated records into evaluation items.
func (s *Service) writeEvalItems(ctx context.Context, src, dst, tenant string) (int, error) {
	rc, _, err := s.blobs.Get(ctx, src)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	var out strings.Builder
	sc := bufio.NewScanner(rc)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	n := 0
	for sc.Scan() {
		var r Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return 0, fmt.Errorf("decode held-out record %d: %w", n+1, err)
		}
		n++
		item := map[string]any{"id": fmt.Sprintf("r%05d", n)}
		prompt, completion := r.PromptAndCompletion()
		item["references"] = []string{completion}
		if r.Messages != nil {
			var msgs []Message
			if r.System != "" {
				msgs = append(msgs, Message{Role: "system", Content: r.System})
			}
			item["messages"] = append(msgs, r.Messages[:len(r.Messages)-1]...)
		} else {
			item["input"] = strings.Join(prompt, "\n\n")
		}
		b, _ := json.Marshal(item)
		out.Write(b)
		out.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	put := blob.PutOptions{ContentType: "application/jsonl"}
	if !s.evalApart {
		if put, err = s.putOptions(ctx, tenant); err != nil {
			return 0, err
		}
	}
	if _, err := s.evalBlobs.Put(ctx, dst, strings.NewReader(out.String()), put); err != nil {
		return 0, err
	}
	return n, nil
}

// EvalResult is one target's finished evaluation, as the flow's Map collects it (the
// nested execution's output under run.output).
type EvalResult struct {
	Role    string `json:"role"`
	SuiteID string `json:"suite_id"`
	Run     struct {
		Output struct {
			RunID   string             `json:"run_id"`
			Status  string             `json:"status"`
			Metrics map[string]float64 `json:"metrics"`
		} `json:"output"`
	} `json:"run"`
}

// CompareInput is CompareEvaluation's input.
type CompareInput struct {
	JobID   string       `json:"job_id"`
	Results []EvalResult `json:"results"`
}

// CompareEvaluation records the scores on the job and in the model's lineage.
func (s *Service) CompareEvaluation(ctx context.Context, in CompareInput) (*Evaluation, error) {
	rec, err := s.liveRecord(ctx, in.JobID)
	if err != nil {
		return nil, err
	}
	ev := &Evaluation{Suites: map[string]string{}, Models: map[string]string{}, Scores: map[string]map[string]float64{}, PrimaryMetric: "f1"}
	models := map[string]string{"candidate": *rec.Job.FineTunedModel, "base": rec.Job.Model, "production": rec.Job.Details.PromoteAlias}
	for _, r := range in.Results {
		ev.Suites[r.Role] = r.SuiteID
		ev.Models[r.Role] = models[r.Role]
		ev.Scores[r.Role] = r.Run.Output.Metrics
	}
	ev.BeatsBase = ev.Scores["candidate"][ev.PrimaryMetric] > ev.Scores["base"][ev.PrimaryMetric]
	if _, err := s.updateJob(ctx, in.JobID, func(r *jobRecord) error { r.Job.Details.Evaluation = ev; return nil }); err != nil {
		return nil, err
	}
	if _, err := s.models.Update(ctx, *rec.Job.FineTunedModel, func(m *registry.Model) error {
		if m.Lineage != nil {
			m.Lineage.Evaluation = ev.Scores
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("record evaluation in the registry: %w", err)
	}
	var parts []string
	for _, role := range []string{"candidate", "base", "production"} {
		if sc, ok := ev.Scores[role]; ok {
			parts = append(parts, fmt.Sprintf("%s %s %.1f", role, ev.PrimaryMetric, sc[ev.PrimaryMetric]))
		}
	}
	data := map[string]any{"scores": ev.Scores, "beats_base": ev.BeatsBase}
	s.event(ctx, in.JobID, "info", "message", "Evaluation: "+strings.Join(parts, ", "), data)
	return ev, nil
}

// ApprovalInput is RequestApproval's input: the job and the flow's task token.
type ApprovalInput struct {
	JobID     string `json:"job_id"`
	TaskToken string `json:"task_token"`
}

// ApprovalRequested is RequestApproval's output (the flow waits for the token).
type ApprovalRequested struct {
	Model string `json:"model"`
}

// decisionOutput is what the approval step resumes the flow with.
func decisionOutput(a *Approval) json.RawMessage {
	b, _ := json.Marshal(map[string]string{"decision": a.Decision, "reviewer": a.Reviewer, "comment": a.Comment})
	return b
}

// RequestApproval parks the flow until an admin reviews the model (POST
// /admin/models/{id}/review); a review made earlier resumes it at once.
func (s *Service) RequestApproval(ctx context.Context, in ApprovalInput) (*ApprovalRequested, error) {
	var decided *Approval
	rec, err := s.updateJob(ctx, in.JobID, func(r *jobRecord) error {
		if r.Job.Status == StatusCancelled {
			return &flow.TaskError{Type: ErrNameJobCancelled, Cause: "job " + in.JobID + " was cancelled"}
		}
		if a := r.Job.Details.Approval; a != nil {
			decided = a
			return nil
		}
		r.TaskToken = in.TaskToken
		r.Job.Details.Stage = StageAwaitingApproval
		return nil
	})
	if err != nil {
		return nil, err
	}
	model := *rec.Job.FineTunedModel
	if decided == nil {
		if m, err := s.models.Get(ctx, model); err == nil && (m.Status == registry.StatusApproved || m.Status == registry.StatusRejected) {
			if rv, ok := m.LastReview(); ok {
				return &ApprovalRequested{Model: model}, s.Decide(ctx, m, rv.Decision, rv.Reviewer, rv.Comment)
			}
		}
		s.event(ctx, in.JobID, "info", "message", "Awaiting approval: POST /admin/models/"+model+"/review", nil)
		return &ApprovalRequested{Model: model}, nil
	}
	if s.tasks == nil {
		return nil, errors.New("customize: no task completer to resume the flow")
	}
	return &ApprovalRequested{Model: model}, s.tasks.SendTaskSuccess(ctx, in.TaskToken, decisionOutput(decided))
}

// Decide applies a registry review of a fine-tuned model to its job: the approval
// step resumes with the decision. It is the registry's review observer.
func (s *Service) Decide(ctx context.Context, m registry.Model, decision, reviewer, comment string) error {
	if decision != "approve" && decision != "reject" {
		return nil
	}
	it, err := s.store.Get(ctx, modelIndexKey(m.ID))
	if errors.Is(err, store.ErrNotFound) {
		return nil // not a fine-tuned model
	}
	if err != nil {
		return fmt.Errorf("find the job of %s: %w", m.ID, err)
	}
	var ref JobRef
	if err := json.Unmarshal(it.Data, &ref); err != nil {
		return fmt.Errorf("decode the job of %s: %w", m.ID, err)
	}
	var token string
	a := &Approval{Decision: decision, Reviewer: reviewer, Comment: comment, At: unix(s.now())}
	if _, err := s.updateJob(ctx, ref.JobID, func(r *jobRecord) error {
		if r.Job.Details.Approval != nil {
			return nil
		}
		r.Job.Details.Approval = a
		token, r.TaskToken = r.TaskToken, ""
		return nil
	}); err != nil {
		return err
	}
	s.event(ctx, ref.JobID, "info", "message", fmt.Sprintf("Model %s: %s by %s", m.ID, map[string]string{"approve": "approved", "reject": "rejected"}[decision], reviewer), nil)
	if token == "" {
		return nil
	}
	if s.tasks == nil {
		return errors.New("customize: no task completer to resume the flow")
	}
	if err := s.tasks.SendTaskSuccess(ctx, token, decisionOutput(a)); err != nil {
		return fmt.Errorf("resume the flow of %s: %w", ref.JobID, err)
	}
	return nil
}

// ObserveReview adapts Decide to the registry's review observer, logging failures.
func (s *Service) ObserveReview(ctx context.Context, m registry.Model, decision, reviewer, comment string) {
	if err := s.Decide(ctx, m, decision, reviewer, comment); err != nil {
		s.log.Error("fine-tuning approval not delivered", "model", m.ID, "error", err)
	}
}

// Promoted is Promote's output.
type Promoted struct {
	Alias    string `json:"alias"`
	Model    string `json:"model"`
	Previous string `json:"previous"`
}

// Promote points the job's alias at the approved model.
func (s *Service) Promote(ctx context.Context, ref JobRef) (*Promoted, error) {
	rec, err := s.liveRecord(ctx, ref.JobID)
	if err != nil {
		return nil, err
	}
	j := &rec.Job
	by := platformActor
	if a := j.Details.Approval; a != nil {
		by += " (approved by " + a.Reviewer + ")"
	}
	prev, err := s.models.PointAlias(ctx, j.Details.PromoteAlias, *j.FineTunedModel, by)
	if err != nil {
		return nil, fmt.Errorf("promote %s: %w", *j.FineTunedModel, err)
	}
	p := &Promotion{Alias: j.Details.PromoteAlias, Previous: prev, At: unix(s.now())}
	if _, err := s.updateJob(ctx, ref.JobID, func(r *jobRecord) error {
		r.Job.Details.Promotion, r.Job.Details.Stage = p, StagePromoted
		return nil
	}); err != nil {
		return nil, err
	}
	msg := "Promoted " + *j.FineTunedModel + " to alias " + p.Alias
	if prev != "" {
		msg += " (previously " + prev + ")"
	}
	s.event(ctx, ref.JobID, "info", "message", msg, nil)
	return &Promoted{Alias: p.Alias, Model: *j.FineTunedModel, Previous: prev}, nil
}

// RejectionInput is RecordRejection's input.
type RejectionInput struct {
	JobID string `json:"job_id"`
}

// RecordRejection ends the flow of a rejected model.
func (s *Service) RecordRejection(ctx context.Context, in RejectionInput) (*JobRef, error) {
	if _, err := s.updateJob(ctx, in.JobID, func(r *jobRecord) error {
		r.Job.Details.Stage = StageRejected
		return nil
	}); err != nil {
		return nil, err
	}
	s.event(ctx, in.JobID, "info", "message", "The model was rejected; it will not be promoted", nil)
	return &JobRef{JobID: in.JobID}, nil
}

// PromoteAlias points alias at an approved model by hand (an admin action).
func (s *Service) PromoteAlias(ctx context.Context, alias, model, by string) (*Promoted, error) {
	prev, err := s.models.PointAlias(ctx, alias, model, by)
	if err != nil {
		return nil, err
	}
	return &Promoted{Alias: alias, Model: model, Previous: prev}, nil
}

// RollbackAlias re-points alias at the model it named before its last move.
func (s *Service) RollbackAlias(ctx context.Context, alias, by string) (*Promoted, error) {
	cur := ""
	if m, err := s.models.Resolve(ctx, alias); err == nil {
		cur = m.ID
	}
	now, err := s.models.RollbackAlias(ctx, alias, by)
	if err != nil {
		return nil, err
	}
	return &Promoted{Alias: alias, Model: now, Previous: cur}, nil
}
