package parity

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	bedrocktypes "github.com/aws/aws-sdk-go-v2/service/bedrock/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	miniserver "github.com/truora/minidyn/server"

	"github.com/plinth-ai/plinth/shared/auth/accesstoken"
	"github.com/plinth-ai/plinth/shared/blob/s3blob"
	"github.com/plinth-ai/plinth/shared/customize"
	"github.com/plinth-ai/plinth/shared/customize/customizetest"
	"github.com/plinth-ai/plinth/shared/flow"
	"github.com/plinth-ai/plinth/shared/gateway/emf"
	"github.com/plinth-ai/plinth/shared/platform"
	"github.com/plinth-ai/plinth/shared/platform/apiroutes"
	"github.com/plinth-ai/plinth/shared/platform/awsplatform"
	"github.com/plinth-ai/plinth/shared/rag/index/s3vectors/s3vectorstest"
	"github.com/plinth-ai/plinth/shared/store/dynamostore"
	"github.com/plinth-ai/plinth/shared/tenant"
	"github.com/plinth-ai/plinth/shared/tenant/authorizer"
	"github.com/plinth-ai/plinth/statemachines"
	"github.com/plinth-ai/plinth/test/dynalite"
)

// The emulated deployment's names.
const (
	table           = "plinth"
	documentsBucket = "plinth-documents"
	indexBucket     = "plinth-index"
	evalBucket      = "plinth-evals"
	account         = "123456789012"
	adminRoleARN    = "arn:aws:iam::" + account + ":role/plinth-admin"
	documentsPrefix = "tenants/"
	// The silo tenant the emulated deployment was given (cdk context tenants with tier
	// silo): its own table and buckets, named to it by PLINTH_SILO_TENANTS.
	siloTenant    = "globex"
	siloTable     = "plinth-silo-globex"
	siloDocuments = "plinth-globex-documents"
	siloIndex     = "plinth-globex-index"
	siloEval      = "plinth-globex-evals"
	// placementTTL is how long functions trust a tenant's tier and move.
	placementTTL = 200 * time.Millisecond
	// The S3 Vectors buckets: the pool's and the silo tenant's own.
	vectorBucket = "plinth-vectors"
	siloVectors  = "plinth-globex-vectors"
	// The silo tenant's own fine-tuning bucket and the key of its datasets and models.
	siloCustomization    = "plinth-globex-customization"
	siloCustomizationKey = "arn:aws:kms:eu-west-1:" + account + ":key/0b6e1f2a-3c4d-4e5f-8a9b-0c1d2e3f4a5b"
	// The customisation bucket, its KMS key and the role Bedrock assumes for jobs.
	customizationBucket = "plinth-customization"
	customizationKey    = "arn:aws:kms:eu-west-1:" + account + ":key/6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b"
	customizationRole   = "arn:aws:iam::" + account + ":role/PlinthWorkflows-CustomizationJobRole"
)

func stateMachineARN(name string) string {
	return "arn:aws:states:eu-west-1:" + account + ":stateMachine:plinth-" + name
}

// awsRT is the deployed stack in process: API Gateway (routes, key authorizer, IAM on
// /admin, its error responses), the gateway, guardrails, retrieval and admin functions
// built as their main.go builds them, the ingest and evaluation functions' tasks run by
// the state machines' definitions, S3 notifications starting ingestion, and Step
// Functions executions, all over DynamoDB (minidyn) and S3 (gofakes3).
type awsRT struct {
	// ddb and s3 reach the emulators directly, to see where data landed.
	ddb        *dynamodb.Client
	s3         *s3.Client
	routes     []apiroutes.Route
	functions  map[string]func(context.Context, events.APIGatewayProxyRequest) (reply, error)
	authorizer *authorizer.Handler
	// challenge is the WWW-Authenticate header of API Gateway's 401s ("" for none).
	challenge string
	exec      *flow.Executor
	requests  atomic.Int64
	// admin is the admin function's platform (a tenant's move is run on it directly to
	// stop it mid-way, as a crash would).
	admin *platform.Platform
	// writes is the functions' S3 client, which knows each object's SSE-KMS key.
	writes *notifyingS3
	// vectors is Amazon S3 Vectors (the fake), holding the pool's and the silo tenant's
	// vector buckets.
	vectors *s3vectorstest.Fake
	// bedrock is Amazon Bedrock's model customisation API (the fake), which the
	// customisation flow's .sync step and the functions call.
	bedrock *customizetest.Bedrock
	// backstop is the customize function EventBridge invokes with Bedrock's job
	// state-change events.
	backstop func(context.Context, json.RawMessage) (json.RawMessage, error)
	// longTraining makes drain leave a flow once Bedrock has its job rather than wait
	// for the job to end (set with the fake's jobs never ending).
	longTraining atomic.Bool

	mu      sync.Mutex
	pending []pendingRun
	// parked signals, per execution, that it is waiting for a task token (the
	// customisation flow's approval): drain moves on without waiting for its end.
	parked map[string]chan struct{}
}

