// Command guardrails is the guardrails Lambda function: POST /v1/guardrails/apply for
// tenants' API keys (Amazon Bedrock ApplyGuardrail's request and response shapes),
// behind a buffered API Gateway REST proxy integration.
//
// Environment: PLINTH_TABLE (required).
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
		log.Error("guardrails init failed", "error", err)
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
	h, err := platform.Handler(p, platform.TenantEdge(p), platform.GuardrailsAPIs()...)
	if err != nil {
		return nil, err
	}
	return platform.BufferedHandler(h, platform.Flusher(p)), nil
}
