package platform

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"

	"github.com/plinth-ai/plinth/shared/flow"
)

func TestTaskHandlerNamesErrors(t *testing.T) {
	tasks := map[string]TaskFunc{
		"EchoFunctionArn": func(_ context.Context, in json.RawMessage) (json.RawMessage, error) { return in, nil },
		"PoisonFunctionArn": func(context.Context, json.RawMessage) (json.RawMessage, error) {
			return nil, &flow.TaskError{Type: "DocumentError", Cause: "unsupported file type"}
		},
		"BrokenFunctionArn": func(context.Context, json.RawMessage) (json.RawMessage, error) {
			return nil, fmt.Errorf("load dataset: %w", errors.New("no such key"))
		},
	}
	if _, err := TaskHandler(tasks, "MissingFunctionArn", nil); !errors.Is(err, ErrUnknownTask) {
		t.Fatalf("unknown task: %v", err)
	}
	cases := []struct {
		task, wantType, wantMessage, wantOut string
	}{
		{"EchoFunctionArn", "", "", `{"a":1}`},
		{"PoisonFunctionArn", "DocumentError", "unsupported file type", ""},
		{"BrokenFunctionArn", "TaskFailed", "load dataset: no such key", ""},
	}
	for _, tc := range cases {
		t.Run(tc.task, func(t *testing.T) {
			flushed := 0
			h, err := TaskHandler(tasks, tc.task, func(context.Context) { flushed++ })
			if err != nil {
				t.Fatal(err)
			}
			// Through the runtime library's handler, as Lambda invokes it.
			out, err := lambda.NewHandler(h).Invoke(context.Background(), []byte(`{"a":1}`))
			if flushed != 1 {
				t.Errorf("done ran %d times", flushed)
			}
			if tc.wantType == "" {
				if err != nil || string(out) != tc.wantOut {
					t.Fatalf("out %s err %v", out, err)
				}
				return
			}
			var ie messages.InvokeResponse_Error
			if !errors.As(err, &ie) || ie.Type != tc.wantType || ie.Message != tc.wantMessage {
				t.Fatalf("error %#v, want type %s", err, tc.wantType)
			}
		})
	}
}

func TestStreamingHandlerHeadersAndFailures(t *testing.T) {
	h := StreamingHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/cookies":
			w.Header().Add("Set-Cookie", "a=1")
			w.Header().Add("Set-Cookie", "b=2")
			w.Header().Add("Vary", "Accept")
			w.Header().Add("Vary", "Authorization")
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusCreated)
			_, _ = io.WriteString(w, "made")
		case "/empty":
		case "/panic":
			panic("boom")
		}
	}), nil)
	cases := []struct {
		path       string
		status     int
		body       string
		wantErr    bool
		checkExtra func(t *testing.T, meta map[string]any)
	}{
		{"/cookies", 201, "made", false, func(t *testing.T, meta map[string]any) {
			if fmt.Sprint(meta["cookies"]) != "[a=1 b=2]" || fmt.Sprint(meta["multiValueHeaders"]) != "map[Vary:[Accept Authorization]]" ||
				fmt.Sprint(meta["headers"]) != "map[Content-Type:text/plain]" {
				t.Errorf("prelude %v", meta)
			}
		}},
		{"/empty", 200, "", false, nil},
		{"/panic", 500, "", true, nil},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			payload, _ := json.Marshal(events.APIGatewayProxyRequest{HTTPMethod: "GET", Path: tc.path, RequestContext: events.APIGatewayProxyRequestContext{DomainName: "api.example.com"}})
			out, err := lambda.NewHandler(h).Invoke(context.Background(), payload)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v", err)
			}
			if tc.wantErr {
				return
			}
			meta, body, ok := bytes.Cut(out, make([]byte, 8))
			if !ok {
				t.Fatalf("no delimiter: %q", out)
			}
			var m map[string]any
			if err := json.Unmarshal(meta, &m); err != nil {
				t.Fatal(err)
			}
			if m["statusCode"] != float64(tc.status) || string(body) != tc.body {
				t.Fatalf("prelude %s body %q", meta, body)
			}
			if tc.checkExtra != nil {
				tc.checkExtra(t, m)
			}
		})
	}
}
