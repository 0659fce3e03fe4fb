package main

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscertificatemanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdaeventsources"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/plinth-ai/plinth/shared/platform/apiroutes"
)

// APIStackProps configures the API stack.
type APIStackProps struct {
	awscdk.StackProps
	// Data and Workflows provide the resources the functions use.
	Data      *DataStack
	Workflows *WorkflowsStack
	// Network, when set, makes the API private (reached through its execute-api
	// endpoint only) and runs the functions in the private network.
	Network *NetworkStack
	// Config carries the asset folder, stage, domain, throttling and WAF settings.
	Config Config
}

// APIStack is the public edge: a regional REST API with WAF, access logs,
// X-Ray, throttling and request validation; the OpenAI-compatible and
// platform routes behind a Lambda REQUEST authorizer; the admin API behind
// IAM; and the functions that serve them.
type APIStack struct {
	awscdk.Stack
	// API is the REST API: API keys on the tenant routes (the Lambda REQUEST
	// authorizer), IAM on /admin.
	API awsapigateway.RestApi
	// IAMAPI is the same tenant routes with AWS_IAM authorization, for applications that
	// call with SigV4 as an IAM principal mapped to a tenant. With a custom domain it is
	// served under /iam.
	IAMAPI awsapigateway.RestApi
	// AccessLogs receives the stage's JSON access logs.
	AccessLogs awslogs.LogGroup
	// Authorizer turns an API key into a tenant context.
	Authorizer awsapigateway.RequestAuthorizer
	// Functions by binary name: gateway, authorizer, guardrails, retrieval, admin.
	Functions map[string]*Function
	// Firewall protects the stage.
	Firewall *APIFirewall
	// Domain is the custom domain, when configured.
	Domain awsapigateway.DomainName
	// Central is the centre the admin function pulls from (decentralised), or nil.
	Central *CentralConfig

	network *NetworkStack
}

// Route timeouts. Streamed integrations may run to 15 minutes; buffered
// ones are capped by API Gateway at 29 seconds.
const (
	streamTimeoutSeconds   = 300
	bufferedTimeoutSeconds = 29
)

