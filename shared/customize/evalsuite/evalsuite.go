// Package evalsuite connects the customisation flow to the evaluation service: it
// writes the suites the flow runs before approval, and reads evaluation datasets and
// feedback as training examples for the dataset builders.
package evalsuite

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/plinth-ai/plinth/shared/blob"
	"github.com/plinth-ai/plinth/shared/customize"
	"github.com/plinth-ai/plinth/shared/eval"
)

// Adapter implements customize.SuiteStore and the evaluation-backed builder sources.
type Adapter struct {
	svc   *eval.Service
	blobs blob.Store
}

var _ customize.SuiteStore = (*Adapter)(nil)

// New returns an adapter over the evaluation service and the blob store it reads
// datasets from.
func New(svc *eval.Service, blobs blob.Store) *Adapter {
	if svc == nil || blobs == nil {
		panic("evalsuite: nil evaluation service or blob store")
	}
	return &Adapter{svc: svc, blobs: blobs}
}

// PutSuite implements customize.SuiteStore: it creates the suite or replaces it.
func (a *Adapter) PutSuite(ctx context.Context, s customize.EvalSuite) error {
	su := eval.Suite{
		Tenant: s.Tenant, ID: s.ID, Description: "Pre-approval evaluation of a fine-tuned model",
		Dataset: eval.Dataset{URI: "blob://" + s.DatasetKey}, Target: eval.TargetSpec{Model: s.Model},
		Metrics: s.Metrics, Baseline: eval.BaselinePolicy{Mode: eval.BaselineNone},
	}
	_, err := a.svc.CreateSuite(ctx, su)
	if errors.Is(err, eval.ErrExists) {
		_, err = a.svc.UpdateSuite(ctx, su)
	}
	return err
}

// SuiteItems implements customize.SuiteSource: a tenant's suite's items with a prompt
// and at least one reference, the first reference as the completion.
func (a *Adapter) SuiteItems(ctx context.Context, tenant, suite string) ([]customize.Example, error) {
	su, err := a.svc.GetSuite(ctx, tenant, suite)
	if err != nil || su.Tenant != tenant {
		return nil, fmt.Errorf("%w: suite %s", customize.ErrNotFound, suite)
	}
	items := su.Dataset.Items
	if su.Dataset.URI != "" {
		key, err := eval.BlobKeyOf(su.Dataset.URI)
		if err != nil {
			return nil, err
		}
		rc, _, err := a.blobs.Get(ctx, key)
		if err != nil {
			return nil, fmt.Errorf("read suite dataset: %w", err)
		}
		defer rc.Close()
		if items, err = eval.ParseJSONL(rc); err != nil {
			return nil, err
		}
	}
	return examples(items), nil
}

// Feedback implements customize.FeedbackSource through the evaluation service's
// feedback export (corrected answers, or answers rated good).
func (a *Adapter) Feedback(ctx context.Context, tenant string) ([]customize.Example, error) {
	var buf bytes.Buffer
	if _, _, err := a.svc.ExportFeedback(ctx, &buf, tenant); err != nil {
		return nil, err
	}
	items, err := eval.ParseJSONL(io.Reader(&buf))
	if err != nil {
		return nil, err
	}
	return examples(items), nil
}

func examples(items []eval.Item) []customize.Example {
	out := make([]customize.Example, 0, len(items))
	for _, it := range items {
		if len(it.References) == 0 || it.References[0] == "" {
			continue
		}
		prompt := it.Input
		if prompt == "" {
			for _, m := range it.Messages {
				if s := m.Content.String(); s != "" {
					if prompt != "" {
						prompt += "\n\n"
					}
					prompt += s
				}
			}
		}
		if len(it.Contexts) > 0 && it.Input != "" {
			prompt = "Context:\n" + it.Contexts[0] + "\n\nQuestion: " + it.Input
		}
		if prompt == "" {
			continue
		}
		out = append(out, customize.Example{Prompt: prompt, Completion: it.References[0]})
	}
	return out
}
