// Package registry is the model hub: a governed list of the models the platform may call,
// with their deployments, prices, review status and lineage. Only approved (or deprecated)
// models are invocable; every change is recorded with who made it and when.
package registry

import (
	"errors"
	"strings"
	"time"

	"github.com/plinth-ai/plinth/shared/fault"
	"github.com/plinth-ai/plinth/shared/idpattern"
)

// Kind says what a model does.
type Kind string

const (
	KindChat      Kind = "chat"
	KindEmbedding Kind = "embedding"
)

// Noun names the kind with its article, for messages: "a chat model", "an embedding model".
func (k Kind) Noun() string {
	switch k {
	case KindEmbedding:
		return "an embedding model"
	case KindChat:
		return "a chat model"
	default:
		return "a model of kind " + string(k)
	}
}

// Status is a model's place in its review lifecycle.
type Status string

const (
	StatusPendingReview Status = "pending-review"
	StatusApproved      Status = "approved"
	StatusRejected      Status = "rejected"
	StatusDeprecated    Status = "deprecated"
	StatusRetired       Status = "retired"
)

// Invocable reports whether requests may be routed to a model in this status.
func (s Status) Invocable() bool { return s == StatusApproved || s == StatusDeprecated }

// Provider names.
const (
	ProviderOpenAI  = "openai"
	ProviderBedrock = "bedrock"
	ProviderLocal   = "local"
)

// Errors returned by the registry. Handlers map them with errors.Is.
var (
	ErrNotFound     = fault.Sentinel("model not found", fault.ErrModelNotFound)
	ErrExists       = fault.Sentinel("model already exists", fault.ErrExists)
	ErrInvalid      = fault.Sentinel("invalid model", fault.ErrInvalid)
	ErrNotInvocable = errors.New("model is not approved for use")
	ErrConflict     = fault.Sentinel("model was changed concurrently", fault.ErrConflict)
	// ErrPromptNotFound means no prompt template (or version) has the ID.
	ErrPromptNotFound = fault.Sentinel("prompt not found", fault.ErrNotFound)
)

// Deployment is one endpoint serving a model.
type Deployment struct {
	ID       string `json:"id,omitempty"`
	Provider string `json:"provider"`
	BaseURL  string `json:"base_url,omitempty"`
	// Model is the provider's own model ID (a Bedrock model or inference-profile ID, an
	// OpenAI model name, an Azure deployment name).
	Model      string `json:"model"`
	Region     string `json:"region,omitempty"`
	APIVersion string `json:"api_version,omitempty"`
	// APIKey is accepted on write and never returned. In AWS prefer APIKeySecret.
	APIKey string `json:"api_key,omitempty"`
	// APIKeyEnv names an environment variable holding the key (local configuration).
	APIKeyEnv string `json:"api_key_env,omitempty"`
	// APIKeySecret names a Secrets Manager secret (ARN or name) holding the key.
	APIKeySecret string `json:"api_key_secret,omitempty"`
	Weight       int    `json:"weight,omitempty"`
	// AssistantPrefill says whether the deployment continues a conversation's final
	// assistant message as it stands. The gateway continues a stream that another
	// deployment broke off by prefill where it may, else by asking the model in words to
	// go on. Unset, see AcceptsPrefill.
	AssistantPrefill *bool `json:"assistant_prefill,omitempty"`
}

// AcceptsPrefill reports whether the deployment continues a final assistant message:
// AssistantPrefill when set; else true for the built-in local models and Anthropic's
// Claude models on Bedrock, which document prefill, and false for OpenAI-compatible
// endpoints (OpenAI answers a final assistant message with a new message instead).
func (d Deployment) AcceptsPrefill() bool {
	if d.AssistantPrefill != nil {
		return *d.AssistantPrefill
	}
	switch d.Provider {
	case ProviderLocal:
		return true
	case ProviderBedrock:
		return strings.Contains(d.Model, "anthropic.")
	}
	return false
}

