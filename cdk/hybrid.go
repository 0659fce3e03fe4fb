package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskinesisfirehose"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsoam"
	"github.com/aws/jsii-runtime-go"
)

// Names both sides of a hybrid deployment derive, so neither needs the other's outputs
// for them.
const (
	// TenantLogDestinationName is the central CloudWatch Logs destination hybrid tenants'
	// subscription filters send to.
	TenantLogDestinationName = "plinth-tenant-telemetry"
	// TenantSinkName is the central CloudWatch cross-account observability (OAM) sink.
	TenantSinkName = "plinth-tenants"
)

// TenantAppRoleName is the role of a hybrid tenant's application layer, in its account.
func TenantAppRoleName(tenant string) string { return "plinth-" + tenant + "-app" }

// TenantIngestRoleName is the role of a hybrid tenant's ingestion function.
func TenantIngestRoleName(tenant string) string { return "plinth-" + tenant + "-ingest" }

// roleARN is an IAM role's ARN in another account.
func roleARN(account, name string) *string {
	return awscdk.Fn_Join(jsii.String(""), &[]*string{
		jsii.String("arn:"), awscdk.Aws_PARTITION(), jsii.String(":iam::" + account + ":role/" + name),
	})
}

// hybridCallers are the role ARNs of hybrid tenants' stacks that may call the IAM API.
func hybridCallers(tenants []TenantConfig) []*string {
	var out []*string
	for _, t := range tenants {
		out = append(out, roleARN(t.Account, TenantAppRoleName(t.ID)), roleARN(t.Account, TenantIngestRoleName(t.ID)))
	}
	return out
}

// iamAPIPolicy is the IAM API's resource policy: the private API's endpoint restriction
// when the network is private, and, for each hybrid tenant, its account admitted for its
// application and ingestion roles only. A cross-account SigV4 call needs both this and
// the caller's own execute-api:Invoke; callers in the platform's account need only their
// identity policy, as before. Nil when neither applies.
func iamAPIPolicy(endpoint awsec2.IVpcEndpoint, hybrids []TenantConfig) awsiam.PolicyDocument {
	if endpoint == nil && len(hybrids) == 0 {
		return nil
	}
	var statements []awsiam.PolicyStatement
	if endpoint != nil {
		statements = append(statements, privateAPIStatements(endpoint)...)
	}
	for _, t := range hybrids {
		statements = append(statements, awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String("HybridTenant" + titleCaseID(t.ID)),
			Effect:     awsiam.Effect_ALLOW,
			Principals: &[]awsiam.IPrincipal{awsiam.NewAccountPrincipal(jsii.String(t.Account))},
			Actions:    jsii.Strings("execute-api:Invoke"),
			Resources:  jsii.Strings("execute-api:/*"),
			Conditions: &map[string]any{"ArnEquals": map[string]any{"aws:PrincipalArn": hybridCallers([]TenantConfig{t})}},
		}))
	}
	return awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{Statements: &statements})
}

// TenantTelemetry is the central account's side of hybrid tenants' observability: a
// CloudWatch Logs destination their subscription filters send to, delivering through an
// encrypted Firehose stream into the TenantTelemetry bucket, and an OAM sink their
// accounts link to so their metrics, logs and traces appear in this account's CloudWatch.
type TenantTelemetry struct {
	// Stream is the Firehose stream behind the destination.
	Stream awskinesisfirehose.CfnDeliveryStream
	// Destination is the cross-account log destination, admitting the hybrid accounts.
	Destination awslogs.CfnDestination
	// Sink is the OAM sink, admitting the hybrid accounts' links for metrics, log groups
	// and traces.
	Sink awsoam.CfnSink
}

// oamResourceTypes are what hybrid tenants share with the central account.
var oamResourceTypes = []string{"AWS::CloudWatch::Metric", "AWS::Logs::LogGroup", "AWS::XRay::Trace"}

