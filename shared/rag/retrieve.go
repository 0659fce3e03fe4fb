package rag

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/plinth-ai/plinth/shared/fault"
	"github.com/plinth-ai/plinth/shared/gateway"
	"github.com/plinth-ai/plinth/shared/provider"
	"github.com/plinth-ai/plinth/shared/rag/chunk"
	"github.com/plinth-ai/plinth/shared/rag/index"
	"github.com/plinth-ai/plinth/shared/tokens"
)

// RetrieveRequest is a search over one knowledge base.
type RetrieveRequest struct {
	Query string `json:"query"`
	// TopK is 1–100 (default 5).
	TopK int `json:"top_k,omitempty"`
	// SearchType is HYBRID (default), SEMANTIC or LEXICAL.
	SearchType string        `json:"search_type,omitempty"`
	Filter     *index.Filter `json:"filter,omitempty"`
}

// DocumentRef names the document a result came from.
type DocumentRef struct {
	ID       string         `json:"id"`
	Name     string         `json:"name"`
	Metadata map[string]any `json:"metadata"`
}

// Result is one retrieved passage.
type Result struct {
	Score    float64     `json:"score"`
	Text     string      `json:"text"`
	Document DocumentRef `json:"document"`
	Source   string      `json:"source"`
	// Page is the page the passage starts on; Pages lists every page it covers (both
	// pages of a passage that runs over a page break). Both are absent for formats
	// without pages.
	Page    int    `json:"page,omitempty"`
	Pages   []int  `json:"pages,omitempty"`
	ChunkID string `json:"chunk_id"`
	// Citation numbers the result from 1, as [n] markers in answers refer to it.
	Citation int `json:"citation"`
}

// RetrieveResponse lists results best first.
type RetrieveResponse struct {
	Results []Result `json:"results"`
	// SearchType is the search that ran: HYBRID falls back to LEXICAL when the knowledge
	// base has no embedding model or the query cannot be embedded.
	SearchType string `json:"search_type"`
}

// DefaultRetrieveTopK is the number of results when the request does not say.
const DefaultRetrieveTopK = 5

// Retrieve searches the tenant's knowledge base. The tenant comes from the caller's
// credentials, never from the request body.
func (s *Service) Retrieve(ctx context.Context, tenant, kbID string, req RetrieveRequest) (RetrieveResponse, error) {
	kb, err := s.GetKnowledgeBase(ctx, tenant, kbID)
	if err != nil {
		return RetrieveResponse{}, err
	}
	req.Query = strings.TrimSpace(req.Query)
	if req.Query == "" {
		return RetrieveResponse{}, fault.New(ErrInvalid, "query", "query is required")
	}
	if req.TopK == 0 {
		req.TopK = DefaultRetrieveTopK
	}
	if req.TopK < 1 || req.TopK > index.MaxTopK {
		return RetrieveResponse{}, fault.New(ErrInvalid, "top_k", "top_k must be between 1 and %d", index.MaxTopK)
	}
	st := index.SearchType(strings.ToUpper(req.SearchType))
	switch st {
	case "":
		st = index.Hybrid
	case index.Hybrid, index.Semantic, index.Lexical:
	default:
		return RetrieveResponse{}, fault.New(ErrInvalid, "search_type", "search_type %q must be HYBRID, SEMANTIC or LEXICAL", req.SearchType)
	}
	if err := req.Filter.Validate(); err != nil {
		return RetrieveResponse{}, fault.New(ErrInvalid, "filter", "filter: %v", err)
	}
	q := index.Query{Text: req.Query, TopK: req.TopK, Type: st, Filter: req.Filter}
	if h := kb.Hybrid; h != nil {
		q.Fusion, q.LexicalWeight = index.Fusion(h.Fusion), h.LexicalWeight
	}
	if st != index.Lexical {
		vec, err := s.embedQuery(ctx, kb, req.Query)
		switch {
		case err != nil && st == index.Hybrid:
			// The lexical half still answers; the response says which search ran.
			q.Type = index.Lexical
		case err != nil:
			return RetrieveResponse{}, err
		case vec == nil && st == index.Semantic:
			return RetrieveResponse{}, fault.New(ErrInvalid, "search_type", "knowledge base %s has no embedding model; use search_type LEXICAL", kb.ID)
		case vec == nil:
			q.Type = index.Lexical
		default:
			q.Vector = vec
		}
	}
	ix, err := s.openIndex(ctx, kb)
	if err != nil {
		return RetrieveResponse{}, err
	}
	// Hierarchical chunks return their parent: fetch extra children so that collapsing
	// siblings still fills top_k.
	hier := kb.Chunking.Strategy == chunk.Hierarchical
	if hier {
		q.TopK = min(index.MaxTopK, q.TopK*3)
	}
	hits, err := ix.Search(ctx, q)
	if err != nil {
		if errors.Is(err, index.ErrInvalidQuery) || errors.Is(err, index.ErrInvalidFilter) || errors.Is(err, index.ErrDimension) {
			return RetrieveResponse{}, fault.New(ErrInvalid, "", "%v", err)
		}
		return RetrieveResponse{}, err
	}
	resp := RetrieveResponse{Results: []Result{}, SearchType: string(q.Type)}
	seenParent := map[string]bool{}
	for _, h := range hits {
		text := h.Text
		if h.Parent != "" {
			text = h.Parent
			pk := h.DocID + "\x00" + h.Parent
			if seenParent[pk] {
				continue
			}
			seenParent[pk] = true
		}
		md := h.Metadata
		if md == nil {
			md = map[string]any{}
		}
		resp.Results = append(resp.Results, Result{
			Score: h.Score, Text: text, Source: s.located(ctx, tenant, h.Source), Page: h.Page, Pages: pages(h.Page, h.EndPage), ChunkID: h.ChunkID,
			Document: DocumentRef{ID: h.DocID, Name: h.DocName, Metadata: md},
			Citation: len(resp.Results) + 1,
		})
		if len(resp.Results) == req.TopK {
			break
		}
	}
	return resp, nil
}

