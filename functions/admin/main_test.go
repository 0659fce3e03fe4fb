package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
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
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	schedtypes "github.com/aws/aws-sdk-go-v2/service/scheduler/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	miniserver "github.com/truora/minidyn/server"

	"github.com/plinth-ai/plinth/shared/platform/awsplatform"
	schedules "github.com/plinth-ai/plinth/shared/platform/scheduler"
	"github.com/plinth-ai/plinth/shared/rag/index/s3vectors"
	"github.com/plinth-ai/plinth/shared/store/dynamostore"
	"github.com/plinth-ai/plinth/test/dynalite"
)

func loadEvent(t *testing.T, name string) events.APIGatewayProxyRequest {
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
	var ev events.APIGatewayProxyRequest
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

// fakeSFN records StartExecution calls.
type fakeSFN struct {
	mu    sync.Mutex
	calls []*sfn.StartExecutionInput
}

func (f *fakeSFN) StartExecution(_ context.Context, in *sfn.StartExecutionInput, _ ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, in)
	return &sfn.StartExecutionOutput{ExecutionArn: aws.String(fmt.Sprintf("%s:exec-%d", strings.Replace(aws.ToString(in.StateMachineArn), ":stateMachine:", ":execution:", 1), len(f.calls)))}, nil
}

// fakeScheduler keeps schedules in memory with EventBridge Scheduler's semantics for
// the calls the admin function makes.
type fakeScheduler struct {
	mu        sync.Mutex
	schedules map[string]*scheduler.CreateScheduleInput
	updates   int
}

func (f *fakeScheduler) CreateSchedule(_ context.Context, in *scheduler.CreateScheduleInput, _ ...func(*scheduler.Options)) (*scheduler.CreateScheduleOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.schedules[aws.ToString(in.Name)]; ok {
		return nil, &schedtypes.ConflictException{Message: aws.String("exists")}
	}
	f.schedules[aws.ToString(in.Name)] = in
	return &scheduler.CreateScheduleOutput{ScheduleArn: aws.String("arn:aws:scheduler:::schedule/" + aws.ToString(in.Name))}, nil
}

func (f *fakeScheduler) UpdateSchedule(_ context.Context, in *scheduler.UpdateScheduleInput, _ ...func(*scheduler.Options)) (*scheduler.UpdateScheduleOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.schedules[aws.ToString(in.Name)]; !ok {
		return nil, &schedtypes.ResourceNotFoundException{Message: aws.String("missing")}
	}
	f.updates++
	f.schedules[aws.ToString(in.Name)] = &scheduler.CreateScheduleInput{Name: in.Name, GroupName: in.GroupName, ScheduleExpression: in.ScheduleExpression, Target: in.Target}
	return &scheduler.UpdateScheduleOutput{}, nil
}

func (f *fakeScheduler) DeleteSchedule(_ context.Context, in *scheduler.DeleteScheduleInput, _ ...func(*scheduler.Options)) (*scheduler.DeleteScheduleOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.schedules[aws.ToString(in.Name)]; !ok {
		return nil, &schedtypes.ResourceNotFoundException{Message: aws.String("missing")}
	}
	delete(f.schedules, aws.ToString(in.Name))
	return &scheduler.DeleteScheduleOutput{}, nil
}

func (f *fakeScheduler) ListSchedules(_ context.Context, in *scheduler.ListSchedulesInput, _ ...func(*scheduler.Options)) (*scheduler.ListSchedulesOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []schedtypes.ScheduleSummary
	for name, s := range f.schedules {
		if aws.ToString(s.GroupName) == aws.ToString(in.GroupName) && strings.HasPrefix(name, aws.ToString(in.NamePrefix)) {
			out = append(out, schedtypes.ScheduleSummary{Name: aws.String(name)})
		}
	}
	return &scheduler.ListSchedulesOutput{Schedules: out}, nil
}

// unusedVectors stands for the S3 Vectors client: creating a knowledge base makes no call.
type unusedVectors struct{ s3vectors.API }

const (
	schedulerRole = "arn:aws:iam::123456789012:role/plinth-scheduler"
	schedulerDLQ  = "arn:aws:sqs:eu-west-1:123456789012:plinth-scheduler-dlq"
)

const evalMachine = "arn:aws:states:eu-west-1:123456789012:stateMachine:plinth-evaluation"

