package guardrail

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/plinth-ai/plinth/shared/fault"
	"github.com/plinth-ai/plinth/shared/guardrail/topics"
)

// ErrInvalidPolicy is wrapped by every policy validation error.
var ErrInvalidPolicy = fault.Sentinel("guardrail: invalid policy", fault.ErrInvalid)

// Policy is a guardrail policy document. Its field names are those of Amazon Bedrock's
// CreateGuardrail request, so a policy moves between Plinth and Bedrock unchanged; ID and
// Version are assigned by the policy repository.
type Policy struct {
	ID          string `json:"id,omitempty"`
	Name        string `json:"name"`
	Version     int    `json:"version,omitempty"`
	Description string `json:"description,omitempty"`
	// Tenant owns the policy: only that tenant may apply it (by guardrailIdentifier or as
	// its assigned policy). Empty for a platform-shared policy every tenant may apply. Set
	// when the policy is created; its versions keep it.
	Tenant string `json:"tenant,omitempty"`

	SensitiveInformationPolicyConfig *SensitiveInformationPolicyConfig `json:"sensitiveInformationPolicyConfig,omitempty"`
	ContentPolicyConfig              *ContentPolicyConfig              `json:"contentPolicyConfig,omitempty"`
	WordPolicyConfig                 *WordPolicyConfig                 `json:"wordPolicyConfig,omitempty"`
	TopicPolicyConfig                *TopicPolicyConfig                `json:"topicPolicyConfig,omitempty"`
	ContextualGroundingPolicyConfig  *ContextualGroundingPolicyConfig  `json:"contextualGroundingPolicyConfig,omitempty"`

	// BlockedInputMessaging replaces a blocked input.
	BlockedInputMessaging string `json:"blockedInputMessaging,omitempty"`
	// BlockedOutputsMessaging replaces a blocked output.
	BlockedOutputsMessaging string `json:"blockedOutputsMessaging,omitempty"`

	// Bedrock, when set, delegates evaluation to an Amazon Bedrock guardrail (AWS only).
	Bedrock *BedrockDelegation `json:"bedrockGuardrail,omitempty"`
}

// BedrockDelegation names an Amazon Bedrock guardrail that evaluates content instead of,
// or in addition to, the built-in detectors.
type BedrockDelegation struct {
	GuardrailIdentifier string `json:"guardrailIdentifier"`
	GuardrailVersion    string `json:"guardrailVersion"`
	// Exclusive skips the built-in detectors entirely.
	Exclusive bool `json:"exclusive,omitempty"`
}

// SensitiveInformationPolicyConfig configures PII entities and custom regexes.
type SensitiveInformationPolicyConfig struct {
	PiiEntitiesConfig []PiiEntityConfig `json:"piiEntitiesConfig,omitempty"`
	RegexesConfig     []RegexConfig     `json:"regexesConfig,omitempty"`
}

// PiiEntityConfig configures one PII entity type (Bedrock type names, e.g. EMAIL).
type PiiEntityConfig struct {
	Type          string `json:"type"`
	Action        string `json:"action"`
	InputAction   string `json:"inputAction,omitempty"`
	OutputAction  string `json:"outputAction,omitempty"`
	InputEnabled  *bool  `json:"inputEnabled,omitempty"`
	OutputEnabled *bool  `json:"outputEnabled,omitempty"`
}

// RegexConfig is a custom sensitive-information pattern (Go RE2 syntax).
type RegexConfig struct {
	Name          string `json:"name"`
	Description   string `json:"description,omitempty"`
	Pattern       string `json:"pattern"`
	Action        string `json:"action"`
	InputAction   string `json:"inputAction,omitempty"`
	OutputAction  string `json:"outputAction,omitempty"`
	InputEnabled  *bool  `json:"inputEnabled,omitempty"`
	OutputEnabled *bool  `json:"outputEnabled,omitempty"`
}

// ContentPolicyConfig configures harmful-content and prompt-attack filters.
type ContentPolicyConfig struct {
	FiltersConfig []ContentFilterConfig `json:"filtersConfig,omitempty"`
}

