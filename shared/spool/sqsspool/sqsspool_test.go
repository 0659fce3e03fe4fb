package sqsspool_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/plinth-ai/plinth/shared/spool/sqsspool"
	"github.com/plinth-ai/plinth/shared/store"
	"github.com/plinth-ai/plinth/shared/store/memstore"
	"github.com/plinth-ai/plinth/shared/usage"
)

// fakeQueues keeps SQS standard queues in memory with the semantics the spool relies on:
// SendMessageBatch may refuse single entries, a received message is invisible until
// deleted or redelivered, and a message received maxReceive times moves to the
// dead-letter queue.
type fakeQueues struct {
	mu         sync.Mutex
	queues     map[string][]*msg
	dlq        map[string]string // queue → its dead-letter queue
	maxReceive int
	refuse     float64
	rnd        *rand.Rand
	next       int
}

type msg struct {
	id, body, receipt string
	received          int
	inFlight          bool
}

func (f *fakeQueues) SendMessageBatch(_ context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(in.Entries) > 10 {
		return nil, errors.New("TooManyEntriesInBatchRequest")
	}
	out := &sqs.SendMessageBatchOutput{}
	for _, e := range in.Entries {
		if f.rnd.Float64() < f.refuse {
			out.Failed = append(out.Failed, types.BatchResultErrorEntry{Id: e.Id, Code: aws.String("InternalError"), SenderFault: false})
			continue
		}
		f.next++
		q := aws.ToString(in.QueueUrl)
		f.queues[q] = append(f.queues[q], &msg{id: "m" + strconv.Itoa(f.next), body: aws.ToString(e.MessageBody)})
		out.Successful = append(out.Successful, types.SendMessageBatchResultEntry{Id: e.Id})
	}
	return out, nil
}

func (f *fakeQueues) ReceiveMessage(_ context.Context, in *sqs.ReceiveMessageInput, _ ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return &sqs.ReceiveMessageOutput{Messages: f.receive(aws.ToString(in.QueueUrl), int(in.MaxNumberOfMessages))}, nil
}

// receive takes up to n visible messages, moving those received too often to the DLQ.
func (f *fakeQueues) receive(q string, n int) []types.Message {
	var out []types.Message
	var keep []*msg
	for _, m := range f.queues[q] {
		if m.inFlight || len(out) == n {
			keep = append(keep, m)
			continue
		}
		if dlq, ok := f.dlq[q]; ok && m.received >= f.maxReceive {
			m.received = 0
			f.queues[dlq] = append(f.queues[dlq], m)
			continue
		}
		m.received++
		m.inFlight = true
		f.next++
		m.receipt = "r" + strconv.Itoa(f.next)
		out = append(out, types.Message{MessageId: aws.String(m.id), Body: aws.String(m.body), ReceiptHandle: aws.String(m.receipt)})
		keep = append(keep, m)
	}
	f.queues[q] = keep
	return out
}

func (f *fakeQueues) DeleteMessageBatch(_ context.Context, in *sqs.DeleteMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	q := aws.ToString(in.QueueUrl)
	gone := map[string]bool{}
	for _, e := range in.Entries {
		gone[aws.ToString(e.ReceiptHandle)] = true
	}
	var keep []*msg
	for _, m := range f.queues[q] {
		if !gone[m.receipt] {
			keep = append(keep, m)
		}
	}
	f.queues[q] = keep
	return &sqs.DeleteMessageBatchOutput{}, nil
}

