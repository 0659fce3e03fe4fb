package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	miniserver "github.com/truora/minidyn/server"

	"github.com/plinth-ai/plinth/shared/platform"
	"github.com/plinth-ai/plinth/shared/platform/awsplatform"
	"github.com/plinth-ai/plinth/shared/store/dynamostore"
	"github.com/plinth-ai/plinth/shared/usage"
	"github.com/plinth-ai/plinth/test/dynalite"
	"github.com/plinth-ai/plinth/test/fauxqs"
)

// wire records what the SDK's SQS client put on the wire.
type wire struct {
	mu       sync.Mutex
	targets  map[string]int
	badTypes []string
	next     http.RoundTripper
}

func (w *wire) RoundTrip(r *http.Request) (*http.Response, error) {
	target, ct := r.Header.Get("X-Amz-Target"), r.Header.Get("Content-Type")
	resp, err := w.next.RoundTrip(r)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.targets[target]++
	if r.Method != http.MethodPost || r.URL.Path != "/" || ct != "application/x-amz-json-1.0" || !strings.HasPrefix(target, "AmazonSQS.") {
		w.badTypes = append(w.badTypes, fmt.Sprintf("%s %s %q %q", r.Method, r.URL.Path, target, ct))
	}
	if err == nil && !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/x-amz-json-1.0") {
		w.badTypes = append(w.badTypes, fmt.Sprintf("%s answered %q", target, resp.Header.Get("Content-Type")))
	}
	return resp, err
}

// outage fails every DynamoDB write (500 InternalServerError) while it is on.
type outage struct {
	on   atomic.Bool
	next http.RoundTripper
}

func (o *outage) RoundTrip(r *http.Request) (*http.Response, error) {
	target := r.Header.Get("X-Amz-Target")
	write := strings.HasSuffix(target, "TransactWriteItems") || strings.HasSuffix(target, "PutItem") ||
		strings.HasSuffix(target, "UpdateItem") || strings.HasSuffix(target, "BatchWriteItem")
	if o.on.Load() && write {
		body := `{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"injected outage"}`
		return &http.Response{StatusCode: 500, Status: "500 Internal Server Error", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{"Content-Type": {"application/x-amz-json-1.0"}}, Body: io.NopCloser(strings.NewReader(body)),
			ContentLength: int64(len(body)), Request: r}, nil
	}
	return o.next.RoundTrip(r)
}