// NewAPIStack creates the API stack.
func NewAPIStack(scope constructs.Construct, id string, props *APIStackProps) *APIStack {
	stack := awscdk.NewStack(scope, &id, &props.StackProps)
	s := &APIStack{Stack: stack, Functions: map[string]*Function{}}
	data, flows, cfg := props.Data, props.Workflows, props.Config

	s.network = props.Network
	s.createFunctions(data, flows, cfg)
	s.usageDrain(data, cfg)
	if cfg.Central != nil {
		s.decentralise(*cfg.Central) // a line of business pulling from its centre
	}

	s.AccessLogs = awslogs.NewLogGroup(stack, jsii.String("AccessLogs"), &awslogs.LogGroupProps{
		EncryptionKey: data.Key,
		Retention:     awslogs.RetentionDays_ONE_YEAR,
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	apiProps := &awsapigateway.RestApiProps{
		RestApiName:      jsii.String("plinth"),
		Description:      jsii.String("Plinth: OpenAI-compatible model gateway and platform API"),
		EndpointTypes:    &[]awsapigateway.EndpointType{awsapigateway.EndpointType_REGIONAL},
		BinaryMediaTypes: jsii.Strings("multipart/form-data", "application/octet-stream"),
		CloudWatchRole:   jsii.Bool(true),
		DeployOptions: &awsapigateway.StageOptions{
			StageName:            jsii.String(cfg.StageName),
			TracingEnabled:       jsii.Bool(true),
			MetricsEnabled:       jsii.Bool(true),
			LoggingLevel:         awsapigateway.MethodLoggingLevel_ERROR,
			DataTraceEnabled:     jsii.Bool(false),
			ThrottlingRateLimit:  jsii.Number(cfg.ThrottleRate),
			ThrottlingBurstLimit: jsii.Number(cfg.ThrottleBurst),
			AccessLogDestination: awsapigateway.NewLogGroupLogDestination(s.AccessLogs),
			AccessLogFormat: awsapigateway.AccessLogFormat_JsonWithStandardFields(&awsapigateway.JsonWithStandardFieldProps{
				Caller: jsii.Bool(true), HttpMethod: jsii.Bool(true), Ip: jsii.Bool(true), Protocol: jsii.Bool(true),
				RequestTime: jsii.Bool(true), ResourcePath: jsii.Bool(true), ResponseLength: jsii.Bool(true),
				Status: jsii.Bool(true), User: jsii.Bool(true),
			}),
		},
	}
	if n := props.Network; n != nil {
		// A private API: reachable only through the VPC's execute-api endpoint; its
		// resource policy refuses every request that did not come through it.
		apiProps.EndpointTypes = nil
		apiProps.EndpointConfiguration = &awsapigateway.EndpointConfiguration{
			Types:        &[]awsapigateway.EndpointType{awsapigateway.EndpointType_PRIVATE},
			VpcEndpoints: &[]awsec2.IVpcEndpoint{n.ExecuteAPI},
		}
		apiProps.Policy = privateAPIPolicy(n.ExecuteAPI)
	}
	if len(cfg.DecentralisedPrincipals) > 0 { // never with a private network (config)
		apiProps.Policy = centreAPIPolicy(cfg.StageName, cfg.DecentralisedPrincipals)
	}
	if cfg.DomainName != "" {
		apiProps.DomainName = &awsapigateway.DomainNameOptions{
			DomainName:     jsii.String(cfg.DomainName),
			Certificate:    awscertificatemanager.Certificate_FromCertificateArn(stack, jsii.String("Certificate"), jsii.String(cfg.CertificateARN)),
			EndpointType:   awsapigateway.EndpointType_REGIONAL,
			SecurityPolicy: awsapigateway.SecurityPolicy_TLS_1_2,
		}
	}
	s.API = awsapigateway.NewRestApi(stack, jsii.String("Api"), apiProps)
	if cfg.DomainName != "" {
		s.Domain = s.API.DomainName()
		output(stack, "DomainTarget", s.Domain.DomainNameAliasDomainName())
	}
	openAIErrorResponses(s.API, cfg.MCPOAuth.challenge())

	// The IAM API: the same stage settings and network, its own routes; the account's
	// CloudWatch role and the domain are the first API's.
	iamProps := *apiProps
	iamProps.RestApiName = jsii.String("plinth-iam")
	iamProps.Description = jsii.String("Plinth: the tenant API for IAM callers (SigV4)")
	iamProps.CloudWatchRole = jsii.Bool(false)
	iamProps.DomainName = nil
	// Hybrid tenants' accounts call the IAM API across accounts.
	var endpoint awsec2.IVpcEndpoint
	if n := props.Network; n != nil {
		endpoint = n.ExecuteAPI
	}
	iamProps.Policy = iamAPIPolicy(endpoint, cfg.HybridTenants())
	s.IAMAPI = awsapigateway.NewRestApi(stack, jsii.String("IamApi"), &iamProps)
	openAIErrorResponses(s.IAMAPI, "")
	if s.Domain != nil {
		s.Domain.AddBasePathMapping(s.IAMAPI, &awsapigateway.BasePathMappingOptions{BasePath: jsii.String(IAMBasePath)})
	}

	s.Authorizer = awsapigateway.NewRequestAuthorizer(stack, jsii.String("KeyAuthorizer"), &awsapigateway.RequestAuthorizerProps{
		Handler:         s.Functions["authorizer"].Function,
		IdentitySources: &[]*string{awsapigateway.IdentitySource_Header(jsii.String("Authorization"))},
		// API Gateway's cache plus the authorizer's own key cache (PLINTH_KEY_CACHE_TTL,
		// 30 s) bound how long a revoked key keeps working: 30 s + 30 s = 60 s.
		ResultsCacheTtl: durationSeconds(30),
	})
	s.routes(s.API, false)
	s.routes(s.IAMAPI, true)

	if cfg.UsagePlan {
		s.API.AddUsagePlan(jsii.String("UsagePlan"), &awsapigateway.UsagePlanProps{
			Description: jsii.String("Stage-wide throttle for Plinth"),
			Throttle: &awsapigateway.ThrottleSettings{
				RateLimit:  jsii.Number(cfg.ThrottleRate),
				BurstLimit: jsii.Number(cfg.ThrottleBurst),
			},
			ApiStages: &[]*awsapigateway.UsagePlanPerApiStage{{Api: s.API, Stage: s.API.DeploymentStage()},
				{Api: s.IAMAPI, Stage: s.IAMAPI.DeploymentStage()}},
		})
	}

	s.Firewall = NewAPIFirewall(stack, "Firewall", &APIFirewallProps{
		ResourceARN: s.API.DeploymentStage().StageArn(),
		RateLimit:   cfg.WAFRateLimit,
	})
	s.Firewall.Protect("IamAssociation", s.IAMAPI.DeploymentStage().StageArn())
	// Suppressions attach to what exists, so they come after every route.
	suppress(s.IAMAPI, true,
		nagSuppression("AwsSolutions-COG4", "Callers authenticate with SigV4 as IAM principals mapped to tenants; "+
			"the platform has no Cognito user pool."))
	suppress(s.API, true,
		nagSuppression("AwsSolutions-IAM4", "API Gateway's account-level CloudWatch role uses the AWS-managed "+
			"AmazonAPIGatewayPushToCloudWatchLogs policy, which AWS maintains for exactly this purpose.",
			"Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"),
		nagSuppression("AwsSolutions-COG4", "Callers authenticate with Plinth API keys (Lambda REQUEST authorizer) "+
			"or SigV4 (IAM); the platform has no Cognito user pool."),
	)
	output(stack, "ApiURL", s.API.Url())
	output(stack, "IamApiURL", s.IAMAPI.Url())
	return s
}

// IAMBasePath is where the IAM API is served under a custom domain: IAM callers use
// https://<domain>/iam/v1/..., key callers https://<domain>/v1/...
const IAMBasePath = "iam"

// createFunctions creates the API's functions with exactly the access each needs.
func (s *APIStack) createFunctions(data *DataStack, flows *WorkflowsStack, cfg Config) {
	newFn := func(binary, description string, timeout, memory, reserved float64) *Function {
		f := NewFunction(s.Stack, titleCase(binary), &FunctionProps{
			AssetDir:            cfg.AssetDir,
			Binary:              binary,
			Description:         description,
			LogKey:              data.Key,
			Timeout:             durationSeconds(timeout),
			MemoryMB:            memory,
			ReservedConcurrency: reserved,
			Network:             s.network,
		})
		commonEnvironment(f, data)
		s.Functions[binary] = f
		return f
	}

	gw := newFn("gateway", "Plinth model gateway: OpenAI-compatible chat, embeddings, models, usage, feedback",
		streamTimeoutSeconds, 1024, cfg.GatewayReservedConcurrency)
	data.grantTableReadWrite(gw.Role)
	grantSecretRead(gw.Role, data.ProviderSecret, data.Key)
	// Chat completions grounded in a knowledge base read its index; feedback and the
	// reviewers' queues live with the evaluation artifacts.
	data.grantObjectsRead(gw.Role, data.Index, "")
	grantVectors(gw.Role, data, vectorsRead)
	data.grantObjectsReadWrite(gw.Role, data.EvalArtifacts, "")
	grantBedrockInvoke(gw.Role)
	grantBedrockGuardrail(gw.Role)
	// Fine-tuned Bedrock models are encrypted with the customisation key.
	grantCustomModelKey(gw.Role, data, false)
	suppressDataAccess(gw)
	// /v1/agent-runs starts durable agent runs and resumes them after approvals.
	agentRuns := flows.Agent.StateMachine
	allow(gw.Role, []string{"states:StartExecution"}, agentRuns.StateMachineArn())
	// Approvals complete the run's waiting task (granted on the agent machine only).
	allow(gw.Role, []string{"states:SendTaskSuccess"}, agentRuns.StateMachineArn())
	gw.AddEnvironment("PLINTH_AGENT_STATE_MACHINE_ARN", agentRuns.StateMachineArn())
	// /mcp and agents answered in the request call Lambda tool servers.
	grantToolServers(gw)

	auth := newFn("authorizer", "Plinth API-key authorizer: resolves a key to its tenant", 10, 256, 0)
	// Keys and tenants are the control plane's: they stay in the pool table for every tier.
	grantTableReadWrite(auth.Role, data.Table, data.Key)
	// Access tokens on /mcp (when configured): the authorizer admits them, the gateway
	// function checks them again and serves the resource's metadata.
	mcpOAuthEnvironment(cfg.MCPOAuth, auth, gw)

	guard := newFn("guardrails", "Plinth guardrails: ApplyGuardrail-shaped checks on text", bufferedTimeoutSeconds, 1024, 0)
	data.grantTableRead(guard.Role)
	grantSecretRead(guard.Role, data.ProviderSecret, data.Key)
	grantBedrockInvoke(guard.Role)
	grantBedrockGuardrail(guard.Role)
	suppressDataAccess(guard)

	ret := newFn("retrieval", "Plinth knowledge bases: documents, retrieval and grounded answers", 60, 2048, 0)
	data.grantTableReadWrite(ret.Role)
	data.grantObjectsReadWrite(ret.Role, data.Documents, DocumentsPrefix)
	data.grantObjectsRead(ret.Role, data.Index, "")
	grantVectors(ret.Role, data, vectorsRead)
	grantSecretRead(ret.Role, data.ProviderSecret, data.Key)
	grantBedrockInvoke(ret.Role)
	grantBedrockGuardrail(ret.Role)
	suppressDataAccess(ret)

	// Fine-tuning: OpenAI's files and jobs. Datasets are built from feedback, evaluation
	// suites, reviews (evaluation artifacts) and knowledge-base passages (documents)
	// through models (the gateway service); jobs start the customisation flow, named after
	// the job, and a cancel stops it and the provider's job.
	ft := newFn("finetuning", "Plinth fine-tuning: OpenAI's files and fine-tuning jobs", bufferedTimeoutSeconds, 1024, 0)
	customizationEnvironment(ft, flows)
	data.grantTableReadWrite(ft.Role)
	grantCustomizationObjects(ft.Role, data, CustomizationPrefix, true)
	data.grantObjectsRead(ft.Role, data.EvalArtifacts, "")
	data.grantObjectsRead(ft.Role, data.Documents, DocumentsPrefix)
	grantSecretRead(ft.Role, data.ProviderSecret, data.Key)
	grantBedrockInvoke(ft.Role)
	grantBedrockGuardrail(ft.Role)
	allow(ft.Role, []string{"states:StartExecution"}, flows.CustomizationMachineARN)
	allow(ft.Role, []string{"states:StopExecution"}, executionsOf(flows.customizationMachineName))
	allow(ft.Role, []string{"bedrock:GetModelCustomizationJob", "bedrock:StopModelCustomizationJob"}, bedrockJobs())
	suppressDataAccess(ft)
	suppress(ft.Role, true, nagSuppression("AwsSolutions-IAM5", "Executions are named after fine-tuning jobs at start time; "+
		"a cancel may stop only executions of the customisation state machine.",
		`/^Resource::arn:<AWS::Partition>:states:.*:execution:.*:\*$/g`))

	admin := newFn("admin", "Plinth admin API: tenants, keys, models, policies, knowledge bases, evaluations", bufferedTimeoutSeconds, 512, 0)
	data.grantTableReadWrite(admin.Role)
	grantSecretRead(admin.Role, data.ProviderSecret, data.Key)
	data.grantObjectsReadWrite(admin.Role, data.EvalArtifacts, "")
	data.grantObjectsRead(admin.Role, data.Documents, DocumentsPrefix)
	grantVectors(admin.Role, data, vectorsDrop)
	data.grantTenantMoves(admin.Role)
	eval := flows.Evaluation.StateMachine
	allow(admin.Role, []string{"states:StartExecution"}, eval.StateMachineArn())
	allow(admin.Role, []string{"states:DescribeExecution", "states:GetExecutionHistory", "states:StopExecution"},
		executionsOf(eval.StateMachineName()), executionsOf(flows.Ingestion.StateMachine.StateMachineName()))
	allow(admin.Role, []string{"scheduler:CreateSchedule", "scheduler:UpdateSchedule", "scheduler:DeleteSchedule",
		"scheduler:GetSchedule"}, schedulesIn(ScheduleGroupName))
	// The admin function reconciles the group's schedules with the suites; ListSchedules
	// has no resource-level permissions, so it can only be granted on "*".
	allow(admin.Role, []string{"scheduler:ListSchedules"}, jsii.String("*"))
	admin.Role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("iam:PassRole"),
		Resources: &[]*string{flows.SchedulerRole.RoleArn()},
		Conditions: &map[string]interface{}{
			"StringEquals": map[string]interface{}{"iam:PassedToService": "scheduler.amazonaws.com"},
		},
	}))
	admin.AddEnvironment("PLINTH_EVALUATION_STATE_MACHINE_ARN", eval.StateMachineArn())
	admin.AddEnvironment("PLINTH_INGESTION_STATE_MACHINE_ARN", flows.Ingestion.StateMachine.StateMachineArn())
	admin.AddEnvironment("PLINTH_SCHEDULE_GROUP", jsii.String(ScheduleGroupName))
	admin.AddEnvironment("PLINTH_SCHEDULER_ROLE_ARN", flows.SchedulerRole.RoleArn())
	admin.AddEnvironment("PLINTH_SCHEDULER_DLQ_ARN", flows.SchedulerDLQ.QueueArn())
	// Fine-tuning jobs and aliases; a review of a fine-tuned model completes its flow's
	// approval task.
	customizationEnvironment(admin, flows)
	allow(admin.Role, []string{"states:SendTaskSuccess", "states:SendTaskFailure"}, flows.CustomizationMachineARN)
	suppress(admin.Role, true,
		nagSuppression("AwsSolutions-IAM5", reasonObjectPrefix, `/^Resource::.*\/\*$/g`),
		nagSuppression("AwsSolutions-IAM5", "Executions are named at start time; access is limited to executions "+
			"of the platform's two state machines, which end in the execution-name wildcard.",
			`/^Resource::arn:<AWS::Partition>:states:.*:execution:.*:\*$/g`),
	)
}

