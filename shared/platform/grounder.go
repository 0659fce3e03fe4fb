package platform

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

// ragGrounder implements gateway.Grounder on the platform's knowledge bases, built when
// a request first names one.
type ragGrounder struct{ p *Platform }

var _ gateway.Grounder = ragGrounder{}

// lastUser is the text of the last user message.
func lastUser(msgs []provider.Message) string {
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Role == "user" {
			return msgs[i].Content.String()
		}
	}
	return ""
}

func (g ragGrounder) Ground(ctx context.Context, c *gateway.Caller, kb *provider.KnowledgeBaseRef, msgs []provider.Message) (*gateway.Grounding, error) {
	svc, err := RAG(g.p)
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