// Prices are USD per million tokens.
type Prices struct {
	InputPerMillion  float64 `json:"input_per_million"`
	OutputPerMillion float64 `json:"output_per_million"`
	// TrainingPerMillion is the price of fine-tuning the model on a million tokens
	// (tokens times epochs), for cost estimates; 0 when it is free or unknown.
	TrainingPerMillion float64 `json:"training_per_million,omitempty"`
}

// Cost returns the USD cost of the given token counts.
func (p Prices) Cost(inputTokens, outputTokens int64) float64 {
	return (float64(inputTokens)*p.InputPerMillion + float64(outputTokens)*p.OutputPerMillion) / 1e6
}

// Timeouts bound one attempt against a deployment, in milliseconds (0 = default).
type Timeouts struct {
	FirstTokenMS int `json:"first_token_ms,omitempty"`
	IdleMS       int `json:"idle_ms,omitempty"`
	TotalMS      int `json:"total_ms,omitempty"`
}

// Review records a review decision.
type Review struct {
	Decision string    `json:"decision"`
	Reviewer string    `json:"reviewer"`
	Comment  string    `json:"comment,omitempty"`
	At       time.Time `json:"at"`
}

// Lineage records where a custom model came from.
type Lineage struct {
	BaseModel string             `json:"base_model,omitempty"`
	Dataset   string             `json:"dataset,omitempty"`
	JobARN    string             `json:"job_arn,omitempty"`
	Metrics   map[string]float64 `json:"metrics,omitempty"`
	// Job is the platform's fine-tuning job that produced the model.
	Job string `json:"job,omitempty"`
	// Provider is where it was trained (local, bedrock, openai).
	Provider          string `json:"provider,omitempty"`
	CustomizationType string `json:"customization_type,omitempty"`
	// Datasets are the files it was trained and validated on, with their hashes.
	Datasets        []LineageDataset  `json:"datasets,omitempty"`
	Hyperparameters map[string]string `json:"hyperparameters,omitempty"`
	// Artifact locates the trained model: a blob key for local-tune, the provider's
	// model ARN or name otherwise.
	Artifact string `json:"artifact,omitempty"`
	// StartedBy is the API key or principal that started the job.
	StartedBy string `json:"started_by,omitempty"`
	// Evaluation holds the pre-approval scores by target role (candidate, base,
	// production) and metric.
	Evaluation map[string]map[string]float64 `json:"evaluation,omitempty"`
}

// LineageDataset is a dataset a custom model was trained or validated on.
type LineageDataset struct {
	FileID  string `json:"file_id"`
	Role    string `json:"role"`
	SHA256  string `json:"sha256"`
	Records int    `json:"records"`
}

// Model is one registry entry.
type Model struct {
	ID          string `json:"id"`
	Kind        Kind   `json:"kind"`
	Description string `json:"description,omitempty"`
	Owner       string `json:"owner,omitempty"`
	// Tenant, when set, restricts the model to that tenant and the tenants in
	// SharedWith (a tenant's fine-tuned model); platform admins may call it too.
	Tenant        string            `json:"tenant,omitempty"`
	SharedWith    []string          `json:"shared_with,omitempty"`
	Tags          map[string]string `json:"tags,omitempty"`
	Aliases       []string          `json:"aliases,omitempty"`
	Deployments   []Deployment      `json:"deployments"`
	Fallbacks     []string          `json:"fallbacks,omitempty"`
	Timeouts      Timeouts          `json:"timeouts,omitempty"`
	Prices        Prices            `json:"prices"`
	ContextWindow int               `json:"context_window,omitempty"`
	// MaxOutputTokens is the model's output cap, used for worst-case quota reservations.
	MaxOutputTokens int `json:"max_output_tokens,omitempty"`
	// Dimensions is an embedding model's default vector size; SupportsDimensions says
	// whether a request may ask for fewer.
	Dimensions         int       `json:"dimensions,omitempty"`
	SupportsDimensions bool      `json:"supports_dimensions,omitempty"`
	Status             Status    `json:"status"`
	Reviews            []Review  `json:"reviews,omitempty"`
	Lineage            *Lineage  `json:"lineage,omitempty"`
	CreatedAt          time.Time `json:"created_at"`
	CreatedBy          string    `json:"created_by,omitempty"`
	UpdatedAt          time.Time `json:"updated_at"`
	// Version increments with every change (optimistic concurrency).
	Version int64 `json:"version"`
}

