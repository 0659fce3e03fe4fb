package eval

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/plinth-ai/plinth/shared/blob"
	"github.com/plinth-ai/plinth/shared/eval/judge"
	"github.com/plinth-ai/plinth/shared/provider"
)

// TaskFunc is the signature of a state-machine task handler (a Lambda function body).
type TaskFunc = func(ctx context.Context, in json.RawMessage) (json.RawMessage, error)

// Placeholder names of the evaluation state machine's task resources.
const (
	TaskLoadDataset     = "LoadDatasetFunctionArn"
	TaskInvokeTarget    = "InvokeTargetFunctionArn"
	TaskScoreItem       = "ScoreItemFunctionArn"
	TaskAggregate       = "AggregateFunctionArn"
	TaskStoreRun        = "StoreRunFunctionArn"
	TaskCompareBaseline = "CompareBaselineFunctionArn"
	TaskPublishEvent    = "PublishEventFunctionArn"
)

// DefaultMaxConcurrency is the Map state's concurrency when the input gives none.
const DefaultMaxConcurrency = 4

// Tasks returns the handler of every task of statemachines/evaluation.asl.json, keyed
// by the placeholder that names its function.
func (s *Service) Tasks() map[string]TaskFunc {
	return map[string]TaskFunc{
		TaskLoadDataset:     task(s.LoadDataset),
		TaskInvokeTarget:    task(s.InvokeTarget),
		TaskScoreItem:       task(s.ScoreBatch),
		TaskAggregate:       task(s.Aggregate),
		TaskStoreRun:        task(s.StoreRun),
		TaskCompareBaseline: task(s.CompareBaseline),
		TaskPublishEvent:    task(s.PublishEvent),
	}
}

func task[In, Out any](f func(context.Context, In) (Out, error)) TaskFunc {
	return func(ctx context.Context, raw json.RawMessage) (json.RawMessage, error) {
		var in In
		if err := json.Unmarshal(raw, &in); err != nil {
			return nil, fmt.Errorf("decode task input: %v: %w", err, ErrInvalid)
		}
		out, err := f(ctx, in)
		if err != nil {
			return nil, err
		}
		return json.Marshal(out)
	}
}

// Batch is one Map iteration: the items with indexes [Start, End) of a run, carried
// inline when the dataset is small.
type Batch struct {
	RunID string `json:"run_id"`
	Start int    `json:"start"`
	End   int    `json:"end"`
	Items []Item `json:"items,omitempty"`
}

// Loaded is LoadDataset's output, the state the rest of the flow works from.
type Loaded struct {
	RunID          string  `json:"run_id"`
	SuiteID        string  `json:"suite_id"`
	Tenant         string  `json:"tenant"`
	ItemCount      int     `json:"item_count"`
	MaxConcurrency int     `json:"max_concurrency"`
	Batches        []Batch `json:"batches"`
}

// LoadDataset loads and validates the suite's dataset, snapshots it for the run
// (creating the run when a schedule started the flow) and splits it into batches.
func (s *Service) LoadDataset(ctx context.Context, in FlowInput) (*Loaded, error) {
	su, err := s.GetSuite(ctx, in.Tenant, in.SuiteID)
	if err != nil {
		return nil, err
	}
	var r *Run
	if in.RunID == "" {
		trigger := in.Trigger
		if trigger == "" {
			trigger = "flow"
		}
		if r, err = s.newRun(ctx, su, trigger); err != nil {
			return nil, err
		}
	} else if r, err = s.GetRun(ctx, in.RunID); err != nil {
		return nil, err
	}
	items, err := s.loadDataset(ctx, su)
	if err != nil {
		return nil, err
	}
	key := snapshotKey(r)
	if err := s.writeSnapshot(ctx, key, items); err != nil {
		return nil, err
	}
	if _, err := s.updateRun(ctx, r.ID, func(r *Run) error {
		r.DatasetKey, r.ItemCount = key, len(items)
		return nil
	}); err != nil {
		return nil, err
	}
	size, _ := json.Marshal(items)
	inline := len(size) <= s.inlineLimit
	out := &Loaded{RunID: r.ID, SuiteID: su.ID, Tenant: su.Tenant, ItemCount: len(items), MaxConcurrency: in.MaxConcurrency}
	if out.MaxConcurrency <= 0 {
		out.MaxConcurrency = DefaultMaxConcurrency
	}
	for start := 0; start < len(items); start += s.batchSize {
		b := Batch{RunID: r.ID, Start: start, End: min(start+s.batchSize, len(items))}
		if inline {
			b.Items = items[b.Start:b.End]
		}
		out.Batches = append(out.Batches, b)
	}
	return out, nil
}