// newTenantTelemetry creates the central telemetry side for the hybrid tenants.
func newTenantTelemetry(stack awscdk.Stack, data *DataStack, hybrids []TenantConfig) *TenantTelemetry {
	tt := &TenantTelemetry{}
	var accounts []*string
	var sourceArns []*string
	for _, t := range hybrids {
		accounts = append(accounts, jsii.String(t.Account))
		sourceArns = append(sourceArns, awscdk.Fn_Join(jsii.String(""), &[]*string{
			jsii.String("arn:"), awscdk.Aws_PARTITION(), jsii.String(":logs:*:" + t.Account + ":*")}))
	}
	bucket := data.TenantTelemetry
	s3Via := awscdk.Fn_Join(jsii.String(""), &[]*string{jsii.String("s3."), awscdk.Aws_REGION(), jsii.String(".amazonaws.com")})

	// Firehose writes the tenants' log batches under tenants/ (errors under errors/).
	deliveryRole := awsiam.NewRole(stack, jsii.String("TenantTelemetryDeliveryRole"), &awsiam.RoleProps{
		Description: jsii.String("Firehose delivery of hybrid tenants' logs into the telemetry bucket"),
		AssumedBy: awsiam.NewServicePrincipal(jsii.String("firehose.amazonaws.com"), &awsiam.ServicePrincipalOpts{
			Conditions: &map[string]any{"StringEquals": map[string]any{"sts:ExternalId": awscdk.Aws_ACCOUNT_ID()}},
		}),
	})
	deliveryPolicy := awsiam.NewPolicy(stack, jsii.String("TenantTelemetryDeliveryPolicy"), &awsiam.PolicyProps{
		Roles: &[]awsiam.IRole{deliveryRole},
		Statements: &[]awsiam.PolicyStatement{
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Actions:   jsii.Strings("s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"),
				Resources: &[]*string{bucket.BucketArn()},
			}),
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Actions:   jsii.Strings("s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"),
				Resources: &[]*string{bucket.ArnForObjects(jsii.String("tenants/*")), bucket.ArnForObjects(jsii.String("errors/*"))},
			}),
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Actions:    jsii.Strings("kms:GenerateDataKey", "kms:Decrypt"),
				Resources:  &[]*string{data.Key.KeyArn()},
				Conditions: &map[string]any{"StringEquals": map[string]any{"kms:ViaService": s3Via}},
			}),
		},
	})
	suppress(deliveryPolicy, false, nagSuppression("AwsSolutions-IAM5", "Firehose names each delivered object at "+
		"runtime (date path and random suffix) under the tenants/ and errors/ prefixes of the telemetry bucket.",
		`/^Resource::.*\/(tenants|errors)\/\*$/g`))
	tt.Stream = awskinesisfirehose.NewCfnDeliveryStream(stack, jsii.String("TenantTelemetryStream"), &awskinesisfirehose.CfnDeliveryStreamProps{
		DeliveryStreamName: jsii.String(TenantLogDestinationName),
		DeliveryStreamType: jsii.String("DirectPut"),
		DeliveryStreamEncryptionConfigurationInput: &awskinesisfirehose.CfnDeliveryStream_DeliveryStreamEncryptionConfigurationInputProperty{
			KeyType: jsii.String("CUSTOMER_MANAGED_CMK"),
			KeyArn:  data.Key.KeyArn(),
		},
		ExtendedS3DestinationConfiguration: &awskinesisfirehose.CfnDeliveryStream_ExtendedS3DestinationConfigurationProperty{
			BucketArn:         bucket.BucketArn(),
			RoleArn:           deliveryRole.RoleArn(),
			Prefix:            jsii.String("tenants/"),
			ErrorOutputPrefix: jsii.String("errors/"),
			BufferingHints: &awskinesisfirehose.CfnDeliveryStream_BufferingHintsProperty{
				IntervalInSeconds: jsii.Number(300), SizeInMBs: jsii.Number(5),
			},
			EncryptionConfiguration: &awskinesisfirehose.CfnDeliveryStream_EncryptionConfigurationProperty{
				KmsEncryptionConfig: &awskinesisfirehose.CfnDeliveryStream_KMSEncryptionConfigProperty{AwskmsKeyArn: data.Key.KeyArn()},
			},
		},
	})
	tt.Stream.Node().AddDependency(deliveryPolicy)

	// CloudWatch Logs assumes this role to put the tenants' log events into the stream,
	// only on behalf of the hybrid accounts' log groups.
	logsRole := awsiam.NewRole(stack, jsii.String("TenantLogDestinationRole"), &awsiam.RoleProps{
		Description: jsii.String("CloudWatch Logs delivery from hybrid tenants' accounts into the telemetry stream"),
		AssumedBy: awsiam.NewServicePrincipal(jsii.String("logs.amazonaws.com"), &awsiam.ServicePrincipalOpts{
			Conditions: &map[string]any{"StringLike": map[string]any{"aws:SourceArn": sourceArns}},
		}),
	})
	logsPolicy := awsiam.NewPolicy(stack, jsii.String("TenantLogDestinationPolicy"), &awsiam.PolicyProps{
		Roles: &[]awsiam.IRole{logsRole},
		Statements: &[]awsiam.PolicyStatement{awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings("firehose:PutRecord", "firehose:PutRecordBatch"),
			Resources: &[]*string{tt.Stream.AttrArn()},
		})},
	})
	destinationARN := awscdk.Fn_Join(jsii.String(""), &[]*string{
		jsii.String("arn:"), awscdk.Aws_PARTITION(), jsii.String(":logs:"), awscdk.Aws_REGION(), jsii.String(":"),
		awscdk.Aws_ACCOUNT_ID(), jsii.String(":destination:" + TenantLogDestinationName),
	})
	tt.Destination = awslogs.NewCfnDestination(stack, jsii.String("TenantLogDestination"), &awslogs.CfnDestinationProps{
		DestinationName: jsii.String(TenantLogDestinationName),
		RoleArn:         logsRole.RoleArn(),
		TargetArn:       tt.Stream.AttrArn(),
		DestinationPolicy: stack.ToJsonString(map[string]any{
			"Version": "2012-10-17",
			"Statement": []any{map[string]any{
				"Sid":       "HybridTenantSubscriptions",
				"Effect":    "Allow",
				"Principal": map[string]any{"AWS": accounts},
				"Action":    "logs:PutSubscriptionFilter",
				"Resource":  destinationARN,
			}},
		}, nil),
	})
	// CloudWatch Logs tests delivery when the destination is created.
	tt.Destination.Node().AddDependency(logsPolicy)

	tt.Sink = awsoam.NewCfnSink(stack, jsii.String("TenantSink"), &awsoam.CfnSinkProps{
		Name: jsii.String(TenantSinkName),
		Policy: map[string]any{
			"Version": "2012-10-17",
			"Statement": []any{map[string]any{
				"Effect":    "Allow",
				"Principal": map[string]any{"AWS": accounts},
				"Action":    []string{"oam:CreateLink", "oam:UpdateLink"},
				"Resource":  "*",
				"Condition": map[string]any{"ForAllValues:StringEquals": map[string]any{"oam:ResourceTypes": oamResourceTypes}},
			}},
		},
	})
	output(stack, "TenantLogDestinationArn", tt.Destination.AttrArn())
	output(stack, "TenantSinkArn", tt.Sink.AttrArn())
	return tt
}