// ContentFilterConfig sets one category's strengths.
type ContentFilterConfig struct {
	Type           string `json:"type"`
	InputStrength  string `json:"inputStrength"`
	OutputStrength string `json:"outputStrength"`
	InputAction    string `json:"inputAction,omitempty"`
	OutputAction   string `json:"outputAction,omitempty"`
	InputEnabled   *bool  `json:"inputEnabled,omitempty"`
	OutputEnabled  *bool  `json:"outputEnabled,omitempty"`
}

// WordPolicyConfig configures custom words and managed word lists.
type WordPolicyConfig struct {
	WordsConfig            []WordConfig            `json:"wordsConfig,omitempty"`
	ManagedWordListsConfig []ManagedWordListConfig `json:"managedWordListsConfig,omitempty"`
}

// WordConfig is one blocked word or phrase.
type WordConfig struct {
	Text          string `json:"text"`
	InputAction   string `json:"inputAction,omitempty"`
	OutputAction  string `json:"outputAction,omitempty"`
	InputEnabled  *bool  `json:"inputEnabled,omitempty"`
	OutputEnabled *bool  `json:"outputEnabled,omitempty"`
}

// ManagedWordListConfig enables a managed list (PROFANITY).
type ManagedWordListConfig struct {
	Type          string `json:"type"`
	InputAction   string `json:"inputAction,omitempty"`
	OutputAction  string `json:"outputAction,omitempty"`
	InputEnabled  *bool  `json:"inputEnabled,omitempty"`
	OutputEnabled *bool  `json:"outputEnabled,omitempty"`
}

// TopicPolicyConfig configures denied topics.
type TopicPolicyConfig struct {
	TopicsConfig []TopicConfig `json:"topicsConfig,omitempty"`
}

// TopicConfig is one denied topic.
type TopicConfig struct {
	Name          string   `json:"name"`
	Definition    string   `json:"definition"`
	Examples      []string `json:"examples,omitempty"`
	Type          string   `json:"type"`
	InputAction   string   `json:"inputAction,omitempty"`
	OutputAction  string   `json:"outputAction,omitempty"`
	InputEnabled  *bool    `json:"inputEnabled,omitempty"`
	OutputEnabled *bool    `json:"outputEnabled,omitempty"`
	// Threshold is a Plinth extension: the similarity in [0,1] at or above which the topic
	// matches (default DefaultTopicThreshold).
	Threshold float64 `json:"threshold,omitempty"`
}

// ContextualGroundingPolicyConfig configures grounding and relevance checks.
type ContextualGroundingPolicyConfig struct {
	FiltersConfig []GroundingFilterConfig `json:"filtersConfig,omitempty"`
}

// GroundingFilterConfig is one grounding check: a score below Threshold intervenes.
type GroundingFilterConfig struct {
	Type      string  `json:"type"`
	Threshold float64 `json:"threshold"`
	Action    string  `json:"action,omitempty"`
	Enabled   *bool   `json:"enabled,omitempty"`
}

// Vocabulary of the policy document.
const (
	ActionBlock     = "BLOCK"
	ActionAnonymize = "ANONYMIZE"
	ActionNone      = "NONE"

	StrengthNone   = "NONE"
	StrengthLow    = "LOW"
	StrengthMedium = "MEDIUM"
	StrengthHigh   = "HIGH"

	FilterHate         = "HATE"
	FilterInsults      = "INSULTS"
	FilterSexual       = "SEXUAL"
	FilterViolence     = "VIOLENCE"
	FilterMisconduct   = "MISCONDUCT"
	FilterPromptAttack = "PROMPT_ATTACK"

	GroundingGrounding = "GROUNDING"
	GroundingRelevance = "RELEVANCE"

	ManagedProfanity = "PROFANITY"
	TopicDeny        = "DENY"

	// DefaultTopicThreshold is the topic similarity at or above which a topic matches.
	DefaultTopicThreshold = topics.DefaultThreshold
	// DefaultBlockedMessage is used when the policy sets no blocked messaging.
	DefaultBlockedMessage = "Sorry, the model cannot answer this question."
)

