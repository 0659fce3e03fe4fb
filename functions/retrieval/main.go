// Command retrieval is the knowledge-base Lambda function: /v1/knowledge-bases/{kb}/...
// (document upload, listing and deletion, retrieval, grounded answers) for tenants' API
// keys, behind a buffered API Gateway REST proxy integration. Uploaded documents land in
// the documents bucket, whose EventBridge notifications start ingestion.
//
// Environment: PLINTH_TABLE, PLINTH_DOCUMENTS_BUCKET, PLINTH_INDEX_BUCKET (required),
// PLINTH_PROVIDER_SECRET_ARN.
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
		log.Error("retrieval init failed", "error", err)
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
	h, err := platform.RetrievalHandler(a)
	if err != nil {
		return nil, err
	}
	return platform.BufferedHandler(h, func(ctx context.Context) { _ = a.Flush(ctx) }), nil
}
