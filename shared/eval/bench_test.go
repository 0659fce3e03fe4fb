package eval

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/plinth-ai/plinth/shared/flow"
)

// BenchmarkEvaluationFlow measures items per second through the real state machine on
// the embedded executor (in-memory store, a constant-time target, every reference
// metric and one judge rubric).
func BenchmarkEvaluationFlow(b *testing.B) {
	const n = 200
	target := newFakeTarget(map[string]string{"question": "The Normans gave their name to Normandy in the 10th century."})
	svc, h, _, _ := newTestService(b, target, WithBatchSize(25), WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	ctx := context.Background()
	items := make([]Item, n)
	for i := range items {
		items[i] = Item{ID: fmt.Sprint(i), Input: fmt.Sprintf("question %d: when were the Normans in Normandy?", i),
			References: []string{"in the 10th and 11th centuries", "10th century"}, Contexts: []string{"The Normans gave their name to Normandy."}}
	}
	su := Suite{Tenant: "acme", ID: "bench", Dataset: Dataset{Items: items}, Target: TargetSpec{Model: "m"},
		Metrics: ReferenceMetrics[:6], Judge: &JudgeSpec{Model: "judge", Rubrics: []string{"correctness"}}}
	su.Metrics = append(su.Metrics, MetricFaithfulness)
	if _, err := svc.CreateSuite(ctx, su); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, err := svc.StartRun(ctx, "", "bench", 4)
		if err != nil {
			b.Fatal(err)
		}
		if e := h.wait(b, r.ExecutionID); e.Status != flow.StatusSucceeded {
			b.Fatalf("execution %s %s", e.Status, e.Cause)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "items/s")
}