// newAdmin runs newHandler on DynamoDB (minidyn's server), S3 (gofakes3) and a recording
// Step Functions client.
func newAdmin(t *testing.T) (func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error), *fakeSFN, *fakeScheduler) {
	t.Helper()
	h, steps, sched := newAdminWith(t, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	return proxy(h), steps, sched
}

// proxy sends API Gateway proxy events to the function's handler as Lambda does: the
// event as JSON in, the response as JSON out.
func proxy(h func(context.Context, json.RawMessage) (any, error)) func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
	return func(ctx context.Context, ev events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		raw, err := json.Marshal(ev)
		if err != nil {
			return events.APIGatewayProxyResponse{}, err
		}
		out, err := h(ctx, raw)
		if err != nil {
			return events.APIGatewayProxyResponse{}, err
		}
		b, err := json.Marshal(out)
		if err != nil {
			return events.APIGatewayProxyResponse{}, err
		}
		var resp events.APIGatewayProxyResponse
		err = json.Unmarshal(b, &resp)
		return resp, err
	}
}

// newAdminWith is newAdmin with the configuration adjusted by with (when not nil) and
// the function's log going to log; it returns the Lambda handler itself.
func newAdminWith(t *testing.T, with func(*awsplatform.Config), log *slog.Logger) (func(context.Context, json.RawMessage) (any, error), *fakeSFN, *fakeScheduler) {
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
	for _, b := range []string{"docs", "index", "evals"} {
		if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
	}
	steps, sched := &fakeSFN{}, &fakeScheduler{schedules: map[string]*scheduler.CreateScheduleInput{}}
	sdk := aws.Config{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")}
	cfg := awsplatform.Config{Table: "plinth", DocumentsBucket: "docs", IndexBucket: "index", EvalBucket: "evals",
		EvaluationStateMachineARN: evalMachine, AWS: &sdk, DynamoDB: ddb, S3: s3c, StepFunctions: steps,
		VectorBucket: "plinth-vectors", S3Vectors: unusedVectors{},
		ScheduleGroup: "plinth-evaluations", SchedulerRoleARN: schedulerRole, SchedulerDLQARN: schedulerDLQ, Scheduler: sched}
	if with != nil {
		with(&cfg)
	}
	h, err := newHandler(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	return h, steps, sched
}

// adminEvent turns the sample proxy event into an /admin call signed by an IAM user, as
// API Gateway passes it after AWS_IAM authorization (no authorizer context).
func adminEvent(t *testing.T, method, path, body, userARN string) events.APIGatewayProxyRequest {
	ev := loadEvent(t, "apigw-models.json")
	ev.HTTPMethod, ev.Path, ev.Resource, ev.Body = method, path, "/admin/{proxy+}", body
	ev.RequestContext.HTTPMethod, ev.RequestContext.ResourcePath = method, "/admin/{proxy+}"
	ev.RequestContext.Authorizer = nil
	ev.RequestContext.Identity.UserArn = userARN
	ev.RequestContext.Identity.Caller = "AIDAJQABLZS4A3QDU576Q"
	delete(ev.Headers, "Authorization")
	delete(ev.MultiValueHeaders, "Authorization")
	if body != "" {
		ev.MultiValueHeaders["Content-Type"] = []string{"application/json"}
	}
	return ev
}

func TestAdminAPIOverIAM(t *testing.T) {
	h, steps, sched := newAdmin(t)
	const admin = "arn:aws:iam::123456789012:user/platform-admin"
	cases := []struct {
		name, method, path, body, user string
		status                         int
		want                           string
	}{
		{"unsigned caller refused", "POST", "/admin/tenants", `{"id":"acme","name":"Acme"}`, "", 403, `"iam_required"`},
		{"create tenant", "POST", "/admin/tenants", `{"id":"acme","name":"Acme"}`, admin, 201, `"id":"acme"`},
		{"issue key", "POST", "/admin/tenants/acme/keys", `{}`, admin, 201, `"key":"`},
		{"built-in models seeded", "GET", "/admin/models", "", admin, 200, `"local-chat"`},
		{"guardrail policies", "GET", "/admin/guardrail-policies", "", admin, 200, `[`},
		{"knowledge base", "POST", "/admin/knowledge-bases", `{"tenant":"acme","id":"docs"}`, admin, 201, `"id":"docs"`},
		{"knowledge base on S3 Vectors", "POST", "/admin/knowledge-bases", `{"tenant":"acme","id":"vec","index_backend":"s3vectors"}`, admin, 201, `"index_backend":"s3vectors"`},
		{"evaluation suite", "POST", "/admin/eval-suites", `{"tenant":"acme","id":"qa","dataset":{"items":[{"id":"1","input":"What is 2+2?","references":["4"]}]},"target":{"model":"local-chat"},"metrics":["exact_match"]}`, admin, 201, `"id":"qa"`},
		{"evaluation run on Step Functions", "POST", "/admin/eval-suites/qa/runs", `{}`, admin, 202, `"status"`},
		{"scheduled suite", "POST", "/admin/eval-suites", `{"tenant":"acme","id":"nightly","schedule":"cron(0 2 * * ? *)","dataset":{"items":[{"id":"1","input":"q","references":["a"],"output":"a"}]},"target":{"model":"local-chat"},"metrics":["exact_match"]}`, admin, 201, `"id":"nightly"`},
		{"reschedule", "PUT", "/admin/eval-suites/nightly", `{"tenant":"acme","id":"nightly","schedule":"rate(1 day)","dataset":{"items":[{"id":"1","input":"q","references":["a"],"output":"a"}]},"target":{"model":"local-chat"},"metrics":["exact_match"]}`, admin, 200, `"rate(1 day)"`},
		{"usage report", "GET", "/admin/usage/report", "", admin, 200, `{`},
		{"unknown route", "GET", "/admin/nope", "", admin, 404, `"not_found"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := h(context.Background(), adminEvent(t, tc.method, tc.path, tc.body, tc.user))
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status || !strings.Contains(resp.Body, tc.want) {
				t.Fatalf("%d %s", resp.StatusCode, resp.Body)
			}
			if got := resp.MultiValueHeaders["X-Request-Id"]; len(got) != 1 || got[0] != "d7b0ab17-8c72-11e6-8b52-a4f9deadbeef" {
				t.Errorf("X-Request-Id %q", got)
			}
		})
	}
	if len(steps.calls) != 1 || aws.ToString(steps.calls[0].StateMachineArn) != evalMachine || !json.Valid([]byte(aws.ToString(steps.calls[0].Input))) {
		t.Fatalf("StartExecution calls %+v", steps.calls)
	}
	if !strings.Contains(aws.ToString(steps.calls[0].Input), `qa`) {
		t.Errorf("execution input %s", aws.ToString(steps.calls[0].Input))
	}

	// One schedule, for the scheduled suite, targeting the evaluation state machine.
	name := schedules.Name("acme", "nightly")
	sc := sched.schedules[name]
	if len(sched.schedules) != 1 || sc == nil || sched.updates != 1 {
		t.Fatalf("schedules %v (updates %d)", sched.schedules, sched.updates)
	}
	if aws.ToString(sc.ScheduleExpression) != "rate(1 day)" || aws.ToString(sc.GroupName) != "plinth-evaluations" ||
		aws.ToString(sc.Target.Arn) != evalMachine || aws.ToString(sc.Target.RoleArn) != schedulerRole ||
		sc.Target.DeadLetterConfig == nil || aws.ToString(sc.Target.DeadLetterConfig.Arn) != schedulerDLQ {
		t.Errorf("schedule %+v target %+v", sc, sc.Target)
	}
	var input struct{ SuiteID, Trigger string }
	if err := json.Unmarshal([]byte(aws.ToString(sc.Target.Input)), &input); err != nil || input.Trigger != "schedule" {
		t.Errorf("schedule input %s", aws.ToString(sc.Target.Input))
	}
	resp, err := h(context.Background(), adminEvent(t, "DELETE", "/admin/eval-suites/nightly", "", admin))
	if err != nil || resp.StatusCode != 204 {
		t.Fatalf("delete suite: %v %d %s", err, resp.StatusCode, resp.Body)
	}
	if len(sched.schedules) != 0 {
		t.Errorf("schedule left after its suite was deleted: %v", sched.schedules)
	}

	// Every change above is in the audit trail (flushed before each invocation returns),
	// attributed to the IAM admin with the caller's address and the API Gateway request ID.
	resp, err = h(context.Background(), adminEvent(t, "GET", "/admin/audit?tenant=acme&limit=100", "", admin))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("audit: %v %d %s", err, resp.StatusCode, resp.Body)
	}
	var trail struct {
		Data []struct {
			Action    string `json:"action"`
			Actor     string `json:"actor"`
			SourceIP  string `json:"source_ip"`
			RequestID string `json:"request_id"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(resp.Body), &trail); err != nil {
		t.Fatal(err)
	}
	var actions []string
	for i := len(trail.Data) - 1; i >= 0; i-- {
		e := trail.Data[i]
		actions = append(actions, e.Action)
		if e.Actor == "platform" {
			// The evaluation flow the run started (on Step Functions), joined to the request.
			if e.Action != "flow.start" || e.RequestID != "d7b0ab17-8c72-11e6-8b52-a4f9deadbeef" {
				t.Errorf("platform event %+v: want the flow's start with the API Gateway request ID", e)
			}
			continue
		}
		if e.Actor != admin || e.RequestID != "d7b0ab17-8c72-11e6-8b52-a4f9deadbeef" || e.SourceIP == "" {
			t.Errorf("event %+v: want actor %s and the API Gateway request ID", e, admin)
		}
	}
	want := "createTenant createKey createKnowledgeBase createKnowledgeBase createEvalSuite flow.start startEvalRun createEvalSuite replaceEvalSuite deleteEvalSuite"
	if strings.Join(actions, " ") != want {
		t.Errorf("acme's audit trail:\n got %s\nwant %s", strings.Join(actions, " "), want)
	}
}
