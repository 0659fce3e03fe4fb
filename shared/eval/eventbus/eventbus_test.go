package eventbus_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	"github.com/plinth-ai/plinth/shared/eval"
	"github.com/plinth-ai/plinth/shared/eval/eventbus"
)

// fakeEventBridge speaks PutEvents' awsJson1_1 wire format and rejects entries whose
// DetailType is "reject me".
type fakeEventBridge struct {
	mu    sync.Mutex
	calls [][]map[string]any
}

func (f *fakeEventBridge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Amz-Target") != "AWSEvents.PutEvents" || r.Header.Get("Content-Type") != "application/x-amz-json-1.1" {
		http.Error(w, `{"__type":"UnknownOperationException"}`, http.StatusBadRequest)
		return
	}
	b, _ := io.ReadAll(r.Body)
	var in struct{ Entries []map[string]any }
	if err := json.Unmarshal(b, &in); err != nil {
		http.Error(w, `{"__type":"SerializationException"}`, http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.calls = append(f.calls, in.Entries)
	f.mu.Unlock()
	type result struct {
		EventID      string `json:"EventId,omitempty"`
		ErrorCode    string `json:"ErrorCode,omitempty"`
		ErrorMessage string `json:"ErrorMessage,omitempty"`
	}
	out := struct {
		FailedEntryCount int
		Entries          []result
	}{}
	for i, e := range in.Entries {
		if e["DetailType"] == "reject me" {
			out.FailedEntryCount++
			out.Entries = append(out.Entries, result{ErrorCode: "InternalFailure", ErrorMessage: "rejected"})
			continue
		}
		out.Entries = append(out.Entries, result{EventID: "evt-" + string(rune('a'+i))})
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(out)
}

func newClient(t *testing.T) (*eventbridge.Client, *fakeEventBridge) {
	fake := &fakeEventBridge{}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	return eventbridge.New(eventbridge.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDLOCAL", "local-secret", ""),
	}), fake
}

func TestPublishBatchesAndShapes(t *testing.T) {
	t.Parallel()
	client, fake := newClient(t)
	p, err := eventbus.New(client, "plinth-events")
	if err != nil {
		t.Fatal(err)
	}
	detail, _ := json.Marshal(eval.EventDetail{Tenant: "acme", SuiteID: "qa", RunID: "run-1", Status: "succeeded", Metrics: map[string]float64{"f1": 80}})
	events := make([]eval.Event, 12)
	for i := range events {
		events[i] = eval.Event{Source: eval.EventSource, DetailType: eval.DetailTypeCompleted, Detail: detail,
			Resources: []string{"plinth:evaluation:acme:suite/qa/run/run-1"}, Time: time.Unix(1764000000, 0)}
	}
	if err := p.Publish(context.Background(), events...); err != nil {
		t.Fatal(err)
	}
	if len(fake.calls) != 2 || len(fake.calls[0]) != 10 || len(fake.calls[1]) != 2 {
		t.Fatalf("calls = %d", len(fake.calls))
	}
	e := fake.calls[0][0]
	if e["Source"] != "plinth.evaluation" || e["DetailType"] != "Evaluation Completed" || e["EventBusName"] != "plinth-events" || e["Time"] != float64(1764000000) {
		t.Fatalf("entry = %v", e)
	}
	var d eval.EventDetail
	if err := json.Unmarshal([]byte(e["Detail"].(string)), &d); err != nil || d.RunID != "run-1" || d.Metrics["f1"] != 80 {
		t.Fatalf("detail = %v, %v", e["Detail"], err)
	}
}

func TestPublishReportsFailedEntries(t *testing.T) {
	t.Parallel()
	client, _ := newClient(t)
	p, _ := eventbus.New(client, "")
	err := p.Publish(context.Background(),
		eval.Event{Source: eval.EventSource, DetailType: "reject me", Detail: json.RawMessage(`{}`)},
		eval.Event{Source: eval.EventSource, DetailType: eval.DetailTypeRegressed, Detail: json.RawMessage(`{}`)})
	if !errors.Is(err, eventbus.ErrFailedEntries) {
		t.Fatalf("err = %v", err)
	}
	if _, err := eventbus.New(nil, ""); err == nil {
		t.Fatal("nil client accepted")
	}
}
