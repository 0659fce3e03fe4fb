package guardrail

// Source says whether content is a model input (prompt) or a model output (completion).
type Source string

// Sources.
const (
	SourceInput  Source = "INPUT"
	SourceOutput Source = "OUTPUT"
)

// Qualifiers of a content block, as in Bedrock's ApplyGuardrail.
const (
	QualifierGroundingSource = "grounding_source"
	QualifierQuery           = "query"
	QualifierGuardContent    = "guard_content"
)

// Response actions.
const (
	ActionNoneResponse = "NONE"
	ActionIntervened   = "GUARDRAIL_INTERVENED"

	// Finding actions (Bedrock's assessment vocabulary).
	FindingBlocked    = "BLOCKED"
	FindingAnonymized = "ANONYMIZED"
	FindingNone       = "NONE"
)

// ApplyRequest is the body of POST /v1/guardrails/apply (Bedrock ApplyGuardrail's request
// plus an optional inline policy).
type ApplyRequest struct {
	Source  Source         `json:"source"`
	Content []ContentBlock `json:"content"`
	// Policy is an inline policy document; when the caller also has an assigned policy the
	// inline one may only tighten it (see Stricter).
	Policy *Policy `json:"policy,omitempty"`
	// GuardrailIdentifier and GuardrailVersion name a stored policy to apply (as Bedrock's
	// path parameters do); it is combined with the tenant's policy by Stricter.
	GuardrailIdentifier string `json:"guardrailIdentifier,omitempty"`
	GuardrailVersion    string `json:"guardrailVersion,omitempty"`
	// OutputScope is accepted for Bedrock compatibility (INTERVENTIONS or FULL); Plinth always
	// returns every finding.
	OutputScope string `json:"outputScope,omitempty"`
}

// ContentBlock is one content item.
type ContentBlock struct {
	Text *TextBlock `json:"text,omitempty"`
	// trusted marks operator-written content (system or developer messages): evaluated
	// by every policy except PROMPT_ATTACK. Set only by CheckMessages, never from JSON.
	trusted bool
}

// TextBlock is text with optional qualifiers.
type TextBlock struct {
	Text       string   `json:"text"`
	Qualifiers []string `json:"qualifiers,omitempty"`
}

// ApplyResponse is ApplyGuardrail's response shape.
type ApplyResponse struct {
	Action       string       `json:"action"`
	ActionReason string       `json:"actionReason,omitempty"`
	Outputs      []OutputText `json:"outputs"`
	Assessments  []Assessment `json:"assessments"`
	Usage        Usage        `json:"usage"`
	Coverage     *Coverage    `json:"guardrailCoverage,omitempty"`
	// PolicyRef names the stored policy applied (Plinth extension).
	PolicyRef *PolicyRef `json:"appliedPolicy,omitempty"`
}

// PolicyRef names the stored policy that was applied (Plinth extension).
type PolicyRef struct {
	ID      string `json:"id,omitempty"`
	Version int    `json:"version,omitempty"`
}

// InvocationMs reports evaluation latency.
type InvocationMs struct {
	GuardrailProcessingLatency int64 `json:"guardrailProcessingLatency"`
}

// OutputText is one output text: the guarded text after anonymization, or the policy's
// blocked message when blocked. Plinth returns it for action NONE too (the text unchanged).
type OutputText struct {
	Text string `json:"text"`
}

// Coverage reports how many characters were guarded.
type Coverage struct {
	TextCharacters TextCharacters `json:"textCharacters"`
}

// TextCharacters counts guarded and total characters.
type TextCharacters struct {
	Guarded int `json:"guarded"`
	Total   int `json:"total"`
}

// Usage counts text units (1,000 characters each) evaluated per policy, as Bedrock bills them.
type Usage struct {
	TopicPolicyUnits                    int `json:"topicPolicyUnits"`
	ContentPolicyUnits                  int `json:"contentPolicyUnits"`
	WordPolicyUnits                     int `json:"wordPolicyUnits"`
	SensitiveInformationPolicyUnits     int `json:"sensitiveInformationPolicyUnits"`
	SensitiveInformationPolicyFreeUnits int `json:"sensitiveInformationPolicyFreeUnits"`
	ContextualGroundingPolicyUnits      int `json:"contextualGroundingPolicyUnits"`
}

