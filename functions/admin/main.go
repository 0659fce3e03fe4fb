// Command admin is the admin API's Lambda function: /admin/... (registry, tenants and
// keys, usage reports, guardrail policies, knowledge bases, evaluation suites and runs)
// behind a buffered API Gateway REST proxy integration with AWS_IAM authorization;
// every IAM principal API Gateway admits is a platform admin.
//
// Environment: PLINTH_TABLE (required), PLINTH_DOCUMENTS_BUCKET and PLINTH_INDEX_BUCKET
// (knowledge bases), PLINTH_EVAL_BUCKET and PLINTH_EVALUATION_STATE_MACHINE_ARN
// (evaluation suites and runs), PLINTH_EVENT_BUS, PLINTH_PROVIDER_SECRET_ARN.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/plinth-ai/plinth/shared/observe"
	"github.com/plinth-ai/plinth/shared/platform"
)

func main() {
	log := observe.NewLogger(os.Stdout)
	handler, err := newHandler(context.Background(), platform.AWSConfigFromEnv(), log)
	if err != nil {
		log.Error("admin init failed", "error", err)
		os.Exit(1)
	}
	lambda.Start(handler)
}

// newHandler builds the platform once per cold start and returns the proxy handler.
func newHandler(ctx context.Context, cfg platform.AWSConfig, log *slog.Logger) (func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error), error) {
	cfg.Logger = log
	a, err := platform.NewAWS(ctx, cfg)
	if err != nil {
		return nil, err
	}
	h, err := platform.AdminHandler(ctx, a)
	if err != nil {
		return nil, err
	}
	return platform.BufferedHandler(h, func(ctx context.Context) { _ = a.Flush(ctx) }), nil
}