// PIITypes lists the Bedrock PII entity type names a policy may configure.
var PIITypes = []string{
	"ADDRESS", "AGE", "AWS_ACCESS_KEY", "AWS_SECRET_KEY", "CA_HEALTH_NUMBER", "CA_SOCIAL_INSURANCE_NUMBER",
	"CREDIT_DEBIT_CARD_CVV", "CREDIT_DEBIT_CARD_EXPIRY", "CREDIT_DEBIT_CARD_NUMBER", "DRIVER_ID", "EMAIL",
	"INTERNATIONAL_BANK_ACCOUNT_NUMBER", "IP_ADDRESS", "LICENSE_PLATE", "MAC_ADDRESS", "NAME", "PASSWORD",
	"PHONE", "PIN", "SWIFT_CODE", "UK_NATIONAL_HEALTH_SERVICE_NUMBER", "UK_NATIONAL_INSURANCE_NUMBER",
	"UK_UNIQUE_TAXPAYER_REFERENCE_NUMBER", "URL", "USERNAME", "US_BANK_ACCOUNT_NUMBER", "US_BANK_ROUTING_NUMBER",
	"US_INDIVIDUAL_TAX_IDENTIFICATION_NUMBER", "US_PASSPORT_NUMBER", "US_SOCIAL_SECURITY_NUMBER",
	"VEHICLE_IDENTIFICATION_NUMBER",
}

var contentTypes = []string{FilterHate, FilterInsults, FilterSexual, FilterViolence, FilterMisconduct, FilterPromptAttack}

func oneOf(v string, set ...string) bool {
	for _, s := range set {
		if v == s {
			return true
		}
	}
	return false
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidPolicy, fmt.Sprintf(format, args...))
}