// pendingRun is a state-machine execution API Gateway's answer came before: an
// ingestion an S3 notification starts, a run the admin function started, or (resume)
// an execution a completed task token set going again.
type pendingRun struct {
	machine string
	name    string
	input   json.RawMessage
	resume  string
}

func newAWS(t *testing.T, e *env) *awsRT {
	t.Helper()
	ctx := context.Background()
	db := httptest.NewServer(miniserver.NewServer())
	t.Cleanup(db.Close)
	ddb := dynalite.Client(db.URL)
	for _, name := range []string{table, siloTable} {
		if err := dynamostore.CreateTable(ctx, ddb, name); err != nil {
			t.Fatal(err)
		}
	}
	s3srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	t.Cleanup(s3srv.Close)
	s3c := s3.New(s3.Options{Region: "eu-west-1", BaseEndpoint: aws.String(s3srv.URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")})
	for _, b := range []string{documentsBucket, indexBucket, evalBucket, siloDocuments, siloIndex, siloEval, customizationBucket, siloCustomization} {
		if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
	}
	rt := &awsRT{ddb: ddb, s3: s3c, routes: apiroutes.All(), functions: map[string]func(context.Context, events.APIGatewayProxyRequest) (reply, error){},
		exec: flow.NewExecutor(flow.WithLogger(quiet())), parked: map[string]chan struct{}{}}
	t.Cleanup(func() { _ = rt.exec.Close(context.Background()) })
	rt.writes = &notifyingS3{Client: s3c, rt: rt}
	rt.vectors = s3vectorstest.New(vectorBucket, siloVectors)
	t.Cleanup(rt.vectors.Close)
	rt.bedrock = customizetest.NewBedrock()
	t.Cleanup(rt.bedrock.Close)
	rt.bedrock.Region, rt.bedrock.Account, rt.bedrock.Bucket = "eu-west-1", account, customizationBucket
	customizationBlobs, err := s3blob.New(s3c, customizationBucket)
	if err != nil {
		t.Fatal(err)
	}
	rt.bedrock.Blobs = customizationBlobs

	// Every function gets the environment the CDK app gives it (cdk/workflows_stack.go
	// commonEnvironment, plus the admin function's state machines).
	sdk := e.sdk
	cfg := awsplatform.Config{Table: table, DocumentsBucket: documentsBucket, IndexBucket: indexBucket, EvalBucket: evalBucket,
		AWS: &sdk, DynamoDB: ddb, S3: rt.writes, StepFunctions: &stepFunctions{rt: rt},
		Logger: quiet(), Metrics: emf.New(io.Discard), VectorBucket: vectorBucket, S3Vectors: rt.vectors.Client(),
		// A move the admin function runs is seen by the others within placementTTL, and
		// each POST of a move runs one checkpoint's worth of it.
		PlacementTTL: placementTTL, MoveStep: time.Nanosecond,
		SiloTenants: string(jsonBody(map[string]any{siloTenant: map[string]string{"table": siloTable,
			"documents_bucket": siloDocuments, "index_bucket": siloIndex, "eval_bucket": siloEval, "vector_bucket": siloVectors,
			"customization_bucket": siloCustomization, "customization_key": siloCustomizationKey}}))}
	build := func(cfg awsplatform.Config) *platform.Platform {
		b, err := awsplatform.NewBackends(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		p, err := platform.New(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Close(context.Background()) })
		return p
	}
	serve := func(name string, p *platform.Platform, edge platform.Edge, apis []platform.API, stream bool) {
		h, err := platform.Handler(p, edge, apis...)
		if err != nil {
			t.Fatal(err)
		}
		if stream {
			lh := platform.StreamingHandler(h, platform.Flusher(p))
			rt.functions[name] = func(ctx context.Context, ev events.APIGatewayProxyRequest) (reply, error) {
				resp, err := lh(ctx, ev)
				if err != nil {
					return reply{}, err
				}
				body, err := io.ReadAll(resp.Body)
				return reply{Status: resp.StatusCode, Header: headersOf(resp.Headers, resp.MultiValueHeaders), Body: body}, err
			}
			return
		}
		lh := platform.BufferedHandler(h, platform.Flusher(p))
		rt.functions[name] = func(ctx context.Context, ev events.APIGatewayProxyRequest) (reply, error) {
			resp, err := lh(ctx, ev)
			if err != nil {
				return reply{}, err
			}
			body := []byte(resp.Body)
			if resp.IsBase64Encoded {
				if body, err = base64.StdEncoding.DecodeString(resp.Body); err != nil {
					return reply{}, err
				}
			}
			return reply{Status: resp.StatusCode, Header: headersOf(resp.Headers, resp.MultiValueHeaders), Body: body}, nil
		}
	}
	gw := build(cfg)
	gwEdge, err := platform.GatewayEdge(gw, e.getenv)
	if err != nil {
		t.Fatal(err)
	}
	serve(apiroutes.FunctionGateway, gw, gwEdge, platform.GatewayAPIs(), true)
	gr := build(cfg)
	serve(apiroutes.FunctionGuardrails, gr, platform.TenantEdge(gr), platform.GuardrailsAPIs(), false)
	ret := build(cfg)
	serve(apiroutes.FunctionRetrieval, ret, platform.TenantEdge(ret), platform.RetrievalAPIs(), false)
	// The fine-tuning, admin and customize functions get the customisation settings
	// (cdk/workflows_stack.go customizationEnvironment).
	custCfg := cfg
	custCfg.CustomizationBucket, custCfg.CustomizationKeyARN, custCfg.CustomizationRoleARN = customizationBucket, customizationKey, customizationRole
	custCfg.CustomizationStateMachineARN, custCfg.Bedrock = stateMachineARN(statemachines.Customization), rt.bedrock.Client()
	ft := build(custCfg)
	serve(apiroutes.FunctionFineTuning, ft, platform.TenantEdge(ft), platform.FineTuningAPIs(), false)
	adminCfg := custCfg
	adminCfg.EvaluationStateMachineARN = stateMachineARN(statemachines.Evaluation)
	adminCfg.IngestionStateMachineARN = stateMachineARN(statemachines.Ingestion)
	adm := build(adminCfg)
	rt.admin = adm
	if err := adm.Registry.SeedBuiltins(ctx); err != nil {
		t.Fatal(err)
	}
	serve(apiroutes.FunctionAdmin, adm, platform.AdminEdge(adm), platform.AdminAPIs(), false)

	// The ingest and evaluation functions run the state machines' tasks.
	ingest, err := platform.IngestTasks(build(cfg))
	if err != nil {
		t.Fatal(err)
	}
	evalTasks, err := platform.EvalTasks(build(cfg))
	if err != nil {
		t.Fatal(err)
	}
	for name, tasks := range map[string]map[string]platform.TaskFunc{statemachines.Ingestion: ingest, statemachines.Evaluation: evalTasks} {
		rt.register(t, name, tasks, nil)
	}
	// The customize function runs the customisation flow's tasks and the Bedrock backstop;
	// Step Functions runs the nested evaluations and the Bedrock job (.sync).
	custTasks, err := platform.CustomizeTasks(build(custCfg))
	if err != nil {
		t.Fatal(err)
	}
	if rt.backstop, err = platform.TaskHandler(custTasks, customize.TaskBedrockJobStateEvent, nil); err != nil {
		t.Fatal(err)
	}
	rt.exec.Bind(flow.ResourceStartExecutionSync, nestedByName(rt.exec.StartExecutionSync()))
	rt.exec.Bind(customize.ResourceBedrockSync, bedrockSync(rt.bedrock.Client(), func(jobName string) {
		if rt.longTraining.Load() {
			// The flow now waits on Bedrock for as long as the job takes.
			rt.park(flow.ExecutionID(statemachines.Customization, jobName))
		}
	}))
	rt.register(t, statemachines.Customization, custTasks, map[string]string{
		customize.PlaceholderEvaluationMachine: stateMachineARN(statemachines.Evaluation),
	})

	st, err := dynamostore.New(ddb, table)
	if err != nil {
		t.Fatal(err)
	}
	// The authorizer as functions/authorizer builds it, from the same settings.
	keys := tenant.NewService(st)
	var opts []authorizer.Option
	oauth, err := accesstoken.ConfigFromEnv(e.getenv, "")
	if err != nil {
		t.Fatal(err)
	}
	if oauth != nil {
		v, err := accesstoken.New(*oauth)
		if err != nil {
			t.Fatal(err)
		}
		opts = append(opts, authorizer.WithAccessTokens(v, keys.CachedTenant))
		// The stack's UNAUTHORIZED response then points clients to the resource's
		// metadata (cdk/api_stack.go).
		rt.challenge = accesstoken.Challenge(oauth.Resource)
	}
	rt.authorizer = authorizer.New(keys, quiet(), opts...)
	return rt
}

// register loads a state machine's definition with every task bound to its Lambda
// handler (the function's error type becoming the state's error, as Step Functions does)
// and the other placeholders substituted from extra.
func (rt *awsRT) register(t *testing.T, name string, tasks map[string]platform.TaskFunc, extra map[string]string) {
	t.Helper()
	def, err := statemachines.Definition(name)
	if err != nil {
		t.Fatal(err)
	}
	subs := map[string]string{}
	for _, ph := range statemachines.Placeholders(def) {
		if v, ok := extra[ph]; ok {
			subs[ph] = v
			continue
		}
		h, err := platform.TaskHandler(tasks, ph, nil)
		if err != nil {
			t.Fatal(err)
		}
		arn := "arn:aws:lambda:eu-west-1:" + account + ":function:plinth-" + ph
		approval := ph == customize.TaskRequestApproval
		rt.exec.Bind(arn, flow.TaskFunc(func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
			out, err := h(ctx, in)
			var ie messages.InvokeResponse_Error
			if errors.As(err, &ie) {
				return nil, &flow.TaskError{Type: ie.Type, Cause: ie.Message}
			}
			if approval && err == nil {
				// The flow now waits for its task token.
				var ref customize.JobRef
				_ = json.Unmarshal(in, &ref)
				rt.park(flow.ExecutionID(statemachines.Customization, ref.JobID))
			}
			return out, err
		}))
		subs[ph] = arn
	}
	m, err := flow.Load(def, subs)
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.exec.Register(name, m); err != nil {
		t.Fatal(err)
	}
}

func (rt *awsRT) name() string { return "aws" }

// do sends c through API Gateway: the route table decides the function and the
// admission, the function answers, and the executions the request caused run before
// the answer is returned.
func (rt *awsRT) do(t *testing.T, c call) reply {
	t.Helper()
	ctx := context.Background()
	r, err := rt.gateway(ctx, c)
	if err != nil {
		t.Fatalf("%s %s through API Gateway: %v", c.Method, c.Path, err)
	}
	rt.drain(t)
	return r
}

// API Gateway's own answers, in the OpenAI error shape the stack's gateway responses
// give them (cdk/api_stack.go openAIErrorResponses).
var (
	missingToken = reply{Status: http.StatusNotFound, Body: []byte(`{"error":{"message":"Missing Authentication Token","type":"invalid_request_error","code":"not_found","param":null}}`)}
	unauthorized = reply{Status: http.StatusUnauthorized, Body: []byte(`{"error":{"message":"Unauthorized","type":"invalid_request_error","code":"invalid_api_key","param":null}}`)}
	accessDenied = reply{Status: http.StatusForbidden, Body: []byte(`{"error":{"message":"User is not authorized to access this resource","type":"permission_error","code":"access_denied","param":null}}`)}
)

// unauthorized is API Gateway's 401, with the stack's WWW-Authenticate when it has one.
func (rt *awsRT) unauthorized() reply {
	r := unauthorized
	r.Header = http.Header{"Content-Type": {"application/json"}}
	if rt.challenge != "" {
		r.Header.Set("WWW-Authenticate", rt.challenge)
	}
	return r
}

func (rt *awsRT) gateway(ctx context.Context, c call) (reply, error) {
	u, err := url.Parse(c.Path)
	if err != nil {
		return reply{}, err
	}
	route, params, ok := apiroutes.Match(rt.routes, c.Method, u.Path)
	if !ok || (c.IAM != "" && route.Auth != apiroutes.AuthTenant) {
		return missingToken, nil // the IAM API has the tenant routes only
	}
	n := rt.requests.Add(1)
	ev := events.APIGatewayProxyRequest{
		Resource: route.Path, Path: u.Path, HTTPMethod: c.Method, PathParameters: params,
		Headers: map[string]string{}, MultiValueHeaders: map[string][]string{},
		RequestContext: events.APIGatewayProxyRequestContext{
			AccountID: account, ResourcePath: route.Path, HTTPMethod: c.Method, Stage: "prod", Path: "/prod" + u.Path,
			RequestID: fmt.Sprintf("c6af9ac6-7b61-11e6-9a41-%012d", n), APIID: "a1b2c3d4e5", DomainName: "a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com",
			RequestTimeEpoch: time.Now().UnixMilli(), Protocol: "HTTP/1.1",
			Identity: events.APIGatewayRequestIdentity{SourceIP: "203.0.113.24", UserAgent: "parity"},
		},
	}
	header := http.Header{}
	for k, vs := range c.Header {
		header[k] = vs
	}
	header.Set("Host", ev.RequestContext.DomainName)
	if c.ContentType != "" {
		header.Set("Content-Type", c.ContentType)
	}
	if c.Key != "" {
		header.Set("Authorization", "Bearer "+c.Key)
	}
	for k, vs := range header {
		ev.Headers[k] = vs[len(vs)-1]
		ev.MultiValueHeaders[k] = vs
	}
	if q := u.Query(); len(q) > 0 {
		ev.QueryStringParameters, ev.MultiValueQueryStringParameters = map[string]string{}, map[string][]string(q)
		for k, vs := range q {
			ev.QueryStringParameters[k] = vs[len(vs)-1]
		}
	}
	// The API's binary media types reach functions base64-encoded.
	if ct := header.Get("Content-Type"); strings.HasPrefix(ct, "multipart/form-data") || ct == "application/octet-stream" {
		ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(c.Body), true
	} else {
		ev.Body = string(c.Body)
	}

	switch {
	case c.IAM != "":
		// The IAM API: API Gateway verified the SigV4 signature and names the caller.
		ev.RequestContext.Identity.UserArn = c.IAM
		ev.RequestContext.Identity.Caller = "AROAPARITY:" + c.IAM[strings.LastIndex(c.IAM, "/")+1:]
	case route.Auth == apiroutes.AuthTenant:
		if header.Get("Authorization") == "" {
			return rt.unauthorized(), nil // the identity source is missing: the authorizer is not called
		}
		methodARN := "arn:aws:execute-api:eu-west-1:" + account + ":a1b2c3d4e5/prod/" + c.Method + u.Path
		resp, err := rt.authorizer.Handle(ctx, events.APIGatewayCustomAuthorizerRequestTypeRequest{
			Type: "REQUEST", MethodArn: methodARN,
			Resource: route.Path, Path: u.Path, HTTPMethod: c.Method, Headers: ev.Headers, MultiValueHeaders: ev.MultiValueHeaders,
			QueryStringParameters: ev.QueryStringParameters, PathParameters: params,
			RequestContext: events.APIGatewayCustomAuthorizerRequestTypeRequestContext{AccountID: account, Stage: "prod", RequestID: ev.RequestContext.RequestID},
		})
		switch {
		case errors.Is(err, authorizer.ErrUnauthorized):
			return rt.unauthorized(), nil
		case err != nil:
			return reply{}, err
		}
		if !allows(resp.PolicyDocument, methodARN) {
			return accessDenied, nil
		}
		ctxMap := map[string]any{"principalId": resp.PrincipalID}
		for k, v := range resp.Context {
			ctxMap[k] = v
		}
		ev.RequestContext.Authorizer = ctxMap
	case route.Auth == apiroutes.AuthIAM:
		if !c.Admin {
			return missingToken, nil // an unsigned request to an AWS_IAM route
		}
		ev.RequestContext.Identity.UserArn = adminRoleARN
		ev.RequestContext.Identity.Caller = "AROAPARITY:admin"
	}
	return rt.functions[route.Function](ctx, ev)
}

// allows evaluates an authorizer's policy for a method ARN as API Gateway does: an
// explicit Deny of a matching resource wins, otherwise a matching Allow admits ("*" in a
// resource matches any characters, "/" included).
func allows(doc events.APIGatewayCustomAuthorizerPolicy, methodARN string) bool {
	allowed := false
	for _, st := range doc.Statement {
		for _, res := range st.Resource {
			pattern := "^" + strings.ReplaceAll(regexp.QuoteMeta(res), `\*`, ".*") + "$"
			if !regexp.MustCompile(pattern).MatchString(methodARN) {
				continue
			}
			if st.Effect == "Deny" {
				return false
			}
			allowed = allowed || st.Effect == "Allow"
		}
	}
	return allowed
}

// drain runs the executions requests caused, until none is left: ingestions S3
// notifications start, runs the admin function started, fine-tuning flows (until they
// end or wait for their approval) and flows an approval set going again.
func (rt *awsRT) drain(t *testing.T) {
	t.Helper()
	for range 100 {
		rt.mu.Lock()
		if len(rt.pending) == 0 {
			rt.mu.Unlock()
			return
		}
		run := rt.pending[0]
		rt.pending = rt.pending[1:]
		rt.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		id := run.resume
		var err error
		if id == "" {
			var ex flow.Execution
			ex, err = rt.exec.Start(ctx, run.machine, run.name, run.input)
			id = ex.ID
		}
		if err == nil {
			err = rt.settle(ctx, id)
		}
		cancel()
		if err != nil {
			t.Fatalf("%s execution: %v", run.machine, err)
		}
	}
	t.Fatal("executions keep starting executions")
}

// settle waits until an execution has ended or waits for a task token.
func (rt *awsRT) settle(ctx context.Context, id string) error {
	done := make(chan error, 1)
	go func() {
		_, err := rt.exec.Wait(ctx, id)
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-rt.parkedSignal(id):
		return nil
	}
}

func (rt *awsRT) parkedSignal(id string) chan struct{} {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	ch, ok := rt.parked[id]
	if !ok {
		ch = make(chan struct{}, 1)
		rt.parked[id] = ch
	}
	return ch
}

// park records that an execution waits for a task token.
func (rt *awsRT) park(id string) {
	select {
	case rt.parkedSignal(id) <- struct{}{}:
	default:
	}
}

func (rt *awsRT) enqueue(machine string, input json.RawMessage) {
	rt.enqueueRun(pendingRun{machine: machine, input: input})
}

func (rt *awsRT) enqueueRun(run pendingRun) {
	rt.mu.Lock()
	rt.pending = append(rt.pending, run)
	rt.mu.Unlock()
}

// notifyingS3 is the S3 client of every function: changes under tenants/ in the
// documents bucket or the silo tenant's start ingestion, as the stack's EventBridge rule does, with the
// input the rule's transformer gives the state machine (cdk/workflows_stack.go).
type notifyingS3 struct {
	s3blob.Client
	rt  *awsRT
	seq atomic.Int64
	// sseKeys is the KMS key each object was last written with (S3 SSE-KMS), by
	// "bucket/key"; gofakes3 does not keep it.
	sseKeys sync.Map
}

func (s *notifyingS3) notify(detailType, bucket, key, reason string) {
	if (bucket != documentsBucket && bucket != siloDocuments) || !strings.HasPrefix(key, documentsPrefix) {
		return
	}
	n := s.seq.Add(1)
	ev, _ := json.Marshal(map[string]any{
		"version": "0", "id": fmt.Sprintf("17793124-05d4-b198-2fde-%012d", n), "source": "aws.s3", "detail-type": detailType,
		"time": time.Now().UTC().Format(time.RFC3339), "account": account, "region": "eu-west-1",
		"detail": map[string]any{"bucket": map[string]any{"name": bucket},
			"object": map[string]any{"key": key, "sequencer": fmt.Sprintf("%018X", n)}, "reason": reason},
	})
	s.rt.enqueue(statemachines.Ingestion, ev)
}

func (s *notifyingS3) PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	out, err := s.Client.PutObject(ctx, in, opts...)
	if err == nil {
		s.sseKeys.Store(aws.ToString(in.Bucket)+"/"+aws.ToString(in.Key), aws.ToString(in.SSEKMSKeyId))
		s.notify("Object Created", aws.ToString(in.Bucket), aws.ToString(in.Key), "PutObject")
	}
	return out, err
}

func (s *notifyingS3) DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, opts ...func(*s3.Options)) (*s3.DeleteObjectOutput, error) {
	out, err := s.Client.DeleteObject(ctx, in, opts...)
	if err == nil {
		s.notify("Object Deleted", aws.ToString(in.Bucket), aws.ToString(in.Key), "DeleteObject")
	}
	return out, err
}

