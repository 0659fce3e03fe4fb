package gateway

import (
	"encoding/json"

	"github.com/plinth-ai/plinth/shared/provider"
	"github.com/plinth-ai/plinth/shared/registry"
)

// ChatRequest is one chat completion as the service takes it: OpenAI's request plus
// what only in-process callers can say.
type ChatRequest struct {
	provider.ChatRequest

	// Frame, when set, turns the caller's messages into the prompt the model sees, adding
	// text the platform itself authors: a grounding prompt with numbered sources, a
	// judge's rubric. It gets the messages after the input guardrail has checked (and
	// perhaps masked) them. Only Messages are the caller's words: what Frame adds is
	// never judged by the input guardrail as though the caller wrote it. With Frame,
	// Messages may be empty (a prompt entirely the platform's).
	Frame func(callerMessages []provider.Message) []provider.Message

	// NoCache skips the response cache for this request (lookup and store).
	NoCache bool
}

// ChatResult is a completed chat completion.
type ChatResult struct {
	// Response is the completion in OpenAI's shape; Response.Model names the model that
	// answered (a fallback may differ from the one requested), and Response.Citations
	// lists the sources a grounded answer cites.
	Response *provider.ChatResponse
	Served   Served
	// CacheHit says the answer came from the tenant's response cache.
	CacheHit bool
	// Deprecated says the requested model is deprecated (it still answers).
	Deprecated bool
	// Guardrail says which guardrail policy acted on the request, if any did. A request
	// the input guardrail blocked is not an error: its Response carries the policy's
	// message with finish reason "content_filter".
	Guardrail *Guardrail
}

// Refused reports whether a guardrail blocked the request or its answer.
func (r *ChatResult) Refused() bool { return r.Guardrail.Blocked() }

// Guardrail says which guardrail policy acted on a request and which of its filters
// intervened. It is Plinth's extension to chat completions ("guardrail" in the body,
// next to OpenAI's fields, which clients ignore).
type Guardrail struct {
	// Policy is the tenant's guardrail policy reference ("gr-…" or "gr-…:3").
	Policy string `json:"policy"`
	// Interventions lists what the policy did, input first.
	Interventions []Intervention `json:"interventions"`
}

// Blocked reports whether any intervention blocked.
func (g *Guardrail) Blocked() bool {
	if g == nil {
		return false
	}
	for _, iv := range g.Interventions {
		if iv.Action == ActionBlocked {
			return true
		}
	}
	return false
}

// Intervention actions.
const (
	ActionBlocked    = "BLOCKED"
	ActionAnonymized = "ANONYMIZED"
)

// Intervention is one guardrail action on one side of a request.
type Intervention struct {
	// Source is "INPUT" (what the caller sent) or "OUTPUT" (the model's answer).
	Source string `json:"source"`
	// Action is "BLOCKED" or "ANONYMIZED".
	Action string `json:"action"`
	// Filters are the policy's filters that acted, in Amazon Bedrock Guardrails' terms.
	Filters []Filter `json:"filters"`
}

// Filter names one filter of a guardrail policy in the vocabulary of Amazon Bedrock
// Guardrails' assessments: Policy is "contentPolicy", "sensitiveInformationPolicy",
// "wordPolicy", "topicPolicy" or "contextualGroundingPolicy"; Type is the filter's type
// there ("PROMPT_ATTACK", "EMAIL", "CUSTOM_WORD", "PROFANITY", "DENY", "REGEX",
// "GROUNDING", ...); Name names a topic or regex.
type Filter struct {
	Policy string `json:"policy"`
	Type   string `json:"type"`
	Name   string `json:"name,omitempty"`
}

// Sources of an intervention.
const (
	SourceInput  = "INPUT"
	SourceOutput = "OUTPUT"
)

// Chunk is one streamed chunk: OpenAI's chat.completion.chunk plus Plinth's extensions,
// set on the chunk that ends a choice.
type Chunk struct {
	provider.ChatChunk
	// Guardrail is set on the chunk where a policy blocked the stream.
	Guardrail *Guardrail `json:"guardrail,omitempty"`
	// Citations lists the sources a grounded answer cites, on its finishing chunk.
	Citations json.RawMessage `json:"citations,omitempty"`
}

// EmbedRequest is one embeddings request.
type EmbedRequest struct {
	Model string
	// Input holds the texts to embed (at least one, none empty).
	Input []string
	// Dimensions asks for shorter vectors where the model supports it (0 = its default).
	Dimensions int
	// InputType hints the use ("search_document", "search_query") to models that care.
	InputType string
}

// EmbedResult is the vectors of an embeddings request, in input order.
type EmbedResult struct {
	Vectors [][]float32
	// Model is the model that answered; Served says which deployment.
	Model  string
	Served Served
	// InputTokens is the provider's count, or the estimate when it reported none.
	InputTokens int64
	Estimated   bool
}

// ModelInfo is one model name (an ID or an alias) a caller may invoke.
type ModelInfo struct {
	ID      string
	Created int64
	OwnedBy string
	Kind    registry.Kind
}

// Prompt returns what the model sees for r before any guardrail masking: Messages,
// framed when Frame is set.
func (r *ChatRequest) Prompt() []provider.Message {
	if r.Frame == nil {
		return r.Messages
	}
	return r.Frame(r.Messages)
}
