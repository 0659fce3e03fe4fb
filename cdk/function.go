package main

import (
	"path/filepath"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// FunctionProps configures a Plinth Lambda function.
type FunctionProps struct {
	// AssetDir is the folder holding one sub-folder per binary.
	AssetDir string
	// Binary names the sub-folder of AssetDir whose `bootstrap` is deployed
	// (gateway, authorizer, guardrails, retrieval, ingest, evaluation, admin).
	Binary string
	// Description says what the function does.
	Description string
	// Environment variables; PLINTH_* names.
	Environment map[string]*string
	// LogKey encrypts the function's log group.
	LogKey awskms.IKey
	// Timeout defaults to 30 seconds.
	Timeout awscdk.Duration
	// MemoryMB defaults to 512.
	MemoryMB float64
	// ReservedConcurrency reserves concurrency when positive.
	ReservedConcurrency float64
	// Network, when set, runs the function in the private network's subnets.
	Network *NetworkStack
}

// Function is a Go Lambda function on arm64/provided.al2023 with active
// tracing, JSON logs to its own KMS-encrypted log group, and a role that
// starts with nothing but permission to write those logs and traces; callers
// add exactly what it needs through the grant helpers.
type Function struct {
	constructs.Construct
	// Function is the Lambda function.
	Function awslambda.Function
	// Role is the function's execution role.
	Role awsiam.Role
	// LogGroup receives the function's logs.
	LogGroup awslogs.LogGroup
}

// NewFunction creates a Function.
func NewFunction(scope constructs.Construct, id string, props *FunctionProps) *Function {
	c := constructs.NewConstruct(scope, &id)
	f := &Function{Construct: c}
	f.LogGroup = awslogs.NewLogGroup(c, jsii.String("Logs"), &awslogs.LogGroupProps{
		EncryptionKey: props.LogKey,
		Retention:     awslogs.RetentionDays_THREE_MONTHS,
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	f.Role = awsiam.NewRole(c, jsii.String("Role"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("Execution role of the Plinth " + props.Binary + " function"),
	})
	f.Role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("logs:CreateLogStream", "logs:PutLogEvents"),
		Resources: &[]*string{f.LogGroup.LogGroupArn()},
	}))
	timeout := props.Timeout
	if timeout == nil {
		timeout = durationSeconds(30)
	}
	memory := props.MemoryMB
	if memory == 0 {
		memory = 512
	}
	env := map[string]*string{}
	for k, v := range props.Environment {
		env[k] = v
	}
	fp := &awslambda.FunctionProps{
		Description:   jsii.String(props.Description),
		Code:          awslambda.Code_FromAsset(jsii.String(filepath.Join(props.AssetDir, props.Binary)), nil),
		Handler:       jsii.String("bootstrap"),
		Runtime:       awslambda.Runtime_PROVIDED_AL2023(),
		Architecture:  awslambda.Architecture_ARM_64(),
		Tracing:       awslambda.Tracing_ACTIVE,
		LoggingFormat: awslambda.LoggingFormat_JSON,
		LogGroup:      f.LogGroup,
		Role:          f.Role,
		Timeout:       timeout,
		MemorySize:    jsii.Number(memory),
		Environment:   &env,
	}
	if props.ReservedConcurrency > 0 {
		fp.ReservedConcurrentExecutions = jsii.Number(props.ReservedConcurrency)
	}
	if n := props.Network; n != nil {
		fp.Vpc, fp.VpcSubnets = n.VPC, n.Subnets
		fp.SecurityGroups = &[]awsec2.ISecurityGroup{n.Functions}
	}
	f.Function = awslambda.NewFunction(c, jsii.String("Function"), fp)
	// Lambda adds xray:PutTraceSegments/PutTelemetryRecords for active tracing.
	suppress(f.Role, true, nagSuppression("AwsSolutions-IAM5", reasonXRayAndLogDelivery, "Resource::*"))
	if props.Network != nil {
		suppress(f.Role, true, nagSuppression("AwsSolutions-IAM4", reasonVPCAccess,
			"Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"))
	}
	return f
}

// AddEnvironment sets one environment variable.
func (f *Function) AddEnvironment(key string, value *string) {
	f.Function.AddEnvironment(jsii.String(key), value, nil)
}
