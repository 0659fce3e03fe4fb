package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	miniserver "github.com/truora/minidyn/server"

	"github.com/plinth-ai/plinth/shared/blob/s3blob"
	"github.com/plinth-ai/plinth/shared/customize"
	"github.com/plinth-ai/plinth/shared/customize/customizetest"
	"github.com/plinth-ai/plinth/shared/platform"
	"github.com/plinth-ai/plinth/shared/platform/awsplatform"
	"github.com/plinth-ai/plinth/shared/registry"
	"github.com/plinth-ai/plinth/shared/store/dynamostore"
	"github.com/plinth-ai/plinth/shared/tenant"
	"github.com/plinth-ai/plinth/test/dynalite"
)

const (
	keyARN     = "arn:aws:kms:eu-west-1:123456789012:key/0f3c2d1e-9a8b-4c7d-8e6f-5a4b3c2d1e0f"
	roleARN    = "arn:aws:iam::123456789012:role/PlinthWorkflows-CustomizationJobRole"
	machineARN = "arn:aws:states:eu-west-1:123456789012:stateMachine:PlinthWorkflows-customization"
)

// stepFunctions records the executions the functions start and stop.
type stepFunctions struct {
	mu    sync.Mutex
	stops []string
}

func (s *stepFunctions) StartExecution(_ context.Context, in *sfn.StartExecutionInput, _ ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error) {
	arn := strings.Replace(aws.ToString(in.StateMachineArn), ":stateMachine:", ":execution:", 1) + ":" + aws.ToString(in.Name)
	return &sfn.StartExecutionOutput{ExecutionArn: aws.String(arn)}, nil
}

