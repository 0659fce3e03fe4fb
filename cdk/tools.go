package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
)

// ToolFunctionPrefix names the Lambda functions that may serve as tool servers: tool
// servers are registered at run time, so the functions that call tools (the gateway
// function for /mcp and /v1/responses, the agent task) may invoke exactly the functions
// whose names start with it.
const ToolFunctionPrefix = "plinth-tool-"

// grantToolServers lets f invoke Lambda tool servers (functions named plinth-tool-*).
func grantToolServers(f *Function) {
	allow(f.Role, []string{"lambda:InvokeFunction"}, awscdk.Fn_Join(jsii.String(""), &[]*string{
		jsii.String("arn:"), awscdk.Aws_PARTITION(), jsii.String(":lambda:"), awscdk.Aws_REGION(), jsii.String(":"),
		awscdk.Aws_ACCOUNT_ID(), jsii.String(":function:" + ToolFunctionPrefix + "*"),
	}))
	suppress(f.Role, true, nagSuppression("AwsSolutions-IAM5",
		"Lambda tool servers are registered at run time; only functions named "+ToolFunctionPrefix+"* may be invoked.",
		`/^Resource::arn:<AWS::Partition>:lambda:<AWS::Region>:<AWS::AccountId>:function:plinth-tool-\*$/g`))
}
