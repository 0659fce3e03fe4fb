// Package provider defines the model-provider port: chat completions (whole and streamed)
// and embeddings, in OpenAI's chat-completions vocabulary, which the gateway speaks to
// clients. Adapters translate to each provider's wire format: Bedrock (Converse,
// ConverseStream, InvokeModel), any OpenAI-compatible HTTP endpoint, and the built-in
// local models.
package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Message is one chat message (OpenAI chat-completions shape).
type Message struct {
	Role       string     `json:"role"`
	Content    Content    `json:"content"`
	Name       string     `json:"name,omitempty"`
	ToolCalls  []ToolCall `json:"tool_calls,omitempty"`
	ToolCallID string     `json:"tool_call_id,omitempty"`
	Refusal    *string    `json:"refusal,omitempty"`
	// ToolError marks a tool message that reports a failed call (Plinth's extension).
	// Providers that can say so are told: Bedrock's toolResult gets status "error".
	ToolError bool `json:"tool_error,omitempty"`
}

// ContentPart is one part of an array-form message content.
type ContentPart struct {
	Type     string          `json:"type"`
	Text     string          `json:"text,omitempty"`
	ImageURL json.RawMessage `json:"image_url,omitempty"`
}

// Content is a message's content: OpenAI allows a string, an array of parts, or null.
type Content struct {
	Text  string
	Parts []ContentPart
	// Null is true when the content was JSON null or absent (assistant tool-call messages).
	Null bool
}

// TextContent returns a string content.
func TextContent(s string) Content { return Content{Text: s} }

// String flattens the content to its text.
func (c Content) String() string {
	if c.Parts == nil {
		return c.Text
	}
	var s string
	for i, p := range c.Parts {
		if p.Type == "text" {
			if i > 0 && s != "" {
				s += "\n"
			}
			s += p.Text
		}
	}
	return s
}

// MarshalJSON writes a string, an array of parts, or null.
func (c Content) MarshalJSON() ([]byte, error) {
	switch {
	case c.Parts != nil:
		return json.Marshal(c.Parts)
	case c.Null && c.Text == "":
		return []byte("null"), nil
	default:
		return json.Marshal(c.Text)
	}
}

// UnmarshalJSON accepts a string, an array of parts, or null.
func (c *Content) UnmarshalJSON(b []byte) error {
	*c = Content{}
	if len(b) == 0 || string(b) == "null" {
		c.Null = true
		return nil
	}
	if b[0] == '"' {
		return json.Unmarshal(b, &c.Text)
	}
	if b[0] == '[' {
		if err := json.Unmarshal(b, &c.Parts); err != nil {
			return err
		}
		if c.Parts == nil {
			c.Parts = []ContentPart{}
		}
		return nil
	}
	return errors.New("content must be a string, an array of content parts, or null")
}

// ToolCall is a model's request to call a function.
type ToolCall struct {
	// Index is set on streamed deltas only.
	Index    *int         `json:"index,omitempty"`
	ID       string       `json:"id,omitempty"`
	Type     string       `json:"type,omitempty"`
	Function FunctionCall `json:"function"`
}

// FunctionCall names the function and carries its JSON arguments as a string.
type FunctionCall struct {
	Name      string `json:"name,omitempty"`
	Arguments string `json:"arguments"`
}

// Tool declares a function the model may call.
type Tool struct {
	Type     string      `json:"type"`
	Function FunctionDef `json:"function"`
}

// FunctionDef describes a callable function with a JSON Schema for its parameters.
type FunctionDef struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
}

// Stop is OpenAI's stop parameter: a string or an array of strings.
type Stop []string

// UnmarshalJSON accepts a string, an array of strings, or null.
func (s *Stop) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*s = nil
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var one string
		if err := json.Unmarshal(b, &one); err != nil {
			return err
		}
		*s = Stop{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("stop must be a string or an array of strings")
	}
	*s = many
	return nil
}

// StreamOptions are OpenAI's stream_options.
type StreamOptions struct {
	IncludeUsage bool `json:"include_usage,omitempty"`
}