// Validate checks the policy document and returns every problem found, joined, each
// wrapping ErrInvalidPolicy and naming the offending field by its JSON path.
func (p *Policy) Validate() error {
	if p == nil {
		return invalid("policy is empty")
	}
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, invalid(format, args...)) }
	if len(p.Name) > 50 {
		add("name: at most 50 characters")
	}
	if len(p.BlockedInputMessaging) > 500 {
		add("blockedInputMessaging: at most 500 characters")
	}
	if len(p.BlockedOutputsMessaging) > 500 {
		add("blockedOutputsMessaging: at most 500 characters")
	}
	if s := p.SensitiveInformationPolicyConfig; s != nil {
		seen := map[string]bool{}
		for i, e := range s.PiiEntitiesConfig {
			f := fmt.Sprintf("sensitiveInformationPolicyConfig.piiEntitiesConfig[%d]", i)
			if !oneOf(e.Type, PIITypes...) {
				add("%s.type: unknown PII entity type %q", f, e.Type)
			}
			if seen[e.Type] {
				add("%s.type: %s configured twice", f, e.Type)
			}
			seen[e.Type] = true
			if !oneOf(e.Action, ActionBlock, ActionAnonymize, ActionNone) {
				add("%s.action: must be BLOCK, ANONYMIZE or NONE, got %q", f, e.Action)
			}
			for name, a := range map[string]string{"inputAction": e.InputAction, "outputAction": e.OutputAction} {
				if a != "" && !oneOf(a, ActionBlock, ActionAnonymize, ActionNone) {
					add("%s.%s: must be BLOCK, ANONYMIZE or NONE, got %q", f, name, a)
				}
			}
		}
		if len(s.RegexesConfig) > 10 {
			add("sensitiveInformationPolicyConfig.regexesConfig: at most 10 regexes")
		}
		for i, r := range s.RegexesConfig {
			f := fmt.Sprintf("sensitiveInformationPolicyConfig.regexesConfig[%d]", i)
			if r.Name == "" {
				add("%s.name: required", f)
			}
			if r.Pattern == "" {
				add("%s.pattern: required", f)
			} else if _, err := regexp.Compile(r.Pattern); err != nil {
				add("%s.pattern: %v", f, err)
			}
			if !oneOf(r.Action, ActionBlock, ActionAnonymize, ActionNone) {
				add("%s.action: must be BLOCK, ANONYMIZE or NONE, got %q", f, r.Action)
			}
		}
	}
	if c := p.ContentPolicyConfig; c != nil {
		seen := map[string]bool{}
		for i, fc := range c.FiltersConfig {
			f := fmt.Sprintf("contentPolicyConfig.filtersConfig[%d]", i)
			if !oneOf(fc.Type, contentTypes...) {
				add("%s.type: must be one of %s, got %q", f, strings.Join(contentTypes, ", "), fc.Type)
			}
			if seen[fc.Type] {
				add("%s.type: %s configured twice", f, fc.Type)
			}
			seen[fc.Type] = true
			if !oneOf(fc.InputStrength, StrengthNone, StrengthLow, StrengthMedium, StrengthHigh) {
				add("%s.inputStrength: must be NONE, LOW, MEDIUM or HIGH, got %q", f, fc.InputStrength)
			}
			if !oneOf(fc.OutputStrength, StrengthNone, StrengthLow, StrengthMedium, StrengthHigh) {
				add("%s.outputStrength: must be NONE, LOW, MEDIUM or HIGH, got %q", f, fc.OutputStrength)
			}
			if fc.Type == FilterPromptAttack && fc.OutputStrength != StrengthNone && fc.OutputStrength != "" {
				add("%s.outputStrength: PROMPT_ATTACK applies to input only and must be NONE", f)
			}
			for name, a := range map[string]string{"inputAction": fc.InputAction, "outputAction": fc.OutputAction} {
				if a != "" && !oneOf(a, ActionBlock, ActionNone) {
					add("%s.%s: must be BLOCK or NONE, got %q", f, name, a)
				}
			}
		}
	}
	if w := p.WordPolicyConfig; w != nil {
		if len(w.WordsConfig) > 10000 {
			add("wordPolicyConfig.wordsConfig: at most 10000 words")
		}
		for i, wc := range w.WordsConfig {
			if strings.TrimSpace(wc.Text) == "" {
				add("wordPolicyConfig.wordsConfig[%d].text: required", i)
			}
			if len(wc.Text) > 100 {
				add("wordPolicyConfig.wordsConfig[%d].text: at most 100 characters", i)
			}
		}
		for i, m := range w.ManagedWordListsConfig {
			if m.Type != ManagedProfanity {
				add("wordPolicyConfig.managedWordListsConfig[%d].type: must be PROFANITY, got %q", i, m.Type)
			}
		}
	}
	if t := p.TopicPolicyConfig; t != nil {
		if len(t.TopicsConfig) > 30 {
			add("topicPolicyConfig.topicsConfig: at most 30 topics")
		}
		seen := map[string]bool{}
		for i, tc := range t.TopicsConfig {
			f := fmt.Sprintf("topicPolicyConfig.topicsConfig[%d]", i)
			if strings.TrimSpace(tc.Name) == "" {
				add("%s.name: required", f)
			}
			if seen[tc.Name] {
				add("%s.name: %q configured twice", f, tc.Name)
			}
			seen[tc.Name] = true
			if strings.TrimSpace(tc.Definition) == "" {
				add("%s.definition: required", f)
			}
			if len(tc.Definition) > 1000 {
				add("%s.definition: at most 1000 characters", f)
			}
			if len(tc.Examples) > 5 {
				add("%s.examples: at most 5 examples", f)
			}
			if tc.Type != TopicDeny {
				add("%s.type: must be DENY, got %q", f, tc.Type)
			}
			if tc.Threshold < 0 || tc.Threshold > 1 {
				add("%s.threshold: must be within [0,1]", f)
			}
		}
	}
	if g := p.ContextualGroundingPolicyConfig; g != nil {
		seen := map[string]bool{}
		for i, fc := range g.FiltersConfig {
			f := fmt.Sprintf("contextualGroundingPolicyConfig.filtersConfig[%d]", i)
			if !oneOf(fc.Type, GroundingGrounding, GroundingRelevance) {
				add("%s.type: must be GROUNDING or RELEVANCE, got %q", f, fc.Type)
			}
			if seen[fc.Type] {
				add("%s.type: %s configured twice", f, fc.Type)
			}
			seen[fc.Type] = true
			if fc.Threshold < 0 || fc.Threshold > 0.99 {
				add("%s.threshold: must be within [0,0.99], got %v", f, fc.Threshold)
			}
			if fc.Action != "" && !oneOf(fc.Action, ActionBlock, ActionNone) {
				add("%s.action: must be BLOCK or NONE, got %q", f, fc.Action)
			}
		}
	}
	if b := p.Bedrock; b != nil {
		if b.GuardrailIdentifier == "" {
			add("bedrockGuardrail.guardrailIdentifier: required")
		}
		if b.GuardrailVersion == "" {
			add("bedrockGuardrail.guardrailVersion: required")
		}
	}
	return errors.Join(errs...)
}

