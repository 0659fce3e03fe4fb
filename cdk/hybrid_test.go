package main

import (
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

// The central platform the tenant stack points at.
const (
	centralAccount = "111111111111"
	centralRegion  = "eu-west-1"
	centralAPIID   = "a1b2c3d4e5"
	centralSinkARN = "arn:aws:oam:eu-west-1:111111111111:sink/1a2b3c4d-0000-4000-8000-123456789abc"
)

var (
	tenantOnce sync.Once
	tenantTpl  struct {
		stack *TenantStack
		raw   map[string]any
		err   error
	}
)

// tenantStack synthesizes initech's TenantStack from context as `cdk synth` would (nag
// on, s3vectors backend) once.
func tenantStack(t *testing.T) (*TenantStack, map[string]any) {
	t.Helper()
	base := platform(t)
	tenantOnce.Do(func() {
		tenantTpl.err = func() error {
			ctx := map[string]any{"tenantStack": hybridTenant, "centralAccount": centralAccount, "centralApiId": centralAPIID,
				"centralSinkArn": centralSinkARN, "assetDir": base.assets, "vectorBackend": "s3vectors"}
			app := awscdk.NewApp(&awscdk.AppProps{Context: &ctx, Outdir: jsii.String(filepath.Join(base.assets, "cdk-tenant.out"))})
			cfg, err := ConfigFromContext(app)
			if err != nil {
				return err
			}
			ts := NewTenantStack(app, "PlinthTenant-"+cfg.TenantStack.Tenant, &TenantStackProps{
				TenantStackConfig: *cfg.TenantStack, AssetDir: cfg.AssetDir, Stage: cfg.StageName, VectorBackend: cfg.VectorBackend,
				StackProps: awscdk.StackProps{Env: &awscdk.Environment{Account: jsii.String(hybridAccount), Region: jsii.String(centralRegion)}},
			})
			applyNag(app)
			tenantTpl.stack = ts
			tenantTpl.raw = *assertions.Template_FromStack(ts.Stack, nil).ToJSON()
			return nil
		}()
	})
	if tenantTpl.err != nil {
		t.Fatalf("synthesize the tenant stack: %v", tenantTpl.err)
	}
	return tenantTpl.stack, tenantTpl.raw
}

func TestTenantStackContext(t *testing.T) {
	ok := map[string]any{"tenantStack": "initech", "centralAccount": centralAccount, "centralApiId": centralAPIID, "centralSinkArn": centralSinkARN}
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for kk, vv := range ok {
			m[kk] = vv
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	for name, tc := range map[string]struct {
		ctx     map[string]any
		wantErr string
	}{
		"complete":                   {ok, ""},
		"no central account":         {with("centralAccount", nil), "centralAccount"},
		"no api id":                  {with("centralApiId", nil), "centralApiId"},
		"bad sink":                   {with("centralSinkArn", "arn:aws:oam:eu-west-1:111111111111:link/x"), "centralSinkArn"},
		"sink in another account":    {with("centralAccount", "999999999999"), "not centralAccount"},
		"bad tenant id":              {with("tenantStack", "Initech!"), "tenantStack"},
		"region from the sink":       {ok, ""},
		"explicit central region ok": {with("centralRegion", "us-east-1"), ""},
		"an embedding model":         {with("embeddingModel", "titan-embed-v2"), ""},
		"a bad embedding model":      {with("embeddingModel", "titan embed; rm"), "embeddingModel"},
	} {
		t.Run(name, func(t *testing.T) {
			ctx := tc.ctx
			cfg, err := ConfigFromContext(awscdk.NewApp(&awscdk.AppProps{Context: &ctx}))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil || cfg.TenantStack == nil {
				t.Fatalf("err %v, tenant stack %v", err, cfg.TenantStack)
			}
			want := centralRegion
			if r, ok := ctx["centralRegion"].(string); ok {
				want = r
			}
			if cfg.TenantStack.CentralRegion != want {
				t.Errorf("central region %q, want %q", cfg.TenantStack.CentralRegion, want)
			}
			wantModel := TenantDefaultEmbeddingModel
			if m, ok := ctx["embeddingModel"].(string); ok {
				wantModel = m
			}
			if cfg.TenantStack.EmbeddingModel != wantModel {
				t.Errorf("embedding model %q, want %q", cfg.TenantStack.EmbeddingModel, wantModel)
			}
		})
	}
	if cfg, err := ConfigFromContext(awscdk.NewApp(nil)); err != nil || cfg.TenantStack != nil {
		t.Errorf("without tenantStack: %v %v, want the platform", cfg.TenantStack, err)
	}
}

// TestTenantStackCallsCentralGateway: the application and ingestion roles, named as the
// centre expects, may invoke the central IAM API (and, for ingestion, only embeddings and
// the session check).
func TestTenantStackCallsCentralGateway(t *testing.T) {
	ts, raw := tenantStack(t)
	apiPrefix := "arn:\",{\"Ref\":\"AWS::Partition\"},\":execute-api:" + centralRegion + ":" + centralAccount + ":" + centralAPIID + "/prod/"
	for _, c := range []struct {
		name, roleID, roleName, path string
	}{
		{"app", logicalID(ts.Stack, ts.AppRole.RoleArn()), TenantAppRoleName(hybridTenant), "*/v1/*"},
		{"ingest", logicalID(ts.Stack, ts.Ingest.Role.RoleArn()), TenantIngestRoleName(hybridTenant), "POST/v1/embeddings"},
	} {
		role := raw["Resources"].(map[string]any)[c.roleID].(map[string]any)
		if got := props(role)["RoleName"]; got != c.roleName {
			t.Errorf("%s role name %v, want %s", c.name, got, c.roleName)
		}
		var invoke []string
		for _, st := range policyOfRole(raw, c.roleID) {
			if hasAction(st, "execute-api:Invoke") {
				invoke = append(invoke, jsonText(st["Resource"]))
			}
		}
		if len(invoke) != 1 || !strings.Contains(invoke[0], apiPrefix+c.path) {
			t.Errorf("%s: execute-api:Invoke on %v, want the central API's %s", c.name, invoke, c.path)
		}
		if c.name == "ingest" && (strings.Count(invoke[0], ":execute-api:") != 2 || !strings.Contains(invoke[0], apiPrefix+"GET/v1/session")) {
			t.Errorf("ingest: execute-api:Invoke on %v, want embeddings and GET /v1/session only", invoke)
		}
	}
	// The ingestion function knows the central URL and its own buckets.
	fn := props(resources(raw, "AWS::Lambda::Function")[logicalID(ts.Stack, ts.Ingest.Function.FunctionArn())])
	env := fn["Environment"].(map[string]any)["Variables"].(map[string]any)
	if env["PLINTH_GATEWAY_URL"] != "https://"+centralAPIID+".execute-api."+centralRegion+".amazonaws.com/prod/" || env["PLINTH_TENANT"] != hybridTenant {
		t.Errorf("ingest environment %v", env)
	}
	// What the TenantIngest task needs to start (functions/ingest), and no table.
	for k, want := range map[string]string{TaskEnv: "TenantIngest", "PLINTH_GATEWAY_AUTH": "sigv4", "PLINTH_GATEWAY_REGION": centralRegion,
		"PLINTH_EMBEDDING_MODEL": TenantDefaultEmbeddingModel, "PLINTH_INDEX_BACKEND": "s3vectors"} {
		if env[k] != want {
			t.Errorf("ingest %s = %v, want %s", k, env[k], want)
		}
	}
	for k, target := range map[string]string{"PLINTH_DOCUMENTS_BUCKET": logicalID(ts.Stack, ts.Documents.BucketArn()),
		"PLINTH_INDEX_BUCKET": logicalID(ts.Stack, ts.Index.BucketArn()), "PLINTH_VECTOR_BUCKET": "plinth-" + hybridTenant + "-vectors"} {
		if !refersTo(env[k], target) {
			t.Errorf("ingest %s = %v, want %s", k, env[k], target)
		}
	}
	if _, ok := env["PLINTH_TABLE"]; ok {
		t.Errorf("the tenant stack has no table, yet ingest is given PLINTH_TABLE")
	}
}

// TestTenantStackKeepsFailedDocuments: an event the ingestion function fails on (the
// centre's 429 or 5xx, a refused principal) is retried twice by Lambda and then kept in
// the tenant's encrypted failures queue, which the function may send to.
func TestTenantStackKeepsFailedDocuments(t *testing.T) {
	ts, raw := tenantStack(t)
	queueID := logicalID(ts.Stack, ts.IngestFailures.QueueArn())
	fnID := logicalID(ts.Stack, ts.Ingest.Function.FunctionArn())
	keyID := logicalID(ts.Stack, ts.Key.KeyArn())
	configs := resources(raw, "AWS::Lambda::EventInvokeConfig")
	var found bool
	for id, c := range configs {
		p := props(c)
		if !refersTo(p["FunctionName"], fnID) {
			continue
		}
		found = true
		if p["MaximumRetryAttempts"] != float64(2) || p["MaximumEventAgeInSeconds"] != float64(6*3600) || p["Qualifier"] != "$LATEST" {
			t.Errorf("%s: retries %v, event age %v, qualifier %v", id, p["MaximumRetryAttempts"], p["MaximumEventAgeInSeconds"], p["Qualifier"])
		}
		// Lambda checks the destination permission when the configuration is created.
		if deps := jsonText(c["DependsOn"]); !strings.Contains(deps, "DefaultPolicy") {
			t.Errorf("%s depends on %s, want the ingestion role's policy", id, deps)
		}
		dest := jsonText(p["DestinationConfig"])
		if !containsAll(dest, `"OnFailure"`, queueID) {
			t.Errorf("%s: destinations %s, want on-failure to %s", id, dest, queueID)
		}
	}
	if !found {
		t.Fatalf("no asynchronous invocation config for the ingestion function (%d configs)", len(configs))
	}
	q := props(raw["Resources"].(map[string]any)[queueID].(map[string]any))
	if !refersTo(q["KmsMasterKeyId"], keyID) || q["QueueName"] != TenantIngestDLQName(hybridTenant) || q["MessageRetentionPeriod"] != float64(14*24*3600) {
		t.Errorf("failures queue %v, want the tenant key, its name and 14 days", q)
	}
	role := logicalID(ts.Stack, ts.Ingest.Role.RoleArn())
	if !allowsOn(raw, role, queueID, "sqs:SendMessage") || !allowsOn(raw, role, keyID, "kms:GenerateDataKey") {
		t.Errorf("the ingestion role cannot put a failed event in the encrypted queue: %s", jsonText(policyOfRole(raw, role)))
	}
	var tls bool
	for _, qp := range resources(raw, "AWS::SQS::QueuePolicy") {
		if refersTo(props(qp)["Queues"], queueID) && strings.Contains(jsonText(props(qp)["PolicyDocument"]), "aws:SecureTransport") {
			tls = true
		}
	}
	if !tls {
		t.Errorf("the failures queue does not refuse plain HTTP")
	}
}

// TestTenantStackOwnsItsData: the vector store and documents are the tenant's, under its
// own key; documents under tenants/<tenant>/kb/ trigger ingestion.
func TestTenantStackOwnsItsData(t *testing.T) {
	ts, raw := tenantStack(t)
	keyID := logicalID(ts.Stack, ts.Key.KeyArn())
	if k := props(raw["Resources"].(map[string]any)[keyID].(map[string]any)); k["EnableKeyRotation"] != true {
		t.Errorf("tenant key rotation %v", k["EnableKeyRotation"])
	}
	vb := resources(raw, "AWS::S3Vectors::VectorBucket")
	if len(vb) != 1 {
		t.Fatalf("vector buckets %d, want 1", len(vb))
	}
	for _, b := range vb {
		if !refersTo(props(b)["EncryptionConfiguration"], keyID) {
			t.Errorf("vector bucket not encrypted with the tenant key: %v", props(b))
		}
	}
	for _, b := range []string{logicalID(ts.Stack, ts.Documents.BucketArn()), logicalID(ts.Stack, ts.Index.BucketArn())} {
		if !refersTo(props(raw["Resources"].(map[string]any)[b].(map[string]any))["BucketEncryption"], keyID) {
			t.Errorf("bucket %s not encrypted with the tenant key", b)
		}
	}
	notif := jsonText(resources(raw, "Custom::S3BucketNotifications"))
	prefix := DocumentsPrefix + hybridTenant + "/kb/"
	if !containsAll(notif, "s3:ObjectCreated:*", "s3:ObjectRemoved:*", `"Value":"`+prefix+`"`, logicalID(ts.Stack, ts.Ingest.Function.FunctionArn())) {
		t.Errorf("documents notifications %s, want created and removed under %s to the ingest function", notif, prefix)
	}
	ingestRole := logicalID(ts.Stack, ts.Ingest.Role.RoleArn())
	if !allowsOn(raw, ingestRole, logicalID(ts.Stack, ts.Vectors.AttrVectorBucketArn()), "s3vectors:PutVectors") {
		t.Errorf("ingest cannot write the tenant's vectors")
	}
}

// TestTenantStackSendsTelemetryToCentre: both log groups subscribe to the central log
// destination, and an OAM link shares metrics, logs and traces with the central sink.
func TestTenantStackSendsTelemetryToCentre(t *testing.T) {
	ts, raw := tenantStack(t)
	filters := resources(raw, "AWS::Logs::SubscriptionFilter")
	want := map[string]bool{logicalID(ts.Stack, ts.Ingest.LogGroup.LogGroupArn()): false, logicalID(ts.Stack, ts.AppLogs.LogGroupArn()): false}
	for id, f := range filters {
		p := props(f)
		dest := jsonText(p["DestinationArn"])
		if !strings.Contains(dest, ":logs:"+centralRegion+":"+centralAccount+":destination:"+TenantLogDestinationName) {
			t.Errorf("%s: destination %s, want the central one", id, dest)
		}
		if p["RoleArn"] != nil {
			t.Errorf("%s: a cross-account destination takes no role, got %v", id, p["RoleArn"])
		}
		lg := getAttTarget(p["LogGroupName"])
		if _, ok := want[lg]; ok {
			want[lg] = true
		}
	}
	for lg, ok := range want {
		if !ok {
			t.Errorf("log group %s has no subscription to the centre", lg)
		}
	}
	links := resources(raw, "AWS::Oam::Link")
	if len(links) != 1 {
		t.Fatalf("OAM links %d, want 1", len(links))
	}
	for _, l := range links {
		p := props(l)
		if p["SinkIdentifier"] != centralSinkARN {
			t.Errorf("link sink %v", p["SinkIdentifier"])
		}
		if got := jsonText(p["ResourceTypes"]); !containsAll(got, "AWS::CloudWatch::Metric", "AWS::Logs::LogGroup", "AWS::XRay::Trace") {
			t.Errorf("link shares %s", got)
		}
	}
	// Traces: the ingestion function is traced.
	checkGoFunction(t, "ingest", props(resources(raw, "AWS::Lambda::Function")[logicalID(ts.Stack, ts.Ingest.Function.FunctionArn())]))
}

func TestTenantStackPassesNag(t *testing.T) {
	ts, _ := tenantStack(t)
	ann := assertions.Annotations_FromStack(ts.Stack)
	for _, e := range *ann.FindError(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))) {
		//lint:ignore SA1019 the assertions API still returns this type in CDK 2.275
		t.Errorf("unsuppressed cdk-nag error at %s: %v", *e.Id, e.Entry.Data)
	}
	for _, w := range *ann.FindWarning(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))) {
		//lint:ignore SA1019 the assertions API still returns this type in CDK 2.275
		t.Errorf("unsuppressed cdk-nag warning at %s: %v", *w.Id, w.Entry.Data)
	}
}