// BatchDone is the small result of a Map iteration's tasks.
type BatchDone struct {
	RunID  string `json:"run_id"`
	Start  int    `json:"start"`
	End    int    `json:"end"`
	Failed int    `json:"failed"`
}

// InvokeTarget answers every item of the batch (items with a precomputed output are
// taken as they are) and stores the outputs. A failed call is recorded on its item and
// does not stop the run.
func (s *Service) InvokeTarget(ctx context.Context, b Batch) (*BatchDone, error) {
	r, err := s.GetRun(ctx, b.RunID)
	if err != nil {
		return nil, err
	}
	items := b.Items
	if items == nil {
		all, err := s.snapshot(ctx, r.DatasetKey)
		if err != nil {
			return nil, err
		}
		if b.Start < 0 || b.End > len(all) || b.Start > b.End {
			return nil, fmt.Errorf("batch [%d,%d) outside dataset of %d items: %w", b.Start, b.End, len(all), ErrInvalid)
		}
		items = all[b.Start:b.End]
	}
	done := &BatchDone{RunID: b.RunID, Start: b.Start, End: b.Start + len(items)}
	for i := range items {
		res := &ItemResult{Index: b.Start + i, ID: items[i].ID, Item: items[i]}
		if err := s.invoke(ctx, &r.Suite, res); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			res.Error = err.Error()
			done.Failed++
		}
		if err := s.putItemResult(ctx, r.ID, res); err != nil {
			return nil, err
		}
	}
	return done, nil
}

func (s *Service) invoke(ctx context.Context, su *Suite, res *ItemResult) error {
	it := &res.Item
	if it.Output != nil {
		res.Output = *it.Output
		return nil
	}
	contexts := it.Contexts
	if su.Target.KnowledgeBase != "" {
		if s.retriever == nil {
			return errors.New("knowledge-base targets are not available here")
		}
		topK := su.Target.TopK
		if topK == 0 {
			topK = 4
		}
		got, err := s.retriever.Retrieve(ctx, su.Tenant, su.Target.KnowledgeBase, it.question(), topK)
		if err != nil {
			return fmt.Errorf("retrieve from %s: %w", su.Target.KnowledgeBase, err)
		}
		res.Retrieved, contexts = got, got
	}
	start := time.Now()
	resp, err := s.target.Chat(ctx, su.Tenant, BuildRequest(su.Target, it, contexts))
	res.LatencyMS = time.Since(start).Milliseconds()
	if err != nil {
		return fmt.Errorf("invoke %s: %w", su.Target.Model, err)
	}
	if resp.Usage != nil {
		res.Usage = *resp.Usage
	}
	if len(resp.Choices) == 0 {
		return fmt.Errorf("invoke %s: response has no choices", su.Target.Model)
	}
	res.Output = resp.Choices[0].Message.Content.String()
	return nil
}

// judgeFor returns the suite's judge, calling through the judge port as the tenant.
func (s *Service) judgeFor(su *Suite) (*judge.Judge, error) {
	if su.Judge == nil {
		return nil, nil
	}
	via := s.judge
	if via == nil {
		via = s.target
	}
	chat := func(ctx context.Context, req *provider.ChatRequest) (*provider.ChatResponse, error) {
		return via.Chat(ctx, su.Tenant, req)
	}
	opts := []judge.Option{judge.WithPrices(su.Judge.Prices)}
	if su.Judge.MaxAttempts > 0 {
		opts = append(opts, judge.WithMaxAttempts(su.Judge.MaxAttempts))
	}
	return judge.New(chat, su.Judge.Model, opts...)
}

// ScoreBatch scores the stored outputs of the batch's items and stores the scores.
func (s *Service) ScoreBatch(ctx context.Context, b BatchDone) (*BatchDone, error) {
	r, err := s.GetRun(ctx, b.RunID)
	if err != nil {
		return nil, err
	}
	jd, err := s.judgeFor(&r.Suite)
	if err != nil {
		return nil, err
	}
	results, err := s.itemResults(ctx, r.ID, b.Start, b.End)
	if err != nil {
		return nil, err
	}
	done := &BatchDone{RunID: b.RunID, Start: b.Start, End: b.End}
	for i := range results {
		res := &results[i]
		if res.Error != "" {
			done.Failed++
			continue
		}
		if err := s.scoreItem(ctx, &r.Suite, jd, res); err != nil {
			return nil, err
		}
		if err := s.putItemResult(ctx, r.ID, res); err != nil {
			return nil, err
		}
	}
	return done, nil
}

// RunRef names a run in the flow's later states.
type RunRef struct {
	RunID   string `json:"run_id"`
	SuiteID string `json:"suite_id,omitempty"`
}

