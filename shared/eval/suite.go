package eval

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/plinth-ai/plinth/shared/eval/judge"
	"github.com/plinth-ai/plinth/shared/fault"
	"github.com/plinth-ai/plinth/shared/idpattern"
	"github.com/plinth-ai/plinth/shared/provider"
)

// Sentinel errors; handlers map them to HTTP statuses with errors.Is.
var (
	// ErrInvalid means a suite, item or request failed validation.
	ErrInvalid = fault.Sentinel("eval: invalid", fault.ErrInvalid)
	// ErrNotFound means no suite, run or feedback has the ID.
	ErrNotFound = fault.Sentinel("eval: not found", fault.ErrNotFound)
	// ErrExists means a suite with the ID already exists.
	ErrExists = fault.Sentinel("eval: already exists", fault.ErrExists)
	// ErrAmbiguous means a suite ID given without a tenant names suites of several tenants.
	ErrAmbiguous = fault.Sentinel("eval: several tenants have the suite", fault.ErrAmbiguous)
)

// Metric keys.
const (
	MetricExactMatch          = "exact_match"
	MetricF1                  = "f1"
	MetricROUGE1              = "rouge1"
	MetricROUGE2              = "rouge2"
	MetricROUGEL              = "rougeL"
	MetricBLEU                = "bleu"
	MetricEmbeddingSimilarity = "embedding_similarity"
	MetricContextPrecision    = "context_precision"
	MetricContextRecall       = "context_recall"
	MetricFaithfulness        = "faithfulness"
	MetricCitationPrecision   = "citation_precision"
	// JudgePrefix prefixes the metric of each judge rubric: judge_correctness, …
	JudgePrefix = "judge_"
)

// ReferenceMetrics are the metrics computed without a judge, in report order.
var ReferenceMetrics = []string{
	MetricExactMatch, MetricF1, MetricROUGE1, MetricROUGE2, MetricROUGEL, MetricBLEU,
	MetricEmbeddingSimilarity, MetricContextPrecision, MetricContextRecall,
	MetricFaithfulness, MetricCitationPrecision,
}

// DefaultMetrics are used when a suite names none.
var DefaultMetrics = []string{MetricExactMatch, MetricF1, MetricROUGEL, MetricBLEU}

// MetricScale returns the largest value a metric takes: 100, 5 or 1.
func MetricScale(metric string) float64 {
	switch {
	case metric == MetricExactMatch || metric == MetricF1 || metric == MetricBLEU:
		return 100
	case strings.HasPrefix(metric, JudgePrefix):
		return 5
	default:
		return 1
	}
}

// HigherIsBetter reports the direction of a metric (judge_harmfulness is the only one
// where lower is better).
func HigherIsBetter(metric string) bool {
	if r, ok := strings.CutPrefix(metric, JudgePrefix); ok {
		return judge.HigherIsBetter(judge.Rubric(r))
	}
	return true
}

// Item is one dataset row. Input or Messages is the prompt; an item with Output set is
// scored as given, without invoking the target (bring-your-own responses).
type Item struct {
	ID         string             `json:"id"`
	Input      string             `json:"input,omitempty"`
	Messages   []provider.Message `json:"messages,omitempty"`
	References []string           `json:"references,omitempty"`
	// Contexts are the reference passages: given to the target in the prompt when no
	// knowledge base is configured, and the ground truth of context precision/recall.
	Contexts []string       `json:"contexts,omitempty"`
	Output   *string        `json:"output,omitempty"`
	Metadata map[string]any `json:"metadata,omitempty"`
}

// Dataset is inline items or the URI of a JSONL object in the blob store
// ("blob://key", "s3://bucket/key" or a bare key).
type Dataset struct {
	Items []Item `json:"items,omitempty"`
	URI   string `json:"uri,omitempty"`
}

// TargetSpec is what a suite evaluates.
type TargetSpec struct {
	// Model is a registry model ID or alias, called through the gateway.
	Model string `json:"model"`
	// KnowledgeBase, when set, retrieves contexts for each item (RAG) before the call.
	KnowledgeBase string `json:"knowledge_base,omitempty"`
	// TopK is the number of passages retrieved (default 4).
	TopK int `json:"top_k,omitempty"`
	// PromptTemplate renders an item's user message; {{input}} and {{context}} are
	// replaced. Default: "Context:\n{{context}}\n\nQuestion: {{input}}" with contexts,
	// else "{{input}}".
	PromptTemplate string `json:"prompt_template,omitempty"`
	// PromptVersion records the registry version of the template under test.
	PromptVersion string `json:"prompt_version,omitempty"`
	// Prompt names a versioned prompt template in the registry (version 0 = the latest
	// at the time of each run). A run pins the exact version and copies its template
	// into its own record, so it shows what it tested.
	Prompt *PromptRef `json:"prompt,omitempty"`
	// System is an optional system message.
	System string `json:"system,omitempty"`
	// MaxTokens caps each answer (0 = the model's default).
	MaxTokens int `json:"max_tokens,omitempty"`
}