// stepFunctions is the Step Functions API the functions call: it starts executions of
// the platform's state machines (run by drain), stops them and completes their waiting
// tasks. A named execution keeps its name; its ARN is the executor's execution ID.
type stepFunctions struct {
	rt *awsRT
	n  atomic.Int64
}

func (s *stepFunctions) StartExecution(_ context.Context, in *sfn.StartExecutionInput, _ ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error) {
	arn := aws.ToString(in.StateMachineArn)
	for _, name := range []string{statemachines.Evaluation, statemachines.Ingestion, statemachines.Customization} {
		if arn == stateMachineARN(name) {
			run := pendingRun{machine: name, name: aws.ToString(in.Name), input: json.RawMessage(aws.ToString(in.Input))}
			if run.name == "" {
				run.name = fmt.Sprintf("run-%d", s.n.Add(1))
			}
			s.rt.enqueueRun(run)
			return &sfn.StartExecutionOutput{ExecutionArn: aws.String(flow.ExecutionID(name, run.name)), StartDate: aws.Time(time.Now())}, nil
		}
	}
	return nil, fmt.Errorf("StateMachineDoesNotExist: %s", arn)
}

func (s *stepFunctions) StopExecution(ctx context.Context, in *sfn.StopExecutionInput, _ ...func(*sfn.Options)) (*sfn.StopExecutionOutput, error) {
	_, err := s.rt.exec.Stop(ctx, aws.ToString(in.ExecutionArn), aws.ToString(in.Error), aws.ToString(in.Cause))
	if err != nil && !errors.Is(err, flow.ErrNotRunning) {
		return nil, err
	}
	return &sfn.StopExecutionOutput{StopDate: aws.Time(time.Now())}, nil
}