// usageDrain creates the function that drains the usage queue into the table (an SQS
// event source reporting partial batch failures) and, every 15 minutes, redrives the
// dead-letter queue.
func (s *APIStack) usageDrain(data *DataStack, cfg Config) {
	f := NewFunction(s.Stack, "Usage", &FunctionProps{
		AssetDir:    cfg.AssetDir,
		Binary:      "usage",
		Description: "Plinth usage ledger: drains the usage queue into the table, redrives its dead-letter queue",
		LogKey:      data.Key,
		Timeout:     durationSeconds(usageFunctionTimeoutSeconds),
		MemoryMB:    256,
		Network:     s.network,
	})
	f.AddEnvironment("PLINTH_TABLE", data.Table.TableName())
	f.AddEnvironment("PLINTH_USAGE_DLQ_URL", data.UsageDLQ.QueueUrl())
	siloEnvironment(f, data)
	data.grantTableReadWrite(f.Role)
	f.Function.AddEventSource(awslambdaeventsources.NewSqsEventSource(data.UsageQueue, &awslambdaeventsources.SqsEventSourceProps{
		BatchSize:               jsii.Number(10),
		MaxBatchingWindow:       durationSeconds(1),
		ReportBatchItemFailures: jsii.Bool(true),
	}))
	allow(f.Role, []string{"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"},
		data.UsageDLQ.QueueArn())
	allow(f.Role, []string{"kms:Decrypt"}, data.Key.KeyArn())
	awsevents.NewRule(s.Stack, jsii.String("UsageRedrive"), &awsevents.RuleProps{
		Description: jsii.String("Redrive dead-lettered usage records into the ledger"),
		Schedule:    awsevents.Schedule_Rate(awscdk.Duration_Minutes(jsii.Number(15))),
		Targets:     &[]awsevents.IRuleTarget{awseventstargets.NewLambdaFunction(f.Function, nil)},
	})
	s.Functions["usage"] = f
}