// PromptRef names a registry prompt template version.
type PromptRef struct {
	ID      string `json:"id"`
	Version int    `json:"version,omitempty"`
}

// JudgeSpec configures LLM-as-a-judge.
type JudgeSpec struct {
	Model       string       `json:"model"`
	Rubrics     []string     `json:"rubrics"`
	MaxAttempts int          `json:"max_attempts,omitempty"`
	Prices      judge.Prices `json:"prices,omitempty"`
}

// Baseline policy modes.
const (
	BaselinePrevious = "previous" // the suite's previous succeeded run (default)
	BaselineFixed    = "run"      // a named run
	BaselineNone     = "none"     // never compare
)

// BaselinePolicy says which run a new run is compared with and how far a metric may
// fall before it counts as a regression.
type BaselinePolicy struct {
	Mode  string `json:"mode,omitempty"`
	RunID string `json:"run_id,omitempty"`
	// Tolerances are absolute, per metric, on the metric's own scale. Unset metrics
	// default to 1% of their scale: 1 point for exact_match/f1/bleu, 0.05 for judge_*,
	// 0.01 for the rest.
	Tolerances map[string]float64 `json:"tolerances,omitempty"`
}

// Tolerance returns the regression tolerance for metric.
func (b BaselinePolicy) Tolerance(metric string) float64 {
	if t, ok := b.Tolerances[metric]; ok {
		return t
	}
	return MetricScale(metric) / 100
}

// Suite is an evaluation suite.
type Suite struct {
	Tenant      string     `json:"tenant"`
	ID          string     `json:"id"`
	Description string     `json:"description,omitempty"`
	Dataset     Dataset    `json:"dataset"`
	Target      TargetSpec `json:"target"`
	Metrics     []string   `json:"metrics,omitempty"`
	Judge       *JudgeSpec `json:"judge,omitempty"`
	// Thresholds are pass marks per metric: a run passes when every metric reaches its
	// threshold (stays at or below it for lower-is-better metrics).
	Thresholds map[string]float64 `json:"thresholds,omitempty"`
	// Schedule is an EventBridge Scheduler expression: rate(…), cron(…) or at(…).
	Schedule  string         `json:"schedule,omitempty"`
	Baseline  BaselinePolicy `json:"baseline,omitempty"`
	CreatedAt time.Time      `json:"created_at"`
	UpdatedAt time.Time      `json:"updated_at"`
}

var (
	reID       = idpattern.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)
	reRate     = regexp.MustCompile(`^rate\(([1-9][0-9]*) (minute|minutes|hour|hours|day|days)\)$`)
	reCron     = regexp.MustCompile(`^cron\(([^ ()]+ ){5}[^ ()]+\)$`)
	reAt       = regexp.MustCompile(`^at\(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\)$`)
	allRubrics = func() []string {
		out := make([]string, len(judge.Rubrics))
		for i, r := range judge.Rubrics {
			out[i] = string(r)
		}
		return out
	}()
)

// ValidSchedule checks an EventBridge Scheduler expression: rate(N unit), a six-field
// cron(…) or a one-time at(yyyy-mm-ddThh:mm:ss). Singular units go with 1 only.
func ValidSchedule(s string) error {
	if m := reRate.FindStringSubmatch(s); m != nil {
		if (m[1] == "1") != !strings.HasSuffix(m[2], "s") {
			return fmt.Errorf("schedule %q: use a singular unit with 1 and a plural one otherwise: %w", s, ErrInvalid)
		}
		return nil
	}
	if reCron.MatchString(s) || reAt.MatchString(s) {
		return nil
	}
	return fmt.Errorf("schedule %q is not rate(…), cron(6 fields) or at(…): %w", s, ErrInvalid)
}

