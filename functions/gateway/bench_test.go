package main

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/plinth-ai/plinth/shared/platform/awsplatform"
)

// BenchmarkColdInit measures what a cold start spends in newHandler: the default AWS
// configuration chain (credentials from the environment, as Lambda provides them), the
// DynamoDB client, the registry, tenants, usage recorder and the gateway routes. No AWS
// call is made during init; clients the gateway does not need are not created.
func BenchmarkColdInit(b *testing.B) {
	b.Setenv("AWS_REGION", "eu-west-1")
	b.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	b.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	b.Setenv("AWS_SESSION_TOKEN", "token")
	b.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	b.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	cfg := awsplatform.Config{Table: "plinth", ProviderSecretARN: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:p", EvalBucket: "evals"}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := newHandler(context.Background(), cfg, log); err != nil {
			b.Fatal(err)
		}
	}
}