func enabled(b *bool) bool { return b == nil || *b }

// sideAction resolves the action that applies on source, honouring inputAction/outputAction
// and inputEnabled/outputEnabled. An empty result means the rule is off for that source.
func sideAction(source Source, action, in, out string, inEnabled, outEnabled *bool) string {
	if source == SourceInput {
		if !enabled(inEnabled) {
			return ""
		}
		if in != "" {
			return in
		}
		return action
	}
	if !enabled(outEnabled) {
		return ""
	}
	if out != "" {
		return out
	}
	return action
}

func strengthRank(s string) int {
	switch s {
	case StrengthLow:
		return 1
	case StrengthMedium:
		return 2
	case StrengthHigh:
		return 3
	}
	return 0
}

func actionRank(a string) int {
	switch a {
	case ActionNone:
		return 1
	case ActionAnonymize:
		return 2
	case ActionBlock:
		return 3
	}
	return 0
}

func maxStrength(a, b string) string {
	if strengthRank(b) > strengthRank(a) {
		return b
	}
	if a == "" {
		return b
	}
	return a
}

func maxAction(a, b string) string {
	if actionRank(b) > actionRank(a) {
		return b
	}
	return a
}

func orBool(a, b *bool) *bool {
	if enabled(a) || enabled(b) {
		return nil
	}
	f := false
	return &f
}

