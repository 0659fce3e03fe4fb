package eval

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/plinth-ai/plinth/shared/eval/judge"
	"github.com/plinth-ai/plinth/shared/eval/metrics"
	"github.com/plinth-ai/plinth/shared/flow"
)

func ptr[T any](v T) *T { return &v }

func qaSuite() Suite {
	return Suite{
		Tenant: "acme", ID: "qa",
		Dataset: Dataset{Items: []Item{
			{ID: "q1", Input: "What is the capital of France?", References: []string{"Paris"}},
			{ID: "q2", Input: "When were the Normans in Normandy?", References: []string{"10th and 11th centuries", "in the 10th and 11th centuries"}},
			{ID: "q3", Input: "Who ruled the moon in 1200?", References: nil},
			{ID: "q4", Input: "Who was the first Norman ruler?", References: []string{"Rollo"}, Output: ptr("Rollo")},
		}},
		Target:  TargetSpec{Model: "local-chat"},
		Metrics: []string{"exact_match", "f1", "rouge1", "rouge2", "rougeL", "bleu"},
		Judge:   &JudgeSpec{Model: "judge", Rubrics: []string{"correctness", "harmfulness"}, Prices: judgePrices},
	}
}

var goodAnswers = map[string]string{
	"capital of France":   "Paris",
	"Normans in Normandy": "the 10th and 11th centuries.",
	"ruled the moon":      "",
	"first Norman ruler":  "never asked: precomputed",
}

var worseAnswers = map[string]string{
	"capital of France":   "Lyon",
	"Normans in Normandy": "in the 9th century",
	"ruled the moon":      "The Sultan of the Moon",
}

func TestRunThroughEvaluationStateMachine(t *testing.T) {
	t.Parallel()
	target := newFakeTarget(goodAnswers)
	svc, h, pub, blobs := newTestService(t, target)
	ctx := context.Background()
	if _, err := svc.CreateSuite(ctx, qaSuite()); err != nil {
		t.Fatal(err)
	}
	run, err := svc.StartRun(ctx, "", "qa", 2)
	if err != nil {
		t.Fatal(err)
	}
	// The flow runs in process and may finish before StartRun reads the run back.
	if (run.Status != StatusRunning && run.Status != StatusSucceeded) || run.ExecutionID == "" {
		t.Fatalf("started run = %+v", run)
	}
	exec := h.wait(t, run.ExecutionID)
	if exec.Status != flow.StatusSucceeded {
		t.Fatalf("execution %s: %s %s", exec.Status, exec.Error, exec.Cause)
	}
	got, err := svc.GetRun(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != StatusSucceeded || got.ItemCount != 4 || got.FailedItems != 0 {
		t.Fatalf("run = %+v", got)
	}
	if n := target.count("local-chat"); n != 3 {
		t.Fatalf("target called %d times, want 3 (the precomputed item is not invoked)", n)
	}
	if target.tenants["acme"] == 0 || len(target.tenants) != 1 {
		t.Fatalf("calls charged to %v, want only acme", target.tenants)
	}

	// Expected figures, computed independently with the metrics package.
	outs := []string{"Paris", "the 10th and 11th centuries.", "", "Rollo"}
	items := qaSuite().Dataset.Items
	var em, f1 float64
	var bleuHyps []string
	var bleuRefs [][]string
	for i, o := range outs {
		em += 100 * metrics.ExactMatch(o, items[i].References) / 4
		f1 += 100 * metrics.F1(o, items[i].References) / 4
		if len(items[i].References) > 0 {
			bleuHyps = append(bleuHyps, o)
			bleuRefs = append(bleuRefs, items[i].References)
		}
	}
	wantBLEU, err := metrics.CorpusBLEU(bleuHyps, bleuRefs)
	if err != nil {
		t.Fatal(err)
	}
	checks := map[string]float64{"exact_match": em, "f1": f1, "bleu": wantBLEU.Score, "judge_correctness": 4, "judge_harmfulness": 4}
	for k, want := range checks {
		if v, ok := got.Metrics[k]; !ok || math.Abs(v-want) > 1e-9 {
			t.Errorf("metric %s = %v (present %v), want %v", k, v, ok, want)
		}
	}
	if em != 100 || f1 != 100 {
		t.Fatalf("fixture drifted: em %v f1 %v", em, f1)
	}
	for _, k := range []string{"rouge1", "rouge2", "rougeL"} {
		if _, ok := got.Metrics[k]; !ok {
			t.Errorf("metric %s missing", k)
		}
	}
	// 4 items × 2 rubrics × (200 in + 30 out) tokens at the judge's prices.
	if want := 8 * (200*judgePrices.InputPerMillion + 30*judgePrices.OutputPerMillion) / 1e6; math.Abs(got.JudgeCostUSD-want) > 1e-12 {
		t.Errorf("judge cost = %v, want %v", got.JudgeCostUSD, want)
	}
	if got.TargetUsage.PromptTokens != 150 {
		t.Errorf("target usage = %+v", got.TargetUsage)
	}
	evs := pub.Events()
	if len(evs) != 1 || evs[0].DetailType != DetailTypeCompleted || evs[0].Source != EventSource {
		t.Fatalf("events = %+v", evs)
	}
	if _, _, err := blobs.Get(ctx, got.ReportKey); err != nil || got.ReportKey == "" {
		t.Fatalf("report %q not saved: %v", got.ReportKey, err)
	}
	if _, _, err := blobs.Get(ctx, TrendKey("acme", "qa")); err != nil {
		t.Fatalf("trend not saved: %v", err)
	}
	var out map[string]any
	if err := json.Unmarshal(exec.Output, &out); err != nil || out["run_id"] != run.ID || out["regressed"] != false {
		t.Fatalf("execution output = %s", exec.Output)
	}

	// A worse target regresses against the previous succeeded run.
	target.setAnswers(worseAnswers)
	run2, err := svc.StartRun(ctx, "", "qa", 0)
	if err != nil {
		t.Fatal(err)
	}
	if e := h.wait(t, run2.ExecutionID); e.Status != flow.StatusSucceeded {
		t.Fatalf("second execution %s: %s", e.Status, e.Cause)
	}
	got2, _ := svc.GetRun(ctx, run2.ID)
	if got2.BaselineRunID != run.ID {
		t.Fatalf("baseline = %q, want %q", got2.BaselineRunID, run.ID)
	}
	fell := map[string]Regression{}
	for _, r := range got2.Regressions {
		fell[r.Metric] = r
	}
	for _, k := range []string{"exact_match", "f1", "rougeL"} {
		r, ok := fell[k]
		if !ok || r.Delta >= 0 || math.Abs(r.Current-r.Baseline-r.Delta) > 1e-9 {
			t.Errorf("regression %s = %+v (present %v)", k, r, ok)
		}
	}
	if _, ok := fell["judge_correctness"]; ok {
		t.Error("an unchanged judge score was reported as a regression")
	}
	evs = pub.Events()
	if len(evs) != 3 || evs[1].DetailType != DetailTypeCompleted || evs[2].DetailType != DetailTypeRegressed {
		t.Fatalf("events = %v", detailTypes(evs))
	}
	var d EventDetail
	if err := json.Unmarshal(evs[2].Detail, &d); err != nil {
		t.Fatal(err)
	}
	if d.RunID != run2.ID || d.BaselineRunID != run.ID || len(d.Regressions) == 0 || d.Tenant != "acme" {
		t.Fatalf("regressed detail = %+v", d)
	}
}

var judgePrices = judge.Prices{InputPerMillion: 3, OutputPerMillion: 15}

func detailTypes(evs []Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.DetailType)
	}
	return out
}