// TestCentralAdmitsHybridTenant: the central account's side. The IAM API's resource
// policy admits the tenant's account for its two roles only; the log destination admits
// the account's subscription filters and delivers through an encrypted stream into the
// telemetry bucket; the OAM sink admits its links for metrics, logs and traces.
func TestCentralAdmitsHybridTenant(t *testing.T) {
	s := tieredPlatform(t)
	api := s.platform.API
	iamAPI := props(resources(s.raw["api"], "AWS::ApiGateway::RestApi")[logicalID(api.Stack, api.IAMAPI.RestApiId())])
	policy := iamAPI["Policy"]
	var found bool
	for _, st := range list(policy.(map[string]any)["Statement"]) {
		st := st.(map[string]any)
		if !strings.Contains(jsonText(st["Principal"]), ":iam::"+hybridAccount+":root") {
			continue
		}
		found = true
		if st["Effect"] != "Allow" || !hasAction(st, "execute-api:Invoke") {
			t.Errorf("hybrid statement %s", jsonText(st))
		}
		cond := jsonText(st["Condition"])
		if !containsAll(cond, "aws:PrincipalArn", ":iam::"+hybridAccount+":role/"+TenantAppRoleName(hybridTenant),
			":iam::"+hybridAccount+":role/"+TenantIngestRoleName(hybridTenant)) {
			t.Errorf("hybrid statement not limited to the tenant's roles: %s", cond)
		}
	}
	if !found {
		t.Errorf("IAM API policy %s does not admit account %s", jsonText(policy), hybridAccount)
	}
	// The key API has no such grant; the pool tenant's account is not admitted.
	keyAPI := props(resources(s.raw["api"], "AWS::ApiGateway::RestApi")[logicalID(api.Stack, api.API.RestApiId())])
	if strings.Contains(jsonText(keyAPI["Policy"]), hybridAccount) || strings.Contains(jsonText(policy), poolAccount) {
		t.Errorf("a cross-account grant beyond the hybrid tenant's IAM API access")
	}

	obs := s.platform.Observability
	raw := s.raw["observability"]
	if obs.Tenants == nil {
		t.Fatal("no central telemetry")
	}
	dests := resources(raw, "AWS::Logs::Destination")
	if len(dests) != 1 {
		t.Fatalf("log destinations %d", len(dests))
	}
	for _, d := range dests {
		p := props(d)
		if p["DestinationName"] != TenantLogDestinationName {
			t.Errorf("destination name %v", p["DestinationName"])
		}
		if pol := jsonText(p["DestinationPolicy"]); !containsAll(pol, hybridAccount, "logs:PutSubscriptionFilter", "destination:"+TenantLogDestinationName) ||
			strings.Contains(pol, poolAccount) {
			t.Errorf("destination policy %s", pol)
		}
		if getAttTarget(p["TargetArn"]) != logicalID(obs.Stack, obs.Tenants.Stream.AttrArn()) {
			t.Errorf("destination target %v, want the telemetry stream", p["TargetArn"])
		}
		roleID := getAttTarget(p["RoleArn"])
		trust := jsonText(props(raw["Resources"].(map[string]any)[roleID].(map[string]any))["AssumeRolePolicyDocument"])
		if !containsAll(trust, "logs.amazonaws.com", "aws:SourceArn", ":logs:*:"+hybridAccount+":*") {
			t.Errorf("destination role trust %s", trust)
		}
		var put bool
		for _, pol := range resources(raw, "AWS::IAM::Policy") {
			if refersTo(props(pol)["Roles"], roleID) && strings.Contains(jsonText(props(pol)["PolicyDocument"]), "firehose:PutRecordBatch") {
				put = true
			}
		}
		if !put {
			t.Errorf("destination role cannot put into the stream")
		}
	}
	stream := props(resources(raw, "AWS::KinesisFirehose::DeliveryStream")[logicalID(obs.Stack, obs.Tenants.Stream.AttrArn())])
	if enc := jsonText(stream["DeliveryStreamEncryptionConfigurationInput"]); !strings.Contains(enc, "CUSTOMER_MANAGED_CMK") {
		t.Errorf("stream encryption %s", enc)
	}
	dataStack := s.platform.Data.Stack
	if dst := jsonText(stream["ExtendedS3DestinationConfiguration"]); !strings.Contains(dst, logicalID(dataStack, s.platform.Data.TenantTelemetry.BucketArn())) {
		t.Errorf("stream delivers to %s, want the telemetry bucket", dst)
	}
	sinks := resources(raw, "AWS::Oam::Sink")
	if len(sinks) != 1 {
		t.Fatalf("sinks %d", len(sinks))
	}
	for _, sk := range sinks {
		pol := jsonText(props(sk)["Policy"])
		if !containsAll(pol, hybridAccount, "oam:CreateLink", "oam:ResourceTypes", "AWS::XRay::Trace", "AWS::CloudWatch::Metric", "AWS::Logs::LogGroup") {
			t.Errorf("sink policy %s", pol)
		}
	}
	// Without hybrid tenants there is no central telemetry and the IAM API has no policy.
	base := platform(t)
	if base.platform.Observability.Tenants != nil || len(resources(base.raw["observability"], "AWS::Oam::Sink")) != 0 {
		t.Errorf("the default platform has hybrid telemetry")
	}
	if p := props(resources(base.raw["api"], "AWS::ApiGateway::RestApi")[logicalID(base.platform.API.Stack, base.platform.API.IAMAPI.RestApiId())]); p["Policy"] != nil {
		t.Errorf("the default IAM API has a resource policy: %s", jsonText(p["Policy"]))
	}
}