// EffectiveMetrics returns the suite's reference metrics followed by one judge_<rubric>
// per judge rubric.
func (s *Suite) EffectiveMetrics() []string {
	ms := s.Metrics
	if len(ms) == 0 {
		ms = DefaultMetrics
	}
	out := slices.Clone(ms)
	if s.Judge != nil {
		for _, r := range s.Judge.Rubrics {
			if k := JudgePrefix + r; !slices.Contains(out, k) {
				out = append(out, k)
			}
		}
	}
	return out
}

// Validate checks the suite and fills defaults.
func (s *Suite) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("suite %q: %s: %w", s.ID, fmt.Sprintf(format, a...), ErrInvalid)
	}
	if !reID.MatchString(s.Tenant) {
		return bad("tenant must be 1-128 letters, digits, '.', '_' or '-'")
	}
	if !reID.MatchString(s.ID) {
		return bad("id must be 1-128 letters, digits, '.', '_' or '-'")
	}
	if s.Target.Model == "" {
		return bad("target.model is required")
	}
	if s.Target.TopK < 0 || s.Target.TopK > 100 {
		return bad("target.top_k must be 0-100")
	}
	if (len(s.Dataset.Items) == 0) == (s.Dataset.URI == "") {
		return bad("dataset needs exactly one of items or uri")
	}
	for i := range s.Dataset.Items {
		if err := s.Dataset.Items[i].Validate(i); err != nil {
			return fmt.Errorf("suite %q: %w", s.ID, err)
		}
	}
	if err := uniqueIDs(s.Dataset.Items); err != nil {
		return fmt.Errorf("suite %q: %w", s.ID, err)
	}
	for _, m := range s.Metrics {
		if strings.HasPrefix(m, JudgePrefix) {
			return bad("judge metrics come from judge.rubrics, not metrics (%q)", m)
		}
		if !slices.Contains(ReferenceMetrics, m) {
			return bad("unknown metric %q (known: %s)", m, strings.Join(ReferenceMetrics, ", "))
		}
	}
	if s.Judge != nil {
		if s.Judge.Model == "" {
			return bad("judge.model is required")
		}
		if len(s.Judge.Rubrics) == 0 {
			s.Judge.Rubrics = allRubrics
		}
		for _, r := range s.Judge.Rubrics {
			if _, err := judge.ParseRubric(r); err != nil {
				return bad("%v", err)
			}
		}
		if s.Judge.MaxAttempts < 0 || s.Judge.MaxAttempts > 10 {
			return bad("judge.max_attempts must be 0-10")
		}
	}
	known := s.EffectiveMetrics()
	for m := range s.Thresholds {
		if !slices.Contains(known, m) {
			return bad("threshold for metric %q, which the suite does not compute", m)
		}
	}
	if s.Schedule != "" {
		if err := ValidSchedule(s.Schedule); err != nil {
			return err
		}
	}
	switch s.Baseline.Mode {
	case "":
		s.Baseline.Mode = BaselinePrevious
	case BaselinePrevious, BaselineNone:
	case BaselineFixed:
		if s.Baseline.RunID == "" {
			return bad("baseline.run_id is required with mode %q", BaselineFixed)
		}
	default:
		return bad("baseline.mode must be previous, run or none")
	}
	for m, t := range s.Baseline.Tolerances {
		if t < 0 {
			return bad("baseline tolerance for %q is negative", m)
		}
	}
	return nil
}

// Validate checks one item; i is its position, for messages.
func (it *Item) Validate(i int) error {
	if it.ID == "" {
		return fmt.Errorf("item %d: id is required: %w", i, ErrInvalid)
	}
	if it.Output == nil && it.Input == "" && len(it.Messages) == 0 {
		return fmt.Errorf("item %q: needs input, messages or a precomputed output: %w", it.ID, ErrInvalid)
	}
	if it.Input != "" && len(it.Messages) > 0 {
		return fmt.Errorf("item %q: give input or messages, not both: %w", it.ID, ErrInvalid)
	}
	return nil
}

func uniqueIDs(items []Item) error {
	seen := make(map[string]bool, len(items))
	for _, it := range items {
		if seen[it.ID] {
			return fmt.Errorf("duplicate item id %q: %w", it.ID, ErrInvalid)
		}
		seen[it.ID] = true
	}
	return nil
}

// question returns the item's prompt as plain text, for judges and retrieval.
func (it *Item) question() string {
	if it.Input != "" {
		return it.Input
	}
	for i := len(it.Messages) - 1; i >= 0; i-- {
		if it.Messages[i].Role == "user" {
			return it.Messages[i].Content.String()
		}
	}
	return ""
}
