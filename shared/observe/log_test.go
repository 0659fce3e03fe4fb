package observe_test

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/plinth-ai/plinth/shared/observe"
)

func TestLoggerStampsInvocationIDs(t *testing.T) {
	cases := []struct {
		name           string
		ctx            context.Context
		reqID, traceID string
	}{
		{"outside an invocation", context.Background(), "", ""},
		{"in an invocation", lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "8476a536-e9f4-11e8-9739-2dfe598c3fcd"}), "8476a536-e9f4-11e8-9739-2dfe598c3fcd", ""},
		{"in a traced invocation", observe.WithLambdaTraceHeader(lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "r-1"}),
			"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"), "r-1", "1-5759e988-bd862e3fe1be46a994272793"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			log := observe.NewLogger(&out).With("fn", "gateway")
			log.InfoContext(tc.ctx, "request", "tenant", "acme")
			var line map[string]any
			if err := json.Unmarshal(out.Bytes(), &line); err != nil {
				t.Fatalf("%v: %s", err, out.String())
			}
			if line["msg"] != "request" || line["tenant"] != "acme" || line["fn"] != "gateway" || line["level"] != "INFO" {
				t.Errorf("line %v", line)
			}
			if got, _ := line["aws_request_id"].(string); got != tc.reqID {
				t.Errorf("aws_request_id %q, want %q", got, tc.reqID)
			}
			if got, _ := line["xray_trace_id"].(string); got != tc.traceID {
				t.Errorf("xray_trace_id %q, want %q", got, tc.traceID)
			}
		})
	}
}
