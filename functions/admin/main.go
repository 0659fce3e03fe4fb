// Command admin is the admin API's Lambda function: /admin/... (registry, tenants and
// keys, usage reports, guardrail policies, knowledge bases, evaluation suites and runs)
// behind a buffered API Gateway REST proxy integration with AWS_IAM authorization;
// every IAM principal API Gateway admits is a platform admin.
//
// Environment: PLINTH_TABLE (required), PLINTH_DOCUMENTS_BUCKET and PLINTH_INDEX_BUCKET
// (knowledge bases), PLINTH_EVAL_BUCKET and PLINTH_EVALUATION_STATE_MACHINE_ARN
// (evaluation suites and runs), PLINTH_EVENT_BUS, PLINTH_PROVIDER_SECRET_ARN.
//
// Decentralised mode (PLINTH_CENTRAL_URL with PLINTH_CENTRAL_AUTH=sigv4 and
// PLINTH_CENTRAL_REGION, PLINTH_CENTRAL_SYNC_INTERVAL): the function pulls the central
// registry and guardrail baseline at each cold start and when the stack's schedule rule
// invokes it with {"plinth":"central-sync"} (platform.AdminLambdaHandler), and keeps what
// came from the centre read-only on the admin API.
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
	log := observe.NewLogger(os.Stdout)
	handler, err := newHandler(ctx, awsplatform.ConfigFromEnv(), log)
	if err != nil {
		log.Error("admin init failed", "error", err)
		os.Exit(1)
	}
	lambda.Start(handler)
}

// newHandler is the function's story, once per cold start: its AWS backends, the
// platform built on them, and the part of the platform it serves.
func newHandler(ctx context.Context, cfg awsplatform.Config, log *slog.Logger) (func(context.Context, json.RawMessage) (any, error), error) {
	cfg.Logger = log
	p, err := awsplatform.New(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := p.Registry.SeedBuiltins(ctx); err != nil { // the built-in models, on first use of a table
		return nil, err
	}
	h, err := platform.Handler(p, platform.AdminEdge(p), platform.AdminAPIs()...)
	if err != nil {
		return nil, err
	}
	platform.SyncAtColdStart(ctx, p) // decentralised: the centre's registry and baseline before the first request
	return platform.AdminLambdaHandler(p, h), nil
}
