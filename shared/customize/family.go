package customize

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/plinth-ai/plinth/shared/fault"
)

// ParamSpec is one hyperparameter a model family accepts, with its bounds and default
// as the provider documents them.
type ParamSpec struct {
	Name    string
	Integer bool
	Min     float64
	Max     float64
	Default float64
}

// Limits bound a family's datasets.
type Limits struct {
	// MaxRecordTokens caps a record's prompt plus completion tokens (0: the base
	// model's context window).
	MaxRecordTokens int
	// CharsPerToken sets the per-record character quota as MaxRecordTokens times it
	// (Bedrock: 6).
	CharsPerToken int
	MinRecords    int
	MaxRecords    int
	// MaxTrainingBytes and MaxValidationBytes cap the files (0: no cap).
	MaxTrainingBytes   int64
	MaxValidationBytes int64
}

// Family is a group of base models that share hyperparameters, formats and limits.
type Family struct {
	Name string
	// Prefixes match the provider model IDs of the family (Bedrock IDs may carry a
	// region prefix such as "us." that is ignored).
	Prefixes []string
	Params   []ParamSpec
	// Formats lists the fine-tuning formats; continued pre-training always reads
	// FormatPretraining.
	Formats []Format
	Types   []CustomizationType
	Limits  Limits
	// Multiplier names the hyperparameter OpenAI's learning_rate_multiplier maps to
	// directly; otherwise it scales the default learning rate.
	Multiplier string
}

