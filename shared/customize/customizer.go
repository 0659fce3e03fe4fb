package customize

import (
	"context"
	"time"
)

// ProviderStatus is a provider job's state in Bedrock's vocabulary.
type ProviderStatus string

// Provider job states (GetModelCustomizationJob's Status).
const (
	ProviderInProgress ProviderStatus = "InProgress"
	ProviderCompleted  ProviderStatus = "Completed"
	ProviderFailed     ProviderStatus = "Failed"
	ProviderStopping   ProviderStatus = "Stopping"
	ProviderStopped    ProviderStatus = "Stopped"
)

// JobSpec is what a provider needs to run a customisation job. Data locations are
// blob keys of the platform's store; an adapter maps them to its own URIs.
type JobSpec struct {
	// Name is the Plinth job ID; providers use it as the job name and idempotency token.
	Name   string
	Tenant string
	// BaseModel is the provider's own ID of the base model.
	BaseModel string
	// OutputModelName names the custom model the job creates.
	OutputModelName string
	Type            CustomizationType
	// Hyperparameters are in Bedrock's wire form (names and string values).
	Hyperparameters map[string]string
	// TrainingKey and ValidationKey are the validated records; ValidationKey may be empty.
	TrainingKey   string
	ValidationKey string
	// OutputPrefix is where the provider writes its artefacts (model, metrics files).
	OutputPrefix string
	// KMSKeyID encrypts the custom model's artefacts (the tenant's key in AWS).
	KMSKeyID string
	Tags     map[string]string
	// Endpoint reaches an OpenAI-compatible provider (the base model's deployment).
	Endpoint Endpoint
}

// Endpoint is an OpenAI-compatible API and its key.
type Endpoint struct {
	BaseURL string
	APIKey  string
}

// StepMetric is one training step's loss, as step_wise_training_metrics.csv reports it.
type StepMetric struct {
	Step         int     `json:"step"`
	Epoch        int     `json:"epoch"`
	TrainingLoss float64 `json:"train_loss"`
	Perplexity   float64 `json:"perplexity,omitempty"`
}

// ProviderJob is a provider's report on a job.
type ProviderJob struct {
	ID             string         `json:"id"`
	Status         ProviderStatus `json:"status"`
	FailureMessage string         `json:"failure_message,omitempty"`
	// OutputModel is the provider's ID of the custom model once Completed (a Bedrock
	// custom-model ARN, an OpenAI fine_tuned_model, the blob key of a local-tune model).
	OutputModel    string   `json:"output_model,omitempty"`
	TrainingLoss   *float64 `json:"training_loss,omitempty"`
	ValidationLoss *float64 `json:"validation_loss,omitempty"`
	// Steps are the training steps the provider reports so far (may be empty while the
	// provider reports metrics only in files).
	Steps         []StepMetric `json:"steps,omitempty"`
	TotalSteps    int          `json:"total_steps,omitempty"`
	TrainedTokens int64        `json:"trained_tokens,omitempty"`
	// ResultKeys are blob keys of the provider's result files (metrics CSVs).
	ResultKeys []string   `json:"result_keys,omitempty"`
	EndTime    *time.Time `json:"end_time,omitempty"`
}

// Done reports whether the provider job reached a final state.
func (p ProviderJob) Done() bool {
	return p.Status == ProviderCompleted || p.Status == ProviderFailed || p.Status == ProviderStopped
}

// Customizer runs customisation jobs at one provider. Start must be idempotent for one
// spec.Name (a retried task may call it twice). Get and Stop receive the job's spec
// again (an adapter may need its endpoint) with the ID Start returned.
type Customizer interface {
	Start(ctx context.Context, spec JobSpec) (providerJobID string, err error)
	Get(ctx context.Context, spec JobSpec, providerJobID string) (ProviderJob, error)
	// Stop asks the provider to stop the job; stopping a finished job is not an error.
	Stop(ctx context.Context, spec JobSpec, providerJobID string) error
}
