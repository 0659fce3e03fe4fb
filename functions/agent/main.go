// Command agent is the binary of every task of the durable agent run state machine
// (ModelStep, AwaitApproval, CallTool, Collect, MarkFailed): PLINTH_TASK names the task by
// its definition placeholder (e.g. AgentModelStepFunctionArn).
//
// Environment: PLINTH_TASK, PLINTH_TABLE (required), PLINTH_PROVIDER_SECRET_ARN,
// PLINTH_AGENT_STATE_MACHINE_ARN (approvals resume the run on it).
package main

import (
	"context"
	"encoding/json"
	"fmt"
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
		log.Error("agent task init failed", "error", err)
		os.Exit(1)
	}
	lambda.Start(handler)
}

// newHandler builds the function's backends, the platform on them, and the one agent
// task this function runs.
func newHandler(ctx context.Context, cfg awsplatform.Config, task string, log *slog.Logger) (func(context.Context, json.RawMessage) (json.RawMessage, error), error) {
	cfg.Logger = log
	p, err := awsplatform.New(ctx, cfg)
	if err != nil {
		return nil, err
	}
	tasks, err := platform.AgentTasks(p)
	if err != nil {
		return nil, err
	}
	if tasks == nil {
		return nil, fmt.Errorf("durable agent runs need %s", platform.EnvAgentStateMachineARN)
	}
	return platform.TaskHandler(tasks, task, platform.Flusher(p))
}
