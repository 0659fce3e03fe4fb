package customize

import (
	"encoding/json"
	"strconv"
	"time"
)

// Job statuses, as OpenAI's fine-tuning API names them. A job is succeeded once its
// fine-tuned model exists (registered pending review); governance after that (the
// evaluation, the approval, the promotion) shows in Details.Stage.
const (
	StatusValidatingFiles = "validating_files"
	StatusQueued          = "queued"
	StatusRunning         = "running"
	StatusSucceeded       = "succeeded"
	StatusFailed          = "failed"
	StatusCancelled       = "cancelled"
)

// Stages of the customisation flow (Details.Stage).
const (
	StageValidating       = "validating"
	StageQueued           = "queued"
	StageTraining         = "training"
	StageRegistering      = "registering"
	StageEvaluating       = "evaluating"
	StageAwaitingApproval = "awaiting_approval"
	StagePromoted         = "promoted"
	StageRejected         = "rejected"
	StageFailed           = "failed"
	StageCancelled        = "cancelled"
)

// JobError is OpenAI's job error object.
type JobError struct {
	Code    string  `json:"code"`
	Message string  `json:"message"`
	Param   *string `json:"param"`
}

// JobHyperparameters is OpenAI's view of the hyperparameters.
type JobHyperparameters struct {
	BatchSize              any `json:"batch_size"`
	LearningRateMultiplier any `json:"learning_rate_multiplier"`
	NEpochs                any `json:"n_epochs"`
}

// JobMethod is OpenAI's method object (Plinth runs supervised fine-tuning).
type JobMethod struct {
	Type       string          `json:"type"`
	Supervised *JobMethodInner `json:"supervised,omitempty"`
}

// JobMethodInner carries a method's hyperparameters.
type JobMethodInner struct {
	Hyperparameters JobHyperparameters `json:"hyperparameters"`
}

// DatasetRef records a dataset a job used, for lineage.
type DatasetRef struct {
	FileID  string `json:"file_id"`
	Role    string `json:"role"` // training, validation, held_back
	SHA256  string `json:"sha256"`
	Records int    `json:"records"`
	Tokens  int64  `json:"tokens"`
}

// CostEstimate is the expected training cost of a job.
type CostEstimate struct {
	// TrainedTokens is the dataset's tokens times the epochs.
	TrainedTokens int64   `json:"trained_tokens"`
	USD           float64 `json:"usd"`
	// PricePerMillion is the base model's training price per million tokens.
	PricePerMillion float64 `json:"price_per_million_tokens"`
	Note            string  `json:"note,omitempty"`
}

// Evaluation is the comparison the flow ran before approval: metric means per target.
type Evaluation struct {
	Suites map[string]string             `json:"suites"`
	Models map[string]string             `json:"models"`
	Scores map[string]map[string]float64 `json:"scores"`
	// BeatsBase is set when the candidate scores higher than the base model on the
	// primary metric.
	BeatsBase     bool   `json:"beats_base"`
	PrimaryMetric string `json:"primary_metric"`
}

// Approval is the human decision on the candidate.
type Approval struct {
	Decision string `json:"decision"`
	Reviewer string `json:"reviewer"`
	Comment  string `json:"comment,omitempty"`
	At       int64  `json:"at"`
}

// Promotion records where the model was promoted.
type Promotion struct {
	Alias    string `json:"alias"`
	Previous string `json:"previous,omitempty"`
	At       int64  `json:"at"`
}

// Details are Plinth's extensions to the job object.
type Details struct {
	Stage             string            `json:"stage"`
	StageError        string            `json:"stage_error,omitempty"`
	CustomizationType CustomizationType `json:"customization_type"`
	Provider          string            `json:"provider"`
	ProviderJobID     string            `json:"provider_job_id,omitempty"`
	Execution         string            `json:"execution,omitempty"`
	// Hyperparameters are the resolved values under Bedrock's names.
	Hyperparameters map[string]string `json:"hyperparameters"`
	Datasets        []DatasetRef      `json:"datasets,omitempty"`
	Validation      *Report           `json:"validation,omitempty"`
	Cost            *CostEstimate     `json:"cost_estimate,omitempty"`
	Evaluation      *Evaluation       `json:"evaluation,omitempty"`
	Approval        *Approval         `json:"approval,omitempty"`
	Promotion       *Promotion        `json:"promotion,omitempty"`
	// PromoteAlias is the alias the model is promoted to once approved.
	PromoteAlias string `json:"promote_alias,omitempty"`
	CreatedBy    string `json:"created_by,omitempty"`
}

// Job is a fine-tuning job in OpenAI's shape, with Plinth's details.
type Job struct {
	ID                 string             `json:"id"`
	Object             string             `json:"object"`
	CreatedAt          int64              `json:"created_at"`
	Error              *JobError          `json:"error"`
	FineTunedModel     *string            `json:"fine_tuned_model"`
	FinishedAt         *int64             `json:"finished_at"`
	Hyperparameters    JobHyperparameters `json:"hyperparameters"`
	Model              string             `json:"model"`
	OrganizationID     string             `json:"organization_id"`
	ResultFiles        []string           `json:"result_files"`
	Seed               int64              `json:"seed"`
	Status             string             `json:"status"`
	TrainedTokens      *int64             `json:"trained_tokens"`
	TrainingFile       string             `json:"training_file"`
	ValidationFile     *string            `json:"validation_file"`
	EstimatedFinish    *int64             `json:"estimated_finish"`
	Integrations       []json.RawMessage  `json:"integrations"`
	Metadata           map[string]string  `json:"metadata"`
	Method             JobMethod          `json:"method"`
	UserProvidedSuffix *string            `json:"user_provided_suffix,omitempty"`
	Details            Details            `json:"customization"`
}