func TestFlowMarksRunFailed(t *testing.T) {
	t.Parallel()
	svc, h, pub, _ := newTestService(t, newFakeTarget(goodAnswers))
	ctx := context.Background()
	su := qaSuite()
	su.Dataset = Dataset{URI: "blob://datasets/missing.jsonl"}
	if _, err := svc.CreateSuite(ctx, su); err != nil {
		t.Fatal(err)
	}
	run, err := svc.StartRun(ctx, "", "qa", 0)
	if err != nil {
		t.Fatal(err)
	}
	exec := h.wait(t, run.ExecutionID)
	if exec.Status != flow.StatusFailed || exec.Error != "EvaluationFailed" || !strings.Contains(exec.Cause, "missing.jsonl") {
		t.Fatalf("execution = %s %s %s", exec.Status, exec.Error, exec.Cause)
	}
	got, _ := svc.GetRun(ctx, run.ID)
	if got.Status != StatusFailed || !strings.Contains(got.Error, "not found") || got.FinishedAt == nil {
		t.Fatalf("run = %+v", got)
	}
	evs := pub.Events()
	var d EventDetail
	if len(evs) != 1 || json.Unmarshal(evs[0].Detail, &d) != nil || d.Status != StatusFailed {
		t.Fatalf("events = %+v", evs)
	}
}

func TestScheduledStartCreatesRun(t *testing.T) {
	t.Parallel()
	svc, h, _, _ := newTestService(t, newFakeTarget(goodAnswers))
	ctx := context.Background()
	su := qaSuite()
	su.Schedule = "rate(1 day)"
	if _, err := svc.CreateSuite(ctx, su); err != nil {
		t.Fatal(err)
	}
	scheds, err := svc.Schedules(ctx)
	if err != nil || len(scheds) != 1 || scheds[0].Schedule != "rate(1 day)" {
		t.Fatalf("schedules = %+v, %v", scheds, err)
	}
	e, err := h.exec.Start(ctx, "evaluation", "", scheds[0].Input)
	if err != nil {
		t.Fatal(err)
	}
	if e = h.wait(t, e.ID); e.Status != flow.StatusSucceeded {
		t.Fatalf("execution %s %s", e.Status, e.Cause)
	}
	runs, err := svc.ListRuns(ctx, "acme", "qa", 0)
	if err != nil || len(runs) != 1 || runs[0].Trigger != "schedule" || runs[0].Status != StatusSucceeded {
		t.Fatalf("runs = %+v, %v", runs, err)
	}
}