// Families Plinth knows, from Amazon Bedrock's model-customisation documentation
// (custom-models-hp and model-training-validation-requirements) and local-tune's own.
var Families = []Family{
	{
		Name: "local-tune", Prefixes: []string{"local-tune"},
		Params: []ParamSpec{
			{Name: "epochCount", Integer: true, Min: 1, Max: 20, Default: 5},
			{Name: "batchSize", Integer: true, Min: 1, Max: 256, Default: 8},
			{Name: "learningRate", Min: 1e-4, Max: 1, Default: 0.1},
			{Name: "learningRateWarmupSteps", Integer: true, Min: 0, Max: 1000, Default: 0},
		},
		Formats: []Format{FormatPromptCompletion, FormatConversation},
		Types:   []CustomizationType{TypeFineTuning, TypeContinuedPreTraining},
		Limits:  Limits{MaxRecordTokens: 4096, CharsPerToken: 6, MinRecords: 1, MaxRecords: 100_000, MaxTrainingBytes: 256 << 20, MaxValidationBytes: 64 << 20},
	},
	{
		Name: "amazon.nova", Prefixes: []string{"amazon.nova-micro", "amazon.nova-lite", "amazon.nova-pro"},
		Params: []ParamSpec{
			{Name: "epochCount", Integer: true, Min: 1, Max: 5, Default: 2},
			{Name: "learningRate", Min: 1e-6, Max: 1e-4, Default: 1e-5},
			{Name: "learningRateWarmupSteps", Integer: true, Min: 0, Max: 100, Default: 10},
		},
		Formats: []Format{FormatConversation},
		Types:   []CustomizationType{TypeFineTuning},
		Limits:  Limits{CharsPerToken: 6, MinRecords: 1},
	},
	{
		Name: "amazon.titan-text-premier", Prefixes: []string{"amazon.titan-text-premier"},
		Params: []ParamSpec{
			{Name: "epochCount", Integer: true, Min: 1, Max: 5, Default: 2},
			{Name: "batchSize", Integer: true, Min: 1, Max: 1, Default: 1},
			{Name: "learningRate", Min: 1e-7, Max: 1e-5, Default: 1e-6},
			{Name: "learningRateWarmupSteps", Integer: true, Min: 0, Max: 20, Default: 5},
		},
		Formats: []Format{FormatPromptCompletion},
		Types:   []CustomizationType{TypeFineTuning},
		Limits:  Limits{MaxRecordTokens: 4096, CharsPerToken: 6, MinRecords: 1, MaxTrainingBytes: 1 << 30, MaxValidationBytes: 100 << 20},
	},
	{
		Name: "amazon.titan-text", Prefixes: []string{"amazon.titan-text-lite", "amazon.titan-text-express"},
		Params: []ParamSpec{
			{Name: "epochCount", Integer: true, Min: 1, Max: 10, Default: 5},
			{Name: "batchSize", Integer: true, Min: 1, Max: 64, Default: 1},
			{Name: "learningRate", Min: 0, Max: 1, Default: 1e-5},
			{Name: "learningRateWarmupSteps", Integer: true, Min: 0, Max: 250, Default: 5},
		},
		Formats: []Format{FormatPromptCompletion},
		Types:   []CustomizationType{TypeFineTuning, TypeContinuedPreTraining},
		Limits:  Limits{MaxRecordTokens: 4096, CharsPerToken: 6, MinRecords: 1, MaxTrainingBytes: 1 << 30, MaxValidationBytes: 100 << 20},
	},
	{
		Name: "anthropic.claude-3-haiku", Prefixes: []string{"anthropic.claude-3-haiku"},
		Params: []ParamSpec{
			{Name: "epochCount", Integer: true, Min: 1, Max: 10, Default: 2},
			{Name: "batchSize", Integer: true, Min: 4, Max: 256, Default: 32},
			{Name: "learningRateMultiplier", Min: 0.1, Max: 2, Default: 1},
			{Name: "earlyStoppingThreshold", Min: 0, Max: 0.1, Default: 0.001},
			{Name: "earlyStoppingPatience", Integer: true, Min: 1, Max: 10, Default: 2},
		},
		Formats:    []Format{FormatConversation},
		Types:      []CustomizationType{TypeFineTuning},
		Limits:     Limits{CharsPerToken: 6, MinRecords: 1},
		Multiplier: "learningRateMultiplier",
	},
	{
		Name: "meta.llama3", Prefixes: []string{"meta.llama3-1", "meta.llama3-2", "meta.llama3-3"},
		Params: []ParamSpec{
			{Name: "epochCount", Integer: true, Min: 1, Max: 10, Default: 5},
			{Name: "batchSize", Integer: true, Min: 1, Max: 1, Default: 1},
			{Name: "learningRate", Min: 5e-6, Max: 0.1, Default: 1e-4},
		},
		Formats: []Format{FormatPromptCompletion},
		Types:   []CustomizationType{TypeFineTuning},
		Limits:  Limits{CharsPerToken: 6, MinRecords: 1},
	},
	{
		// Any OpenAI-compatible fine-tuning API, with OpenAI's documented bounds.
		Name: "openai", Prefixes: []string{},
		Params: []ParamSpec{
			{Name: "epochCount", Integer: true, Min: 1, Max: 50, Default: 3},
			{Name: "batchSize", Integer: true, Min: 1, Max: 256, Default: 1},
			{Name: "learningRateMultiplier", Min: 0.01, Max: 10, Default: 1},
		},
		Formats:    []Format{FormatConversation, FormatPromptCompletion},
		Types:      []CustomizationType{TypeFineTuning},
		Limits:     Limits{CharsPerToken: 6, MinRecords: 10, MaxTrainingBytes: 512 << 20, MaxValidationBytes: 512 << 20},
		Multiplier: "learningRateMultiplier",
	},
}

// FamilyOf returns the family of a provider model ID on a provider ("local", "bedrock",
// "openai").
func FamilyOf(providerName, modelID string) (Family, bool) {
	if providerName == "openai" {
		return Families[len(Families)-1], true
	}
	id := modelID[strings.LastIndexByte(modelID, '/')+1:] // a foundation-model ARN
	for _, geo := range []string{"us.", "eu.", "apac.", "us-gov.", "ca.", "jp.", "au.", "global."} {
		if strings.HasPrefix(id, geo) { // a cross-region inference profile
			id = id[len(geo):]
			break
		}
	}
	for _, f := range Families[:len(Families)-1] {
		for _, p := range f.Prefixes {
			if strings.HasPrefix(id, p) {
				return f, true
			}
		}
	}
	return Family{}, false
}

func (f Family) param(name string) (ParamSpec, bool) {
	for _, p := range f.Params {
		if p.Name == name {
			return p, true
		}
	}
	return ParamSpec{}, false
}

