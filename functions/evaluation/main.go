// Command evaluation is the binary of every evaluation state-machine task (LoadDataset,
// InvokeTarget, ScoreItem, Aggregate, StoreRun, CompareBaseline, PublishEvent):
// PLINTH_TASK names the task by its definition placeholder (e.g. LoadDatasetFunctionArn).
//
// Environment: PLINTH_TASK, PLINTH_TABLE, PLINTH_EVAL_BUCKET (required), PLINTH_EVENT_BUS
// (regression events), PLINTH_DOCUMENTS_BUCKET and PLINTH_INDEX_BUCKET (knowledge-base
// targets), PLINTH_PROVIDER_SECRET_ARN.
package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/plinth-ai/plinth/shared/observe"
	"github.com/plinth-ai/plinth/shared/platform"
	"github.com/plinth-ai/plinth/shared/platform/awsplatform"
)

func main() {
	ctx := context.Background()
	log := observe.NewLogger(os.Stdout).With("task", os.Getenv(platform.EnvTask))
	handler, err := newHandler(ctx, awsplatform.ConfigFromEnv(), os.Getenv(platform.EnvTask), log)
	if err != nil {
		log.Error("evaluation init failed", "error", err)
		os.Exit(1)
	}
	lambda.Start(handler)
}

// newHandler is the function's story, once per cold start: its AWS backends, the
// platform built on them, and the part of the platform it serves.
func newHandler(ctx context.Context, cfg awsplatform.Config, task string, log *slog.Logger) (func(context.Context, json.RawMessage) (json.RawMessage, error), error) {
	cfg.Logger = log
	p, err := awsplatform.New(ctx, cfg)
	if err != nil {
		return nil, err
	}
	tasks, err := platform.EvalTasks(p)
	if err != nil {
		return nil, err
	}
	return platform.TaskHandler(tasks, task, platform.Flusher(p))
}
