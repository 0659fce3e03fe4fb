package eval

import (
	"context"
	"encoding/json"
	"sync"
	"time"
)

// EventSource is the EventBridge source of evaluation events.
const EventSource = "plinth.evaluation"

// Event detail types.
const (
	DetailTypeCompleted = "Evaluation Completed"
	DetailTypeRegressed = "Evaluation Regressed"
)

// Event is one EventBridge event as PutEvents takes it (Source, DetailType, Detail as a
// JSON string, Resources, Time).
type Event struct {
	Source     string          `json:"source"`
	DetailType string          `json:"detail-type"`
	Detail     json.RawMessage `json:"detail"`
	Resources  []string        `json:"resources,omitempty"`
	Time       time.Time       `json:"time"`
}

// EventDetail is the detail of both evaluation events; Regressions is set on
// "Evaluation Regressed".
type EventDetail struct {
	Tenant            string             `json:"tenant"`
	SuiteID           string             `json:"suite_id"`
	RunID             string             `json:"run_id"`
	Status            string             `json:"status"`
	Metrics           map[string]float64 `json:"metrics"`
	Passed            *bool              `json:"passed,omitempty"`
	ThresholdFailures []ThresholdFailure `json:"threshold_failures,omitempty"`
	BaselineRunID     string             `json:"baseline_run_id,omitempty"`
	Regressions       []Regression       `json:"regressions,omitempty"`
	ItemCount         int                `json:"item_count"`
	FailedItems       int                `json:"failed_items"`
	ReportKey         string             `json:"report_key,omitempty"`
	Error             string             `json:"error,omitempty"`
}

// EventPublisher sends events to a bus (EventBridge in AWS).
type EventPublisher interface {
	Publish(ctx context.Context, events ...Event) error
}

type discardPublisher struct{}

func (discardPublisher) Publish(context.Context, ...Event) error { return nil }

// MemoryPublisher keeps published events in memory (local mode and tests).
type MemoryPublisher struct {
	mu     sync.Mutex
	events []Event
	notify func(Event)
}

// NewMemoryPublisher returns an empty MemoryPublisher; notify, when non-nil, is called
// with every event as it is published.
func NewMemoryPublisher(notify func(Event)) *MemoryPublisher {
	return &MemoryPublisher{notify: notify}
}

// Publish records events.
func (p *MemoryPublisher) Publish(_ context.Context, events ...Event) error {
	p.mu.Lock()
	p.events = append(p.events, events...)
	p.mu.Unlock()
	if p.notify != nil {
		for _, e := range events {
			p.notify(e)
		}
	}
	return nil
}

// Events returns a copy of everything published so far.
func (p *MemoryPublisher) Events() []Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Event(nil), p.events...)
}