// Tenant returns the owning tenant.
func (j *Job) Tenant() string { return j.OrganizationID }

// Final reports whether the job's status can no longer change.
func (j *Job) Final() bool {
	return j.Status == StatusSucceeded || j.Status == StatusFailed || j.Status == StatusCancelled
}

// jobRecord is a job as stored: the public object plus what only the platform sees.
type jobRecord struct {
	Job Job `json:"job"`
	// TrainingKey and ValidationKey are the validated records' blob keys.
	TrainingKey   string `json:"training_key,omitempty"`
	ValidationKey string `json:"validation_key,omitempty"`
	OutputPrefix  string `json:"output_prefix,omitempty"`
	// ProviderModel is the provider's base model ID.
	ProviderModel string `json:"provider_model,omitempty"`
	// TaskToken completes the flow's approval step.
	TaskToken string `json:"task_token,omitempty"`
	// OutputModel is the provider's ID of the custom model.
	OutputModel string `json:"output_model,omitempty"`
	// Steps are the training metrics, kept for checkpoints.
	Steps          []StepMetric `json:"steps,omitempty"`
	ValidationLoss *float64     `json:"validation_loss,omitempty"`
	// IndexSK is the job's entry in its tenant's job index.
	IndexSK string `json:"index_sk"`
}

// File is an uploaded dataset in OpenAI's file shape.
type File struct {
	ID            string  `json:"id"`
	Object        string  `json:"object"`
	Bytes         int64   `json:"bytes"`
	CreatedAt     int64   `json:"created_at"`
	ExpiresAt     *int64  `json:"expires_at,omitempty"`
	Filename      string  `json:"filename"`
	Purpose       string  `json:"purpose"`
	Status        string  `json:"status"`
	StatusDetails *string `json:"status_details,omitempty"`
	// SHA256 identifies the content (Plinth extension).
	SHA256 string `json:"sha256,omitempty"`
	// Provenance says where a dataset built by the platform came from (Plinth extension).
	Provenance *Provenance `json:"provenance,omitempty"`
}

// Provenance describes how the platform built a dataset.
type Provenance struct {
	// Source is feedback, evaluation, human_review or synthetic.
	Source string `json:"source"`
	// Synthetic marks generated records.
	Synthetic     bool              `json:"synthetic"`
	Generator     string            `json:"generator_model,omitempty"`
	KnowledgeBase string            `json:"knowledge_base,omitempty"`
	Inputs        map[string]string `json:"inputs,omitempty"`
	Records       int               `json:"records"`
	CreatedBy     string            `json:"created_by,omitempty"`
	CreatedAt     int64             `json:"created_at"`
}

type fileRecord struct {
	File   File   `json:"file"`
	Tenant string `json:"tenant"`
	Key    string `json:"key"`
}

// File purposes.
const (
	PurposeFineTune        = "fine-tune"
	PurposeFineTuneResults = "fine-tune-results"
)

// Event is a job event in OpenAI's shape.
type Event struct {
	ID        string         `json:"id"`
	Object    string         `json:"object"`
	CreatedAt int64          `json:"created_at"`
	Level     string         `json:"level"`
	Message   string         `json:"message"`
	Data      map[string]any `json:"data"`
	Type      string         `json:"type"`
}

// Checkpoint is OpenAI's fine-tuning checkpoint object.
type Checkpoint struct {
	ID                       string            `json:"id"`
	Object                   string            `json:"object"`
	CreatedAt                int64             `json:"created_at"`
	FineTunedModelCheckpoint string            `json:"fine_tuned_model_checkpoint"`
	FineTuningJobID          string            `json:"fine_tuning_job_id"`
	Metrics                  CheckpointMetrics `json:"metrics"`
	StepNumber               int               `json:"step_number"`
}

// CheckpointMetrics are a checkpoint's losses.
type CheckpointMetrics struct {
	Step          float64  `json:"step"`
	TrainLoss     float64  `json:"train_loss"`
	ValidLoss     *float64 `json:"valid_loss,omitempty"`
	FullValidLoss *float64 `json:"full_valid_loss,omitempty"`
}

// Page is a cursor page (OpenAI's list object).
type Page[T any] struct {
	Object  string `json:"object"`
	Data    []T    `json:"data"`
	HasMore bool   `json:"has_more"`
	FirstID string `json:"first_id,omitempty"`
	LastID  string `json:"last_id,omitempty"`
}

func unix(t time.Time) int64 { return t.Unix() }

func ptr[T any](v T) *T { return &v }

// openAIView derives OpenAI's hyperparameter object from Bedrock-named values.
func openAIView(f Family, hp map[string]string) JobHyperparameters {
	out := JobHyperparameters{BatchSize: "auto", LearningRateMultiplier: "auto", NEpochs: "auto"}
	if v, err := strconv.Atoi(hp["epochCount"]); err == nil {
		out.NEpochs = v
	}
	if v, err := strconv.Atoi(hp["batchSize"]); err == nil {
		out.BatchSize = v
	}
	if f.Multiplier != "" {
		if v, err := strconv.ParseFloat(hp[f.Multiplier], 64); err == nil {
			out.LearningRateMultiplier = v
		}
	} else if spec, ok := f.param("learningRate"); ok && spec.Default > 0 {
		if v, err := strconv.ParseFloat(hp["learningRate"], 64); err == nil {
			out.LearningRateMultiplier = v / spec.Default
		}
	}
	return out
}
