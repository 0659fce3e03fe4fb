// Command customize is the binary of every customisation state-machine task (Validate,
// StartTraining, CheckTraining, RecordTraining, RegisterModel, PrepareEvaluation,
// CompareEvaluation, RequestApproval, Promote, RecordRejection, Cleanup) and of the
// Bedrock job backstop: PLINTH_TASK names the task by its definition placeholder (e.g.
// ValidateFunctionArn), or is BedrockJobStateChange for the function EventBridge invokes
// with Bedrock's "Model Customization Job State Change" events. Failures report the
// task's error name (InvalidTrainingFile, TrainingFailed, …) as the Lambda errorType,
// which the definition's Catch records as the job's reason.
//
// Environment: PLINTH_TASK, PLINTH_TABLE, PLINTH_CUSTOMIZATION_BUCKET, PLINTH_EVAL_BUCKET
// (required), PLINTH_CUSTOMIZATION_KEY_ARN, PLINTH_CUSTOMIZATION_ROLE_ARN,
// PLINTH_CUSTOMIZATION_STATE_MACHINE_ARN (approvals resume the flow, the backstop stops
// it), PLINTH_PROVIDER_SECRET_ARN.
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
		log.Error("customisation task init failed", "error", err)
		os.Exit(1)
	}
	lambda.Start(handler)
}

// newHandler is the function's story, once per cold start: its AWS backends, the
// platform built on them, and the one task it runs.
func newHandler(ctx context.Context, cfg awsplatform.Config, task string, log *slog.Logger) (func(context.Context, json.RawMessage) (json.RawMessage, error), error) {
	cfg.Logger = log
	p, err := awsplatform.New(ctx, cfg)
	if err != nil {
		return nil, err
	}
	tasks, err := platform.CustomizeTasks(p)
	if err != nil {
		return nil, err
	}
	return platform.TaskHandler(tasks, task, platform.Flusher(p))
}