// Aggregated is Aggregate's output.
type Aggregated struct {
	RunID   string `json:"run_id"`
	SuiteID string `json:"suite_id"`
	Status  string `json:"status"`
	Aggregate
}

// Aggregate computes the run's metrics from the stored item results.
func (s *Service) Aggregate(ctx context.Context, in RunRef) (*Aggregated, error) {
	r, err := s.GetRun(ctx, in.RunID)
	if err != nil {
		return nil, err
	}
	results, err := s.RunItems(ctx, r.ID)
	if err != nil {
		return nil, err
	}
	if len(results) != r.ItemCount {
		return nil, fmt.Errorf("run %s has %d of %d item results", r.ID, len(results), r.ItemCount)
	}
	agg := aggregate(&r.Suite, results)
	if agg.ItemCount > 0 && agg.FailedItems == agg.ItemCount {
		return nil, fmt.Errorf("run %s: every item failed (first: %s)", r.ID, results[0].Error)
	}
	return &Aggregated{RunID: r.ID, SuiteID: r.SuiteID, Status: StatusSucceeded, Aggregate: agg}, nil
}

// FlowError is the {"Error","Cause"} object a Catch puts in the state.
type FlowError struct {
	Error string `json:"Error"`
	Cause string `json:"Cause"`
}

// StoreInput is StoreRun's input: an aggregate to record, or a failure. Tenant is the
// flow input's, for a failure before the run existed.
type StoreInput struct {
	Aggregated
	Tenant  string     `json:"tenant,omitempty"`
	Failure *FlowError `json:"error,omitempty"`
}

