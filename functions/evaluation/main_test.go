package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	miniserver "github.com/truora/minidyn/server"

	"github.com/plinth-ai/plinth/shared/flow"
	"github.com/plinth-ai/plinth/shared/platform"
	"github.com/plinth-ai/plinth/shared/platform/awsplatform"
	"github.com/plinth-ai/plinth/shared/store/dynamostore"
	"github.com/plinth-ai/plinth/statemachines"
	"github.com/plinth-ai/plinth/test/dynalite"
)

func eventFile(t *testing.T, name string) []byte {
	t.Helper()
	dir, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found")
		}
		dir = parent
	}
	b, err := os.ReadFile(filepath.Join(dir, "events", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// recorder fakes Step Functions' StartExecution and EventBridge's PutEvents.
type recorder struct {
	mu     sync.Mutex
	starts []string
	events []string
}

func (r *recorder) StartExecution(_ context.Context, in *sfn.StartExecutionInput, _ ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.starts = append(r.starts, aws.ToString(in.Input))
	return &sfn.StartExecutionOutput{ExecutionArn: aws.String("arn:aws:states:eu-west-1:123456789012:execution:plinth-evaluation:x")}, nil
}

func (r *recorder) PutEvents(_ context.Context, in *eventbridge.PutEventsInput, _ ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range in.Entries {
		r.events = append(r.events, aws.ToString(e.EventBusName)+" "+aws.ToString(e.DetailType))
	}
	return &eventbridge.PutEventsOutput{Entries: make([]ebtypes.PutEventsResultEntry, len(in.Entries))}, nil
}

func testConfig(t *testing.T, rec *recorder) awsplatform.Config {
	t.Helper()
	ctx := context.Background()
	db := httptest.NewServer(miniserver.NewServer())
	t.Cleanup(db.Close)
	ddb := dynalite.Client(db.URL)
	if err := dynamostore.CreateTable(ctx, ddb, "plinth"); err != nil {
		t.Fatal(err)
	}
	s3srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	t.Cleanup(s3srv.Close)
	s3c := s3.New(s3.Options{Region: "eu-west-1", BaseEndpoint: aws.String(s3srv.URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")})
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("evals")}); err != nil {
		t.Fatal(err)
	}
	sdk := aws.Config{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")}
	return awsplatform.Config{Table: "plinth", EvalBucket: "evals", EventBus: "plinth",
		EvaluationStateMachineARN: "arn:aws:states:eu-west-1:123456789012:stateMachine:plinth-evaluation",
		AWS:                       &sdk, DynamoDB: ddb, S3: s3c, StepFunctions: rec, EventBridge: rec,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

func admin(t *testing.T, h func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error), method, path, body string) events.APIGatewayProxyResponse {
	t.Helper()
	resp, err := h(context.Background(), events.APIGatewayProxyRequest{HTTPMethod: method, Path: path, Body: body,
		RequestContext: events.APIGatewayProxyRequestContext{RequestID: "r-1", Identity: events.APIGatewayRequestIdentity{UserArn: "arn:aws:iam::123456789012:role/admin"}}})
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// TestEvaluationRun starts a run through the admin API (StartExecution recorded), runs
// the evaluation definition on the embedded executor with every task bound to this
// function's Lambda handler, and reads the stored run.
func TestEvaluationRun(t *testing.T) {
	rec := &recorder{}
	cfg := testConfig(t, rec)
	ctx := context.Background()
	if _, err := newHandler(ctx, cfg, "ExtractFunctionArn", cfg.Logger); !errors.Is(err, platform.ErrUnknownTask) {
		t.Fatalf("an ingestion task in the evaluation binary: %v", err)
	}
	// The sample input names a suite that does not exist yet.
	load, err := newHandler(ctx, cfg, "LoadDatasetFunctionArn", cfg.Logger)
	if err != nil {
		t.Fatal(err)
	}
	_, err = lambda.NewHandler(load).Invoke(ctx, eventFile(t, "sfn-evaluation-input.json"))
	var ie messages.InvokeResponse_Error
	if !errors.As(err, &ie) || ie.Type != "TaskFailed" || !strings.Contains(ie.Message, "qa") {
		t.Fatalf("missing suite: %#v", err)
	}

	api := platform.BufferedHandler(adminAPI(t, awsPlatform(t, cfg)), nil)
	for _, step := range []struct{ method, path, body string }{
		{"POST", "/admin/tenants", `{"id":"acme","name":"Acme"}`},
		{"POST", "/admin/eval-suites", `{"tenant":"acme","id":"qa","target":{"model":"local-chat"},"metrics":["exact_match","f1"],
		  "dataset":{"items":[{"id":"1","input":"Capital of France?","references":["Paris"],"output":"Paris"},
		                      {"id":"2","input":"Largest planet?","references":["Jupiter"],"output":"Saturn"}]}}`},
		{"POST", "/admin/eval-suites/qa/runs", `{}`},
	} {
		if resp := admin(t, api, step.method, step.path, step.body); resp.StatusCode >= 300 {
			t.Fatalf("%s %s: %d %s", step.method, step.path, resp.StatusCode, resp.Body)
		}
	}
	if len(rec.starts) != 1 {
		t.Fatalf("StartExecution calls %v", rec.starts)
	}
	var input struct {
		RunID string `json:"run_id"`
	}
	_ = json.Unmarshal([]byte(rec.starts[0]), &input)

	def, err := statemachines.Definition(statemachines.Evaluation)
	if err != nil {
		t.Fatal(err)
	}
	exec := flow.NewExecutor()
	defer exec.Close(ctx)
	subs := map[string]string{}
	for _, ph := range statemachines.Placeholders(def) {
		h, err := newHandler(ctx, cfg, ph, cfg.Logger)
		if err != nil {
			t.Fatal(err)
		}
		arn := "arn:aws:lambda:eu-west-1:123456789012:function:plinth-" + ph
		exec.Bind(arn, flow.TaskFunc(func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
			out, err := h(ctx, in)
			var ie messages.InvokeResponse_Error
			if errors.As(err, &ie) {
				return nil, &flow.TaskError{Type: ie.Type, Cause: ie.Message}
			}
			return out, err
		}))
		subs[ph] = arn
	}
	m, err := flow.Load(def, subs)
	if err != nil {
		t.Fatal(err)
	}
	if err := exec.Register("evaluation", m); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	ex, err := exec.Start(wctx, "evaluation", "", json.RawMessage(rec.starts[0]))
	if err != nil {
		t.Fatal(err)
	}
	if ex, err = exec.Wait(wctx, ex.ID); err != nil || ex.Status != flow.StatusSucceeded {
		t.Fatalf("execution %v: %+v", err, ex)
	}

	resp := admin(t, api, "GET", "/admin/eval-runs/"+input.RunID, "")
	var run struct {
		Status  string
		Metrics map[string]float64
	}
	_ = json.Unmarshal([]byte(resp.Body), &run)
	if run.Status != "succeeded" || run.Metrics["exact_match"] != 50 {
		t.Fatalf("run %d %s", resp.StatusCode, resp.Body)
	}
	if len(rec.events) == 0 || !strings.HasPrefix(rec.events[0], "plinth ") {
		t.Errorf("events published %v", rec.events)
	}
}

// awsPlatform builds the platform on cfg's AWS backends, as a function's cold start does.
func awsPlatform(t *testing.T, cfg awsplatform.Config) *platform.Platform {
	t.Helper()
	b, err := awsplatform.NewBackends(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	p, err := platform.New(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// adminAPI is the admin function's handler on p.
func adminAPI(t *testing.T, p *platform.Platform) http.Handler {
	t.Helper()
	if err := p.Registry.SeedBuiltins(context.Background()); err != nil {
		t.Fatal(err)
	}
	h, err := platform.Handler(p, platform.AdminEdge(p), platform.AdminAPIs()...)
	if err != nil {
		t.Fatal(err)
	}
	return h
}
