package eval

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/plinth-ai/plinth/shared/store"
)

// Feedback is an end user's rating of one served request.
type Feedback struct {
	ID        string `json:"id"`
	Tenant    string `json:"tenant"`
	RequestID string `json:"request_id"`
	// Rating is 1 (bad) to 5 (good); thumbs clients send 1 or 5.
	Rating          int    `json:"rating"`
	Comment         string `json:"comment,omitempty"`
	CorrectedAnswer string `json:"corrected_answer,omitempty"`
	// Input and Output optionally carry the rated prompt and answer; when absent the
	// export asks the RequestLookup.
	Input     string `json:"input,omitempty"`
	Output    string `json:"output,omitempty"`
	KeyID     string `json:"key_id,omitempty"`
	CreatedAt string `json:"created_at"`
}

func feedbackPK(tenant string) string { return "EVAL#FEEDBACK#" + tenant }

// RecordFeedback validates and stores feedback for tenant.
func (s *Service) RecordFeedback(ctx context.Context, f Feedback) (*Feedback, error) {
	f.RequestID = strings.TrimSpace(f.RequestID)
	switch {
	case f.Tenant == "":
		return nil, fmt.Errorf("feedback: tenant is required: %w", ErrInvalid)
	case f.RequestID == "" || len(f.RequestID) > 256:
		return nil, fmt.Errorf("feedback: request_id is required (at most 256 characters): %w", ErrInvalid)
	case f.Rating < 1 || f.Rating > 5:
		return nil, fmt.Errorf("feedback: rating must be an integer from 1 to 5: %w", ErrInvalid)
	case len(f.Comment) > 8000 || len(f.CorrectedAnswer) > 32000 || len(f.Input) > 64000 || len(f.Output) > 64000:
		return nil, fmt.Errorf("feedback: text fields too long: %w", ErrInvalid)
	}
	now := s.now().UTC()
	f.ID = newID("fb-", now)
	f.CreatedAt = now.Format(timeLayout)
	b, err := json.Marshal(f)
	if err != nil {
		return nil, err
	}
	key := store.Key{PK: feedbackPK(f.Tenant), SK: f.CreatedAt + "#" + f.ID}
	if _, err := s.store.Put(ctx, store.Item{Key: key, Data: b}, store.WriteOptions{Cond: store.IfNotExists}); err != nil {
		return nil, fmt.Errorf("store feedback: %w", err)
	}
	return &f, nil
}

// ListFeedback returns a tenant's feedback, oldest first.
func (s *Service) ListFeedback(ctx context.Context, tenant string) ([]Feedback, error) {
	items, err := s.store.Query(ctx, feedbackPK(tenant), store.QueryOptions{})
	if err != nil {
		return nil, fmt.Errorf("list feedback of %s: %w", tenant, err)
	}
	out := make([]Feedback, 0, len(items))
	for _, it := range items {
		var f Feedback
		if err := json.Unmarshal(it.Data, &f); err != nil {
			return nil, fmt.Errorf("decode feedback %s: %w", it.SK, err)
		}
		out = append(out, f)
	}
	return out, nil
}

// ExportFeedback writes a tenant's feedback as an evaluation dataset in JSON Lines and
// returns how many records it wrote and skipped. The reference answer is the corrected
// answer, else the rated answer when the rating is 4 or 5; feedback without an input
// (none given and none found by the RequestLookup) or without a reference is skipped.
// Each item's metadata keeps the rating, comment, request ID and the rated output.
func (s *Service) ExportFeedback(ctx context.Context, w io.Writer, tenant string) (written, skipped int, err error) {
	fbs, err := s.ListFeedback(ctx, tenant)
	if err != nil {
		return 0, 0, err
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, f := range fbs {
		input, output := f.Input, f.Output
		if (input == "" || output == "") && s.lookup != nil {
			if in, out, ok := s.lookup(ctx, tenant, f.RequestID); ok {
				if input == "" {
					input = in
				}
				if output == "" {
					output = out
				}
			}
		}
		ref := f.CorrectedAnswer
		if ref == "" && f.Rating >= 4 {
			ref = output
		}
		if input == "" || ref == "" {
			skipped++
			continue
		}
		it := Item{
			ID: f.RequestID, Input: input, References: []string{ref},
			Metadata: map[string]any{
				"source": "feedback", "feedback_id": f.ID, "request_id": f.RequestID,
				"rating": f.Rating, "comment": f.Comment, "rated_output": output, "created_at": f.CreatedAt,
			},
		}
		if err := enc.Encode(it); err != nil {
			return written, skipped, err
		}
		written++
	}
	return written, skipped, nil
}
