// Command ingest is the binary of every ingestion state-machine task (Prepare, Extract,
// Chunk, Embed, Index, MarkDocument, FailDocument, DeleteDocument): PLINTH_TASK names the
// task by its definition placeholder (e.g. ExtractFunctionArn). Failures report the
// task's error name (TransientError, DocumentError) as the Lambda errorType, which the
// definition's Retry and Catch match.
//
// Environment: PLINTH_TASK, PLINTH_TABLE, PLINTH_DOCUMENTS_BUCKET, PLINTH_INDEX_BUCKET
// (required), PLINTH_PROVIDER_SECRET_ARN.
//
// With PLINTH_TASK=TenantIngest it is instead a hybrid tenant stack's ingestion function
// (package tenantingest): S3 event notifications of the tenant's documents bucket, no
// table, embeddings from the central gateway. Environment: PLINTH_TENANT,
// PLINTH_DOCUMENTS_BUCKET, PLINTH_INDEX_BUCKET, PLINTH_GATEWAY_URL (the central IAM
// API), PLINTH_GATEWAY_AUTH=sigv4, optional PLINTH_GATEWAY_REGION (default: the URL's),
// PLINTH_EMBEDDING_MODEL (default local-embed), PLINTH_INDEX_BACKEND and
// PLINTH_VECTOR_BUCKET for S3 Vectors.
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
	"github.com/plinth-ai/plinth/shared/rag/tenantingest"
)

func main() {
	ctx := context.Background()
	log := observe.NewLogger(os.Stdout).With("task", os.Getenv(platform.EnvTask))
	if os.Getenv(platform.EnvTask) == tenantingest.Task {
		handler, err := newTenantHandler(ctx, awsplatform.ConfigFromEnv(), os.Getenv, log)
		if err != nil {
			log.Error("tenant ingest init failed", "error", err)
			os.Exit(1)
		}
		lambda.Start(handler)
		return
	}
	handler, err := newHandler(ctx, awsplatform.ConfigFromEnv(), os.Getenv(platform.EnvTask), log)
	if err != nil {
		log.Error("ingest init failed", "error", err)
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
	tasks, err := platform.IngestTasks(p)
	if err != nil {
		return nil, err
	}
	return platform.TaskHandler(tasks, task, platform.Flusher(p))
}
