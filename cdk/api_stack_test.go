package main

import (
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

// routeTable maps "METHOD /path" to the properties of the methods of the REST API
// apiID (a logical ID).
func routeTable(raw map[string]any, apiID string) map[string]map[string]any {
	res := resources(raw, "AWS::ApiGateway::Resource")
	var path func(id string) string
	path = func(id string) string {
		r, ok := res[id]
		if !ok {
			return "" // the API root
		}
		p := props(r)
		return path(getAttTarget(p["ParentId"])) + "/" + p["PathPart"].(string)
	}
	routes := map[string]map[string]any{}
	for _, m := range resources(raw, "AWS::ApiGateway::Method") {
		p := props(m)
		if !strings.Contains(jsonText(p["RestApiId"]), `"`+apiID+`"`) {
			continue
		}
		routes[p["HttpMethod"].(string)+" "+path(getAttTarget(p["ResourceId"]))] = p
	}
	return routes
}

func TestAPIStack(t *testing.T) {
	s := platform(t)
	a := s.platform.API
	tpl, raw := s.templates["api"], s.raw["api"]
	routes := routeTable(raw, logicalID(a.Stack, a.API.RestApiId()))
	iamRoutes := routeTable(raw, logicalID(a.Stack, a.IAMAPI.RestApiId()))
	fnID := func(binary string) string { return logicalID(a.Stack, a.Functions[binary].Function.FunctionArn()) }

	t.Run("functions", func(t *testing.T) {
		fns := resources(raw, "AWS::Lambda::Function")
		if len(fns) != 7 {
			t.Errorf("functions = %d, want gateway, authorizer, guardrails, retrieval, finetuning, admin, usage", len(fns))
		}
		for id, f := range fns {
			checkGoFunction(t, id, props(f))
		}
	})

	t.Run("regional REST API with validation", func(t *testing.T) {
		has(t, "rest api", func() {
			tpl.HasResourceProperties(jsii.String("AWS::ApiGateway::RestApi"), map[string]any{
				"EndpointConfiguration": map[string]any{"Types": []any{"REGIONAL"}},
			})
		})
		has(t, "validator", func() {
			tpl.HasResourceProperties(jsii.String("AWS::ApiGateway::RequestValidator"), map[string]any{
				"ValidateRequestBody": true, "ValidateRequestParameters": true,
			})
		})
		tpl.ResourceCountIs(jsii.String("AWS::ApiGateway::DomainName"), jsii.Number(0))
	})

	t.Run("stage: tracing, JSON access logs, throttling", func(t *testing.T) {
		logID := logicalID(a.Stack, a.AccessLogs.LogGroupArn())
		has(t, "stage", func() {
			tpl.HasResourceProperties(jsii.String("AWS::ApiGateway::Stage"), map[string]any{
				"StageName":      "prod",
				"TracingEnabled": true,
				"AccessLogSetting": map[string]any{
					"DestinationArn": map[string]any{"Fn::GetAtt": []any{logID, "Arn"}},
					"Format":         assertions.Match_StringLikeRegexp(jsii.String(`^\{"requestId":"\$context.requestId".*\}$`)),
				},
				"MethodSettings": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
					"HttpMethod": "*", "ResourcePath": "/*",
					"ThrottlingRateLimit": 200, "ThrottlingBurstLimit": 400,
					"LoggingLevel": "ERROR", "DataTraceEnabled": false, "MetricsEnabled": true,
				})}),
			})
		})
		if props(resources(raw, "AWS::Logs::LogGroup")[logID])["KmsKeyId"] == nil {
			t.Error("access log group is not KMS-encrypted")
		}
	})

	t.Run("routes", func(t *testing.T) {
		want := []string{
			"POST /v1/chat/completions", "POST /v1/embeddings", "GET /v1/models", "GET /v1/models/{model+}", "GET /v1/usage", "POST /v1/feedback",
			"POST /v1/guardrails/apply",
			"POST /v1/knowledge-bases/{kb}/retrieve", "POST /v1/knowledge-bases/{kb}/answer",
			"GET /v1/knowledge-bases/{kb}/documents", "POST /v1/knowledge-bases/{kb}/documents",
			"GET /v1/knowledge-bases/{kb}/documents/{document}", "DELETE /v1/knowledge-bases/{kb}/documents/{document}",
			"ANY /admin/{proxy+}", "GET /healthz", "GET /openapi.json",
			"GET /v1/tools", "POST /v1/responses", "GET /v1/responses/{id}",
			"POST /v1/agent-runs", "GET /v1/agent-runs/{id}", "POST /v1/agent-runs/{id}/approvals", "POST /v1/agent-runs/{id}/outputs", "POST /mcp", "GET /mcp", "DELETE /mcp", "GET /.well-known/oauth-protected-resource/mcp",
			"GET /v1/session", "GET /v1/review-queues", "GET /v1/review-queues/{id}",
			"POST /v1/review-queues/{id}/next", "POST /v1/review-queues/{id}/reviews",
			"GET /console", "GET /console/{proxy+}",
			"POST /v1/files", "GET /v1/files", "GET /v1/files/{id}", "DELETE /v1/files/{id}", "GET /v1/files/{id}/content",
			"POST /v1/fine_tuning/jobs", "GET /v1/fine_tuning/jobs", "GET /v1/fine_tuning/jobs/{id}", "GET /v1/fine_tuning/jobs/{id}/events",
			"GET /v1/fine_tuning/jobs/{id}/checkpoints", "POST /v1/fine_tuning/jobs/{id}/cancel", "POST /v1/fine_tuning/datasets",
		}
		got := sortedKeys(routes)
		sort.Strings(want)
		if !slices.Equal(got, want) {
			t.Errorf("routes\n got %v\nwant %v", got, want)
		}
	})

	t.Run("authorization", func(t *testing.T) {
		authID := logicalID(a.Stack, a.Authorizer.AuthorizerId())
		for route, p := range routes {
			path := strings.SplitN(route, " ", 2)[1]
			switch {
			case strings.HasPrefix(path, "/v1/"), path == "/mcp":
				if p["AuthorizationType"] != "CUSTOM" || getAttTarget(p["AuthorizerId"]) != authID {
					t.Errorf("%s: authorization %v/%v, want the key authorizer", route, p["AuthorizationType"], p["AuthorizerId"])
				}
			case strings.HasPrefix(path, "/admin/"):
				if p["AuthorizationType"] != "AWS_IAM" {
					t.Errorf("%s: authorization %v, want AWS_IAM", route, p["AuthorizationType"])
				}
			default:
				if p["AuthorizationType"] != "NONE" {
					t.Errorf("%s: authorization %v, want NONE", route, p["AuthorizationType"])
				}
			}
		}
		has(t, "authorizer", func() {
			tpl.HasResourceProperties(jsii.String("AWS::ApiGateway::Authorizer"), map[string]any{
				"Type":                         "REQUEST",
				"IdentitySource":               "method.request.header.Authorization",
				"AuthorizerResultTtlInSeconds": 30,
				"AuthorizerUri":                assertions.Match_ObjectLike(&map[string]any{"Fn::Join": assertions.Match_ArrayWith(&[]any{assertions.Match_ArrayWith(&[]any{map[string]any{"Fn::GetAtt": []any{fnID("authorizer"), "Arn"}}})})}),
			})
		})
	})

	t.Run("integrations", func(t *testing.T) {
		wantFn := map[string]string{
			"/v1/chat": "gateway", "/v1/embeddings": "gateway", "/v1/models": "gateway", "/v1/usage": "gateway",
			"/v1/feedback": "gateway", "/v1/guardrails": "guardrails", "/v1/knowledge-bases": "retrieval",
			"/admin": "admin", "/healthz": "gateway", "/openapi.json": "gateway",
			"/v1/tools": "gateway", "/v1/responses": "gateway", "/v1/agent-runs": "gateway", "/mcp": "gateway", "/.well-known": "gateway",
			"/v1/session": "gateway", "/v1/review-queues": "gateway", "/console": "gateway",
			"/v1/files": "finetuning", "/v1/fine_tuning": "finetuning",
		}
		for route, p := range routes {
			path := strings.SplitN(route, " ", 2)[1]
			var binary string
			for prefix, b := range wantFn {
				if strings.HasPrefix(path, prefix) {
					binary = b
				}
			}
			integ := p["Integration"].(map[string]any)
			uri := jsonText(integ["Uri"])
			if integ["Type"] != "AWS_PROXY" || !strings.Contains(uri, `"`+fnID(binary)+`"`) {
				t.Errorf("%s: integration %s %s, want proxy to %s", route, integ["Type"], uri, binary)
			}
			streamed := binary == "gateway"
			if got := integ["ResponseTransferMode"] == "STREAM"; got != streamed {
				t.Errorf("%s: ResponseTransferMode %v, streamed should be %v", route, integ["ResponseTransferMode"], streamed)
			}
			if streamed != strings.Contains(uri, "/2021-11-15/functions/") || streamed != strings.HasSuffix(uri, `"/response-streaming-invocations"]]}`) {
				t.Errorf("%s: URI %s does not match the transfer mode", route, uri)
			}
		}
	})

	t.Run("request models on JSON routes", func(t *testing.T) {
		for _, route := range []string{"POST /v1/chat/completions", "POST /v1/embeddings", "POST /v1/guardrails/apply",
			"POST /v1/knowledge-bases/{kb}/retrieve", "POST /v1/knowledge-bases/{kb}/answer"} {
			if _, ok := routes[route]["RequestModels"].(map[string]any)["application/json"]; !ok {
				t.Errorf("%s: no request model", route)
			}
		}
		has(t, "chat model", func() {
			tpl.HasResourceProperties(jsii.String("AWS::ApiGateway::Model"), map[string]any{
				"Name":   "ChatCompletionRequest",
				"Schema": assertions.Match_ObjectLike(&map[string]any{"required": []any{"model", "messages"}}),
			})
		})
	})

	t.Run("API Gateway errors use OpenAI's shape", func(t *testing.T) {
		for _, typ := range []string{"UNAUTHORIZED", "ACCESS_DENIED", "BAD_REQUEST_BODY", "THROTTLED", "REQUEST_TOO_LARGE", "WAF_FILTERED", "DEFAULT_5XX"} {
			has(t, typ, func() {
				tpl.HasResourceProperties(jsii.String("AWS::ApiGateway::GatewayResponse"), map[string]any{
					"ResponseType":      typ,
					"ResponseTemplates": map[string]any{"application/json": assertions.Match_StringLikeRegexp(jsii.String(`^\{"error":\{"message":.*"type":.*"code":.*"param":null\}\}$`))},
				})
			})
		}
		has(t, "throttled status", func() {
			tpl.HasResourceProperties(jsii.String("AWS::ApiGateway::GatewayResponse"), map[string]any{
				"ResponseType": "THROTTLED", "StatusCode": "429",
				"ResponseParameters": assertions.Match_ObjectLike(&map[string]any{"gatewayresponse.header.Retry-After": "'1'"}),
			})
		})
	})

	t.Run("WAF on the stage", func(t *testing.T) {
		has(t, "web acl", func() {
			tpl.HasResourceProperties(jsii.String("AWS::WAFv2::WebACL"), map[string]any{
				"Scope": "REGIONAL",
				"Rules": assertions.Match_ArrayWith(&[]any{
					assertions.Match_ObjectLike(&map[string]any{"Statement": map[string]any{"RateBasedStatement": map[string]any{"Limit": 3000, "AggregateKeyType": "IP"}}, "Action": map[string]any{"Block": map[string]any{}}}),
					assertions.Match_ObjectLike(&map[string]any{"Statement": map[string]any{"ManagedRuleGroupStatement": assertions.Match_ObjectLike(&map[string]any{"VendorName": "AWS", "Name": "AWSManagedRulesCommonRuleSet"})}}),
				}),
			})
		})
		stages := map[string]bool{
			logicalID(a.Stack, a.API.DeploymentStage().StageName()):    false,
			logicalID(a.Stack, a.IAMAPI.DeploymentStage().StageName()): false,
		}
		assoc := resources(raw, "AWS::WAFv2::WebACLAssociation")
		if len(assoc) != 2 {
			t.Fatalf("web ACL associations = %d, want the key API's and the IAM API's stages", len(assoc))
		}
		for _, r := range assoc {
			for id := range stages {
				if strings.Contains(jsonText(props(r)["ResourceArn"]), `{"Ref":"`+id+`"}`) {
					stages[id] = true
				}
			}
		}
		for id, ok := range stages {
			if !ok {
				t.Errorf("stage %s has no web ACL", id)
			}
		}
	})

	t.Run("admin may manage evaluation schedules and pass only the scheduler role", func(t *testing.T) {
		role := logicalID(a.Stack, a.Functions["admin"].Role.RoleArn())
		var create, pass bool
		for _, stmt := range policyOfRole(raw, role) {
			if hasAction(stmt, "scheduler:CreateSchedule") {
				create = strings.Contains(jsonText(stmt["Resource"]), ":schedule/"+ScheduleGroupName+"/*")
			}
			if hasAction(stmt, "iam:PassRole") {
				pass = len(list(stmt["Resource"])) == 1 &&
					strings.Contains(jsonText(stmt["Condition"]), `"iam:PassedToService":"scheduler.amazonaws.com"`)
			}
		}
		if !create || !pass {
			t.Errorf("admin role: CreateSchedule in group %v, PassRole to scheduler only %v", create, pass)
		}
	})

	t.Run("the gateway reads knowledge-base indexes and writes evaluation artifacts", func(t *testing.T) {
		role := logicalID(a.Stack, a.Functions["gateway"].Role.RoleArn())
		var index, eval bool
		for _, stmt := range policyOfRole(raw, role) {
			res := jsonText(stmt["Resource"])
			if hasAction(stmt, "s3:GetObject") && strings.Contains(res, "Index") {
				index = true
			}
			if hasAction(stmt, "s3:PutObject") && strings.Contains(res, "EvalArtifacts") {
				eval = true
			}
		}
		if !index || !eval {
			t.Errorf("gateway role: index read %v, eval artifacts write %v (grounded chat, feedback, review queues)", index, eval)
		}
	})

	t.Run("environment names the resources", func(t *testing.T) {
		for binary := range a.Functions {
			if binary == "usage" {
				continue // the usage drain needs the table alone (checked in "usage ledger")
			}
			env := props(resources(raw, "AWS::Lambda::Function")[fnID(binary)])["Environment"].(map[string]any)["Variables"].(map[string]any)
			for _, k := range []string{"PLINTH_TABLE", "PLINTH_DOCUMENTS_BUCKET", "PLINTH_INDEX_BUCKET", "PLINTH_EVAL_BUCKET", "PLINTH_PROVIDER_SECRET_ARN"} {
				if env[k] == nil {
					t.Errorf("%s: no %s", binary, k)
				}
			}
		}
		admin := props(resources(raw, "AWS::Lambda::Function")[fnID("admin")])["Environment"].(map[string]any)["Variables"].(map[string]any)
		for _, k := range []string{"PLINTH_EVALUATION_STATE_MACHINE_ARN", "PLINTH_INGESTION_STATE_MACHINE_ARN",
			"PLINTH_SCHEDULE_GROUP", "PLINTH_SCHEDULER_ROLE_ARN", "PLINTH_SCHEDULER_DLQ_ARN"} {
			if admin[k] == nil {
				t.Errorf("admin: no %s", k)
			}
		}
		if gw := props(resources(raw, "AWS::Lambda::Function")[fnID("gateway")]); gw["ReservedConcurrentExecutions"] != nil {
			t.Errorf("gateway concurrency reserved by default: %v", gw["ReservedConcurrentExecutions"])
		}
	})

	t.Run("IAM callers: every tenant route on the IAM API, with AWS_IAM, served by the same function", func(t *testing.T) {
		var tenantRoutes []string
		for route, p := range routes {
			if p["AuthorizationType"] == "CUSTOM" {
				tenantRoutes = append(tenantRoutes, route)
			}
		}
		sort.Strings(tenantRoutes)
		if got := sortedKeys(iamRoutes); !slices.Equal(got, tenantRoutes) {
			t.Errorf("IAM API routes\n got %v\nwant the key API's tenant routes %v", got, tenantRoutes)
		}
		for route, p := range iamRoutes {
			if p["AuthorizationType"] != "AWS_IAM" || p["AuthorizerId"] != nil {
				t.Errorf("%s on the IAM API: authorization %v/%v, want AWS_IAM", route, p["AuthorizationType"], p["AuthorizerId"])
			}
			fn := func(m map[string]any) string {
				return jsonText(m["Integration"].(map[string]any)["Uri"])
			}
			if fn(p) != fn(routes[route]) {
				t.Errorf("%s: the IAM API integrates %s, the key API %s", route, fn(p), fn(routes[route]))
			}
		}
		has(t, "IAM API", func() {
			tpl.HasResourceProperties(jsii.String("AWS::ApiGateway::RestApi"), map[string]any{
				"Name": "plinth-iam", "EndpointConfiguration": map[string]any{"Types": []any{"REGIONAL"}},
			})
		})
		has(t, "IAM API stage", func() {
			tpl.HasResourceProperties(jsii.String("AWS::ApiGateway::Stage"), map[string]any{
				"RestApiId": map[string]any{"Ref": logicalID(a.Stack, a.IAMAPI.RestApiId())}, "TracingEnabled": true,
			})
		})
	})

	t.Run("chat completions may stream for five minutes", func(t *testing.T) {
		integ := routes["POST /v1/chat/completions"]["Integration"].(map[string]any)
		if integ["TimeoutInMillis"] != float64(streamTimeoutSeconds*1000) {
			t.Errorf("timeout %v", integ["TimeoutInMillis"])
		}
	})
}