// StoreRun records the run's outcome: succeeded with its aggregates, or failed with
// the flow's error. A failure before the run existed creates a failed run.
func (s *Service) StoreRun(ctx context.Context, in StoreInput) (*RunRef, error) {
	if in.Failure != nil || in.Status == StatusFailed {
		msg := "evaluation flow failed"
		if in.Failure != nil {
			msg = in.Failure.Error + ": " + in.Failure.Cause
		}
		if in.RunID == "" {
			su, err := s.GetSuite(ctx, in.Tenant, in.SuiteID)
			if err != nil {
				return nil, err
			}
			r, err := s.newRun(ctx, su, "flow")
			if err != nil {
				return nil, err
			}
			in.RunID = r.ID
		}
		// Items scored before the failure (e.g. when every one of them failed) say what
		// went wrong; count them so the run reports its failed items.
		failed := 0
		if results, err := s.RunItems(ctx, in.RunID); err == nil {
			for _, res := range results {
				if res.Error != "" {
					failed++
				}
			}
		}
		r, err := s.updateRun(ctx, in.RunID, func(r *Run) error {
			s.fail(r, msg)
			r.FailedItems = max(r.FailedItems, failed)
			return nil
		})
		if err != nil {
			return nil, err
		}
		return &RunRef{RunID: r.ID, SuiteID: r.SuiteID}, nil
	}
	r, err := s.updateRun(ctx, in.RunID, func(r *Run) error {
		now := s.now().UTC()
		a := in.Aggregate
		r.Status, r.FinishedAt = StatusSucceeded, &now
		r.Metrics, r.Judge, r.FailedItems = a.Metrics, a.Judge, a.FailedItems
		r.TargetUsage, r.JudgeCostUSD = a.TargetUsage, a.JudgeCostUSD
		r.Passed, r.ThresholdFailures = a.Passed, a.ThresholdFailures
		if secs := now.Sub(r.StartedAt).Seconds(); secs > 0 {
			r.ItemsPerSecond = float64(r.ItemCount) / secs
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &RunRef{RunID: r.ID, SuiteID: r.SuiteID}, nil
}

// Compared is CompareBaseline's output.
type Compared struct {
	RunID         string       `json:"run_id"`
	SuiteID       string       `json:"suite_id"`
	BaselineRunID string       `json:"baseline_run_id,omitempty"`
	Regressed     bool         `json:"regressed"`
	Regressions   []Regression `json:"regressions,omitempty"`
}

// CompareBaseline compares the run with its baseline under the suite's policy and
// records the regressions.
func (s *Service) CompareBaseline(ctx context.Context, in RunRef) (*Compared, error) {
	r, err := s.GetRun(ctx, in.RunID)
	if err != nil {
		return nil, err
	}
	base, err := s.baselineOf(ctx, r)
	if err != nil {
		return nil, err
	}
	out := &Compared{RunID: r.ID, SuiteID: r.SuiteID}
	if base == nil {
		return out, nil
	}
	regs := compare(r.Suite.Baseline, base.Metrics, r.Metrics)
	_, err = s.updateRun(ctx, r.ID, func(r *Run) error {
		r.BaselineRunID, r.Regressions = base.ID, regs
		return nil
	})
	if err != nil {
		return nil, err
	}
	out.BaselineRunID, out.Regressions, out.Regressed = base.ID, regs, len(regs) > 0
	return out, nil
}

// baselineOf finds the run r is compared with, or nil.
func (s *Service) baselineOf(ctx context.Context, r *Run) (*runSummary, error) {
	switch r.Suite.Baseline.Mode {
	case BaselineNone:
		return nil, nil
	case BaselineFixed:
		b, err := s.GetRun(ctx, r.Suite.Baseline.RunID)
		if err != nil {
			return nil, fmt.Errorf("baseline: %w", err)
		}
		if b.Status != StatusSucceeded {
			return nil, nil
		}
		return &runSummary{ID: b.ID, Metrics: b.Metrics}, nil
	}
	sums, err := s.runSummaries(ctx, r.Tenant, r.SuiteID, 0)
	if err != nil {
		return nil, err
	}
	for i := range sums {
		sm := &sums[i]
		if sm.ID != r.ID && sm.Status == StatusSucceeded && sm.StartedAt.Before(r.StartedAt) {
			return sm, nil
		}
	}
	return nil, nil
}

// Published is PublishEvent's output.
type Published struct {
	RunID     string   `json:"run_id"`
	Status    string   `json:"status"`
	Regressed bool     `json:"regressed"`
	Events    []string `json:"events"`
	ReportKey string   `json:"report_key,omitempty"`
}

// PublishEvent saves the run's HTML report and the suite's trend page in the blob
// store and publishes "Evaluation
// Completed" (also for failed runs, with status failed) and, when metrics fell,
// "Evaluation Regressed".
func (s *Service) PublishEvent(ctx context.Context, in RunRef) (*Published, error) {
	r, err := s.GetRun(ctx, in.RunID)
	if err != nil {
		return nil, err
	}
	if r.Status == StatusSucceeded {
		var buf bytes.Buffer
		if err := s.WriteReport(ctx, &buf, r); err != nil {
			return nil, err
		}
		key := ReportKey(r)
		if _, err := s.blobs.Put(ctx, key, &buf, blob.PutOptions{ContentType: "text/html; charset=utf-8"}); err != nil {
			return nil, fmt.Errorf("store report: %w", err)
		}
		if r, err = s.updateRun(ctx, r.ID, func(r *Run) error { r.ReportKey = key; return nil }); err != nil {
			return nil, err
		}
		buf.Reset()
		if err := s.WriteTrend(ctx, &buf, &r.Suite); err != nil {
			return nil, err
		}
		if _, err := s.blobs.Put(ctx, TrendKey(r.Tenant, r.SuiteID), &buf, blob.PutOptions{ContentType: "text/html; charset=utf-8"}); err != nil {
			return nil, fmt.Errorf("store trend: %w", err)
		}
	}
	detail := EventDetail{
		Tenant: r.Tenant, SuiteID: r.SuiteID, RunID: r.ID, Status: r.Status, Metrics: r.Metrics,
		Passed: r.Passed, ThresholdFailures: r.ThresholdFailures, BaselineRunID: r.BaselineRunID,
		ItemCount: r.ItemCount, FailedItems: r.FailedItems, ReportKey: r.ReportKey, Error: r.Error,
	}
	now := s.now().UTC()
	resources := []string{"plinth:evaluation:" + r.Tenant + ":suite/" + r.SuiteID + "/run/" + r.ID}
	mk := func(dt string, d EventDetail) Event {
		b, _ := json.Marshal(d)
		return Event{Source: EventSource, DetailType: dt, Detail: b, Resources: resources, Time: now}
	}
	events := []Event{mk(DetailTypeCompleted, detail)}
	if len(r.Regressions) > 0 {
		d := detail
		d.Regressions = r.Regressions
		events = append(events, mk(DetailTypeRegressed, d))
	}
	if err := s.events.Publish(ctx, events...); err != nil {
		return nil, fmt.Errorf("publish evaluation events: %w", err)
	}
	out := &Published{RunID: r.ID, Status: r.Status, Regressed: len(r.Regressions) > 0, ReportKey: r.ReportKey}
	for _, e := range events {
		out.Events = append(out.Events, e.DetailType)
	}
	s.log.Info("evaluation run finished", "tenant", r.Tenant, "suite", r.SuiteID, "run", r.ID,
		"status", r.Status, "items", r.ItemCount, "regressions", len(r.Regressions))
	return out, nil
}