// routes wires the route table (shared/platform/apiroutes) onto api. On the key API
// tenant routes take API keys through the REQUEST authorizer, /admin takes IAM and public
// routes are open; on the IAM API (iam) only the tenant routes exist, with AWS_IAM.
func (s *APIStack) routes(api awsapigateway.RestApi, iam bool) {
	validator := api.AddRequestValidator(jsii.String("Validator"), &awsapigateway.RequestValidatorOptions{
		RequestValidatorName:      jsii.String("body-and-parameters"),
		ValidateRequestBody:       jsii.Bool(true),
		ValidateRequestParameters: jsii.Bool(true),
	})
	// Every gateway route streams, so the gateway binary always answers in
	// the response-streaming format (JSON prelude, 8 NUL bytes, body).
	gateway := awsapigateway.NewLambdaIntegration(s.Functions["gateway"].Function, &awsapigateway.LambdaIntegrationOptions{
		ResponseTransferMode: awsapigateway.ResponseTransferMode_STREAM,
		Timeout:              durationSeconds(streamTimeoutSeconds),
		AllowTestInvoke:      jsii.Bool(false),
	})
	buffered := func(binary string) awsapigateway.LambdaIntegration {
		return awsapigateway.NewLambdaIntegration(s.Functions[binary].Function, &awsapigateway.LambdaIntegrationOptions{
			AllowTestInvoke: jsii.Bool(false),
		})
	}
	guardrails, retrieval, admin := buffered("guardrails"), buffered("retrieval"), buffered("admin")

	integrations := map[string]awsapigateway.LambdaIntegration{
		apiroutes.FunctionGateway: gateway, apiroutes.FunctionGuardrails: guardrails,
		apiroutes.FunctionRetrieval: retrieval, apiroutes.FunctionAdmin: admin,
		apiroutes.FunctionFineTuning: buffered(apiroutes.FunctionFineTuning),
	}
	models := requestModels(api)
	resources := map[string]awsapigateway.IResource{"": api.Root()}
	var resource func(path string) awsapigateway.IResource
	resource = func(path string) awsapigateway.IResource {
		if r, ok := resources[path]; ok {
			return r
		}
		parent, part := "", path
		if i := strings.LastIndex(path, "/"); i >= 0 {
			parent, part = path[:i], path[i+1:]
		}
		r := resource(parent).AddResource(jsii.String(part), nil)
		resources[path] = r
		return r
	}
	for _, rt := range apiroutes.All() {
		if iam && rt.Auth != apiroutes.AuthTenant {
			continue
		}
		o := &awsapigateway.MethodOptions{RequestValidator: validator}
		switch {
		case rt.Auth == apiroutes.AuthTenant && iam:
			o.AuthorizationType = awsapigateway.AuthorizationType_IAM
		case rt.Auth == apiroutes.AuthTenant:
			o.AuthorizationType, o.Authorizer = awsapigateway.AuthorizationType_CUSTOM, s.Authorizer
		case rt.Auth == apiroutes.AuthIAM:
			o.AuthorizationType = awsapigateway.AuthorizationType_IAM
		default:
			o.AuthorizationType, o.RequestValidator = awsapigateway.AuthorizationType_NONE, nil
		}
		if rt.Model != "" {
			o.RequestModels = &map[string]awsapigateway.IModel{"application/json": models[rt.Model]}
		}
		if params := pathParameters(rt.Path); len(params) > 0 && rt.Auth == apiroutes.AuthTenant {
			o.RequestParameters = &params
		}
		m := resource(strings.TrimPrefix(rt.Path, "/")).AddMethod(jsii.String(rt.Method), integrations[rt.Function], o)
		if rt.Auth == apiroutes.AuthNone {
			suppress(m, false, nagSuppression("AwsSolutions-APIG4", rt.Path+" is intentionally unauthenticated: "+rt.Why+"."))
		}
	}
}

