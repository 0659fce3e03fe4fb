package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	miniserver "github.com/truora/minidyn/server"

	"github.com/plinth-ai/plinth/shared/auth"
	"github.com/plinth-ai/plinth/shared/blob/s3blob"
	"github.com/plinth-ai/plinth/shared/customize/customizetest"
	"github.com/plinth-ai/plinth/shared/platform"
	"github.com/plinth-ai/plinth/shared/platform/awsplatform"
	"github.com/plinth-ai/plinth/shared/registry"
	"github.com/plinth-ai/plinth/shared/store/dynamostore"
	"github.com/plinth-ai/plinth/shared/tenant"
	"github.com/plinth-ai/plinth/shared/tenant/authorizer"
	"github.com/plinth-ai/plinth/test/dynalite"
)

const (
	keyARN     = "arn:aws:kms:eu-west-1:123456789012:key/0f3c2d1e-9a8b-4c7d-8e6f-5a4b3c2d1e0f"
	roleARN    = "arn:aws:iam::123456789012:role/PlinthWorkflows-CustomizationJobRole"
	machineARN = "arn:aws:states:eu-west-1:123456789012:stateMachine:PlinthWorkflows-customization"
)

// stepFunctions records the executions the function starts and stops.
type stepFunctions struct {
	mu     sync.Mutex
	starts []*sfn.StartExecutionInput
	stops  []string
}

func (s *stepFunctions) StartExecution(_ context.Context, in *sfn.StartExecutionInput, _ ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.starts = append(s.starts, in)
	arn := strings.Replace(aws.ToString(in.StateMachineArn), ":stateMachine:", ":execution:", 1) + ":" + aws.ToString(in.Name)
	return &sfn.StartExecutionOutput{ExecutionArn: aws.String(arn)}, nil
}

func (s *stepFunctions) StopExecution(_ context.Context, in *sfn.StopExecutionInput, _ ...func(*sfn.Options)) (*sfn.StopExecutionOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stops = append(s.stops, aws.ToString(in.ExecutionArn))
	return &sfn.StopExecutionOutput{}, nil
}

// encryptedPuts records the KMS key each object was written with.
type encryptedPuts struct {
	s3blob.Client
	mu   sync.Mutex
	keys map[string]string
}

func (e *encryptedPuts) PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	e.mu.Lock()
	e.keys[aws.ToString(in.Key)] = aws.ToString(in.SSEKMSKeyId)
	e.mu.Unlock()
	return e.Client.PutObject(ctx, in, opts...)
}