// embedQuery embeds a query with the knowledge base's model (nil for lexical-only bases).
func (s *Service) embedQuery(ctx context.Context, kb KnowledgeBase, query string) ([]float32, error) {
	emb, err := s.embedder(ctx, kb)
	if err != nil || emb == nil {
		return nil, err
	}
	// A query waits for at most one retry: a searcher is waiting.
	vecs, err := s.embedAttempt(ctx, emb, []string{query}, "search_query", min(2, s.embedAttempts))
	if err != nil {
		var te *TaskError
		if errors.As(err, &te) {
			err = te.Err
		}
		return nil, fmt.Errorf("embed query: %w", err)
	}
	if s.usage != nil {
		s.usage(ctx, kb.Tenant, kb.ID, kb.EmbeddingModel, tokens.Count(query))
	}
	return vecs[0], nil
}

// AnswerRequest asks for a grounded answer.
type AnswerRequest struct {
	RetrieveRequest
	// Model is the chat model (default: the service's).
	Model       string   `json:"model,omitempty"`
	MaxTokens   *int     `json:"max_tokens,omitempty"`
	Temperature *float64 `json:"temperature,omitempty"`
}

// Grounding is the grounding check's verdict.
type Grounding struct {
	Grounding float64 `json:"grounding"`
	Relevance float64 `json:"relevance"`
}

// AnswerResponse is a generated answer with the sources it cites.
type AnswerResponse struct {
	Answer string `json:"answer"`
	Model  string `json:"model"`
	// Citations are the retrieved sources the answer cites with [n] markers.
	Citations []Result `json:"citations"`
	// Sources are every retrieved passage given to the model.
	Sources   []Result        `json:"sources"`
	Usage     *provider.Usage `json:"usage,omitempty"`
	Grounding *Grounding      `json:"grounding,omitempty"`
	// Guardrail says which of the tenant's guardrail policies acted and which of its
	// filters intervened; when it blocked, Answer is the policy's message.
	Guardrail *gateway.Guardrail `json:"guardrail,omitempty"`
}

// AnswerSystemPrompt instructs the model to answer only from numbered sources with [n]
// citations.
const AnswerSystemPrompt = "You answer questions using only the numbered sources provided. " +
	"Cite every claim with the source number in square brackets, like [1] or [2][3]. " +
	"If the sources do not contain the answer, say that you do not know. Do not use outside knowledge."

var citationRE = regexp.MustCompile(`\[(\d{1,3})\]`)

