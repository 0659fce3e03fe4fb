package main

import (
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

// privatePlatform synthesizes the privateNetwork variant (nag on) once.
func privatePlatform(t *testing.T) *synthesized {
	t.Helper()
	return variant(t, "private", map[string]any{"privateNetwork": true})
}

// TestPrivateNetwork: with privateNetwork, every function runs in the VPC's private
// subnets with no route to the internet, reaches DynamoDB and S3 through gateway
// endpoints and Bedrock, Step Functions and the rest through interface endpoints, and
// the REST API is private, admitting only requests through its execute-api endpoint.
func TestPrivateNetwork(t *testing.T) {
	s := privatePlatform(t)
	net := s.raw["network"]
	if n := len(resources(net, "AWS::EC2::VPC")); n != 1 {
		t.Fatalf("VPCs = %d", n)
	}
	for _, typ := range []string{"AWS::EC2::InternetGateway", "AWS::EC2::NatGateway"} {
		if n := len(resources(net, typ)); n != 0 {
			t.Errorf("%s = %d: the private subnets must have no way out", typ, n)
		}
	}
	if len(resources(net, "AWS::EC2::FlowLog")) == 0 {
		t.Error("no VPC flow logs")
	}
	endpoints := map[string]string{}
	for _, ep := range resources(net, "AWS::EC2::VPCEndpoint") {
		p := props(ep)
		name := jsonText(p["ServiceName"])
		typ, _ := p["VpcEndpointType"].(string)
		for _, svc := range []string{"dynamodb", "s3vectors", "s3", "bedrock-runtime", "bedrock", "states", "sqs", "secretsmanager", "events", "scheduler", "xray", "execute-api"} {
			if strings.Contains(name, "."+svc+`"`) || strings.HasSuffix(strings.Trim(name, `"`), "."+svc) {
				endpoints[svc] = typ
			}
		}
	}
	for svc, want := range map[string]string{"dynamodb": "Gateway", "s3": "Gateway", "bedrock-runtime": "Interface", "bedrock": "Interface",
		"states": "Interface", "sqs": "Interface", "secretsmanager": "Interface", "events": "Interface", "scheduler": "Interface",
		"xray": "Interface", "execute-api": "Interface"} {
		if endpoints[svc] != want {
			t.Errorf("endpoint for %s: %q, want %s (found %v)", svc, endpoints[svc], want, endpoints)
		}
	}

	fns := 0
	for name, raw := range s.raw {
		for id, f := range resources(raw, "AWS::Lambda::Function") {
			if strings.HasPrefix(id, "BucketNotificationsHandler") {
				continue // CDK's deploy-time custom resource
			}
			fns++
			vpc, _ := props(f)["VpcConfig"].(map[string]any)
			if vpc == nil || len(list(vpc["SubnetIds"])) != 2 || len(list(vpc["SecurityGroupIds"])) != 1 {
				t.Errorf("%s/%s: not in the private subnets: %v", name, id, jsonText(props(f)["VpcConfig"]))
			}
		}
	}
	if fns < 10 {
		t.Fatalf("only %d functions checked", fns)
	}

	apis := resources(s.raw["api"], "AWS::ApiGateway::RestApi")
	for id, a := range apis {
		p := props(a)
		if !containsAll(jsonText(p["EndpointConfiguration"]), `"Types":["PRIVATE"]`, "VpcEndpointIds") {
			t.Errorf("%s: endpoint configuration %s", id, jsonText(p["EndpointConfiguration"]))
		}
		if !containsAll(jsonText(p["Policy"]), `"Effect":"Deny"`, `"aws:SourceVpce"`, "StringNotEquals") {
			t.Errorf("%s: resource policy %s does not refuse requests from elsewhere", id, jsonText(p["Policy"]))
		}
	}

	for name, stack := range s.platform.stacks() {
		ann := assertions.Annotations_FromStack(stack)
		for _, e := range append(*ann.FindError(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))),
			*ann.FindWarning(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*")))...) {
			//lint:ignore SA1019 the assertions API still returns this type in CDK 2.275
			t.Errorf("%s: unsuppressed cdk-nag finding at %s: %v", name, *e.Id, e.Entry.Data)
		}
	}
}