// TestUsageThroughSQSOnTheWire sends usage records through the gateway's SQS spool to a
// queue of a real SQS wire-format emulator (fauxqs: the AWS JSON protocol), and drains it
// with the usage function as Lambda's event source mapping would (receive, invoke,
// delete what was stored, make the reported failures visible again): records sent
// while DynamoDB refuses writes exhaust their receives and move to the dead-letter
// queue by the queue's redrive policy; records sent later drain directly, one batch of
// them delivered twice; the scheduled redrive then stores the dead-lettered ones. Every
// record is in the ledger, counted once, and every SQS call used the JSON protocol.
//
// Nothing here depends on how fast the machine is: a received message comes back only
// when the test, as the event source mapping, makes it visible again (its visibility
// timeout is the longest SQS allows), and a drain ends on an empty receive with nothing
// left in flight, which the test checks rather than assumes.
func TestUsageThroughSQSOnTheWire(t *testing.T) {
	ctx := context.Background()
	rec := &wire{targets: map[string]int{}, next: http.DefaultTransport}
	q := fauxqs.Client(fauxqs.Start(t), func(o *sqs.Options) { o.HTTPClient = &http.Client{Transport: rec} })

	dlq, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("plinth-usage-dlq")})
	if err != nil {
		t.Fatal(err)
	}
	attrs, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: dlq.QueueUrl, AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	const maxReceive = 2
	const hidden = 43200 // seconds: the longest visibility timeout, longer than any run
	main, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("plinth-usage"), Attributes: map[string]string{
		"VisibilityTimeout": strconv.Itoa(hidden),
		"RedrivePolicy":     fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":%d}`, attrs.Attributes["QueueArn"], maxReceive),
	}})
	if err != nil {
		t.Fatal(err)
	}
	queueARN := strings.Replace(attrs.Attributes["QueueArn"], "plinth-usage-dlq", "plinth-usage", 1)

	db := httptest.NewServer(miniserver.NewServer())
	t.Cleanup(db.Close)
	down := &outage{next: http.DefaultTransport}
	ddb := dynamodb.New(dynamodb.Options{Region: "eu-west-1", BaseEndpoint: aws.String(db.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDLOCAL", "local-secret", ""),
		HTTPClient:  &http.Client{Transport: down}, RetryMaxAttempts: 2})
	if err := dynamostore.CreateTable(ctx, dynalite.Client(db.URL), "plinth"); err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	sdk := aws.Config{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")}

	// The gateway's side: the platform as the gateway function builds it, spooling usage
	// to the queue.
	// Both functions run on the test's clock: the table judges the ledger's idempotency
	// markers' expiry by it, whatever today's date is.
	at := time.Date(2031, 3, 4, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return at }
	b, err := awsplatform.NewBackends(ctx, awsplatform.Config{Table: "plinth", AWS: &sdk, DynamoDB: ddb, SQS: q,
		UsageQueueURL: aws.ToString(main.QueueUrl), Logger: quiet, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	gw, err := platform.New(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	send := func(from, n int) {
		t.Helper()
		for i := from; i < from+n; i++ {
			r := usage.Record{RequestID: fmt.Sprintf("req_%04d", i), Tenant: "acme", Model: "local-chat", InputTokens: 3, OutputTokens: 2,
				Status: usage.StatusOK, Time: at.Add(time.Duration(i) * time.Millisecond)}
			if err := gw.Usage.Record(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		if err := gw.Usage.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}

	// The usage function's side, and the event source mapping that feeds it.
	drain, err := newHandler(ctx, awsplatform.Config{Table: "plinth", AWS: &sdk, DynamoDB: ddb, SQS: q,
		UsageDLQURL: aws.ToString(dlq.QueueUrl), Clock: clock}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	poll := func(loseDeletes bool) (received, failed int) {
		t.Helper()
		for {
			out, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: main.QueueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: hidden})
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Messages) == 0 {
				return received, failed
			}
			ev := events.SQSEvent{}
			for _, m := range out.Messages {
				ev.Records = append(ev.Records, events.SQSMessage{MessageId: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle),
					Body: aws.ToString(m.Body), EventSource: "aws:sqs", EventSourceARN: queueARN, AWSRegion: "eu-west-1"})
			}
			raw, _ := json.Marshal(ev)
			res, err := drain(ctx, raw)
			if err != nil {
				t.Fatal(err)
			}
			resp := res.(events.SQSEventResponse)
			retry := map[string]bool{}
			for _, f := range resp.BatchItemFailures {
				retry[f.ItemIdentifier] = true
			}
			var del []types.DeleteMessageBatchRequestEntry
			var again []types.ChangeMessageVisibilityBatchRequestEntry
			for i, m := range out.Messages {
				id := aws.String(strconv.Itoa(i))
				if retry[aws.ToString(m.MessageId)] || loseDeletes {
					// Visible again now rather than after the timeout.
					again = append(again, types.ChangeMessageVisibilityBatchRequestEntry{Id: id, ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0})
					continue
				}
				del = append(del, types.DeleteMessageBatchRequestEntry{Id: id, ReceiptHandle: m.ReceiptHandle})
			}
			if len(del) > 0 {
				if out, err := q.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: main.QueueUrl, Entries: del}); err != nil || len(out.Failed) > 0 {
					t.Fatalf("delete: %v %+v", err, out)
				}
			}
			if len(again) > 0 {
				if out, err := q.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: main.QueueUrl, Entries: again}); err != nil || len(out.Failed) > 0 {
					t.Fatalf("change visibility: %v %+v", err, out)
				}
			}
			received += len(out.Messages)
			failed += len(resp.BatchItemFailures)
			if loseDeletes {
				return received, failed // one batch delivered, its deletes lost
			}
		}
	}
	// count returns how many messages a queue holds, visible and received but not yet
	// deleted or made visible again (in flight).
	count := func(url *string) (visible, inFlight int) {
		t.Helper()
		out, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: url,
			AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages, types.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
		if err != nil {
			t.Fatal(err)
		}
		visible, _ = strconv.Atoi(out.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessages)])
		inFlight, _ = strconv.Atoi(out.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessagesNotVisible)])
		return visible, inFlight
	}
	depth := func(url *string) int {
		t.Helper()
		visible, inFlight := count(url)
		return visible + inFlight
	}
	// drained fails unless the drain left nothing in flight: a message received but never
	// handed to the function (an answer to a receive lost, the receive sent again) would
	// stay hidden, and its deliveries missing from the counts.
	drained := func(phase string) {
		t.Helper()
		if visible, inFlight := count(main.QueueUrl); visible != 0 || inFlight != 0 {
			t.Fatalf("%s: the drain ended with %d messages visible and %d in flight, want none", phase, visible, inFlight)
		}
	}

	// DynamoDB refuses writes: the first 25 records fail every delivery and are
	// dead-lettered after maxReceive receives.
	down.on.Store(true)
	send(0, 25)
	got, failed := poll(false)
	drained("during the outage")
	if got != 25*maxReceive || failed != got {
		t.Fatalf("during the outage: %d deliveries, %d failed; want %d, all failed", got, failed, 25*maxReceive)
	}
	if n := depth(dlq.QueueUrl); n != 25 {
		t.Fatalf("dead-letter queue holds %d messages, want 25", n)
	}
	// Healthy again: 35 more drain directly, the first batch of them delivered twice.
	down.on.Store(false)
	send(25, 35)
	if got, failed := poll(true); got != 10 || failed != 0 {
		t.Fatalf("first healthy batch: %d received, %d failed", got, failed)
	}
	got, failed = poll(false)
	drained("after the outage")
	if got != 35 || failed != 0 {
		t.Fatalf("after the outage: %d deliveries, %d failed; want 35 (10 of them again), none failed", got, failed)
	}
	// The schedule's redrive stores the dead-lettered records.
	res, err := drain(ctx, json.RawMessage(`{"detail-type":"Scheduled Event","source":"aws.events"}`))
	if err != nil {
		t.Fatal(err)
	}
	if moved := res.(map[string]int)["moved"]; moved != 25 {
		t.Fatalf("redrive moved %d, want 25", moved)
	}
	if n, m := depth(main.QueueUrl), depth(dlq.QueueUrl); n != 0 || m != 0 {
		t.Fatalf("left in the queues: %d, dead-letter %d", n, m)
	}

	st, err := dynamostore.New(ddb, "plinth", dynamostore.WithClock(func() time.Time { return at }))
	if err != nil {
		t.Fatal(err)
	}
	rg, _ := usage.ParseRange(at.Format("2006-01-02"), at.Format("2006-01-02"), at)
	_, total, err := usage.NewService(st, nil).Summary(ctx, "acme", rg, "day")
	if err != nil {
		t.Fatal(err)
	}
	if total.Requests != 60 || total.InputTokens != 180 || total.OutputTokens != 120 {
		t.Fatalf("ledger totals %+v, want 60 requests counted once (180 input, 120 output tokens)", total)
	}

	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.badTypes) > 0 {
		t.Errorf("SQS calls off the AWS JSON protocol: %v", rec.badTypes)
	}
	for _, want := range []string{"AmazonSQS.SendMessageBatch", "AmazonSQS.ReceiveMessage", "AmazonSQS.DeleteMessageBatch", "AmazonSQS.ChangeMessageVisibilityBatch"} {
		if rec.targets[want] == 0 {
			t.Errorf("no %s call went over the wire: %v", want, rec.targets)
		}
	}
	t.Logf("SQS calls: %v", rec.targets)
}