// pathParameters are the required path parameters of a route's {name} segments (not a
// greedy {proxy+}).
func pathParameters(path string) map[string]*bool {
	params := map[string]*bool{}
	for _, seg := range strings.Split(path, "/") {
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") && !strings.HasSuffix(seg, "+}") {
			params["method.request.path."+strings.Trim(seg, "{}")] = jsii.Bool(true)
		}
	}
	return params
}

// requestModels defines the JSON schemas API Gateway checks before a request
// reaches a function. They hold only what every valid request must have, so
// the functions keep the detailed, OpenAI-shaped validation.
func requestModels(api awsapigateway.RestApi) map[string]awsapigateway.IModel {
	str := &awsapigateway.JsonSchema{Type: awsapigateway.JsonSchemaType_STRING, MinLength: jsii.Number(1)}
	object := func(required []string, props map[string]*awsapigateway.JsonSchema) *awsapigateway.JsonSchema {
		return &awsapigateway.JsonSchema{
			Schema:     awsapigateway.JsonSchemaVersion_DRAFT4,
			Type:       awsapigateway.JsonSchemaType_OBJECT,
			Required:   jsii.Strings(required...),
			Properties: &props,
		}
	}
	schemas := map[string]*awsapigateway.JsonSchema{
		"ChatCompletionRequest": object([]string{"model", "messages"}, map[string]*awsapigateway.JsonSchema{
			"model":    str,
			"messages": {Type: awsapigateway.JsonSchemaType_ARRAY, MinItems: jsii.Number(1)},
			"stream":   {Type: awsapigateway.JsonSchemaType_BOOLEAN},
		}),
		"EmbeddingRequest": object([]string{"model", "input"}, map[string]*awsapigateway.JsonSchema{
			"model": str,
			"input": {Type: &[]awsapigateway.JsonSchemaType{awsapigateway.JsonSchemaType_STRING, awsapigateway.JsonSchemaType_ARRAY}},
		}),
		"GuardrailApplyRequest": object([]string{"source", "content"}, map[string]*awsapigateway.JsonSchema{
			"source":  {Type: awsapigateway.JsonSchemaType_STRING, Enum: &[]interface{}{"INPUT", "OUTPUT"}},
			"content": {Type: awsapigateway.JsonSchemaType_ARRAY, MinItems: jsii.Number(1)},
		}),
		"RetrieveRequest": object([]string{"query"}, map[string]*awsapigateway.JsonSchema{
			"query": str,
			"top_k": {Type: awsapigateway.JsonSchemaType_INTEGER, Minimum: jsii.Number(1), Maximum: jsii.Number(100)},
		}),
		"AnswerRequest":   object([]string{"query"}, map[string]*awsapigateway.JsonSchema{"query": str}),
		"FeedbackRequest": object(nil, map[string]*awsapigateway.JsonSchema{}),
	}
	models := map[string]awsapigateway.IModel{}
	for name, schema := range schemas {
		if len(*schema.Required) == 0 {
			schema.Required = nil
		}
		models[name] = api.AddModel(jsii.String(name), &awsapigateway.ModelOptions{
			ContentType: jsii.String("application/json"),
			ModelName:   jsii.String(name),
			Schema:      schema,
		})
	}
	return models
}

