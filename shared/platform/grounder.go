package platform

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/plinth-ai/plinth/shared/gateway"
	"github.com/plinth-ai/plinth/shared/httpapi"
	"github.com/plinth-ai/plinth/shared/provider"
	"github.com/plinth-ai/plinth/shared/rag"
	"github.com/plinth-ai/plinth/shared/rag/index"
)

// ragGrounder implements gateway.Grounder on the knowledge-base service.
type ragGrounder struct{ svc *rag.Service }

var _ gateway.Grounder = (*ragGrounder)(nil)

func (g *ragGrounder) Ground(ctx context.Context, c *gateway.Caller, kb *provider.KnowledgeBaseRef, req *provider.ChatRequest) (func(string) []byte, error) {
	query := ""
	for i := len(req.Messages) - 1; i >= 0; i-- {
		if req.Messages[i].Role == "user" {
			query = req.Messages[i].Content.String()
			break
		}
	}
	if query == "" {
		return nil, httpapi.BadRequest("messages", "grounding needs a user message to search the knowledge base with")
	}
	rr := rag.RetrieveRequest{Query: query, TopK: kb.TopK, SearchType: kb.SearchType}
	if len(kb.Filter) > 0 {
		var f index.Filter
		if err := json.Unmarshal(kb.Filter, &f); err != nil {
			return nil, httpapi.BadRequest("knowledge_base.filter", "filter is not a valid retrieval filter: %v", err)
		}
		rr.Filter = &f
	}
	res, err := g.svc.Retrieve(ctx, c.Principal.TenantID, kb.ID, rr)
	if err != nil {
		switch {
		case errors.Is(err, rag.ErrNotFound):
			return nil, &httpapi.Error{Status: http.StatusNotFound, Code: "knowledge_base_not_found", Param: "knowledge_base.id", Message: err.Error()}
		case errors.Is(err, rag.ErrInvalid):
			return nil, httpapi.BadRequest("knowledge_base", "%v", err)
		}
		return nil, err
	}
	// The grounded prompt replaces the conversation's last turn; earlier system
	// instructions of the caller are kept in front of it.
	grounded := rag.GroundedMessages(query, res.Results)
	var kept []provider.Message
	for _, m := range req.Messages {
		if m.Role == "system" || m.Role == "developer" {
			kept = append(kept, m)
		}
	}
	req.Messages = append(kept, grounded...)
	return func(answer string) []byte {
		b, _ := json.Marshal(rag.Cited(answer, res.Results))
		return b
	}, nil
}
