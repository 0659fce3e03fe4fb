package awstrace_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/plinth-ai/plinth/shared/observe"
	"github.com/plinth-ai/plinth/shared/observe/awstrace"
)

// TestDynamoDBCallsBecomeSubsegments drives a real SDK client against an endpoint that
// answers in DynamoDB's JSON protocol (a success, then a throttling error).
func TestDynamoDBCallsBecomeSubsegments(t *testing.T) {
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		if calls == 1 {
			w.Header().Set("X-Amzn-Requestid", "REQ-OK-1")
			_, _ = io.WriteString(w, `{"Item":{"pk":{"S":"a"}}}`)
			return
		}
		w.Header().Set("X-Amzn-Requestid", "REQ-BAD-2")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"Requested resource not found"}`)
	}))
	defer srv.Close()

	tr := observe.NewTracer(observe.WithDaemonAddress(udp.LocalAddr().String()))
	cfg := aws.Config{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""), BaseEndpoint: aws.String(srv.URL)}
	awstrace.Instrument(&cfg.APIOptions, tr)
	db := dynamodb.NewFromConfig(cfg)
	ctx := observe.WithLambdaTraceHeader(context.Background(), "Root=1-6744a0b1-2b1d7f0c4f5e3a2b1c0d9e8f;Parent=53995c3f42cd8ad8;Sampled=1")
	key := map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "a"}}

	cases := []struct {
		name      string
		wantErr   bool
		requestID string
		status    float64
		errorFlag any
	}{
		{"success", false, "REQ-OK-1", 200, nil},
		{"client error", true, "REQ-BAD-2", 400, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("plinth"), Key: key})
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v", err)
			}
			buf := make([]byte, 65536)
			_ = udp.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, rerr := udp.Read(buf)
			if rerr != nil {
				t.Fatal(rerr)
			}
			_, body, _ := bytes.Cut(buf[:n], []byte("\n"))
			var doc map[string]any
			if err := json.Unmarshal(body, &doc); err != nil {
				t.Fatal(err)
			}
			a, _ := doc["aws"].(map[string]any)
			h, _ := doc["http"].(map[string]any)
			resp, _ := h["response"].(map[string]any)
			if doc["name"] != "DynamoDB" || doc["namespace"] != "aws" || doc["parent_id"] != "53995c3f42cd8ad8" ||
				a["operation"] != "GetItem" || a["region"] != "eu-west-1" || a["request_id"] != tc.requestID ||
				resp["status"] != tc.status || doc["error"] != tc.errorFlag {
				t.Errorf("subsegment %s", body)
			}
		})
	}
}

func TestInstrumentIsANoOpWhenDisabled(t *testing.T) {
	t.Setenv("LAMBDA_TASK_ROOT", "")
	cfg := aws.Config{}
	awstrace.Instrument(&cfg.APIOptions, observe.NewTracer())
	if len(cfg.APIOptions) != 0 {
		t.Fatalf("%d options added", len(cfg.APIOptions))
	}
}