// openAIErrorResponses makes API Gateway's own errors (authorizer denials,
// validation failures, throttling, WAF blocks) use OpenAI's error shape; challenge, when
// set, is the WWW-Authenticate header of its 401s.
func openAIErrorResponses(api awsapigateway.RestApi, challenge string) {
	type resp struct {
		id     string
		typ    awsapigateway.ResponseType
		status string
		kind   string
		code   string
		msg    string
	}
	const ctxMsg = "$context.error.messageString"
	for _, r := range []resp{
		{"Unauthorized", awsapigateway.ResponseType_UNAUTHORIZED(), "401", "invalid_request_error", "invalid_api_key", ctxMsg},
		{"MissingToken", awsapigateway.ResponseType_MISSING_AUTHENTICATION_TOKEN(), "404", "invalid_request_error", "not_found", ctxMsg},
		{"AccessDenied", awsapigateway.ResponseType_ACCESS_DENIED(), "403", "permission_error", "access_denied", ctxMsg},
		{"BadBody", awsapigateway.ResponseType_BAD_REQUEST_BODY(), "400", "invalid_request_error", "invalid_body",
			`"$util.escapeJavaScript($context.error.validationErrorString)"`},
		{"BadParameters", awsapigateway.ResponseType_BAD_REQUEST_PARAMETERS(), "400", "invalid_request_error", "invalid_parameters", ctxMsg},
		{"TooLarge", awsapigateway.ResponseType_REQUEST_TOO_LARGE(), "413", "invalid_request_error", "request_too_large", ctxMsg},
		{"Throttled", awsapigateway.ResponseType_THROTTLED(), "429", "rate_limit_error", "rate_limit_exceeded", ctxMsg},
		{"WAFFiltered", awsapigateway.ResponseType_WAF_FILTERED(), "403", "permission_error", "request_blocked", ctxMsg},
		{"Timeout", awsapigateway.ResponseType_INTEGRATION_TIMEOUT(), "504", "server_error", "timeout", ctxMsg},
		{"Default4XX", awsapigateway.ResponseType_DEFAULT_4XX(), "", "invalid_request_error", "bad_request", ctxMsg},
		{"Default5XX", awsapigateway.ResponseType_DEFAULT_5XX(), "", "server_error", "server_error", ctxMsg},
	} {
		body := fmt.Sprintf(`{"error":{"message":%s,"type":"%s","code":"%s","param":null}}`, r.msg, r.kind, r.code)
		opts := &awsapigateway.GatewayResponseOptions{
			Type:      r.typ,
			Templates: &map[string]*string{"application/json": jsii.String(body)},
			ResponseHeaders: &map[string]*string{
				"Content-Type": jsii.String("'application/json'"),
			},
		}
		if r.status != "" {
			opts.StatusCode = jsii.String(r.status)
		}
		if r.code == "rate_limit_exceeded" {
			(*opts.ResponseHeaders)["Retry-After"] = jsii.String("'1'")
		}
		if r.status == "401" && challenge != "" {
			(*opts.ResponseHeaders)["WWW-Authenticate"] = jsii.String(challenge)
		}
		api.AddGatewayResponse(jsii.String(r.id), opts)
	}
}

