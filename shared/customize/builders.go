package customize

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/plinth-ai/plinth/shared/httpapi"
	"github.com/plinth-ai/plinth/shared/provider"
)

// Example is one prompt/completion pair a builder draws from the platform's data.
type Example struct {
	Prompt     string
	Completion string
}

// Passage is a chunk of a knowledge-base document.
type Passage struct {
	ID       string
	Document string
	Text     string
}

// Sources of platform data the dataset builders read. Each is scoped to one tenant.
type (
	// FeedbackSource returns rated requests as examples: the corrected answer, or the
	// answer itself when it was rated good.
	FeedbackSource func(ctx context.Context, tenant string) ([]Example, error)
	// SuiteSource returns an evaluation suite's items with their first reference.
	SuiteSource func(ctx context.Context, tenant, suite string) ([]Example, error)
	// ReviewSource returns human-reviewed outputs (ground-truth answers) of a review
	// dataset.
	ReviewSource func(ctx context.Context, tenant, dataset string) ([]Example, error)
	// PassageSource returns up to limit passages of a knowledge base.
	PassageSource func(ctx context.Context, tenant, kb string, limit int) ([]Passage, error)
	// Generator calls a model through the gateway on the tenant's behalf (its access
	// policy, quotas, guardrails and usage apply). A model the tenant may not call
	// is an error wrapping ErrForbidden.
	Generator func(ctx context.Context, tenant string, req *provider.ChatRequest) (*provider.ChatResponse, error)
)

// Builder sources.
const (
	SourceFeedback    = "feedback"
	SourceEvaluation  = "evaluation"
	SourceHumanReview = "human_review"
	SourceSynthetic   = "synthetic"
)

// WithFeedbackSource enables datasets built from feedback.
func WithFeedbackSource(f FeedbackSource) Option { return func(s *Service) { s.feedback = f } }

// WithSuiteSource enables datasets built from evaluation suites.
func WithSuiteSource(f SuiteSource) Option { return func(s *Service) { s.suiteItems = f } }

// WithReviewSource enables datasets built from human-reviewed outputs.
func WithReviewSource(f ReviewSource) Option { return func(s *Service) { s.reviews = f } }

// WithSynthesis enables synthetic question/answer datasets from knowledge bases.
func WithSynthesis(p PassageSource, g Generator) Option {
	return func(s *Service) { s.passages, s.generate = p, g }
}

// BuildRequest asks for a dataset built from the tenant's platform data.
type BuildRequest struct {
	Source string `json:"source"`
	// Suite names the evaluation suite (source evaluation).
	Suite string `json:"suite,omitempty"`
	// Dataset names the human-review dataset (source human_review).
	Dataset string `json:"dataset,omitempty"`
	// KnowledgeBase and Model drive synthesis: Model (any chat model the tenant may
	// call) writes QuestionsPerPassage pairs for each of up to MaxPassages passages.
	KnowledgeBase       string `json:"knowledge_base,omitempty"`
	Model               string `json:"model,omitempty"`
	MaxPassages         int    `json:"max_passages,omitempty"`
	QuestionsPerPassage int    `json:"questions_per_passage,omitempty"`
	Filename            string `json:"filename,omitempty"`
}

// Build outcomes the builder reports beside the file.
type BuildReport struct {
	Records int `json:"records"`
	// Dropped counts generated pairs discarded: unparseable, empty, or whose answer the
	// passage does not contain.
	Dropped int `json:"dropped"`
}

// Built is BuildDataset's answer: the new file and what the build did.
type Built struct {
	File   *File       `json:"file"`
	Report BuildReport `json:"report"`
}

