package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	miniserver "github.com/truora/minidyn/server"

	"github.com/plinth-ai/plinth/shared/platform/awsplatform"
	"github.com/plinth-ai/plinth/shared/store/dynamostore"
	"github.com/plinth-ai/plinth/shared/usage"
	"github.com/plinth-ai/plinth/test/dynalite"
)

// TestDrainsTheUsageQueueIntoTheLedger delivers the sample SQS batch to the usage
// function on DynamoDB (minidyn): the two records land in the ledger, the unreadable
// message is reported as a batch item failure (so it ends in the dead-letter queue, not
// nowhere), and a redelivery of the same batch counts nothing twice.
func TestDrainsTheUsageQueueIntoTheLedger(t *testing.T) {
	ctx := context.Background()
	db := httptest.NewServer(miniserver.NewServer())
	t.Cleanup(db.Close)
	ddb := dynalite.Client(db.URL)
	if err := dynamostore.CreateTable(ctx, ddb, "plinth"); err != nil {
		t.Fatal(err)
	}
	sdk := aws.Config{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")}
	h, err := newHandler(ctx, awsplatform.Config{Table: "plinth", AWS: &sdk, DynamoDB: ddb}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join("..", "..", "events", "sqs-usage.json"))
	if err != nil {
		t.Fatal(err)
	}
	for delivery := 1; delivery <= 2; delivery++ {
		out, err := h(ctx, raw)
		if err != nil {
			t.Fatal(err)
		}
		resp, ok := out.(events.SQSEventResponse)
		if !ok || len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "5c1a0c7e-0d2f-4a43-9f0e-3e1b4a7c9d11" {
			t.Fatalf("delivery %d: %+v, want the unreadable message reported", delivery, out)
		}
	}
	at := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	st, err := dynamostore.New(ddb, "plinth", dynamostore.WithClock(func() time.Time { return at }))
	if err != nil {
		t.Fatal(err)
	}
	rg, _ := usage.ParseRange("2026-11-24", "2026-11-24", at)
	_, total, err := usage.NewService(st, nil).Summary(ctx, "acme", rg, "day")
	if err != nil {
		t.Fatal(err)
	}
	if total.Requests != 2 || total.InputTokens != 50 || total.OutputTokens != 17 {
		t.Fatalf("ledger totals %+v, want 2 requests, 50 input and 17 output tokens", total)
	}
	if _, err := h(ctx, json.RawMessage(`{"detail-type":"Scheduled Event","source":"aws.events"}`)); err == nil {
		t.Fatal("a redrive without PLINTH_USAGE_DLQ_URL succeeded")
	}
}