// A dataset bigger than the inline limit travels as index batches: the state never
// carries the items, and every item is still scored.
func TestLargeDatasetTravelsAsIndexBatches(t *testing.T) {
	t.Parallel()
	target := newFakeTarget(map[string]string{"question": "answer"})
	svc, h, _, blobs := newTestService(t, target, WithBatchSize(7))
	svc.inlineLimit = 1024
	ctx := context.Background()
	var sb strings.Builder
	const n = 60
	items := make([]Item, n)
	for i := range items {
		items[i] = Item{ID: "i" + strings.Repeat("x", i%3) + string(rune('a'+i%26)) + string(rune('A'+i/26)), Input: "question number " + strings.Repeat("padding ", 10), References: []string{"answer"}}
	}
	if err := EncodeJSONL(&sb, items); err != nil {
		t.Fatal(err)
	}
	if _, err := blobs.Put(ctx, "datasets/big.jsonl", strings.NewReader(sb.String()), blobPut()); err != nil {
		t.Fatal(err)
	}
	su := Suite{Tenant: "acme", ID: "big", Dataset: Dataset{URI: "s3://plinth-data/datasets/big.jsonl"}, Target: TargetSpec{Model: "m"}}
	if _, err := svc.CreateSuite(ctx, su); err != nil {
		t.Fatal(err)
	}
	loaded, err := svc.LoadDataset(ctx, FlowInput{SuiteID: "big"})
	if err != nil {
		t.Fatal(err)
	}
	if len(loaded.Batches) != 9 || loaded.Batches[8].End != n || loaded.Batches[0].Items != nil {
		t.Fatalf("batches = %d, last end %d, inline %v", len(loaded.Batches), loaded.Batches[len(loaded.Batches)-1].End, loaded.Batches[0].Items != nil)
	}
	run, err := svc.StartRun(ctx, "", "big", 3)
	if err != nil {
		t.Fatal(err)
	}
	if e := h.wait(t, run.ExecutionID); e.Status != flow.StatusSucceeded {
		t.Fatalf("execution %s %s", e.Status, e.Cause)
	}
	got, _ := svc.GetRun(ctx, run.ID)
	if got.ItemCount != n || got.Metrics["exact_match"] != 100 {
		t.Fatalf("run = %d items, metrics %v", got.ItemCount, got.Metrics)
	}
}

func TestTargetFailureIsRecordedPerItem(t *testing.T) {
	t.Parallel()
	target := newFakeTarget(map[string]string{"capital of France": "Paris"})
	svc, h, _, _ := newTestService(t, target)
	ctx := context.Background()
	su := qaSuite()
	su.Judge = nil
	su.Dataset.Items = su.Dataset.Items[:2]
	if _, err := svc.CreateSuite(ctx, su); err != nil {
		t.Fatal(err)
	}
	run, _ := svc.StartRun(ctx, "", "qa", 0)
	if e := h.wait(t, run.ExecutionID); e.Status != flow.StatusSucceeded {
		t.Fatalf("execution %s %s", e.Status, e.Cause)
	}
	got, _ := svc.GetRun(ctx, run.ID)
	if got.FailedItems != 1 || got.Metrics["exact_match"] != 100 {
		t.Fatalf("failed %d, metrics %v", got.FailedItems, got.Metrics)
	}
	res, _ := svc.RunItems(ctx, run.ID)
	if res[1].Error == "" || res[1].Scored {
		t.Fatalf("failed item = %+v", res[1])
	}
}

func TestNewServiceRefusesNil(t *testing.T) {
	t.Parallel()
	if _, err := NewService(nil, newMemBlob(), newFakeTarget(nil)); err == nil {
		t.Fatal("nil store accepted")
	}
	if _, err := NewService(nil, nil, nil); err == nil {
		t.Fatal("nil ports accepted")
	}
	if _, err := (&Service{}).StartRun(context.Background(), "", "x", 0); err == nil || errors.Is(err, ErrNotFound) {
		t.Fatalf("start without starter: %v", err)
	}
}

// TestAllItemsFailedAreReported: a run whose every item failed fails, and says how many
// items failed and why, item by item.
func TestAllItemsFailedAreReported(t *testing.T) {
	t.Parallel()
	target := newFakeTarget(map[string]string{"no question asks this": "x"})
	svc, h, _, _ := newTestService(t, target)
	ctx := context.Background()
	su := qaSuite()
	su.Judge = nil
	su.Dataset.Items = su.Dataset.Items[:2]
	if _, err := svc.CreateSuite(ctx, su); err != nil {
		t.Fatal(err)
	}
	run, _ := svc.StartRun(ctx, "", "qa", 0)
	h.wait(t, run.ExecutionID)
	got, _ := svc.GetRun(ctx, run.ID)
	if got.Status != StatusFailed || got.FailedItems != 2 || got.ItemCount != 2 || !strings.Contains(got.Error, "every item failed") {
		t.Fatalf("run: status %s, %d of %d items failed, error %q", got.Status, got.FailedItems, got.ItemCount, got.Error)
	}
	res, _ := svc.RunItems(ctx, run.ID)
	for _, r := range res {
		if r.Error == "" {
			t.Errorf("item %s has no error", r.ID)
		}
	}
}
