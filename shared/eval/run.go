package eval

import (
	"time"

	"github.com/plinth-ai/plinth/shared/eval/judge"
	"github.com/plinth-ai/plinth/shared/eval/metrics"
	"github.com/plinth-ai/plinth/shared/provider"
)

// Run statuses.
const (
	StatusRunning   = "running"
	StatusSucceeded = "succeeded"
	StatusFailed    = "failed"
)

// Run is one evaluation of a suite.
type Run struct {
	ID      string `json:"id"`
	SuiteID string `json:"suite_id"`
	Tenant  string `json:"tenant"`
	Status  string `json:"status"`
	// Trigger says what started the run: "api", "schedule" or "flow".
	Trigger string `json:"trigger"`
	// Suite is the suite as it was when the run started (inline items omitted; the
	// dataset snapshot is at DatasetKey in the blob store).
	Suite       Suite  `json:"suite"`
	DatasetKey  string `json:"dataset_key,omitempty"`
	ItemCount   int    `json:"item_count"`
	FailedItems int    `json:"failed_items"`
	ExecutionID string `json:"execution_id,omitempty"`
	// Metrics are the aggregates, keyed by metric name.
	Metrics           map[string]float64              `json:"metrics"`
	Judge             map[judge.Rubric]*judge.Summary `json:"judge,omitempty"`
	TargetUsage       provider.Usage                  `json:"target_usage"`
	JudgeCostUSD      float64                         `json:"judge_cost_usd"`
	Passed            *bool                           `json:"passed,omitempty"`
	ThresholdFailures []ThresholdFailure              `json:"threshold_failures,omitempty"`
	BaselineRunID     string                          `json:"baseline_run_id,omitempty"`
	Regressions       []Regression                    `json:"regressions,omitempty"`
	Error             string                          `json:"error,omitempty"`
	ReportKey         string                          `json:"report_key,omitempty"`
	StartedAt         time.Time                       `json:"started_at"`
	FinishedAt        *time.Time                      `json:"finished_at,omitempty"`
	// ItemsPerSecond is ItemCount over the run's wall-clock time.
	ItemsPerSecond float64 `json:"items_per_second,omitempty"`
}

// ThresholdFailure is a metric that missed its pass mark.
type ThresholdFailure struct {
	Metric    string  `json:"metric"`
	Threshold float64 `json:"threshold"`
	Value     float64 `json:"value"`
}

// Regression is a metric that fell further than its tolerance from the baseline.
type Regression struct {
	Metric    string  `json:"metric"`
	Baseline  float64 `json:"baseline"`
	Current   float64 `json:"current"`
	Delta     float64 `json:"delta"`
	Tolerance float64 `json:"tolerance"`
}

// ItemResult is one item's output and scores within a run.
type ItemResult struct {
	Index int    `json:"index"`
	ID    string `json:"id"`
	Item  Item   `json:"item"`
	// Output is the target's answer (or the precomputed one).
	Output string `json:"output"`
	// Retrieved are the contexts the knowledge base returned, for RAG targets.
	Retrieved []string           `json:"retrieved,omitempty"`
	Error     string             `json:"error,omitempty"`
	Usage     provider.Usage     `json:"usage"`
	LatencyMS int64              `json:"latency_ms"`
	Scored    bool               `json:"scored"`
	Scores    map[string]float64 `json:"scores,omitempty"`
	BLEU      *metrics.BLEUStats `json:"bleu_stats,omitempty"`
	Verdicts  []judge.Verdict    `json:"verdicts,omitempty"`
}
