// Package sqsspool is the usage spool in AWS: Record sends each record to an SQS queue
// before the request ends; an SQS event source mapping delivers the messages to the
// usage function, which writes them to the ledger (Handler) and reports the ones it
// could not store so SQS retries just those. A message that keeps failing moves, after
// the queue's maxReceiveCount, to a dead-letter queue, from which Redrive writes it into
// the ledger once the cause is gone (the usage function runs it on a schedule). The
// ledger's idempotent writes make SQS's at-least-once delivery count once.
package sqsspool

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/plinth-ai/plinth/shared/usage"
)

// SendAPI is the part of the SQS client Append uses.
type SendAPI interface {
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
}

// RedriveAPI is the part of the SQS client Redrive uses.
type RedriveAPI interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, optFns ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
}

// Writer stores records in the ledger (usage.Ledger.Write).
type Writer func(ctx context.Context, recs []usage.Record) error

// Spool sends usage records to an SQS queue. It implements usage.Spool.
type Spool struct {
	api      SendAPI
	queueURL string
	attempts int
	backoff  time.Duration
}

var _ usage.Spool = (*Spool)(nil)

// New returns a Spool sending to queueURL.
func New(api SendAPI, queueURL string) *Spool {
	if api == nil || queueURL == "" {
		panic("sqsspool.New: nil client or empty queue URL")
	}
	return &Spool{api: api, queueURL: queueURL, attempts: 3, backoff: 50 * time.Millisecond}
}

// Append sends recs, ten to a batch, retrying entries SQS refused; it fails if any
// record could not be sent (the Recorder then writes it to the ledger itself).
func (s *Spool) Append(ctx context.Context, recs []usage.Record) error {
	for len(recs) > 0 {
		n := min(len(recs), 10)
		if err := s.send(ctx, recs[:n]); err != nil {
			return err
		}
		recs = recs[n:]
	}
	return nil
}

func (s *Spool) send(ctx context.Context, recs []usage.Record) error {
	pending := map[string]types.SendMessageBatchRequestEntry{}
	for i, rec := range recs {
		body, err := json.Marshal(rec)
		if err != nil {
			return fmt.Errorf("sqsspool: encode %s: %w", rec.RequestID, err)
		}
		id := strconv.Itoa(i)
		pending[id] = types.SendMessageBatchRequestEntry{Id: aws.String(id), MessageBody: aws.String(string(body))}
	}
	backoff := s.backoff
	var last error
	for attempt := 0; attempt < s.attempts && len(pending) > 0; attempt++ {
		if attempt > 0 {
			time.Sleep(backoff)
			backoff *= 2
		}
		entries := make([]types.SendMessageBatchRequestEntry, 0, len(pending))
		for _, e := range pending {
			entries = append(entries, e)
		}
		out, err := s.api.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(s.queueURL), Entries: entries})
		if err != nil {
			last = err
			continue
		}
		for _, ok := range out.Successful {
			delete(pending, aws.ToString(ok.Id))
		}
		for _, f := range out.Failed {
			last = fmt.Errorf("%s: %s", aws.ToString(f.Code), aws.ToString(f.Message))
		}
	}
	if len(pending) > 0 {
		return fmt.Errorf("sqsspool: %d of %d records not sent: %w", len(pending), len(recs), last)
	}
	return nil
}

// Handler handles the queue's event source mapping (with ReportBatchItemFailures): it
// writes the batch's records to the ledger and reports the messages whose records it
// could not store, or could not read, so SQS redelivers only those (and, past the
// queue's maxReceiveCount, moves them to the dead-letter queue instead of dropping them).
func Handler(write Writer, log *slog.Logger) func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
	if log == nil {
		log = slog.Default()
	}
	return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		var (
			resp  events.SQSEventResponse
			recs  []usage.Record
			msgOf = map[string]string{} // request ID → message ID
		)
		for _, m := range ev.Records {
			var rec usage.Record
			if err := json.Unmarshal([]byte(m.Body), &rec); err != nil || rec.RequestID == "" {
				log.Error("usage message unreadable; left for the dead-letter queue", "message_id", m.MessageId, "error", err)
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
				continue
			}
			recs = append(recs, rec)
			msgOf[rec.RequestID+"\x00"+rec.Time.String()] = m.MessageId
		}
		err := write(ctx, recs)
		if err == nil {
			return resp, nil
		}
		var we *usage.WriteError
		if !errors.As(err, &we) {
			// Nothing can be said about which records landed: let SQS redeliver them all.
			log.Error("usage batch not stored; SQS redelivers it", "records", len(recs), "error", err)
			for _, m := range ev.Records {
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
			}
			return resp, nil
		}
		log.Error("usage records not stored; SQS redelivers them", "records", len(we.Failed), "error", err)
		for _, rec := range we.Failed {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: msgOf[rec.RequestID+"\x00"+rec.Time.String()]})
		}
		return resp, nil
	}
}

// Redrive writes the dead-letter queue's records into the ledger and deletes the messages
// it stored, until the queue is empty or ctx ends. It returns how many it moved.
func Redrive(ctx context.Context, api RedriveAPI, dlqURL string, write Writer) (int, error) {
	moved := 0
	for ctx.Err() == nil {
		out, err := api.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(dlqURL), MaxNumberOfMessages: 10,
			VisibilityTimeout: 120, WaitTimeSeconds: 0})
		if err != nil {
			return moved, fmt.Errorf("sqsspool: receive from %s: %w", dlqURL, err)
		}
		if len(out.Messages) == 0 {
			return moved, nil
		}
		var done []types.DeleteMessageBatchRequestEntry
		for i, m := range out.Messages {
			var rec usage.Record
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &rec); err != nil || rec.RequestID == "" {
				continue // unreadable: stays in the dead-letter queue for a person to look at
			}
			if err := write(ctx, []usage.Record{rec}); err != nil {
				continue // still failing: stays, visible again after the timeout
			}
			done = append(done, types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle})
		}
		if len(done) == 0 {
			return moved, errors.New("sqsspool: no dead-lettered record could be stored")
		}
		if _, err := api.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(dlqURL), Entries: done}); err != nil {
			return moved, fmt.Errorf("sqsspool: delete from %s: %w", dlqURL, err)
		}
		moved += len(done)
	}
	return moved, ctx.Err()
}