func (s *stepFunctions) SendTaskSuccess(ctx context.Context, in *sfn.SendTaskSuccessInput, _ ...func(*sfn.Options)) (*sfn.SendTaskSuccessOutput, error) {
	if err := s.rt.exec.SendTaskSuccess(ctx, aws.ToString(in.TaskToken), json.RawMessage(aws.ToString(in.Output))); err != nil {
		return nil, err
	}
	s.rt.resumeWaiting()
	return &sfn.SendTaskSuccessOutput{}, nil
}

func (s *stepFunctions) SendTaskFailure(ctx context.Context, in *sfn.SendTaskFailureInput, _ ...func(*sfn.Options)) (*sfn.SendTaskFailureOutput, error) {
	if err := s.rt.exec.SendTaskFailure(ctx, aws.ToString(in.TaskToken), aws.ToString(in.Error), aws.ToString(in.Cause)); err != nil {
		return nil, err
	}
	s.rt.resumeWaiting()
	return &sfn.SendTaskFailureOutput{}, nil
}

// resumeWaiting has drain wait again for every running customisation execution: a
// completed task token set one of them going.
func (rt *awsRT) resumeWaiting() {
	running, err := rt.exec.List(context.Background(), flow.ListFilter{Machine: statemachines.Customization, Status: flow.StatusRunning})
	if err != nil {
		return
	}
	for _, ex := range running {
		rt.enqueueRun(pendingRun{machine: statemachines.Customization, resume: ex.ID})
	}
}

