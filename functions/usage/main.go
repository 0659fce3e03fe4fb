// Command usage drains the usage queue into the ledger: the SQS event source mapping
// delivers batches of usage records (partial batch failures reported), and an
// EventBridge schedule redrives the dead-letter queue.
//
// Environment: PLINTH_TABLE (required), PLINTH_USAGE_DLQ_URL.
package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/plinth-ai/plinth/shared/observe"
	"github.com/plinth-ai/plinth/shared/platform/awsplatform"
)

func main() {
	ctx := context.Background()
	log := observe.NewLogger(os.Stdout)
	handler, err := newHandler(ctx, awsplatform.ConfigFromEnv(), log)
	if err != nil {
		log.Error("usage init failed", "error", err)
		os.Exit(1)
	}
	lambda.Start(handler)
}

// newHandler is the function's story, once per cold start: its AWS backends, the
// platform built on them, and the part it serves (draining the usage queue).
func newHandler(ctx context.Context, cfg awsplatform.Config, log *slog.Logger) (func(context.Context, json.RawMessage) (any, error), error) {
	cfg.Logger = log
	cfg.UsageQueueURL = "" // this function drains the queue; it never spools to it
	p, err := awsplatform.New(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return awsplatform.UsageDrainHandler(p, cfg), nil
}
