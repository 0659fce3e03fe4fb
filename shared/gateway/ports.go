package gateway

import (
	"context"

	"github.com/plinth-ai/plinth/shared/provider"
)

// GuardVerdict is the outcome of a guardrail check.
type GuardVerdict struct {
	// Blocked means the content must not pass; Message is the policy's blocked message.
	Blocked bool
	Message string
	// Texts are the checked texts after masking (same order and length as the input);
	// Changed says whether any differs.
	Texts   []string
	Changed bool
	// Findings counts findings by type (e.g. "EMAIL": 2, "PROMPT_ATTACK": 1), never text.
	Findings map[string]int
}

// StreamGuard checks streamed output incrementally, holding back a window so an entity
// split across chunks is caught before it leaves.
type StreamGuard interface {
	// Write takes the next delta and returns what is safe to emit now.
	Write(delta string) (emit string, blocked bool)
	// Flush returns the held-back remainder at the end of the stream.
	Flush() (emit string, blocked bool)
	// Findings returns counts by type so far.
	Findings() map[string]int
	// Message is the policy's blocked-output message.
	Message() string
}

// Guard applies the caller's guardrail policy to model input and output.
type Guard interface {
	// Input checks the request's messages; the verdict's Texts has one entry per message
	// (assistant turns pass unchecked, and the operator's system prompts are not judged
	// as prompt attacks).
	Input(ctx context.Context, c *Caller, msgs []provider.Message) (GuardVerdict, error)
	Output(ctx context.Context, c *Caller, texts []string) (GuardVerdict, error)
	// OutputStream returns nil when the caller's policy checks no output.
	OutputStream(ctx context.Context, c *Caller) StreamGuard
}

// Cache is the tenant-scoped response cache.
type Cache interface {
	// Lookup returns a cached response for the request, if the caller's policy allows caching it.
	Lookup(ctx context.Context, c *Caller, req *provider.ChatRequest) (*provider.ChatResponse, bool)
	// Store saves a response.
	Store(ctx context.Context, c *Caller, req *provider.ChatRequest, resp *provider.ChatResponse)
}

// Metrics receives one observation per request (CloudWatch EMF in AWS).
type Metrics interface {
	Observe(rec *UsageRecord)
}

type nopMetrics struct{}

func (nopMetrics) Observe(*UsageRecord) {}

// Grounder grounds chat completions that name a knowledge base (the knowledge_base
// extension field) in the caller's tenant's documents.
type Grounder interface {
	// Ground retrieves from the knowledge base for the request's last user message and
	// rewrites req.Messages into a prompt with numbered sources. cite, called with the
	// answer, returns the JSON list of the sources the answer cites.
	Ground(ctx context.Context, c *Caller, kb *provider.KnowledgeBaseRef, req *provider.ChatRequest) (cite func(answer string) []byte, err error)
}