// nestedByName runs Step Functions' startExecution.sync:2 for a state machine named by
// its deployed ARN (stateMachineARN) on the machine registered under its name.
func nestedByName(inner flow.TaskFunc) flow.TaskFunc {
	return func(ctx context.Context, raw json.RawMessage) (json.RawMessage, error) {
		var req map[string]any
		if err := json.Unmarshal(raw, &req); err != nil {
			return nil, err
		}
		for _, name := range []string{statemachines.Evaluation, statemachines.Ingestion} {
			if req["StateMachineArn"] == stateMachineARN(name) {
				req["StateMachineArn"] = "arn:aws:states:eu-west-1:" + account + ":stateMachine:" + name
			}
		}
		b, _ := json.Marshal(req)
		return inner(ctx, b)
	}
}

// bedrockSync is Step Functions' arn:aws:states:::bedrock:createModelCustomizationJob.sync
// integration: CreateModelCustomizationJob with the task's Parameters, then
// GetModelCustomizationJob until the job ends; a completed job's description is the
// task's result (members in PascalCase), a failed or stopped one fails the task.
// Stopping the execution stops the Bedrock job. started is told the job's name once
// Bedrock has it.
func bedrockSync(client *bedrock.Client, started func(jobName string)) flow.TaskFunc {
	return func(ctx context.Context, raw json.RawMessage) (json.RawMessage, error) {
		var p customize.BedrockJobRequest
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, &flow.TaskError{Type: flow.ErrNameTaskFailed, Cause: err.Error()}
		}
		var given map[string]json.RawMessage
		_ = json.Unmarshal(raw, &given)
		if _, ok := given["ValidationDataConfig"]; ok && len(p.ValidationDataConfig.Validators) == 0 {
			// Bedrock takes 1 to 10 validators or no ValidationDataConfig at all.
			return nil, &flow.TaskError{Type: "Bedrock.ValidationException", Cause: "Value at 'validationDataConfig.validators' failed to satisfy constraint"}
		}
		in := &bedrock.CreateModelCustomizationJobInput{
			BaseModelIdentifier: aws.String(p.BaseModelIdentifier), CustomModelName: aws.String(p.CustomModelName),
			JobName: aws.String(p.JobName), RoleArn: aws.String(p.RoleArn), ClientRequestToken: aws.String(p.ClientRequestToken),
			CustomizationType: bedrocktypes.CustomizationType(p.CustomizationType), HyperParameters: p.HyperParameters,
			CustomModelKmsKeyId: aws.String(p.CustomModelKmsKeyID),
			TrainingDataConfig:  &bedrocktypes.TrainingDataConfig{S3Uri: aws.String(p.TrainingDataConfig.S3URI)},
			OutputDataConfig:    &bedrocktypes.OutputDataConfig{S3Uri: aws.String(p.OutputDataConfig.S3URI)},
		}
		if vs := p.ValidationDataConfig.Validators; len(vs) > 0 {
			in.ValidationDataConfig = &bedrocktypes.ValidationDataConfig{}
			for _, v := range vs {
				in.ValidationDataConfig.Validators = append(in.ValidationDataConfig.Validators, bedrocktypes.Validator{S3Uri: aws.String(v.S3URI)})
			}
		}
		for _, tag := range p.JobTags {
			in.JobTags = append(in.JobTags, bedrocktypes.Tag{Key: aws.String(tag.Key), Value: aws.String(tag.Value)})
		}
		created, err := client.CreateModelCustomizationJob(ctx, in)
		if err != nil {
			return nil, &flow.TaskError{Type: "Bedrock.ValidationException", Cause: err.Error()}
		}
		started(p.JobName)
		stop := func() {
			_, _ = client.StopModelCustomizationJob(context.WithoutCancel(ctx), &bedrock.StopModelCustomizationJobInput{JobIdentifier: created.JobArn})
		}
		for {
			job, err := client.GetModelCustomizationJob(ctx, &bedrock.GetModelCustomizationJobInput{JobIdentifier: created.JobArn})
			if ctx.Err() != nil {
				stop()
				return nil, ctx.Err()
			}
			if err != nil {
				return nil, &flow.TaskError{Type: flow.ErrNameTaskFailed, Cause: err.Error()}
			}
			switch job.Status {
			case bedrocktypes.ModelCustomizationJobStatusCompleted:
				return json.Marshal(map[string]any{"JobArn": aws.ToString(job.JobArn), "JobName": aws.ToString(job.JobName),
					"Status": string(job.Status), "OutputModelArn": aws.ToString(job.OutputModelArn), "OutputModelName": aws.ToString(job.OutputModelName)})
			case bedrocktypes.ModelCustomizationJobStatusFailed, bedrocktypes.ModelCustomizationJobStatusStopped:
				return nil, &flow.TaskError{Type: flow.ErrNameTaskFailed, Cause: aws.ToString(job.FailureMessage)}
			}
			select {
			case <-ctx.Done():
				stop()
				return nil, ctx.Err()
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
}

// headersOf merges a proxy response's headers.
func headersOf(single map[string]string, multi map[string][]string) http.Header {
	h := http.Header{}
	for k, v := range single {
		h.Set(k, v)
	}
	for k, vs := range multi {
		h[http.CanonicalHeaderKey(k)] = vs
	}
	return h
}
