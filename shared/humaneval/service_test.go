package humaneval_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/plinth-ai/plinth/shared/blob/fsblob"
	"github.com/plinth-ai/plinth/shared/eval"
	"github.com/plinth-ai/plinth/shared/humaneval"
	"github.com/plinth-ai/plinth/shared/store/memstore"
)

type fakeRuns map[string]*humaneval.Run

func (f fakeRuns) Run(_ context.Context, id string) (*humaneval.Run, error) {
	if r, ok := f[id]; ok {
		return r, nil
	}
	return nil, fmt.Errorf("run %s: %w", id, humaneval.ErrNotFound)
}

type fakeFeedback []humaneval.FeedbackRecord

func (f fakeFeedback) Feedback(context.Context, string) ([]humaneval.FeedbackRecord, error) {
	return f, nil
}

func newService(t *testing.T, opts ...humaneval.Option) *humaneval.Service {
	t.Helper()
	blobs, err := fsblob.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	svc, err := humaneval.NewService(memstore.New(), blobs, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func samples(n int, pairwise bool) []humaneval.Sample {
	out := make([]humaneval.Sample, n)
	for i := range out {
		out[i] = humaneval.Sample{ID: fmt.Sprintf("s%02d", i+1), Input: fmt.Sprintf("question %d", i+1)}
		if pairwise {
			out[i].Outputs = []string{fmt.Sprintf("answer A%d", i+1), fmt.Sprintf("answer B%d", i+1)}
		} else {
			out[i].Output = fmt.Sprintf("answer %d", i+1)
		}
	}
	return out
}

// The four-observer table of Krippendorff's "Computing Krippendorff's Alpha-Reliability"
// (2011), reviewers × items, 0 = not reviewed: its published ordinal alpha is 0.815 and
// its interval alpha 0.849.
var krippendorff2011 = [4][12]int{
	{1, 2, 3, 3, 2, 1, 4, 1, 2, 0, 0, 0},
	{1, 2, 3, 3, 2, 2, 4, 1, 2, 5, 0, 3},
	{0, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, 0},
	{1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, 0},
}

func TestRubricQueueAgreementAndDataset(t *testing.T) {
	ctx := context.Background()
	svc := newService(t)
	q, err := svc.CreateQueue(ctx, humaneval.Queue{Tenant: "acme", Name: "answers", ReviewersPerItem: 4,
		Criteria: []humaneval.Criterion{{Name: "correctness", Min: 1, Max: 5}},
		Source:   humaneval.Source{Type: humaneval.SourceSamples, Samples: samples(12, false)}}, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if q.ItemCount != 12 || q.Kind != humaneval.KindRubric || q.Source.Samples != nil {
		t.Fatalf("queue = %+v", q)
	}
	reviewers := []string{"ana", "ben", "chloe", "dev"}
	for i, name := range reviewers {
		for item, score := range krippendorff2011[i] {
			if score == 0 {
				continue
			}
			_, err := svc.Submit(ctx, "acme", humaneval.Review{QueueID: q.ID, ItemID: fmt.Sprintf("s%02d", item+1), Reviewer: name,
				Scores: map[string]int{"correctness": score}})
			if err != nil {
				t.Fatalf("%s on item %d: %v", name, item+1, err)
			}
		}
	}
	ag, err := svc.Agreement(ctx, "acme", q.ID)
	if err != nil {
		t.Fatal(err)
	}
	if ag.Reviews != 41 || ag.MultiplyReviewed != 11 || ag.Reviewed != 12 || len(ag.Reviewers) != 4 {
		t.Errorf("agreement counts = %+v", ag)
	}
	m := ag.Measures[0]
	if m.Name != "correctness" || m.Level != "ordinal" || m.Alpha == nil || math.Abs(*m.Alpha-0.815) > 0.0005 {
		t.Errorf("ordinal alpha = %+v, want 0.815", m)
	}
	if len(m.Pairs) != 6 || m.MeanKappa == nil || m.MeanQuadraticKappa == nil {
		t.Errorf("pairs = %+v", m.Pairs)
	}

	// Publishing: items with at least 3 reviews whose mean reaches 4 become ground truth.
	v, err := svc.Publish(ctx, "acme", q.ID, humaneval.PublishRequest{Name: "gold", MinReviews: 3}, "admin")
	if err != nil {
		t.Fatal(err)
	}
	// Means: item 7 = 4 (accepted); item 10 = 5 (3 reviews, accepted); item 6 = 2.5, others < 4;
	// items 11 and 12 have fewer than 3 reviews.
	if v.Version != 1 || v.Items != 2 || v.Skipped[humaneval.SkipTooFewReviews] != 2 || v.Skipped[humaneval.SkipNotAccepted] != 8 {
		t.Errorf("version = %+v", v)
	}
	if v.URI != "blob://datasets/acme/gold/v1.jsonl" || v.Alpha == nil {
		t.Errorf("uri = %q alpha = %v", v.URI, v.Alpha)
	}
	rc, _, err := svc.DatasetContent(ctx, "acme", "gold", 1, humaneval.FormatEval)
	if err != nil {
		t.Fatal(err)
	}
	items, err := eval.ParseJSONL(rc)
	rc.Close()
	if err != nil {
		t.Fatalf("the evaluation service cannot read the dataset: %v", err)
	}
	if len(items) != 2 || items[0].ID != "s07" || items[0].References[0] != "answer 7" || items[0].Metadata["source"] != "human-review" {
		t.Errorf("items = %+v", items)
	}

	// A correction turns a rejected item into ground truth in the next version.
	if _, err := svc.Submit(ctx, "acme", humaneval.Review{QueueID: q.ID, ItemID: "s11", Reviewer: "ben",
		Scores: map[string]int{"correctness": 1}, CorrectedOutput: "the corrected answer 11"}); err != nil {
		t.Fatal(err)
	}
	v2, err := svc.Publish(ctx, "acme", q.ID, humaneval.PublishRequest{Name: "gold", MinReviews: 3}, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if v2.Version != 2 || v2.Items != 3 {
		t.Errorf("v2 = %+v", v2)
	}
	rc, _, err = svc.DatasetContent(ctx, "acme", "gold", 0, humaneval.FormatChat)
	if err != nil {
		t.Fatal(err)
	}
	chat, _ := io.ReadAll(rc)
	rc.Close()
	if !strings.Contains(string(chat), `{"messages":[{"role":"user","content":"question 11"},{"role":"assistant","content":"the corrected answer 11"}]}`) {
		t.Errorf("chat dataset = %s", chat)
	}
	ds, err := svc.Datasets(ctx, "acme")
	if err != nil || len(ds) != 1 || ds[0].Latest != 2 || len(ds[0].Versions) != 2 {
		t.Errorf("datasets = %+v, %v", ds, err)
	}
	if _, _, err := svc.DatasetContent(ctx, "acme", "gold", 1, humaneval.FormatPreference); !errors.Is(err, humaneval.ErrInvalid) {
		t.Errorf("preference format of a rubric dataset: %v", err)
	}
}

func TestRubricReviewValidation(t *testing.T) {
	ctx := context.Background()
	svc := newService(t)
	q, err := svc.CreateQueue(ctx, humaneval.Queue{Tenant: "acme", Name: "q",
		Source: humaneval.Source{Type: humaneval.SourceSamples, Samples: samples(2, false)}}, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if len(q.Criteria) != 2 || q.ReviewersPerItem != 2 {
		t.Fatalf("defaults = %+v", q)
	}
	good := map[string]int{"correctness": 5, "helpfulness": 4}
	cases := []struct {
		name string
		r    humaneval.Review
		want error
	}{
		{"missing criterion", humaneval.Review{ItemID: "s01", Reviewer: "ana", Scores: map[string]int{"correctness": 5}}, humaneval.ErrInvalid},
		{"out of scale", humaneval.Review{ItemID: "s01", Reviewer: "ana", Scores: map[string]int{"correctness": 6, "helpfulness": 4}}, humaneval.ErrInvalid},
		{"choice on rubric", humaneval.Review{ItemID: "s01", Reviewer: "ana", Scores: good, Choice: "left"}, humaneval.ErrInvalid},
		{"no reviewer", humaneval.Review{ItemID: "s01", Scores: good}, humaneval.ErrInvalid},
		{"unknown item", humaneval.Review{ItemID: "nope", Reviewer: "ana", Scores: good}, humaneval.ErrNotFound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.r.QueueID = q.ID
			if _, err := svc.Submit(ctx, "acme", c.r); !errors.Is(err, c.want) {
				t.Errorf("err = %v, want %v", err, c.want)
			}
		})
	}
	r := humaneval.Review{QueueID: q.ID, ItemID: "s01", Reviewer: "ana", Scores: good}
	if _, err := svc.Submit(ctx, "acme", r); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Submit(ctx, "acme", r); !errors.Is(err, humaneval.ErrReviewed) {
		t.Errorf("second review by the same reviewer: %v", err)
	}
	// Another tenant sees nothing.
	if _, err := svc.Submit(ctx, "globex", humaneval.Review{QueueID: q.ID, ItemID: "s02", Reviewer: "eve", Scores: good}); !errors.Is(err, humaneval.ErrNotFound) {
		t.Errorf("other tenant's review: %v", err)
	}
	if qs, _ := svc.ListQueues(ctx, "globex"); len(qs) != 0 {
		t.Errorf("other tenant lists %d queues", len(qs))
	}
	// Next skips what ana reviewed, then runs out once both items have two reviewers.
	a, err := svc.Next(ctx, "acme", q.ID, "ana")
	if err != nil || a == nil || a.ItemID != "s02" || a.Output != "answer 2" || a.Remaining != 1 {
		t.Fatalf("next for ana = %+v, %v", a, err)
	}
	for _, who := range []string{"ben", "chloe"} {
		if _, err := svc.Submit(ctx, "acme", humaneval.Review{QueueID: q.ID, ItemID: "s02", Reviewer: who, Scores: good}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := svc.Submit(ctx, "acme", humaneval.Review{QueueID: q.ID, ItemID: "s01", Reviewer: "ben", Scores: good}); err != nil {
		t.Fatal(err)
	}
	if a, err := svc.Next(ctx, "acme", q.ID, "dev"); err != nil || a != nil {
		t.Errorf("next after completion = %+v, %v", a, err)
	}
	got, err := svc.GetQueue(ctx, "acme", q.ID)
	if err != nil || got.Progress.Complete != 2 || got.Progress.Reviews != 4 {
		t.Errorf("progress = %+v, %v", got.Progress, err)
	}
}

func TestPairwiseOrderIsRandomisedAndRecorded(t *testing.T) {
	ctx := context.Background()
	svc := newService(t, humaneval.WithRandSeed(7))
	q, err := svc.CreateQueue(ctx, humaneval.Queue{Tenant: "acme", Name: "ab", Kind: humaneval.KindPairwise, ReviewersPerItem: 2,
		Source: humaneval.Source{Type: humaneval.SourceSamples, Samples: samples(20, true)}}, "admin")
	if err != nil {
		t.Fatal(err)
	}
	// A review before the item was shown has no recorded order and is refused.
	if _, err := svc.Submit(ctx, "acme", humaneval.Review{QueueID: q.ID, ItemID: "s01", Reviewer: "ana", Choice: "left"}); !errors.Is(err, humaneval.ErrInvalid) {
		t.Fatalf("unassigned review: %v", err)
	}
	flipped := 0
	for i := 0; i < 20; i++ {
		a, err := svc.Next(ctx, "acme", q.ID, "ana")
		if err != nil || a == nil {
			t.Fatalf("next: %+v %v", a, err)
		}
		again, _ := svc.Next(ctx, "acme", q.ID, "ana")
		if again.ItemID != a.ItemID || again.Order[0] != a.Order[0] {
			t.Fatalf("the order changed on reload: %v then %v", a.Order, again.Order)
		}
		n := strings.TrimPrefix(a.ItemID, "s")
		n = strings.TrimPrefix(n, "0")
		if a.Order[0] == "b" {
			flipped++
			if a.Left != "answer B"+n || a.Right != "answer A"+n {
				t.Fatalf("left/right texts do not follow the order %v: %q %q", a.Order, a.Left, a.Right)
			}
		}
		// ana always prefers whatever is shown on the left: recorded as the candidate shown there.
		r, err := svc.Submit(ctx, "acme", humaneval.Review{QueueID: q.ID, ItemID: a.ItemID, Reviewer: "ana", Choice: "left"})
		if err != nil {
			t.Fatal(err)
		}
		if r.Preferred != a.Order[0] || len(r.Order) != 2 || r.Order[0] != a.Order[0] {
			t.Fatalf("review = %+v for order %v", r, a.Order)
		}
		// ben always prefers candidate a, whichever side it is on.
		b, err := svc.Next(ctx, "acme", q.ID, "ben")
		if err != nil || b == nil {
			t.Fatal(err)
		}
		choice := "left"
		if b.Order[0] != "a" {
			choice = "right"
		}
		if r, err := svc.Submit(ctx, "acme", humaneval.Review{QueueID: q.ID, ItemID: b.ItemID, Reviewer: "ben", Choice: choice}); err != nil || r.Preferred != "a" {
			t.Fatalf("ben's review = %+v, %v", r, err)
		}
	}
	if flipped == 0 || flipped == 20 {
		t.Errorf("order flipped on %d of 20 items; the draw is not random", flipped)
	}
	ag, err := svc.Agreement(ctx, "acme", q.ID)
	if err != nil {
		t.Fatal(err)
	}
	// ana and ben agree exactly where ana was shown a on the left.
	m := ag.Measures[0]
	if m.Name != humaneval.PreferenceMeasure || m.Level != "nominal" || m.PercentAgreement == nil || math.Abs(*m.PercentAgreement-float64(20-flipped)/20) > 1e-9 {
		t.Errorf("preference agreement = %+v (flipped %d)", m, flipped)
	}
	v, err := svc.Publish(ctx, "acme", q.ID, humaneval.PublishRequest{Name: "prefs"}, "admin")
	if err != nil {
		t.Fatal(err)
	}
	// Where the two agree, a wins 2–0; elsewhere it is 1–1, no majority.
	if v.Items != 20-flipped || v.Skipped[humaneval.SkipNoMajority] != flipped || v.PreferenceURI == "" {
		t.Errorf("version = %+v", v)
	}
	rc, _, err := svc.DatasetContent(ctx, "acme", "prefs", 1, humaneval.FormatPreference)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var rec struct {
		Input struct {
			Messages []map[string]string `json:"messages"`
		} `json:"input"`
		Preferred    []map[string]string `json:"preferred_output"`
		NonPreferred []map[string]string `json:"non_preferred_output"`
	}
	line, _ := io.ReadAll(rc)
	if err := json.NewDecoder(bytes.NewReader(line)).Decode(&rec); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(rec.Preferred[0]["content"], "answer A") || !strings.HasPrefix(rec.NonPreferred[0]["content"], "answer B") {
		t.Errorf("preference record = %+v", rec)
	}
}

func TestQueuesFromRunsAndFeedback(t *testing.T) {
	ctx := context.Background()
	runs := fakeRuns{
		"run-1": {ID: "run-1", Tenant: "acme", Label: "local-chat", Items: []humaneval.RunOutput{
			{ID: "1", Input: "q1", Output: "o1", References: []string{"r1"}}, {ID: "2", Input: "q2", Failed: true}, {ID: "3", Input: "q3", Output: "o3"}}},
		"run-2": {ID: "run-2", Tenant: "acme", Items: []humaneval.RunOutput{{ID: "1", Input: "q1", Output: "p1"}, {ID: "3", Input: "q3", Output: "p3"}}},
		"run-x": {ID: "run-x", Tenant: "globex", Items: []humaneval.RunOutput{{ID: "1", Input: "q", Output: "o"}}},
	}
	fb := fakeFeedback{
		{ID: "fb-1", RequestID: "req-1", Rating: 1, Input: "hi", Output: "bad answer", CorrectedAnswer: "good answer"},
		{ID: "fb-2", RequestID: "req-2", Rating: 5, Input: "hi", Output: "great"},
		{ID: "fb-3", RequestID: "req-3", Rating: 2}, // no text: nothing to review
	}
	svc := newService(t, humaneval.WithRuns(runs), humaneval.WithFeedback(fb))
	q, err := svc.CreateQueue(ctx, humaneval.Queue{Tenant: "acme", Name: "r", Source: humaneval.Source{Type: humaneval.SourceEvalRun, RunID: "run-1"}}, "admin")
	if err != nil || q.ItemCount != 2 {
		t.Fatalf("rubric from run = %+v, %v", q, err)
	}
	p, err := svc.CreateQueue(ctx, humaneval.Queue{Tenant: "acme", Name: "p", Kind: humaneval.KindPairwise,
		Source: humaneval.Source{Type: humaneval.SourceEvalRun, RunID: "run-1", CompareRunID: "run-2"}}, "admin")
	if err != nil || p.ItemCount != 2 {
		t.Fatalf("pairwise from runs = %+v, %v", p, err)
	}
	items, err := svc.Items(ctx, "acme", p.ID)
	if err != nil || items[0].Candidates[0].Label != "run-1 (local-chat)" || items[0].Candidates[1].Text != "p1" || items[0].Origin["compare_run_id"] != "run-2" {
		t.Errorf("pairwise items = %+v, %v", items, err)
	}
	if _, err := svc.CreateQueue(ctx, humaneval.Queue{Tenant: "acme", Name: "x", Source: humaneval.Source{Type: humaneval.SourceEvalRun, RunID: "run-x"}}, "admin"); !errors.Is(err, humaneval.ErrNotFound) {
		t.Errorf("another tenant's run: %v", err)
	}
	f, err := svc.CreateQueue(ctx, humaneval.Queue{Tenant: "acme", Name: "f", Source: humaneval.Source{Type: humaneval.SourceFeedback, MaxRating: 2}}, "admin")
	if err != nil || f.ItemCount != 1 {
		t.Fatalf("from feedback = %+v, %v", f, err)
	}
	fi, _ := svc.Items(ctx, "acme", f.ID)
	if fi[0].References[0] != "good answer" || fi[0].Origin["request_id"] != "req-1" {
		t.Errorf("feedback item = %+v", fi[0])
	}
	// A sample draws a reproducible subset.
	draw := func() []string {
		q, err := svc.CreateQueue(ctx, humaneval.Queue{Tenant: "acme", Name: "d", Source: humaneval.Source{Type: humaneval.SourceSamples, Samples: samples(50, false), SampleSize: 5, Seed: 42}}, "admin")
		if err != nil {
			t.Fatal(err)
		}
		its, _ := svc.Items(ctx, "acme", q.ID)
		var ids []string
		for _, it := range its {
			ids = append(ids, it.ID)
		}
		return ids
	}
	a, b := draw(), draw()
	if len(a) != 5 || strings.Join(a, ",") != strings.Join(b, ",") || strings.Join(a, ",") == "s01,s02,s03,s04,s05" {
		t.Errorf("draws = %v and %v", a, b)
	}
}

func TestQueueValidation(t *testing.T) {
	svc := newService(t)
	cases := map[string]humaneval.Queue{
		"no tenant":         {Name: "q", Source: humaneval.Source{Type: humaneval.SourceSamples, Samples: samples(1, false)}},
		"bad kind":          {Tenant: "a", Name: "q", Kind: "vote", Source: humaneval.Source{Type: humaneval.SourceSamples, Samples: samples(1, false)}},
		"pairwise one text": {Tenant: "a", Name: "q", Kind: humaneval.KindPairwise, Source: humaneval.Source{Type: humaneval.SourceSamples, Samples: samples(1, false)}},
		"rubric two texts":  {Tenant: "a", Name: "q", Source: humaneval.Source{Type: humaneval.SourceSamples, Samples: samples(1, true)}},
		"pairwise feedback": {Tenant: "a", Name: "q", Kind: humaneval.KindPairwise, Source: humaneval.Source{Type: humaneval.SourceFeedback}},
		"no runs here":      {Tenant: "a", Name: "q", Source: humaneval.Source{Type: humaneval.SourceEvalRun, RunID: "r"}},
		"bad scale":         {Tenant: "a", Name: "q", Criteria: []humaneval.Criterion{{Name: "c", Min: 3, Max: 3}}, Source: humaneval.Source{Type: humaneval.SourceSamples, Samples: samples(1, false)}},
		"too many per item": {Tenant: "a", Name: "q", ReviewersPerItem: 11, Source: humaneval.Source{Type: humaneval.SourceSamples, Samples: samples(1, false)}},
		"unknown source":    {Tenant: "a", Name: "q", Source: humaneval.Source{Type: "logs"}},
	}
	for name, q := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := svc.CreateQueue(context.Background(), q, "admin"); !errors.Is(err, humaneval.ErrInvalid) {
				t.Errorf("err = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestDatasetVersionsAreSequentialUnderConcurrency(t *testing.T) {
	ctx := context.Background()
	svc := newService(t, humaneval.WithClock(func() time.Time { return time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC) }))
	q, err := svc.CreateQueue(ctx, humaneval.Queue{Tenant: "acme", Name: "q", ReviewersPerItem: 1,
		Source: humaneval.Source{Type: humaneval.SourceSamples, Samples: samples(1, false)}}, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Submit(ctx, "acme", humaneval.Review{QueueID: q.ID, ItemID: "s01", Reviewer: "ana", Scores: map[string]int{"correctness": 5, "helpfulness": 5}}); err != nil {
		t.Fatal(err)
	}
	const n = 4
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func() {
			_, err := svc.Publish(ctx, "acme", q.ID, humaneval.PublishRequest{Name: "gold"}, "admin")
			errs <- err
		}()
	}
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	d, err := svc.Dataset(ctx, "acme", "gold")
	if err != nil || d.Latest != n || len(d.Versions) != n {
		t.Errorf("dataset = %+v, %v", d, err)
	}
}