// Answer retrieves passages, asks the chat model to answer from them with numbered
// citations, runs the grounding check when one is bound, and returns the answer with the
// sources it cites.
func (s *Service) Answer(ctx context.Context, tenant, kbID string, req AnswerRequest) (AnswerResponse, error) {
	if s.chat == nil {
		return AnswerResponse{}, ErrNoChatModel
	}
	ret, err := s.Retrieve(ctx, tenant, kbID, req.RetrieveRequest)
	if err != nil {
		return AnswerResponse{}, err
	}
	model := req.Model
	if model == "" {
		model = s.chatModel
	}
	// The question is the asker's; the grounding prompt and the sources are the
	// platform's, framed around it after the input guardrail has judged it.
	creq := &gateway.ChatRequest{
		ChatRequest: provider.ChatRequest{
			Model:       model,
			Messages:    []provider.Message{{Role: "user", Content: provider.TextContent(req.Query)}},
			MaxTokens:   req.MaxTokens,
			Temperature: req.Temperature,
		},
		Frame: func(msgs []provider.Message) []provider.Message {
			return GroundedMessages(msgs[len(msgs)-1].Content.String(), ret.Results)
		},
	}
	res, err := s.chat(ctx, tenant, creq)
	if err != nil {
		return AnswerResponse{}, fmt.Errorf("generate answer: %w", err)
	}
	cresp := res.Response
	if len(cresp.Choices) == 0 {
		return AnswerResponse{}, errors.New("generate answer: the model returned no choices")
	}
	answer := cresp.Choices[0].Message.Content.String()
	out := AnswerResponse{Answer: answer, Model: cresp.Model, Sources: ret.Results, Citations: []Result{}, Usage: cresp.Usage, Guardrail: res.Guardrail}
	if out.Model == "" {
		out.Model = model
	}
	if res.Refused() {
		return out, nil
	}
	out.Citations = Cited(answer, ret.Results)
	if s.grounding != nil {
		texts := make([]string, len(ret.Results))
		for i, r := range ret.Results {
			texts[i] = r.Text
		}
		g, r := s.grounding(answer, texts, req.Query)
		out.Grounding = &Grounding{Grounding: g, Relevance: r}
	}
	return out, nil
}

// GroundedMessages are the system and user messages of a grounded answer; the gateway can
// use them for chat completions that name a knowledge base.
func GroundedMessages(query string, results []Result) []provider.Message {
	return []provider.Message{
		{Role: "system", Content: provider.TextContent(AnswerSystemPrompt)},
		{Role: "user", Content: provider.TextContent(BuildPrompt(query, results))},
	}
}

// Cited returns the results an answer cites with [n] markers, in citation order.
func Cited(answer string, results []Result) []Result {
	cited := map[int]bool{}
	for _, m := range citationRE.FindAllStringSubmatch(answer, -1) {
		n, _ := strconv.Atoi(m[1])
		if n >= 1 && n <= len(results) {
			cited[n] = true
		}
	}
	nums := make([]int, 0, len(cited))
	for n := range cited {
		nums = append(nums, n)
	}
	sort.Ints(nums)
	out := []Result{}
	for _, n := range nums {
		out = append(out, results[n-1])
	}
	return out
}

// BuildPrompt lays out numbered sources and the question.
func BuildPrompt(query string, results []Result) string {
	var b strings.Builder
	b.WriteString("Sources:\n")
	if len(results) == 0 {
		b.WriteString("(no sources found)\n")
	}
	for _, r := range results {
		fmt.Fprintf(&b, "[%d] (%s", r.Citation, r.Document.Name)
		switch {
		case len(r.Pages) > 1:
			fmt.Fprintf(&b, ", pages %d-%d", r.Pages[0], r.Pages[len(r.Pages)-1])
		case r.Page > 0:
			fmt.Fprintf(&b, ", page %d", r.Page)
		}
		b.WriteString(")\n")
		b.WriteString(strings.TrimSpace(r.Text))
		b.WriteString("\n\n")
	}
	b.WriteString("Question: ")
	b.WriteString(query)
	b.WriteString("\nAnswer with citations:")
	return b.String()
}

// pages lists the pages from first to last (last 0: first alone; first 0: none).
func pages(first, last int) []int {
	if first <= 0 {
		return nil
	}
	out := []int{first}
	for p := first + 1; p <= last; p++ {
		out = append(out, p)
	}
	return out
}
