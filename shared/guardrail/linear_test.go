package guardrail

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
)

// cancelAfter is a context whose Err reports Canceled from its n-th call on, standing
// for a client that leaves while its request is being evaluated.
type cancelAfter struct {
	context.Context
	n     int64
	calls atomic.Int64
}

func (c *cancelAfter) Err() error {
	if c.calls.Add(1) >= c.n {
		return context.Canceled
	}
	return nil
}

// TestApplyStopsWhenTheClientLeaves evaluates 1 MiB with every detector and a context
// that is cancelled while the evaluation runs: the engine must stop with the context's
// error instead of finishing the work.
func TestApplyStopsWhenTheClientLeaves(t *testing.T) {
	e := newEngine(t)
	p := loadPolicy(t, "policy_full.json")
	text := strings.Repeat("a.", 1<<19)
	req := ApplyRequest{Source: SourceOutput, Content: []ContentBlock{
		{Text: &TextBlock{Text: text}},
		{Text: &TextBlock{Text: text, Qualifiers: []string{QualifierGroundingSource}}},
		{Text: &TextBlock{Text: "what is it?", Qualifiers: []string{QualifierQuery}}},
	}}
	for _, n := range []int64{1, 2, 5} {
		ctx := &cancelAfter{Context: context.Background(), n: n}
		_, err := e.Apply(ctx, p, req)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled at look %d: err = %v, want context.Canceled", n, err)
		}
		if got := ctx.calls.Load(); got != n {
			t.Fatalf("the engine looked at the context %d times after it was cancelled at look %d", got, n)
		}
	}
}