// TestFineTuningThroughAPIGateway serves OpenAI's files and fine-tuning endpoints as the
// function does behind API Gateway, over DynamoDB and S3 emulators: a dataset uploaded as
// multipart form data (a binary media type, so base64-encoded in the proxy event) lands
// under the tenant's prefix encrypted with the customisation key, a job on a Bedrock
// base model starts the customisation state machine named after the job, local-tune is
// refused (it trains only on the local platform), and a cancel stops the execution.
func TestFineTuningThroughAPIGateway(t *testing.T) {
	ctx := context.Background()
	db := httptest.NewServer(miniserver.NewServer())
	defer db.Close()
	ddb := dynalite.Client(db.URL)
	if err := dynamostore.CreateTable(ctx, ddb, "plinth"); err != nil {
		t.Fatal(err)
	}
	s3srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	defer s3srv.Close()
	s3c := s3.New(s3.Options{Region: "eu-west-1", BaseEndpoint: aws.String(s3srv.URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")})
	for _, b := range []string{"custom", "evals"} {
		if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
	}
	bedrock := customizetest.NewBedrock()
	defer bedrock.Close()
	puts := &encryptedPuts{Client: s3c, keys: map[string]string{}}
	flows := &stepFunctions{}
	sdk := aws.Config{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")}
	cfg := awsplatform.Config{Table: "plinth", EvalBucket: "evals", CustomizationBucket: "custom", CustomizationKeyARN: keyARN,
		CustomizationRoleARN: roleARN, CustomizationStateMachineARN: machineARN,
		AWS: &sdk, DynamoDB: ddb, S3: puts, StepFunctions: flows, Bedrock: bedrock.Client(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}

	// What an admin set up: the built-in models, a Bedrock model, a tenant and its key.
	b, err := awsplatform.NewBackends(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	a, err := platform.New(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close(ctx)
	if err := a.Registry.SeedBuiltins(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Registry.Create(ctx, registry.Model{ID: "nova-lite", Kind: registry.KindChat,
		Deployments: []registry.Deployment{{Provider: "bedrock", Model: "amazon.nova-lite-v1:0:300k"}}}, "admin"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Registry.Review(ctx, "nova-lite", "approve", "admin", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Tenants.CreateTenant(ctx, tenant.Tenant{ID: "acme"}); err != nil {
		t.Fatal(err)
	}
	key, _, err := a.Tenants.CreateKey(ctx, "acme", tenant.KeyOptions{})
	if err != nil {
		t.Fatal(err)
	}

	h, err := newHandler(ctx, cfg, cfg.Logger)
	if err != nil {
		t.Fatal(err)
	}
	call := func(t *testing.T, method, path, contentType string, body []byte) (int, string) {
		t.Helper()
		ev := loadEvent(t)
		ev.HTTPMethod, ev.Path, ev.Resource = method, path, path
		ev.Headers = map[string]string{"Content-Type": contentType}
		ev.MultiValueHeaders = map[string][]string{"Content-Type": {contentType}}
		if strings.HasPrefix(contentType, "multipart/") {
			ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
		} else {
			ev.Body, ev.IsBase64Encoded = string(body), false
		}
		ev.RequestContext.Authorizer = authorizer.ContextFor(auth.Principal{TenantID: "acme", KeyID: key.ID, Scopes: key.Scopes})
		resp, err := h(ctx, ev)
		if err != nil {
			t.Fatal(err)
		}
		out := resp.Body
		if resp.IsBase64Encoded {
			raw, err := base64.StdEncoding.DecodeString(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			out = string(raw)
		}
		return resp.StatusCode, out
	}

	dataset := `{"messages":[{"role":"user","content":"Reset my password"},{"role":"assistant","content":"Use the reset link."}]}` + "\n" +
		`{"messages":[{"role":"user","content":"Where is my order?"},{"role":"assistant","content":"Track it under Orders."}]}` + "\n"
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	_ = mw.WriteField("purpose", "fine-tune")
	fw, _ := mw.CreateFormFile("file", "support.jsonl")
	_, _ = io.WriteString(fw, dataset)
	_ = mw.Close()
	status, body := call(t, "POST", "/v1/files", mw.FormDataContentType(), form.Bytes())
	var file struct {
		ID    string `json:"id"`
		Bytes int    `json:"bytes"`
	}
	if err := json.Unmarshal([]byte(body), &file); status != 200 || err != nil || file.Bytes != len(dataset) {
		t.Fatalf("upload: %d %s", status, body)
	}
	objKey := "tenants/acme/customization/files/" + file.ID + ".jsonl"
	if got := puts.keys[objKey]; got != keyARN {
		t.Fatalf("%s was written with KMS key %q, want the customisation key; writes %v", objKey, got, puts.keys)
	}
	if status, body := call(t, "GET", "/v1/files/"+file.ID+"/content", "application/json", nil); status != 200 || body != dataset {
		t.Fatalf("content: %d %q", status, body)
	}
	if status, body := call(t, "GET", "/v1/files", "application/json", nil); status != 200 || !strings.Contains(body, file.ID) {
		t.Fatalf("list: %d %s", status, body)
	}

	status, body = call(t, "POST", "/v1/fine_tuning/jobs", "application/json", []byte(`{"model":"local-tune","training_file":"`+file.ID+`"}`))
	if status != 400 || !strings.Contains(body, "only the local platform") {
		t.Fatalf("a local-tune job in AWS: %d %s", status, body)
	}
	status, body = call(t, "POST", "/v1/fine_tuning/jobs", "application/json", []byte(`{"model":"nova-lite","training_file":"`+file.ID+`"}`))
	var job struct {
		ID      string `json:"id"`
		Status  string `json:"status"`
		Details struct {
			Execution string `json:"execution"`
		} `json:"customization"`
	}
	if err := json.Unmarshal([]byte(body), &job); status != 200 || err != nil || job.Status != "validating_files" {
		t.Fatalf("create job: %d %s", status, body)
	}
	if len(flows.starts) != 1 {
		t.Fatalf("%d executions started", len(flows.starts))
	}
	start := flows.starts[0]
	var input map[string]string
	_ = json.Unmarshal([]byte(aws.ToString(start.Input)), &input)
	if aws.ToString(start.StateMachineArn) != machineARN || aws.ToString(start.Name) != job.ID || input["job_id"] != job.ID || input["tenant"] != "acme" {
		t.Fatalf("started %s named %s with %s", aws.ToString(start.StateMachineArn), aws.ToString(start.Name), aws.ToString(start.Input))
	}
	if !strings.HasSuffix(job.Details.Execution, ":"+job.ID) {
		t.Fatalf("the job's execution is %q", job.Details.Execution)
	}

	if status, body := call(t, "POST", "/v1/fine_tuning/jobs/"+job.ID+"/cancel", "application/json", nil); status != 200 || !strings.Contains(body, `"cancelled"`) {
		t.Fatalf("cancel: %d %s", status, body)
	}
	if len(flows.stops) != 1 || flows.stops[0] != job.Details.Execution {
		t.Fatalf("stopped %v, want the job's execution", flows.stops)
	}
}

func loadEvent(t *testing.T) events.APIGatewayProxyRequest {
	t.Helper()
	dir, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		if filepath.Dir(dir) == dir {
			t.Fatal("go.mod not found")
		}
		dir = filepath.Dir(dir)
	}
	b, err := os.ReadFile(filepath.Join(dir, "events", "apigw-chat-completions.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ev events.APIGatewayProxyRequest
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	return ev
}