// Assessment holds the findings of every policy.
type Assessment struct {
	InvocationMetrics          *InvocationMs        `json:"invocationMetrics,omitempty"`
	TopicPolicy                *TopicAssessment     `json:"topicPolicy,omitempty"`
	ContentPolicy              *ContentAssessment   `json:"contentPolicy,omitempty"`
	WordPolicy                 *WordAssessment      `json:"wordPolicy,omitempty"`
	SensitiveInformationPolicy *SensitiveAssessment `json:"sensitiveInformationPolicy,omitempty"`
	ContextualGroundingPolicy  *GroundingAssessment `json:"contextualGroundingPolicy,omitempty"`
}

// Span locates a finding: the index of the content block and [Start, End) offsets in
// Unicode code points within that block's text (Plinth extension).
type Span struct {
	Content int `json:"content"`
	Start   int `json:"start"`
	End     int `json:"end"`
}

// SensitiveAssessment lists PII and regex findings.
type SensitiveAssessment struct {
	PiiEntities []PiiFinding   `json:"piiEntities"`
	Regexes     []RegexFinding `json:"regexes"`
}

// PiiFinding is one detected PII entity.
type PiiFinding struct {
	Type       string  `json:"type"`
	Match      string  `json:"match"`
	Action     string  `json:"action"`
	Detected   bool    `json:"detected"`
	Confidence float64 `json:"confidence,omitempty"`
	Span       Span    `json:"span"`
}

// RegexFinding is one custom-regex match.
type RegexFinding struct {
	Name     string `json:"name"`
	Match    string `json:"match"`
	Regex    string `json:"regex"`
	Action   string `json:"action"`
	Detected bool   `json:"detected"`
	Span     Span   `json:"span"`
}

// ContentAssessment lists harmful-content and prompt-attack findings.
type ContentAssessment struct {
	Filters []ContentFinding `json:"filters"`
}

// ContentFinding is one category's verdict. Confidence is NONE, LOW, MEDIUM or HIGH; Score
// is the underlying score in [0,1] (Plinth extension).
type ContentFinding struct {
	Type           string  `json:"type"`
	Confidence     string  `json:"confidence"`
	FilterStrength string  `json:"filterStrength"`
	Action         string  `json:"action"`
	Detected       bool    `json:"detected"`
	Score          float64 `json:"score"`
	Spans          []Span  `json:"spans,omitempty"`
}

// WordAssessment lists word findings.
type WordAssessment struct {
	CustomWords      []WordFinding        `json:"customWords"`
	ManagedWordLists []ManagedWordFinding `json:"managedWordLists"`
}

// WordFinding is a custom word match.
type WordFinding struct {
	Match    string `json:"match"`
	Action   string `json:"action"`
	Detected bool   `json:"detected"`
	Span     Span   `json:"span"`
}

// ManagedWordFinding is a managed-list match.
type ManagedWordFinding struct {
	Match    string `json:"match"`
	Type     string `json:"type"`
	Action   string `json:"action"`
	Detected bool   `json:"detected"`
	Span     Span   `json:"span"`
}

// TopicAssessment lists denied-topic findings.
type TopicAssessment struct {
	Topics []TopicFinding `json:"topics"`
}

// TopicFinding is a denied topic that matched.
type TopicFinding struct {
	Name     string  `json:"name"`
	Type     string  `json:"type"`
	Action   string  `json:"action"`
	Detected bool    `json:"detected"`
	Score    float64 `json:"score"`
}

// GroundingAssessment lists grounding scores.
type GroundingAssessment struct {
	Filters []GroundingFinding `json:"filters"`
}

// GroundingFinding is one grounding check's score against its threshold.
type GroundingFinding struct {
	Type      string  `json:"type"`
	Threshold float64 `json:"threshold"`
	Score     float64 `json:"score"`
	Action    string  `json:"action"`
	Detected  bool    `json:"detected"`
}

// NewTextRequest builds a request guarding the given texts (one content block each).
func NewTextRequest(source Source, texts ...string) ApplyRequest {
	req := ApplyRequest{Source: source, Content: make([]ContentBlock, len(texts))}
	for i, t := range texts {
		req.Content[i] = ContentBlock{Text: &TextBlock{Text: t}}
	}
	return req
}

// Blocked reports whether any finding blocked the content (as opposed to only masking it):
// a gateway answers a blocked request with Outputs[0].Text (the policy's message) and
// finish_reason "content_filter", and forwards a masked one with the masked Outputs.
func (r ApplyResponse) Blocked() bool {
	return r.Action == ActionIntervened && len(Summarize(r).Blocked) > 0
}

// Masked reports whether the content was changed (anonymised) without being blocked.
func (r ApplyResponse) Masked() bool { return r.Action == ActionIntervened && !r.Blocked() }
