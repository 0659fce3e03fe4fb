package flowdiff

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// decodeEvent decodes events/NAME into an aws-lambda-go type. Real events carry a few
// fields the Go types leave out (identity.principalOrgId, for one), so unknown fields are
// allowed here; the checks below pin the fields the platform reads.
func decodeEvent(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(moduleRoot(t), "events", name))
	if err != nil {
		t.Fatalf("sample event %s: %v", name, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %s into %T: %v", name, v, err)
	}
}

// decodeStrict decodes events/NAME into v, rejecting fields v does not know, so a sample
// of the platform's own payloads that drifts from its contract fails here.
func decodeStrict(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(moduleRoot(t), "events", name))
	if err != nil {
		t.Fatalf("sample event %s: %v", name, err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decode %s into %T: %v", name, v, err)
	}
}

// s3Detail is the detail of S3's "Object Created"/"Object Deleted" EventBridge events.
type s3Detail struct {
	Version string `json:"version"`
	Bucket  struct {
		Name string `json:"name"`
	} `json:"bucket"`
	Object struct {
		Key       string `json:"key"`
		Size      int64  `json:"size"`
		ETag      string `json:"etag"`
		VersionID string `json:"version-id"`
		Sequencer string `json:"sequencer"`
	} `json:"object"`
	RequestID       string `json:"request-id"`
	Requester       string `json:"requester"`
	SourceIPAddress string `json:"source-ip-address"`
	Reason          string `json:"reason"`
	DeletionType    string `json:"deletion-type"`
}

func TestSampleEvents(t *testing.T) {
	t.Run("API Gateway chat completions", func(t *testing.T) {
		var req events.APIGatewayProxyRequest
		decodeEvent(t, "apigw-chat-completions.json", &req)
		if req.HTTPMethod != "POST" || req.Path != "/v1/chat/completions" || req.Headers["Authorization"] != "Bearer pk-demo-3f9a2c7d1e8b4a6f" {
			t.Fatalf("request line/headers: %s %s %v", req.HTTPMethod, req.Path, req.Headers)
		}
		if req.MultiValueHeaders["Authorization"][0] != req.Headers["Authorization"] || req.RequestContext.Stage != "prod" || req.RequestContext.RequestID == "" {
			t.Fatalf("request context: %+v", req.RequestContext)
		}
		var body struct {
			Model    string `json:"model"`
			Messages []struct{ Role, Content string }
		}
		if err := json.Unmarshal([]byte(req.Body), &body); err != nil || body.Model != "local-chat" || len(body.Messages) != 2 {
			t.Fatalf("body %q: %v", req.Body, err)
		}
		if req.RequestContext.Authorizer["tenant"] != "acme" {
			t.Fatalf("authorizer context: %v", req.RequestContext.Authorizer)
		}
	})
	t.Run("API Gateway models", func(t *testing.T) {
		var req events.APIGatewayProxyRequest
		decodeEvent(t, "apigw-models.json", &req)
		if req.HTTPMethod != "GET" || req.Path != "/v1/models" || req.Body != "" || req.Headers["Authorization"] == "" {
			t.Fatalf("got %s %s body %q headers %v", req.HTTPMethod, req.Path, req.Body, req.Headers)
		}
	})
	t.Run("REQUEST authorizer", func(t *testing.T) {
		var req events.APIGatewayCustomAuthorizerRequestTypeRequest
		decodeEvent(t, "apigw-authorizer-request.json", &req)
		if req.Type != "REQUEST" || req.MethodArn != "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/prod/POST/v1/chat/completions" ||
			req.Headers["Authorization"] != "Bearer pk-demo-3f9a2c7d1e8b4a6f" || req.RequestContext.Identity.SourceIP != "203.0.113.24" {
			t.Fatalf("got %+v", req)
		}
	})
	for _, tc := range []struct{ file, detailType, reason string }{
		{"s3-object-created.json", "Object Created", "PutObject"},
		{"s3-object-deleted.json", "Object Deleted", "DeleteObject"},
	} {
		t.Run(tc.detailType, func(t *testing.T) {
			var ev events.EventBridgeEvent
			decodeEvent(t, tc.file, &ev)
			if ev.Source != "aws.s3" || ev.DetailType != tc.detailType || len(ev.Resources) != 1 || ev.Time.IsZero() {
				t.Fatalf("envelope: %+v", ev)
			}
			var d s3Detail
			dec := json.NewDecoder(bytes.NewReader(ev.Detail))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&d); err != nil {
				t.Fatal(err)
			}
			if d.Object.Key != "tenants/acme/kb/docs/report.pdf" || d.Reason != tc.reason || "arn:aws:s3:::"+d.Bucket.Name != ev.Resources[0] {
				t.Fatalf("detail: %+v", d)
			}
		})
	}
	t.Run("Scheduler evaluation input", func(t *testing.T) {
		var in struct {
			Tenant        string `json:"tenant"`
			SuiteID       string `json:"suite_id"`
			Trigger       string `json:"trigger"`
			ScheduleARN   string `json:"schedule_arn"`
			ScheduledTime string `json:"scheduled_time"`
			ExecutionID   string `json:"execution_id"`
			AttemptNumber int    `json:"attempt_number"`
		}
		decodeStrict(t, "scheduler-eval-suite.json", &in)
		if in.Tenant != "acme" || in.SuiteID != "qa" || in.Trigger != "schedule" || in.AttemptNumber != 1 || in.ScheduledTime == "" {
			t.Fatalf("got %+v", in)
		}
	})
	t.Run("Step Functions task inputs", func(t *testing.T) {
		var eval struct {
			Tenant         string `json:"tenant"`
			SuiteID        string `json:"suite_id"`
			RunID          string `json:"run_id"`
			MaxConcurrency int    `json:"max_concurrency"`
			Trigger        string `json:"trigger"`
		}
		decodeStrict(t, "sfn-evaluation-input.json", &eval)
		if eval.Tenant != "acme" || eval.SuiteID != "qa" || eval.RunID == "" || eval.MaxConcurrency != 4 {
			t.Fatalf("evaluation input: %+v", eval)
		}
		var job struct {
			Tenant      string `json:"tenant"`
			KB          string `json:"knowledge_base"`
			DocumentID  string `json:"document_id"`
			Name        string `json:"name"`
			Key         string `json:"key"`
			Action      string `json:"action"`
			ContentHash string `json:"content_hash"`
			Unchanged   bool   `json:"unchanged"`
			SectionsKey string `json:"sections_key"`
			Sections    int    `json:"sections"`
		}
		decodeStrict(t, "sfn-ingestion-input.json", &job)
		if job.Tenant != "acme" || job.KB != "docs" || job.Key != "tenants/acme/kb/docs/report.pdf" || job.Action != "upsert" {
			t.Fatalf("ingestion task input: %+v", job)
		}
	})
}