func (s *stepFunctions) StopExecution(_ context.Context, in *sfn.StopExecutionInput, _ ...func(*sfn.Options)) (*sfn.StopExecutionOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stops = append(s.stops, aws.ToString(in.ExecutionArn)+" "+aws.ToString(in.Error))
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

type fixture struct {
	cfg   awsplatform.Config
	svc   *customize.Service
	puts  *encryptedPuts
	flows *stepFunctions
}

// newFixture is the deployment on emulators: the table, the customisation and
// evaluation buckets, a Bedrock model the tenant may fine-tune.
func newFixture(t *testing.T) *fixture {
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
	for _, b := range []string{"custom", "evals"} {
		if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
	}
	bedrock := customizetest.NewBedrock()
	t.Cleanup(bedrock.Close)
	f := &fixture{puts: &encryptedPuts{Client: s3c, keys: map[string]string{}}, flows: &stepFunctions{}}
	sdk := aws.Config{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")}
	f.cfg = awsplatform.Config{Table: "plinth", EvalBucket: "evals", CustomizationBucket: "custom", CustomizationKeyARN: keyARN,
		CustomizationRoleARN: roleARN, CustomizationStateMachineARN: machineARN,
		AWS: &sdk, DynamoDB: ddb, S3: f.puts, StepFunctions: f.flows, Bedrock: bedrock.Client(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	b, err := awsplatform.NewBackends(ctx, f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	p, err := platform.New(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	if err := p.Registry.SeedBuiltins(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Registry.Create(ctx, registry.Model{ID: "nova-lite", Kind: registry.KindChat,
		Deployments: []registry.Deployment{{Provider: "bedrock", Model: "amazon.nova-lite-v1:0:300k"}}}, "admin"); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Registry.Review(ctx, "nova-lite", "approve", "admin", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Tenants.CreateTenant(ctx, tenant.Tenant{ID: "acme"}); err != nil {
		t.Fatal(err)
	}
	if f.svc, err = platform.Customize(p); err != nil {
		t.Fatal(err)
	}
	return f
}

// job uploads body as acme's dataset and creates a job on nova-lite.
func (f *fixture) job(t *testing.T, body string) *customize.Job {
	t.Helper()
	ctx := context.Background()
	file, err := f.svc.CreateFile(ctx, "acme", "support.jsonl", customize.PurposeFineTune, strings.NewReader(body), nil)
	if err != nil {
		t.Fatal(err)
	}
	j, err := f.svc.CreateJob(ctx, "acme", customize.JobRequest{Model: "nova-lite", TrainingFile: file.ID}, "key_1")
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// run invokes the function that runs task, as Lambda does.
func (f *fixture) run(t *testing.T, task string, in any) (json.RawMessage, error) {
	t.Helper()
	h, err := newHandler(context.Background(), f.cfg, task, f.cfg.Logger)
	if err != nil {
		t.Fatal(err)
	}
	raw, ok := in.([]byte)
	if !ok {
		raw, _ = json.Marshal(in)
	}
	return h(context.Background(), raw)
}

func conversations(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, `{"messages":[{"role":"user","content":"Ticket %d: reset my password"},{"role":"assistant","content":"Use the reset link, case %d."}]}`+"\n", i, i)
	}
	return b.String()
}

// The Validate function fails a broken dataset with InvalidTrainingFile naming the line,
// the error the flow's Catch records; a good one yields the CreateModelCustomizationJob
// request the .sync integration sends, with the job role, the tenant's S3 locations and
// the customisation key, and the validated records written with that key.
func TestValidate(t *testing.T) {
	f := newFixture(t)
	bad := f.job(t, conversations(3)+"{\"messages\": [\n")
	_, err := f.run(t, customize.TaskValidate, customize.JobRef{JobID: bad.ID})
	var ie messages.InvokeResponse_Error
	if !errors.As(err, &ie) || ie.Type != customize.ErrNameInvalidTrainingFile || !strings.Contains(ie.Message, "line 4") {
		t.Fatalf("a broken dataset: %v", err)
	}

	good := f.job(t, conversations(25))
	out, err := f.run(t, customize.TaskValidate, customize.JobRef{JobID: good.ID})
	if err != nil {
		t.Fatal(err)
	}
	var v customize.Validated
	if err := json.Unmarshal(out, &v); err != nil || v.Provider != "bedrock" || v.Bedrock == nil {
		t.Fatalf("validated %s (%v)", out, err)
	}
	prefix := "s3://custom/tenants/acme/customization/jobs/" + good.ID + "/"
	r := v.Bedrock
	if r.RoleArn != roleARN || r.CustomModelKmsKeyID != keyARN || r.JobName != good.ID || r.ClientRequestToken != good.ID ||
		r.TrainingDataConfig.S3URI != prefix+"data/training.jsonl" || r.OutputDataConfig.S3URI != prefix+"output/" ||
		len(r.ValidationDataConfig.Validators) != 1 || r.BaseModelIdentifier != "amazon.nova-lite-v1:0:300k" {
		t.Fatalf("CreateModelCustomizationJob request %+v", r)
	}
	if k := f.puts.keys["tenants/acme/customization/jobs/"+good.ID+"/data/training.jsonl"]; k != keyARN {
		t.Fatalf("validated records written with key %q", k)
	}
}

// The backstop function, invoked by EventBridge with Bedrock's state-change event (the
// sample in events/), fails a job whose Bedrock job failed and stops its execution.
func TestBedrockJobStateChange(t *testing.T) {
	f := newFixture(t)
	j := f.job(t, conversations(25))
	if _, err := f.run(t, customize.TaskValidate, customize.JobRef{JobID: j.ID}); err != nil {
		t.Fatal(err)
	}
	var ev map[string]any
	if err := json.Unmarshal(repoFile(t, "events", "bedrock-customization-job-state-change.json"), &ev); err != nil {
		t.Fatal(err)
	}
	detail := ev["detail"].(map[string]any)
	detail["jobName"] = j.ID
	raw, _ := json.Marshal(ev)
	out, err := f.run(t, customize.TaskBedrockJobStateEvent, raw)
	if err != nil {
		t.Fatal(err)
	}
	var res customize.BedrockEventOutcome
	if err := json.Unmarshal(out, &res); err != nil || res.Action != customize.ActionFailed || res.JobID != j.ID {
		t.Fatalf("outcome %s (%v)", out, err)
	}
	got, err := f.svc.GetJob(context.Background(), "acme", j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != customize.StatusFailed || got.Error == nil || got.Error.Message != detail["failureMessage"] ||
		got.Details.ProviderJobID != detail["jobArn"] {
		t.Fatalf("job %s %+v %q", got.Status, got.Error, got.Details.ProviderJobID)
	}
	if len(f.flows.stops) != 1 || f.flows.stops[0] != j.Details.Execution+" "+customize.ErrNameTrainingFailed {
		t.Fatalf("stopped %v, want %s", f.flows.stops, j.Details.Execution)
	}
	if _, err := newHandler(context.Background(), f.cfg, "NoSuchFunctionArn", f.cfg.Logger); !errors.Is(err, platform.ErrUnknownTask) {
		t.Fatalf("an unknown task: %v", err)
	}
}

func repoFile(t *testing.T, parts ...string) []byte {
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
	b, err := os.ReadFile(filepath.Join(append([]string{dir}, parts...)...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