// BuildDataset writes a prompt/completion dataset from one source of the tenant's own
// data and stores it as a fine-tune file whose provenance says where it came from.
func (s *Service) BuildDataset(ctx context.Context, tenant string, req BuildRequest, by string) (*Built, error) {
	var (
		examples []Example
		rep      BuildReport
		err      error
	)
	prov := &Provenance{Source: req.Source, CreatedBy: by, CreatedAt: unix(s.now()), Inputs: map[string]string{}}
	switch req.Source {
	case SourceFeedback:
		if s.feedback == nil {
			return nil, fmt.Errorf("%w: feedback datasets are not available here", ErrInvalid)
		}
		examples, err = s.feedback(ctx, tenant)
	case SourceEvaluation:
		if s.suiteItems == nil || req.Suite == "" {
			return nil, fmt.Errorf("%w: an evaluation dataset needs suite (and the evaluation service)", ErrInvalid)
		}
		prov.Inputs["suite"] = req.Suite
		examples, err = s.suiteItems(ctx, tenant, req.Suite)
	case SourceHumanReview:
		if s.reviews == nil || req.Dataset == "" {
			return nil, fmt.Errorf("%w: a human-review dataset needs dataset (and the review service)", ErrInvalid)
		}
		prov.Inputs["dataset"] = req.Dataset
		examples, err = s.reviews(ctx, tenant, req.Dataset)
	case SourceSynthetic:
		examples, rep.Dropped, err = s.synthesize(ctx, tenant, req)
		prov.Synthetic, prov.Generator, prov.KnowledgeBase = true, req.Model, req.KnowledgeBase
	default:
		return nil, fmt.Errorf("%w: source must be feedback, evaluation, human_review or synthetic", ErrInvalid)
	}
	if err != nil {
		return nil, err
	}
	if len(examples) == 0 {
		return nil, fmt.Errorf("%w: the %s source holds no usable examples", ErrInvalid, req.Source)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	seen := map[string]bool{}
	for _, ex := range examples {
		k := ex.Prompt + "\x00" + ex.Completion
		if seen[k] || strings.TrimSpace(ex.Completion) == "" {
			continue
		}
		seen[k] = true
		if err := enc.Encode(Record{Prompt: ex.Prompt, Completion: ex.Completion}); err != nil {
			return nil, err
		}
		rep.Records++
	}
	prov.Records = rep.Records
	name := req.Filename
	if name == "" {
		name = req.Source + ".jsonl"
	}
	f, err := s.CreateFile(ctx, tenant, name, PurposeFineTune, &buf, prov)
	if err != nil {
		return nil, err
	}
	return &Built{File: f, Report: rep}, nil
}

// qaPair is one generated question and answer.
type qaPair struct {
	Question string `json:"question"`
	Answer   string `json:"answer"`
}

const synthesisSystem = "You write question and answer pairs that train a reading-comprehension model. Every question must be answerable from the passage alone, and every answer must be a short span copied exactly from the passage."

// synthesize asks the generator for question/answer pairs grounded in the passages and
// keeps those whose answer the passage contains.
func (s *Service) synthesize(ctx context.Context, tenant string, req BuildRequest) ([]Example, int, error) {
	if s.passages == nil || s.generate == nil {
		return nil, 0, fmt.Errorf("%w: synthetic datasets are not available here", ErrInvalid)
	}
	if req.KnowledgeBase == "" || req.Model == "" {
		return nil, 0, fmt.Errorf("%w: a synthetic dataset needs knowledge_base and model", ErrInvalid)
	}
	per := req.QuestionsPerPassage
	if per <= 0 {
		per = 3
	}
	maxP := req.MaxPassages
	if maxP <= 0 {
		maxP = 50
	}
	passages, err := s.passages(ctx, tenant, req.KnowledgeBase, min(maxP, 1000))
	if err != nil {
		return nil, 0, err
	}
	var out []Example
	dropped := 0
	for _, p := range passages {
		prompt := fmt.Sprintf("Passage:\n%s\n\nWrite %d different questions about the passage, each with its answer copied from the passage. Reply with a JSON array only: [{\"question\": \"...\", \"answer\": \"...\"}]", p.Text, per)
		resp, err := s.generate(ctx, tenant, &provider.ChatRequest{Model: req.Model, Messages: []provider.Message{
			{Role: "system", Content: provider.TextContent(synthesisSystem)},
			{Role: "user", Content: provider.TextContent(prompt)},
		}})
		if err != nil {
			return nil, 0, fmt.Errorf("generate questions for passage %s with %s: %w", p.ID, req.Model, err)
		}
		if len(resp.Choices) == 0 {
			dropped += per
			continue
		}
		pairs, ok := parsePairs(resp.Choices[0].Message.Content.String())
		if !ok {
			dropped += per
			continue
		}
		for _, qa := range pairs {
			q, a := strings.TrimSpace(qa.Question), strings.TrimSpace(qa.Answer)
			if q == "" || a == "" || !strings.Contains(strings.ToLower(p.Text), strings.ToLower(a)) {
				dropped++
				continue
			}
			out = append(out, Example{Prompt: "Context:\n" + p.Text + "\n\nQuestion: " + q, Completion: a})
		}
	}
	return out, dropped, nil
}

// parsePairs reads a JSON array of pairs (or an object holding one), tolerating a
// Markdown code fence around it.
func parsePairs(text string) ([]qaPair, bool) {
	t := strings.TrimSpace(text)
	if i := strings.Index(t, "["); i >= 0 {
		if j := strings.LastIndex(t, "]"); j > i {
			var pairs []qaPair
			if json.Unmarshal([]byte(t[i:j+1]), &pairs) == nil {
				return pairs, true
			}
		}
	}
	var obj map[string][]qaPair
	if i := strings.Index(t, "{"); i >= 0 && json.Unmarshal([]byte(t[i:]), &obj) == nil {
		for _, v := range obj {
			return v, true
		}
	}
	return nil, false
}

func (s *Service) handleBuildDataset(w http.ResponseWriter, r *http.Request) {
	tenant, keyID, err := caller(r)
	if err != nil {
		httpapi.WriteError(w, err)
		return
	}
	var req BuildRequest
	if err := httpapi.DecodeJSON(w, r, &req, 0); err != nil {
		httpapi.WriteError(w, err)
		return
	}
	b, err := s.BuildDataset(r.Context(), tenant, req, keyID)
	if err != nil {
		httpapi.WriteError(w, toHTTP(err))
		return
	}
	httpapi.WriteJSON(w, http.StatusCreated, b)
}