// Supports reports whether the family accepts the customisation type.
func (f Family) Supports(t CustomizationType) bool {
	for _, x := range f.Types {
		if x == t {
			return true
		}
	}
	return false
}

// AcceptsFormat reports whether records in format fm may train the family with t.
func (f Family) AcceptsFormat(t CustomizationType, fm Format) bool {
	if t == TypeContinuedPreTraining {
		return fm == FormatPretraining
	}
	for _, x := range f.Formats {
		if x == fm {
			return true
		}
	}
	return false
}

// OpenAIHyperparameters are the hyperparameters of OpenAI's fine-tuning API; each is
// a number or "auto".
type OpenAIHyperparameters struct {
	NEpochs                any `json:"n_epochs,omitempty"`
	BatchSize              any `json:"batch_size,omitempty"`
	LearningRateMultiplier any `json:"learning_rate_multiplier,omitempty"`
}

// Resolve validates requested hyperparameters against the family's bounds and fills in
// defaults. bedrock holds values under Bedrock's names (numbers or numeric strings);
// openai's values, when given, map to epochCount, batchSize and the learning rate.
// The result is Bedrock's wire form: every value a string.
func (f Family) Resolve(bedrock map[string]any, openai OpenAIHyperparameters) (map[string]string, error) {
	vals := map[string]float64{}
	for k, v := range bedrock {
		spec, ok := f.param(k)
		if !ok {
			return nil, fault.New(ErrInvalid, "hyperparameters", "hyperparameter %q is not accepted by %s models (accepted: %s)", k, f.Name, f.paramNames())
		}
		x, err := number(v)
		if err != nil {
			return nil, fault.New(ErrInvalid, "hyperparameters", "hyperparameter %s: %v", k, err)
		}
		vals[spec.Name] = x
	}
	openaiMap := []struct {
		v    any
		name string
	}{{openai.NEpochs, "epochCount"}, {openai.BatchSize, "batchSize"}}
	for _, m := range openaiMap {
		if m.v == nil || m.v == "auto" {
			continue
		}
		x, err := number(m.v)
		if err != nil {
			return nil, fault.New(ErrInvalid, "hyperparameters", "hyperparameters: %v", err)
		}
		if _, ok := f.param(m.name); !ok {
			return nil, fault.New(ErrInvalid, "hyperparameters", "%s models do not accept %s", f.Name, m.name)
		}
		vals[m.name] = x
	}
	if v := openai.LearningRateMultiplier; v != nil && v != "auto" {
		x, err := number(v)
		if err != nil || x <= 0 {
			return nil, fault.New(ErrInvalid, "hyperparameters", "hyperparameters: learning_rate_multiplier must be a positive number")
		}
		if f.Multiplier != "" {
			vals[f.Multiplier] = x
		} else if spec, ok := f.param("learningRate"); ok {
			vals["learningRate"] = spec.Default * x
		}
	}
	out := make(map[string]string, len(f.Params))
	for _, p := range f.Params {
		x, ok := vals[p.Name]
		if !ok {
			x = p.Default
		}
		if math.IsNaN(x) || x < p.Min || x > p.Max {
			return nil, fault.New(ErrInvalid, "hyperparameters", "hyperparameter %s = %v is outside %v–%v for %s models", p.Name, x, p.Min, p.Max, f.Name)
		}
		if p.Integer {
			if x != math.Trunc(x) {
				return nil, fault.New(ErrInvalid, "hyperparameters", "hyperparameter %s must be an integer", p.Name)
			}
			out[p.Name] = strconv.FormatInt(int64(x), 10)
		} else {
			out[p.Name] = strconv.FormatFloat(x, 'g', -1, 64)
		}
	}
	return out, nil
}

func (f Family) paramNames() string {
	names := make([]string, len(f.Params))
	for i, p := range f.Params {
		names[i] = p.Name
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func number(v any) (float64, error) {
	switch x := v.(type) {
	case float64:
		return x, nil
	case int:
		return float64(x), nil
	case int64:
		return float64(x), nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		if err != nil {
			return 0, fmt.Errorf("%q is not a number", x)
		}
		return f, nil
	}
	return 0, fmt.Errorf("%v is not a number", v)
}
