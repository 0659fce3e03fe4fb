// Package grounding plugs the knowledge bases into the gateway's Grounder port: a chat
// completion naming a knowledge base (the knowledge_base extension) retrieves from it
// for the caller's question, and the platform's grounding prompt with the numbered
// sources is framed around the caller's words after the input guardrail.
package grounding

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/plinth-ai/plinth/shared/fault"
	"github.com/plinth-ai/plinth/shared/gateway"
	"github.com/plinth-ai/plinth/shared/provider"
	"github.com/plinth-ai/plinth/shared/rag"
	"github.com/plinth-ai/plinth/shared/rag/index"
)

// Grounder implements gateway.Grounder on the knowledge-base service, which it gets from
// knowledgeBases when a request first names a knowledge base (so a runtime builds
// knowledge bases only when grounding is asked for).
type Grounder struct {
	knowledgeBases func() (*rag.Service, error)
}

// New returns a grounder over the knowledge bases knowledgeBases returns; an error from
// it answers grounded requests with gateway.ErrGroundingUnavailable.
func New(knowledgeBases func() (*rag.Service, error)) *Grounder {
	if knowledgeBases == nil {
		panic("grounding: nil knowledge bases")
	}
	return &Grounder{knowledgeBases: knowledgeBases}
}

var _ gateway.Grounder = (*Grounder)(nil)

// lastUser is the text of the last user message.
func lastUser(msgs []provider.Message) string {
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Role == "user" {
			return msgs[i].Content.String()
		}
	}
	return ""
}

// Ground implements gateway.Grounder.
func (g *Grounder) Ground(ctx context.Context, c *gateway.Caller, kb *provider.KnowledgeBaseRef, msgs []provider.Message) (*gateway.Grounding, error) {
	svc, err := g.knowledgeBases()
	if err != nil {
		return nil, &gateway.Error{Kind: gateway.ErrGroundingUnavailable, Param: "knowledge_base", Err: err,
			Message: "this deployment does not serve knowledge bases: " + err.Error()}
	}
	query := lastUser(msgs)
	if query == "" {
		return nil, &gateway.Error{Kind: gateway.ErrInvalidRequest, Param: "messages", Message: "grounding needs a user message to search the knowledge base with"}
	}
	rr := rag.RetrieveRequest{Query: query, TopK: kb.TopK, SearchType: kb.SearchType}
	if len(kb.Filter) > 0 {
		var f index.Filter
		if err := json.Unmarshal(kb.Filter, &f); err != nil {
			return nil, &gateway.Error{Kind: gateway.ErrInvalidRequest, Param: "knowledge_base.filter", Message: "filter is not a valid retrieval filter: " + err.Error()}
		}
		rr.Filter = &f
	}
	res, err := svc.Retrieve(ctx, c.Principal.TenantID, kb.ID, rr)
	if err != nil {
		switch {
		case errors.Is(err, rag.ErrNotFound):
			return nil, &gateway.Error{Kind: gateway.ErrKnowledgeBaseNotFound, Param: "knowledge_base.id", Message: fault.Message(err), Err: err}
		case errors.Is(err, rag.ErrInvalid):
			return nil, &gateway.Error{Kind: gateway.ErrInvalidRequest, Param: "knowledge_base", Message: fault.Message(err), Err: err}
		}
		return nil, err
	}
	return &gateway.Grounding{
		// The grounded prompt replaces the conversation's last turn; the caller's system
		// instructions are kept in front of it.
		Frame: func(msgs []provider.Message) []provider.Message {
			var out []provider.Message
			for _, m := range msgs {
				if m.Role == "system" || m.Role == "developer" {
					out = append(out, m)
				}
			}
			return append(out, rag.GroundedMessages(lastUser(msgs), res.Results)...)
		},
		Cite: func(answer string) []byte {
			b, _ := json.Marshal(rag.Cited(answer, res.Results))
			return b
		},
	}, nil
}