// ChatRequest is an OpenAI chat-completions request. Model is the provider's model ID
// once it reaches an adapter (the gateway rewrites the client's model name).
type ChatRequest struct {
	Model               string          `json:"model"`
	Messages            []Message       `json:"messages"`
	Temperature         *float64        `json:"temperature,omitempty"`
	TopP                *float64        `json:"top_p,omitempty"`
	MaxTokens           *int            `json:"max_tokens,omitempty"`
	MaxCompletionTokens *int            `json:"max_completion_tokens,omitempty"`
	Stop                Stop            `json:"stop,omitempty"`
	N                   *int            `json:"n,omitempty"`
	Stream              bool            `json:"stream,omitempty"`
	StreamOptions       *StreamOptions  `json:"stream_options,omitempty"`
	Tools               []Tool          `json:"tools,omitempty"`
	ToolChoice          json.RawMessage `json:"tool_choice,omitempty"`
	ParallelToolCalls   *bool           `json:"parallel_tool_calls,omitempty"`
	ResponseFormat      json.RawMessage `json:"response_format,omitempty"`
	Seed                *int64          `json:"seed,omitempty"`
	PresencePenalty     *float64        `json:"presence_penalty,omitempty"`
	FrequencyPenalty    *float64        `json:"frequency_penalty,omitempty"`
	User                string          `json:"user,omitempty"`
	// KnowledgeBase is Plinth's extension: ground the answer in one of the tenant's
	// knowledge bases. The gateway consumes it; it never reaches a provider.
	KnowledgeBase *KnowledgeBaseRef `json:"knowledge_base,omitempty"`
}

// KnowledgeBaseRef names a knowledge base to ground a chat completion in, with the
// retrieval settings of POST /v1/knowledge-bases/{kb}/retrieve.
type KnowledgeBaseRef struct {
	ID         string          `json:"id"`
	TopK       int             `json:"top_k,omitempty"`
	SearchType string          `json:"search_type,omitempty"`
	Filter     json.RawMessage `json:"filter,omitempty"`
}

// MaxOutputTokens returns the effective output-token cap (max_completion_tokens wins), or 0.
func (r *ChatRequest) MaxOutputTokens() int {
	if r.MaxCompletionTokens != nil {
		return *r.MaxCompletionTokens
	}
	if r.MaxTokens != nil {
		return *r.MaxTokens
	}
	return 0
}

// Usage counts tokens as the provider reported them.
type Usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

// AppendJSON appends u as encoding/json encodes it, for the encoders that write
// completions by hand.
func (u *Usage) AppendJSON(b []byte) []byte {
	b = append(b, `{"prompt_tokens":`...)
	b = strconv.AppendInt(b, int64(u.PromptTokens), 10)
	b = append(b, `,"completion_tokens":`...)
	b = strconv.AppendInt(b, int64(u.CompletionTokens), 10)
	b = append(b, `,"total_tokens":`...)
	b = strconv.AppendInt(b, int64(u.TotalTokens), 10)
	return append(b, '}')
}

// Choice is one completion choice.
type Choice struct {
	Index        int             `json:"index"`
	Message      Message         `json:"message"`
	FinishReason string          `json:"finish_reason"`
	Logprobs     json.RawMessage `json:"logprobs"`
}

// responseMessage is a Message as responses carry it: OpenAI's schema requires the
// refusal field (null when the model did not refuse).
type responseMessage struct {
	Message
	Refusal *string `json:"refusal"`
}

// MarshalJSON writes the choice with its message's refusal always present.
func (c Choice) MarshalJSON() ([]byte, error) {
	type plain Choice // without this method
	return json.Marshal(struct {
		plain
		Message responseMessage `json:"message"`
	}{plain(c), responseMessage{Message: c.Message, Refusal: c.Message.Refusal}})
}

// ChatResponse is an OpenAI chat.completion object.
type ChatResponse struct {
	ID                string   `json:"id"`
	Object            string   `json:"object"`
	Created           int64    `json:"created"`
	Model             string   `json:"model"`
	Choices           []Choice `json:"choices"`
	Usage             *Usage   `json:"usage,omitempty"`
	SystemFingerprint string   `json:"system_fingerprint,omitempty"`
	// Citations lists the knowledge-base sources a grounded answer cites (Plinth's
	// extension; absent otherwise).
	Citations json.RawMessage `json:"citations,omitempty"`
}

// Delta is the incremental message of a streamed chunk.
type Delta struct {
	Role      string     `json:"role,omitempty"`
	Content   *string    `json:"content,omitempty"`
	ToolCalls []ToolCall `json:"tool_calls,omitempty"`
	Refusal   *string    `json:"refusal,omitempty"`
}

// ChunkChoice is one choice of a streamed chunk.
type ChunkChoice struct {
	Index        int             `json:"index"`
	Delta        Delta           `json:"delta"`
	FinishReason *string         `json:"finish_reason"`
	Logprobs     json.RawMessage `json:"logprobs,omitempty"`
}

