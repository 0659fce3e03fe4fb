// Package sqsspool is the spool.Spool in AWS: Append sends each record (a usage record,
// an audit event) as one JSON message to an SQS queue before the request ends; an SQS
// event source mapping delivers the messages to a drain function, which writes them to
// the sink (Handler) and reports the ones it could not store so SQS retries just those.
// A message that keeps failing moves, after the queue's maxReceiveCount, to a
// dead-letter queue, from which Redrive writes it into the sink once the cause is gone
// (the drain function runs it on a schedule). The sink's idempotent writes make SQS's
// at-least-once delivery count once.
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

	"github.com/plinth-ai/plinth/shared/spool"
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

// Key names a record for the log lines and partial failures of Handler and Redrive; ""
// marks a record that decoded but is not one (e.g. a message of another kind), which
// stays for the dead-letter queue.
type Key[T any] func(T) string

// Spool sends records of type T to an SQS queue, each as its JSON.
type Spool[T any] struct {
	api      SendAPI
	queueURL string
	attempts int
	backoff  time.Duration
}

var _ spool.Spool[struct{}] = (*Spool[struct{}])(nil)

// New returns a Spool sending to queueURL.
func New[T any](api SendAPI, queueURL string) *Spool[T] {
	if api == nil || queueURL == "" {
		panic("sqsspool.New: nil client or empty queue URL")
	}
	return &Spool[T]{api: api, queueURL: queueURL, attempts: 3, backoff: 50 * time.Millisecond}
}

// Append sends recs, ten to a batch, retrying entries SQS refused; it fails if any
// record could not be sent (the caller then writes it to the sink itself).
func (s *Spool[T]) Append(ctx context.Context, recs []T) error {
	for len(recs) > 0 {
		n := min(len(recs), 10)
		if err := s.send(ctx, recs[:n]); err != nil {
			return err
		}
		recs = recs[n:]
	}
	return nil
}

func (s *Spool[T]) send(ctx context.Context, recs []T) error {
	pending := map[string]types.SendMessageBatchRequestEntry{}
	for i, rec := range recs {
		body, err := json.Marshal(rec)
		if err != nil {
			return fmt.Errorf("sqsspool: encode record %d of %d: %w", i+1, len(recs), err)
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
// writes the batch's records to the sink and reports the messages whose records it
// could not store, or could not read, so SQS redelivers only those (and, past the
// queue's maxReceiveCount, moves them to the dead-letter queue instead of dropping them).
// key names each record; two messages of one record (SQS may deliver a message twice)
// are written once and reported together.
func Handler[T any](write spool.Sink[T], key Key[T], log *slog.Logger) func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
	if write == nil || key == nil {
		panic("sqsspool.Handler: nil sink or key")
	}
	if log == nil {
		log = slog.Default()
	}
	return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		var (
			resp  events.SQSEventResponse
			recs  []T
			msgOf = map[string][]string{} // record key → message IDs
		)
		fail := func(ids ...string) {
			for _, id := range ids {
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: id})
			}
		}
		for _, m := range ev.Records {
			var rec T
			err := json.Unmarshal([]byte(m.Body), &rec)
			k := ""
			if err == nil {
				k = key(rec)
			}
			if k == "" {
				log.Error("spooled message unreadable; left for the dead-letter queue", "queue", m.EventSourceARN, "message_id", m.MessageId, "error", err)
				fail(m.MessageId)
				continue
			}
			if _, dup := msgOf[k]; !dup {
				recs = append(recs, rec)
			}
			msgOf[k] = append(msgOf[k], m.MessageId)
		}
		if len(recs) == 0 {
			return resp, nil
		}
		err := write(ctx, recs)
		if err == nil {
			return resp, nil
		}
		failed := spool.Unstored(recs, err)
		log.Error("spooled records not stored; SQS redelivers them", "queue", queueOf(ev), "records", len(failed), "of", len(recs), "error", err)
		for _, rec := range failed {
			fail(msgOf[key(rec)]...)
		}
		return resp, nil
	}
}

func queueOf(ev events.SQSEvent) string {
	if len(ev.Records) == 0 {
		return ""
	}
	return ev.Records[0].EventSourceARN
}

// Redrive writes the dead-letter queue's records into the sink and deletes the messages
// it stored, until the queue is empty or ctx ends. It returns how many it moved.
// Unreadable messages (key "") stay for a person to look at.
func Redrive[T any](ctx context.Context, api RedriveAPI, dlqURL string, write spool.Sink[T], key Key[T]) (int, error) {
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
			var rec T
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &rec); err != nil || key(rec) == "" {
				continue // unreadable: stays in the dead-letter queue for a person to look at
			}
			if err := write(ctx, []T{rec}); err != nil {
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