// pollOnce is the event source mapping: one batch to the handler, successes deleted,
// reported failures made visible again.
func (f *fakeQueues) pollOnce(t *testing.T, q string, h func(context.Context, events.SQSEvent) (events.SQSEventResponse, error)) int {
	f.mu.Lock()
	got := f.receive(q, 10)
	f.mu.Unlock()
	if len(got) == 0 {
		return 0
	}
	ev := events.SQSEvent{}
	for _, m := range got {
		ev.Records = append(ev.Records, events.SQSMessage{MessageId: aws.ToString(m.MessageId), Body: aws.ToString(m.Body), ReceiptHandle: aws.ToString(m.ReceiptHandle)})
	}
	resp, err := h(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	failed := map[string]bool{}
	for _, f := range resp.BatchItemFailures {
		failed[f.ItemIdentifier] = true
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var keep []*msg
	for _, m := range f.queues[q] {
		switch {
		case m.inFlight && failed[m.id]:
			m.inFlight = false
			keep = append(keep, m)
		case m.inFlight:
		default:
			keep = append(keep, m)
		}
	}
	f.queues[q] = keep
	return len(got)
}

// flakyStore fails a share of transactions before and after applying them.
type flakyStore struct {
	store.Store
	mu            sync.Mutex
	rnd           *rand.Rand
	before, after float64
}

func (f *flakyStore) Transact(ctx context.Context, ops []store.Op) error {
	f.mu.Lock()
	p := f.rnd.Float64()
	f.mu.Unlock()
	if p < f.before {
		return errors.New("ProvisionedThroughputExceededException")
	}
	err := f.Store.Transact(ctx, ops)
	if err == nil && p > 1-f.after {
		return errors.New("connection reset after commit")
	}
	return err
}

var day = time.Date(2031, 5, 6, 7, 0, 0, 0, time.UTC)

// TestEveryRecordArrivesOnceThroughSQS sends records through a queue that refuses some
// sends, drains it into a ledger whose store fails a share of writes (so some messages
// exhaust their receives and are dead-lettered), then redrives the dead-letter queue
// once the store is healthy: every record is in the ledger, counted once.
func TestEveryRecordArrivesOnceThroughSQS(t *testing.T) {
	const main, dead = "https://sqs.eu-west-1.amazonaws.com/1/usage", "https://sqs.eu-west-1.amazonaws.com/1/usage-dlq"
	q := &fakeQueues{queues: map[string][]*msg{}, dlq: map[string]string{main: dead}, maxReceive: 3, refuse: 0.1, rnd: rand.New(rand.NewPCG(3, 4))}
	st := memstore.New(memstore.WithClock(func() time.Time { return day }))
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	rec := usage.NewRecorder(st, usage.WithSpool(sqsspool.New[usage.Record](q, main)), usage.WithLogger(quiet))
	const n = 300
	for i := range n {
		r := usage.Record{RequestID: fmt.Sprintf("req_%04d", i), Tenant: "acme", Model: "local-chat", InputTokens: 3, OutputTokens: 2,
			Status: usage.StatusOK, Time: day.Add(time.Duration(i) * time.Millisecond)}
		if err := rec.Record(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	if err := rec.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	flaky := usage.NewLedger(&flakyStore{Store: st, rnd: rand.New(rand.NewPCG(5, 6)), before: 0.4, after: 0.2}, 0)
	h := sqsspool.Handler(flaky.Write, usage.Key, quiet)
	for q.pollOnce(t, main, h) > 0 {
	}
	if len(q.queues[dead]) == 0 {
		t.Fatal("no message was dead-lettered: the test did not exercise the redrive")
	}
	moved, err := sqsspool.Redrive(context.Background(), q, dead, usage.NewLedger(st, 0).Write, usage.Key)
	if err != nil {
		t.Fatal(err)
	}
	if len(q.queues[dead]) != 0 {
		t.Fatalf("%d messages left in the dead-letter queue", len(q.queues[dead]))
	}
	items, _ := st.Query(context.Background(), "USAGE#acme#"+day.Format("20060102"), store.QueryOptions{})
	rg, _ := usage.ParseRange(day.Format("2006-01-02"), day.Format("2006-01-02"), day)
	_, total, err := usage.NewService(st, nil).Summary(context.Background(), "acme", rg, "day")
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != n || total.Requests != n {
		t.Fatalf("ledger: %d records, %d counted; want %d once each", len(items), total.Requests, n)
	}
	t.Logf("%d records; %d redriven from the dead-letter queue", n, moved)
}