func TestAPIStackCustomDomain(t *testing.T) {
	assets, err := dummyAssets()
	if err != nil {
		t.Fatal(err)
	}
	defs, _, err := definitionsDir()
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.AssetDir, cfg.StateMachinesDir, cfg.Nag = assets, defs, false
	cfg.DomainName = "api.plinth.example.com"
	cfg.CertificateARN = "arn:aws:acm:eu-west-1:111122223333:certificate/abc"
	cfg.UsagePlan = true
	cfg.GatewayReservedConcurrency = 50
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(assets + "/cdk.out")})
	p, err := NewPlatform(app, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	tpl := assertions.Template_FromStack(p.API.Stack, nil)
	has(t, "domain", func() {
		tpl.HasResourceProperties(jsii.String("AWS::ApiGateway::DomainName"), map[string]any{
			"DomainName":             cfg.DomainName,
			"RegionalCertificateArn": cfg.CertificateARN,
			"EndpointConfiguration":  map[string]any{"Types": []any{"REGIONAL"}},
			"SecurityPolicy":         "TLS_1_2",
		})
	})
	tpl.ResourceCountIs(jsii.String("AWS::ApiGateway::BasePathMapping"), jsii.Number(2))
	has(t, "the IAM API under /iam", func() {
		tpl.HasResourceProperties(jsii.String("AWS::ApiGateway::BasePathMapping"), map[string]any{
			"BasePath": IAMBasePath, "RestApiId": map[string]any{"Ref": logicalID(p.API.Stack, p.API.IAMAPI.RestApiId())},
		})
	})
	has(t, "reserved concurrency", func() {
		tpl.HasResourceProperties(jsii.String("AWS::Lambda::Function"), map[string]any{
			"Description":                  assertions.Match_StringLikeRegexp(jsii.String("^Plinth model gateway")),
			"ReservedConcurrentExecutions": 50,
		})
	})
	has(t, "usage plan", func() {
		tpl.HasResourceProperties(jsii.String("AWS::ApiGateway::UsagePlan"), map[string]any{
			"Throttle": map[string]any{"RateLimit": 200, "BurstLimit": 400},
		})
	})
}
