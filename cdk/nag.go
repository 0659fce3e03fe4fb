package main

import (
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// nagSuppression builds a cdk-nag suppression with its written reason.
// appliesTo narrows it to findings; an entry starting with "/" is an
// ECMA-262 regular expression ("/^Resource::.*$/g").
func nagSuppression(id, reason string, appliesTo ...string) *cdknag.NagPackSuppression {
	s := &cdknag.NagPackSuppression{Id: jsii.String(id), Reason: jsii.String(reason)}
	if len(appliesTo) > 0 {
		list := make([]interface{}, 0, len(appliesTo))
		for _, a := range appliesTo {
			if strings.HasPrefix(a, "/") {
				list = append(list, &cdknag.RegexAppliesTo{Regex: jsii.String(a)})
			} else {
				list = append(list, jsii.String(a))
			}
		}
		s.AppliesTo = &list
	}
	return s
}

// suppress attaches suppressions to a construct (and, when children is true,
// to everything under it).
func suppress(c constructs.IConstruct, children bool, s ...*cdknag.NagPackSuppression) {
	cdknag.NagSuppressions_AddResourceSuppressions(c, &s, jsii.Bool(children))
}

// applyNag runs the AWS Solutions rule pack over every stack of the app.
func applyNag(app awscdk.App) {
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
}

// Reasons shared by several suppressions.
const (
	reasonXRayAndLogDelivery = "X-Ray trace submission and CloudWatch Logs vended-log delivery " +
		"(logs:*LogDelivery, PutResourcePolicy, DescribeResourcePolicies, DescribeLogGroups) do not support " +
		"resource-level permissions; AWS documents Resource \"*\" for them."
	reasonObjectPrefix = "Object-level actions are scoped to a key prefix of one bucket; object keys are " +
		"created at runtime per tenant and document, so the ARN ends in a prefix wildcard."
	reasonBedrockModels = "Models are approved into the registry at runtime by admins, so InvokeModel is scoped " +
		"to foundation models, inference profiles and custom models of this account/region rather than fixed IDs."
	reasonVectorIndexes = "S3 Vectors indexes are created at runtime, one per tenant and knowledge base, so the " +
		"ARN ends in the platform's kb- index-name prefix within its one vector bucket."
	reasonDynamoIndexes = "Queries on the table's secondary indexes; the index names are part of the table ARN path."
	reasonVPCAccess     = "Lambda attaches a VPC function through network interfaces it creates and deletes itself; " +
		"AWS's AWSLambdaVPCAccessExecutionRole grants exactly those ec2 network-interface actions, which do not support " +
		"resource-level scoping to interfaces that do not exist yet."
	// The provider secret holds keys that third parties issue, so no rotation Lambda can
	// mint a new one; say how rotation really happens.
	reasonProviderKeyRotation = "Third-party provider API keys are issued by the providers (OpenAI, Azure and others), " +
		"so Secrets Manager cannot rotate them itself. An operator rotates a key by issuing a new one at the provider and " +
		"storing it in this secret (secretsmanager:PutSecretValue); functions read the secret again within 5 minutes " +
		"(DefaultSecretTTL), after which the old key can be revoked at the provider."
)