// VisibleTo reports whether tenant may see and call the model under its ownership
// rules (the tenant's own allowed-model list is a separate check).
func (m *Model) VisibleTo(tenant string) bool {
	if m.Tenant == "" || m.Tenant == tenant {
		return true
	}
	for _, t := range m.SharedWith {
		if t == tenant {
			return true
		}
	}
	return false
}

// LastReview returns the most recent review, if any.
func (m *Model) LastReview() (Review, bool) {
	if len(m.Reviews) == 0 {
		return Review{}, false
	}
	return m.Reviews[len(m.Reviews)-1], true
}

var idPattern = idpattern.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$`)

// Validate checks a model definition before it is stored.
func (m *Model) Validate() error {
	if !idPattern.MatchString(m.ID) {
		return fault.New(ErrInvalid, "id", "id %q must be 1-128 characters of letters, digits, '.', '_', ':', '/', '-'", m.ID)
	}
	if m.Kind != KindChat && m.Kind != KindEmbedding {
		return fault.New(ErrInvalid, "kind", "kind must be %q or %q", KindChat, KindEmbedding)
	}
	if len(m.Deployments) == 0 {
		return fault.New(ErrInvalid, "deployments", "at least one deployment is required")
	}
	for i, d := range m.Deployments {
		switch d.Provider {
		case ProviderOpenAI:
			if d.BaseURL == "" {
				return fault.New(ErrInvalid, "", "deployments[%d].base_url is required for provider openai", i)
			}
		case ProviderBedrock, ProviderLocal:
		default:
			return fault.New(ErrInvalid, "", "deployments[%d].provider %q is not one of openai, bedrock, local", i, d.Provider)
		}
		if d.Model == "" {
			return fault.New(ErrInvalid, "", "deployments[%d].model is required", i)
		}
		if d.Weight < 0 {
			return fault.New(ErrInvalid, "", "deployments[%d].weight must not be negative", i)
		}
	}
	if m.Prices.InputPerMillion < 0 || m.Prices.OutputPerMillion < 0 {
		return fault.New(ErrInvalid, "prices", "prices must not be negative")
	}
	for _, f := range m.Fallbacks {
		if f == m.ID {
			return fault.New(ErrInvalid, "fallbacks", "a model cannot fall back to itself")
		}
	}
	for _, a := range m.Aliases {
		if !idPattern.MatchString(a) {
			return fault.New(ErrInvalid, "aliases", "alias %q is not a valid name", a)
		}
	}
	for _, t := range m.SharedWith {
		if t == "" {
			return fault.New(ErrInvalid, "shared_with", "shared_with holds an empty tenant")
		}
	}
	if len(m.SharedWith) > 0 && m.Tenant == "" {
		return fault.New(ErrInvalid, "shared_with", "shared_with needs an owning tenant: only a tenant's own model can be shared")
	}
	if m.Timeouts.FirstTokenMS < 0 || m.Timeouts.IdleMS < 0 || m.Timeouts.TotalMS < 0 {
		return fault.New(ErrInvalid, "timeouts", "timeouts must not be negative")
	}
	return nil
}

// Redacted returns a copy safe to show: deployment API keys removed.
func (m Model) Redacted() Model {
	deps := make([]Deployment, len(m.Deployments))
	for i, d := range m.Deployments {
		d.APIKey = ""
		deps[i] = d
	}
	m.Deployments = deps
	return m
}
