// Command gateway is the model gateway's Lambda function: every /v1 model route
// (chat completions, embeddings, models, usage, feedback) plus /healthz and
// /openapi.json, behind API Gateway REST integrations with response streaming, so
// server-sent events reach clients as the model produces them.
//
// Environment: PLINTH_TABLE (required), PLINTH_PROVIDER_SECRET_ARN (provider keys),
// PLINTH_EVAL_BUCKET (enables /v1/feedback), PLINTH_MCP_OAUTH_ISSUER,
// PLINTH_MCP_OAUTH_JWKS_URL and PLINTH_MCP_RESOURCE (OAuth access tokens on /mcp).
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
		log.Error("gateway init failed", "error", err)
		os.Exit(1)
	}
	lambda.Start(handler)
}

// newHandler is the function's story, once per cold start: its AWS backends, the
// platform built on them, and the part of the platform it serves.
func newHandler(ctx context.Context, cfg awsplatform.Config, log *slog.Logger) (func(context.Context, events.APIGatewayProxyRequest) (*events.APIGatewayProxyStreamingResponse, error), error) {
	cfg.Logger = log
	p, err := awsplatform.New(ctx, cfg)
	if err != nil {
		return nil, err
	}
	edge, err := platform.GatewayEdge(p, os.Getenv)
	if err != nil {
		return nil, err
	}
	h, err := platform.Handler(p, edge, platform.GatewayAPIs()...)
	if err != nil {
		return nil, err
	}
	return platform.StreamingHandler(h, platform.Flusher(p)), nil
}