// privateAPIPolicy admits requests that arrive through the execute-api endpoint and
// denies all others; authentication (keys, IAM) still applies on top.
func privateAPIPolicy(endpoint awsec2.IVpcEndpoint) awsiam.PolicyDocument {
	statements := privateAPIStatements(endpoint)
	return awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{Statements: &statements})
}

// privateAPIStatements are privateAPIPolicy's statements.
func privateAPIStatements(endpoint awsec2.IVpcEndpoint) []awsiam.PolicyStatement {
	anyone := []awsiam.IPrincipal{awsiam.NewAnyPrincipal()}
	invoke := jsii.Strings("execute-api:Invoke")
	api := jsii.Strings("execute-api:/*")
	return []awsiam.PolicyStatement{
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{Effect: awsiam.Effect_ALLOW, Principals: &anyone, Actions: invoke, Resources: api}),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{Effect: awsiam.Effect_DENY, Principals: &anyone, Actions: invoke, Resources: api,
			Conditions: &map[string]interface{}{"StringNotEquals": map[string]interface{}{"aws:SourceVpce": endpoint.VpcEndpointId()}}}),
	}
}

// executionsOf is the ARN pattern of a state machine's executions.
func executionsOf(machineName *string) *string {
	return awscdk.Fn_Join(jsii.String(""), &[]*string{
		jsii.String("arn:"), awscdk.Aws_PARTITION(), jsii.String(":states:"), awscdk.Aws_REGION(), jsii.String(":"),
		awscdk.Aws_ACCOUNT_ID(), jsii.String(":execution:"), machineName, jsii.String(":*"),
	})
}

// schedulesIn is the ARN pattern of the schedules of one group.
func schedulesIn(group string) *string {
	return awscdk.Fn_Join(jsii.String(""), &[]*string{
		jsii.String("arn:"), awscdk.Aws_PARTITION(), jsii.String(":scheduler:"), awscdk.Aws_REGION(), jsii.String(":"),
		awscdk.Aws_ACCOUNT_ID(), jsii.String(":schedule/" + group + "/*"),
	})
}

// titleCase upper-cases the first letter of an ASCII identifier.
func titleCase(s string) string {
	if s == "" {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}