// ChatChunk is an OpenAI chat.completion.chunk object. The final usage chunk has no
// choices and a Usage.
type ChatChunk struct {
	ID                string        `json:"id"`
	Object            string        `json:"object"`
	Created           int64         `json:"created"`
	Model             string        `json:"model"`
	Choices           []ChunkChoice `json:"choices"`
	Usage             *Usage        `json:"usage,omitempty"`
	SystemFingerprint string        `json:"system_fingerprint,omitempty"`
}

// Stream yields chunks of a streamed completion.
type Stream interface {
	// Recv returns the next chunk, io.EOF after the last one, or an error (an *Error
	// when the provider failed mid-stream).
	Recv() (*ChatChunk, error)
	// Close releases the stream and cancels the upstream request if still running.
	Close() error
}

// EmbeddingRequest is an OpenAI embeddings request with the input normalised to strings.
type EmbeddingRequest struct {
	Model string
	Input []string
	// Dimensions requests a shorter vector where the model supports it (0 = default).
	Dimensions int
	// InputType hints the use ("search_document", "search_query") for models that care.
	InputType string
}

// Embedding is one vector.
type Embedding struct {
	Index     int       `json:"index"`
	Embedding []float32 `json:"embedding"`
}

// EmbeddingResponse carries vectors in input order and the usage.
type EmbeddingResponse struct {
	Model string
	Data  []Embedding
	Usage Usage
}

// ChatModel is implemented by adapters that serve chat completions.
type ChatModel interface {
	Chat(ctx context.Context, req *ChatRequest) (*ChatResponse, error)
	// ChatStream starts a streamed completion. Adapters request usage from the provider
	// whenever it can report it, regardless of the client's stream_options.
	ChatStream(ctx context.Context, req *ChatRequest) (Stream, error)
}

// EmbeddingModel is implemented by adapters that serve embeddings.
type EmbeddingModel interface {
	Embed(ctx context.Context, req *EmbeddingRequest) (*EmbeddingResponse, error)
}

// ErrorKind classifies provider failures for routing decisions.
type ErrorKind string

const (
	KindBadRequest    ErrorKind = "bad_request"    // the request is wrong: never retried
	KindAuth          ErrorKind = "auth"           // provider credentials rejected: fall back
	KindNotFound      ErrorKind = "not_found"      // model not found at the provider: fall back
	KindRateLimited   ErrorKind = "rate_limited"   // 429: retry after RetryAfter, then fall back
	KindUnavailable   ErrorKind = "unavailable"    // 5xx, connection reset: retry, then fall back
	KindTimeout       ErrorKind = "timeout"        // deadline exceeded: retry, then fall back
	KindContextLength ErrorKind = "context_length" // prompt too long for this model: fall back
	KindContentFilter ErrorKind = "content_filter" // provider refused the content: never fall back
)

// Error is a classified provider failure.
type Error struct {
	Kind       ErrorKind
	Status     int    // upstream HTTP status, when there was one
	Code       string // provider error code, when given
	Message    string
	RetryAfter time.Duration // from Retry-After or the provider's hint
	Provider   string
	Err        error // underlying cause
}

func (e *Error) Error() string {
	msg := e.Message
	if msg == "" && e.Err != nil {
		msg = e.Err.Error()
	}
	if e.Status != 0 {
		return fmt.Sprintf("%s provider: %s (status %d): %s", e.Provider, e.Kind, e.Status, msg)
	}
	return fmt.Sprintf("%s provider: %s: %s", e.Provider, e.Kind, msg)
}

func (e *Error) Unwrap() error { return e.Err }

// Retryable reports whether the same deployment may be tried again.
func (e *Error) Retryable() bool {
	switch e.Kind {
	case KindRateLimited, KindUnavailable, KindTimeout:
		return true
	}
	return false
}

// Fallbackable reports whether another deployment or model may be tried: the failure is
// the upstream's (overloaded, down, misconfigured) or the model's limit (context length),
// not a fault in the request nor a refusal of its content.
func (e *Error) Fallbackable() bool {
	switch e.Kind {
	case KindContextLength, KindAuth, KindNotFound:
		return true
	}
	return e.Retryable()
}

// AsError extracts an *Error from err's chain.
func AsError(err error) (*Error, bool) {
	var pe *Error
	ok := errors.As(err, &pe)
	return pe, ok
}
