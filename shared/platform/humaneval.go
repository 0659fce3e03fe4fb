package platform

import (
	"context"
	"errors"
	"fmt"

	"github.com/plinth-ai/plinth/shared/eval"
	"github.com/plinth-ai/plinth/shared/fault"
	"github.com/plinth-ai/plinth/shared/humaneval"
)

// evalRuns lets review queues be built from finished evaluation runs.
type evalRuns struct{ svc *eval.Service }

func (e evalRuns) Run(ctx context.Context, id string) (*humaneval.Run, error) {
	r, err := e.svc.GetRun(ctx, id)
	if errors.Is(err, eval.ErrNotFound) {
		return nil, fault.New(humaneval.ErrNotFound, "source.run_id", "evaluation run %q does not exist; list a suite's runs with GET /admin/eval-suites/{id}/runs", id)
	}
	if err != nil {
		return nil, err
	}
	if r.Status != eval.StatusSucceeded {
		return nil, fmt.Errorf("evaluation run %s is %s; review a finished run: %w", id, r.Status, humaneval.ErrInvalid)
	}
	results, err := e.svc.RunItems(ctx, id)
	if err != nil {
		return nil, err
	}
	out := &humaneval.Run{ID: r.ID, Tenant: r.Tenant, Label: r.Suite.Target.Model, Items: make([]humaneval.RunOutput, 0, len(results))}
	for _, res := range results {
		out.Items = append(out.Items, humaneval.RunOutput{ID: res.ID, Input: question(res.Item), References: res.Item.References,
			Contexts: contextsOf(res), Output: res.Output, Failed: res.Error != ""})
	}
	return out, nil
}

// question is the prompt a reviewer reads: the item's input, else its last user message.
func question(it eval.Item) string {
	if it.Input != "" {
		return it.Input
	}
	for i := len(it.Messages) - 1; i >= 0; i-- {
		if it.Messages[i].Role == "user" {
			return it.Messages[i].Content.String()
		}
	}
	return ""
}

func contextsOf(res eval.ItemResult) []string {
	if len(res.Retrieved) > 0 {
		return res.Retrieved
	}
	return res.Item.Contexts
}

// evalFeedback lets review queues be built from end users' feedback.
type evalFeedback struct{ svc *eval.Service }

func (e evalFeedback) Feedback(ctx context.Context, tenant string) ([]humaneval.FeedbackRecord, error) {
	fbs, err := e.svc.ListFeedback(ctx, tenant)
	if err != nil {
		return nil, err
	}
	out := make([]humaneval.FeedbackRecord, len(fbs))
	for i, f := range fbs {
		out[i] = humaneval.FeedbackRecord{ID: f.ID, RequestID: f.RequestID, Rating: f.Rating, Comment: f.Comment,
			CorrectedAnswer: f.CorrectedAnswer, Input: f.Input, Output: f.Output}
	}
	return out, nil
}
