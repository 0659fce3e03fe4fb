package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// NetworkStackProps configures the network stack.
type NetworkStackProps struct {
	awscdk.StackProps
	// Data provides the key that encrypts the flow logs.
	Data *DataStack
	// Egress adds NAT gateways so functions can reach model providers outside AWS
	// (OpenAI-compatible URLs); without it the functions reach AWS services only, through
	// the endpoints.
	Egress bool
}

// NetworkStack is the private network of the privateNetwork option: a VPC whose
// functions run in private subnets and reach AWS services through VPC endpoints
// (gateway endpoints for DynamoDB and S3; interface endpoints for Bedrock, Step
// Functions, SQS, Secrets Manager, EventBridge and its Scheduler, X-Ray and S3 Vectors),
// and the interface endpoint (execute-api) through which the private REST API is
// reached.
type NetworkStack struct {
	awscdk.Stack
	VPC awsec2.Vpc
	// Subnets are where the functions run.
	Subnets *awsec2.SubnetSelection
	// Functions is the functions' security group; Endpoints the interface endpoints'.
	Functions awsec2.SecurityGroup
	Endpoints awsec2.SecurityGroup
	// ExecuteAPI is the endpoint the private API accepts requests through.
	ExecuteAPI awsec2.InterfaceVpcEndpoint
}

// vpcCIDR is the private network's address range.
const vpcCIDR = "10.40.0.0/16"

// NewNetworkStack creates the network stack.
func NewNetworkStack(scope constructs.Construct, id string, props *NetworkStackProps) *NetworkStack {
	stack := awscdk.NewStack(scope, &id, &props.StackProps)
	s := &NetworkStack{Stack: stack}
	subnetType := awsec2.SubnetType_PRIVATE_ISOLATED
	configs := []*awsec2.SubnetConfiguration{{Name: jsii.String("functions"), SubnetType: subnetType, CidrMask: jsii.Number(22)}}
	nat := 0.0
	if props.Egress {
		subnetType = awsec2.SubnetType_PRIVATE_WITH_EGRESS
		configs = []*awsec2.SubnetConfiguration{
			{Name: jsii.String("functions"), SubnetType: subnetType, CidrMask: jsii.Number(22)},
			{Name: jsii.String("nat"), SubnetType: awsec2.SubnetType_PUBLIC, CidrMask: jsii.Number(26)},
		}
		nat = 2
	}
	flowLogs := awslogs.NewLogGroup(stack, jsii.String("FlowLogs"), &awslogs.LogGroupProps{
		EncryptionKey: props.Data.Key,
		Retention:     awslogs.RetentionDays_ONE_YEAR,
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	s.VPC = awsec2.NewVpc(stack, jsii.String("Vpc"), &awsec2.VpcProps{
		IpAddresses:         awsec2.IpAddresses_Cidr(jsii.String(vpcCIDR)),
		MaxAzs:              jsii.Number(2),
		NatGateways:         jsii.Number(nat),
		SubnetConfiguration: &configs,
		FlowLogs: &map[string]*awsec2.FlowLogOptions{
			"All": {Destination: awsec2.FlowLogDestination_ToCloudWatchLogs(flowLogs, nil), TrafficType: awsec2.FlowLogTrafficType_ALL},
		},
	})
	s.Subnets = &awsec2.SubnetSelection{SubnetType: subnetType}

	s.Functions = awsec2.NewSecurityGroup(stack, jsii.String("FunctionsSG"), &awsec2.SecurityGroupProps{
		Vpc:              s.VPC,
		Description:      jsii.String("Plinth functions: no inbound; HTTPS out"),
		AllowAllOutbound: jsii.Bool(false),
	})
	s.Endpoints = awsec2.NewSecurityGroup(stack, jsii.String("EndpointsSG"), &awsec2.SecurityGroupProps{
		Vpc:              s.VPC,
		Description:      jsii.String("Plinth interface endpoints: HTTPS from the VPC"),
		AllowAllOutbound: jsii.Bool(false),
	})
	s.Endpoints.AddIngressRule(awsec2.Peer_Ipv4(jsii.String(vpcCIDR)), awsec2.Port_Tcp(jsii.Number(443)),
		jsii.String("HTTPS from the VPC"), jsii.Bool(false))
	// HTTPS out. Without egress the private subnets have no route beyond the VPC, so this
	// reaches the interface endpoints and, through the route tables, the gateway endpoints
	// (whose addresses are the services' prefix lists); with egress it also reaches model
	// providers outside AWS through the NAT gateways.
	s.Functions.AddEgressRule(awsec2.Peer_AnyIpv4(), awsec2.Port_Tcp(jsii.Number(443)), jsii.String("HTTPS"), jsii.Bool(false))
	for _, g := range []struct {
		id      string
		service awsec2.IGatewayVpcEndpointService
	}{{"DynamoDB", awsec2.GatewayVpcEndpointAwsService_DYNAMODB()}, {"S3", awsec2.GatewayVpcEndpointAwsService_S3()}} {
		s.VPC.AddGatewayEndpoint(jsii.String(g.id), &awsec2.GatewayVpcEndpointOptions{Service: g.service, Subnets: &[]*awsec2.SubnetSelection{s.Subnets}})
	}
	interfaces := []struct {
		id      string
		service awsec2.IInterfaceVpcEndpointService
	}{
		{"BedrockRuntime", awsec2.InterfaceVpcEndpointAwsService_BEDROCK_RUNTIME()},
		{"Bedrock", awsec2.InterfaceVpcEndpointAwsService_BEDROCK()},
		{"StepFunctions", awsec2.InterfaceVpcEndpointAwsService_STEP_FUNCTIONS()},
		{"SQS", awsec2.InterfaceVpcEndpointAwsService_SQS()},
		{"SecretsManager", awsec2.InterfaceVpcEndpointAwsService_SECRETS_MANAGER()},
		{"EventBridge", awsec2.InterfaceVpcEndpointAwsService_EVENTBRIDGE()},
		{"Scheduler", awsec2.NewInterfaceVpcEndpointAwsService(jsii.String("scheduler"), nil, nil, nil)},
		{"XRay", awsec2.InterfaceVpcEndpointAwsService_XRAY()},
		{"S3Vectors", awsec2.InterfaceVpcEndpointAwsService_S3_VECTORS()},
		{"ExecuteAPI", awsec2.InterfaceVpcEndpointAwsService_APIGATEWAY()},
	}
	for _, i := range interfaces {
		ep := s.VPC.AddInterfaceEndpoint(jsii.String(i.id), &awsec2.InterfaceVpcEndpointOptions{
			Service:           i.service,
			Subnets:           s.Subnets,
			SecurityGroups:    &[]awsec2.ISecurityGroup{s.Endpoints},
			PrivateDnsEnabled: jsii.Bool(true),
			Open:              jsii.Bool(false),
		})
		if i.id == "ExecuteAPI" {
			s.ExecuteAPI = ep
		}
	}
	output(stack, "ExecuteApiEndpointId", s.ExecuteAPI.VpcEndpointId())
	return s
}
