// Command finetuning is the fine-tuning API's Lambda function: OpenAI's files and
// fine-tuning endpoints for tenants (/v1/files, /v1/fine_tuning/jobs/...), behind a
// buffered API Gateway REST proxy integration with the key authorizer. Uploads are
// multipart/form-data, one of the API's binary media types, so they arrive
// base64-encoded and the proxy adapter decodes them; a job starts the customisation
// state machine, named after the job.
//
// Environment: PLINTH_TABLE, PLINTH_CUSTOMIZATION_BUCKET, PLINTH_EVAL_BUCKET (required),
// PLINTH_CUSTOMIZATION_KEY_ARN, PLINTH_CUSTOMIZATION_ROLE_ARN (Bedrock base models),
// PLINTH_CUSTOMIZATION_STATE_MACHINE_ARN, PLINTH_PROVIDER_SECRET_ARN.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/plinth-ai/plinth/shared/observe"
	"github.com/plinth-ai/plinth/shared/platform"
	"github.com/plinth-ai/plinth/shared/platform/awsplatform"
)

func main() {
	ctx := context.Background()
	log := observe.NewLogger(os.Stdout)
	handler, err := newHandler(ctx, awsplatform.ConfigFromEnv(), log)
	if err != nil {
		log.Error("fine-tuning init failed", "error", err)
		os.Exit(1)
	}
	lambda.Start(handler)
}

// newHandler is the function's story, once per cold start: its AWS backends, the
// platform built on them, and the part of the platform it serves.
func newHandler(ctx context.Context, cfg awsplatform.Config, log *slog.Logger) (func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error), error) {
	cfg.Logger = log
	p, err := awsplatform.New(ctx, cfg)
	if err != nil {
		return nil, err
	}
	h, err := platform.Handler(p, platform.TenantEdge(p), platform.FineTuningAPIs()...)
	if err != nil {
		return nil, err
	}
	return platform.BufferedHandler(h, platform.Flusher(p)), nil
}