// Stricter returns the policy that applies when a request brings its own policy on top
// of the tenant's: the result enforces everything base enforces, and override may only
// add rules or tighten them (higher strengths, BLOCK over ANONYMIZE over NONE, higher
// grounding thresholds). Nothing in override can loosen base. Either may be nil.
func Stricter(base, override *Policy) *Policy {
	if override == nil {
		return base
	}
	if base == nil {
		return override
	}
	out := *base
	out.Version = 0 // a merged policy is not the stored version
	out.Bedrock = base.Bedrock
	if out.Bedrock == nil {
		out.Bedrock = override.Bedrock
	}
	if out.BlockedInputMessaging == "" {
		out.BlockedInputMessaging = override.BlockedInputMessaging
	}
	if out.BlockedOutputsMessaging == "" {
		out.BlockedOutputsMessaging = override.BlockedOutputsMessaging
	}

	// Sensitive information.
	if o := override.SensitiveInformationPolicyConfig; o != nil {
		s := &SensitiveInformationPolicyConfig{}
		if b := base.SensitiveInformationPolicyConfig; b != nil {
			s.PiiEntitiesConfig = append(s.PiiEntitiesConfig, b.PiiEntitiesConfig...)
			s.RegexesConfig = append(s.RegexesConfig, b.RegexesConfig...)
		}
		for _, e := range o.PiiEntitiesConfig {
			merged := false
			for i := range s.PiiEntitiesConfig {
				c := &s.PiiEntitiesConfig[i]
				if c.Type != e.Type {
					continue
				}
				inB := sideAction(SourceInput, c.Action, c.InputAction, c.OutputAction, c.InputEnabled, c.OutputEnabled)
				outB := sideAction(SourceOutput, c.Action, c.InputAction, c.OutputAction, c.InputEnabled, c.OutputEnabled)
				inO := sideAction(SourceInput, e.Action, e.InputAction, e.OutputAction, e.InputEnabled, e.OutputEnabled)
				outO := sideAction(SourceOutput, e.Action, e.InputAction, e.OutputAction, e.InputEnabled, e.OutputEnabled)
				c.Action = maxAction(c.Action, e.Action)
				c.InputAction, c.OutputAction = maxAction(inB, inO), maxAction(outB, outO)
				c.InputEnabled = orBool(c.InputEnabled, e.InputEnabled)
				c.OutputEnabled = orBool(c.OutputEnabled, e.OutputEnabled)
				merged = true
			}
			if !merged {
				s.PiiEntitiesConfig = append(s.PiiEntitiesConfig, e)
			}
		}
		s.RegexesConfig = append(s.RegexesConfig, o.RegexesConfig...)
		out.SensitiveInformationPolicyConfig = s
	}

	// Content filters.
	if o := override.ContentPolicyConfig; o != nil {
		c := &ContentPolicyConfig{}
		if b := base.ContentPolicyConfig; b != nil {
			c.FiltersConfig = append(c.FiltersConfig, b.FiltersConfig...)
		}
		for _, f := range o.FiltersConfig {
			merged := false
			for i := range c.FiltersConfig {
				x := &c.FiltersConfig[i]
				if x.Type != f.Type {
					continue
				}
				x.InputStrength = maxStrength(x.InputStrength, f.InputStrength)
				x.OutputStrength = maxStrength(x.OutputStrength, f.OutputStrength)
				if x.InputAction == ActionNone && f.InputAction != ActionNone {
					x.InputAction = f.InputAction
				}
				if x.OutputAction == ActionNone && f.OutputAction != ActionNone {
					x.OutputAction = f.OutputAction
				}
				x.InputEnabled = orBool(x.InputEnabled, f.InputEnabled)
				x.OutputEnabled = orBool(x.OutputEnabled, f.OutputEnabled)
				merged = true
			}
			if !merged {
				c.FiltersConfig = append(c.FiltersConfig, f)
			}
		}
		out.ContentPolicyConfig = c
	}

	// Words: union.
	if o := override.WordPolicyConfig; o != nil {
		w := &WordPolicyConfig{}
		if b := base.WordPolicyConfig; b != nil {
			w.WordsConfig = append(w.WordsConfig, b.WordsConfig...)
			w.ManagedWordListsConfig = append(w.ManagedWordListsConfig, b.ManagedWordListsConfig...)
		}
		w.WordsConfig = append(w.WordsConfig, o.WordsConfig...)
		if len(w.ManagedWordListsConfig) == 0 {
			w.ManagedWordListsConfig = append(w.ManagedWordListsConfig, o.ManagedWordListsConfig...)
		}
		out.WordPolicyConfig = w
	}

	// Topics: union, a same-named topic keeps base's definition and the lower threshold.
	if o := override.TopicPolicyConfig; o != nil {
		t := &TopicPolicyConfig{}
		if b := base.TopicPolicyConfig; b != nil {
			t.TopicsConfig = append(t.TopicsConfig, b.TopicsConfig...)
		}
		for _, tc := range o.TopicsConfig {
			dup := false
			for i := range t.TopicsConfig {
				if t.TopicsConfig[i].Name == tc.Name {
					dup = true
					if tc.Threshold > 0 && (t.TopicsConfig[i].Threshold == 0 || tc.Threshold < t.TopicsConfig[i].Threshold) {
						t.TopicsConfig[i].Threshold = tc.Threshold
					}
				}
			}
			if !dup {
				t.TopicsConfig = append(t.TopicsConfig, tc)
			}
		}
		out.TopicPolicyConfig = t
	}

	// Grounding: the higher threshold wins.
	if o := override.ContextualGroundingPolicyConfig; o != nil {
		g := &ContextualGroundingPolicyConfig{}
		if b := base.ContextualGroundingPolicyConfig; b != nil {
			g.FiltersConfig = append(g.FiltersConfig, b.FiltersConfig...)
		}
		for _, f := range o.FiltersConfig {
			merged := false
			for i := range g.FiltersConfig {
				x := &g.FiltersConfig[i]
				if x.Type == f.Type {
					if f.Threshold > x.Threshold {
						x.Threshold = f.Threshold
					}
					if x.Action == ActionNone && f.Action != ActionNone {
						x.Action = f.Action
					}
					x.Enabled = orBool(x.Enabled, f.Enabled)
					merged = true
				}
			}
			if !merged {
				g.FiltersConfig = append(g.FiltersConfig, f)
			}
		}
		out.ContextualGroundingPolicyConfig = g
	}
	return &out
}
