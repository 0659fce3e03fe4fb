// Package eventbus publishes evaluation events to Amazon EventBridge with PutEvents.
package eventbus

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/plinth-ai/plinth/shared/eval"
)

// maxEntries is PutEvents' limit of entries per call.
const maxEntries = 10

// Client is the part of the EventBridge client the publisher uses.
type Client interface {
	PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, optFns ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

// Publisher sends evaluation events to one event bus.
type Publisher struct {
	client Client
	bus    string
}

var _ eval.EventPublisher = (*Publisher)(nil)

// ErrFailedEntries means EventBridge rejected some entries of a PutEvents call.
var ErrFailedEntries = errors.New("eventbridge rejected entries")

// New returns a publisher to bus (a name or ARN; "" means the account's default bus).
func New(client Client, bus string) (*Publisher, error) {
	if client == nil {
		return nil, errors.New("eventbus: nil client")
	}
	return &Publisher{client: client, bus: bus}, nil
}

// Publish sends the events in PutEvents calls of at most ten entries.
func (p *Publisher) Publish(ctx context.Context, events ...eval.Event) error {
	for start := 0; start < len(events); start += maxEntries {
		batch := events[start:min(start+maxEntries, len(events))]
		entries := make([]types.PutEventsRequestEntry, len(batch))
		for i, e := range batch {
			entries[i] = types.PutEventsRequestEntry{
				Source: aws.String(e.Source), DetailType: aws.String(e.DetailType),
				Detail: aws.String(string(e.Detail)), Resources: e.Resources,
			}
			if !e.Time.IsZero() {
				entries[i].Time = aws.Time(e.Time)
			}
			if p.bus != "" {
				entries[i].EventBusName = aws.String(p.bus)
			}
		}
		out, err := p.client.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: entries})
		if err != nil {
			return fmt.Errorf("put %d events: %w", len(entries), err)
		}
		if out.FailedEntryCount > 0 {
			var reasons []string
			for i, r := range out.Entries {
				if r.ErrorCode != nil {
					reasons = append(reasons, fmt.Sprintf("%s: %s %s", batch[i].DetailType, aws.ToString(r.ErrorCode), aws.ToString(r.ErrorMessage)))
				}
			}
			return fmt.Errorf("put events: %d of %d failed (%s): %w", out.FailedEntryCount, len(entries), strings.Join(reasons, "; "), ErrFailedEntries)
		}
	}
	return nil
}
