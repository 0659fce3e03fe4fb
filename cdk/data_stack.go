package main

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudtrail"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3vectors"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// DataStackProps configures the data stack.
type DataStackProps struct {
	awscdk.StackProps
	// Vectors creates the S3 vector bucket of knowledge bases' dense vectors.
	Vectors bool
	// GuardrailEmbeddingModel is the platform-wide setting every function gets as
	// PLINTH_GUARDRAIL_EMBEDDING_MODEL ("" = none).
	GuardrailEmbeddingModel string
	// Tenants are the declared tenants: silo tenants get their own key, table and buckets
	// (SiloTenant); tenants with an account get a read-only data role that account may
	// assume (TenantDataRoles); hybrid tenants add the TenantTelemetry bucket.
	Tenants []TenantConfig
}

// DataStack owns everything that holds state: the platform's KMS key, the
// single DynamoDB table, the S3 buckets and the provider-credentials secret.
// It retains all of them on stack deletion.
type DataStack struct {
	awscdk.Stack
	// Key encrypts the table, buckets, secret, queues, topics and log groups.
	Key awskms.Key
	// Table is the single table (pk, sk; TTL attribute `ttl`).
	Table awsdynamodb.Table
	// Documents receives tenant documents under `tenants/{tenant}/kb/{kb}/`;
	// it sends its events to EventBridge.
	Documents awss3.Bucket
	// Index holds the knowledge-base index segments.
	Index awss3.Bucket
	// EvalArtifacts holds evaluation datasets, run results and reports.
	EvalArtifacts awss3.Bucket
	// AccessLogs receives the other buckets' server access logs.
	AccessLogs awss3.Bucket
	// ProviderSecret holds model-provider API keys (JSON map by provider).
	ProviderSecret awssecretsmanager.Secret
	// UsageQueue receives every usage record before its request ends; the usage
	// function drains it into the table. Records it cannot store after five receives move
	// to UsageDLQ, which the usage function redrives on a schedule.
	UsageQueue awssqs.Queue
	UsageDLQ   awssqs.Queue
	// Trail is the account's CloudTrail trail: management events of every region and S3
	// data events of the documents, index and evaluation buckets, KMS-encrypted, with
	// log-file integrity validation, delivered to TrailLogs and CloudWatch Logs. It is the
	// AWS half of the audit trail; the platform's own (GET /admin/audit) lives in the table.
	Trail     awscloudtrail.Trail
	TrailLogs awss3.Bucket
	// Vectors is the Amazon S3 Vectors bucket of knowledge bases' dense vectors,
	// encrypted with Key; the platform creates one vector index per tenant and knowledge
	// base in it (named kb-…) when it first writes one. Nil unless the vector backend is
	// s3vectors; VectorBucketName names it.
	Vectors          awss3vectors.CfnVectorBucket
	VectorBucketName *string
	// GuardrailEmbeddingModel is the functions' PLINTH_GUARDRAIL_EMBEDDING_MODEL.
	GuardrailEmbeddingModel string
	// Silos are the silo tenants' dedicated resources, in declaration order.
	Silos []*SiloTenant
	// TenantDataRoles are the read-only data roles of tenants declared with an account, by
	// tenant id.
	TenantDataRoles map[string]awsiam.Role
	// TenantTelemetry receives the logs hybrid tenants' stacks send to the central log
	// destination (through Firehose, under tenants/). Nil without hybrid tenants.
	TenantTelemetry awss3.Bucket
	// CustomizationKey encrypts fine-tuning data and the custom models Bedrock trains,
	// and nothing else (see customization.go for how its use is scoped).
	CustomizationKey awskms.Key
	// Customization holds tenants' fine-tuning datasets, the jobs' validated records and
	// Bedrock's output, each tenant under tenants/{tenant}/customization/.
	Customization awss3.Bucket
}

// usageVisibilitySeconds is the usage queue's visibility timeout: six times the usage
// function's timeout, as AWS recommends for event source mappings.
const usageVisibilitySeconds = 6 * usageFunctionTimeoutSeconds

// usageFunctionTimeoutSeconds bounds one drain of a usage batch.
const usageFunctionTimeoutSeconds = 60

// NewDataStack creates the data stack.
func NewDataStack(scope constructs.Construct, id string, props *DataStackProps) *DataStack {
	var sprops awscdk.StackProps
	if props != nil {
		sprops = props.StackProps
	}
	stack := awscdk.NewStack(scope, &id, &sprops)
	s := &DataStack{Stack: stack}
	vectors := props != nil && props.Vectors
	if props != nil {
		s.GuardrailEmbeddingModel = props.GuardrailEmbeddingModel
	}
	// Server access logs are delivered through a bucket policy, not an ACL,
	// so every bucket can enforce bucket-owner object ownership.
	stack.Node().SetContext(jsii.String("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy"), true)

	s.Key = awskms.NewKey(stack, jsii.String("Key"), &awskms.KeyProps{
		Description:       jsii.String("Plinth platform data key"),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
	})
	allowServiceUseOfKey(s.Key)
	if vectors {
		s.vectorBucket()
	}

	s.Table = awsdynamodb.NewTable(stack, jsii.String("Table"), &awsdynamodb.TableProps{
		PartitionKey:        &awsdynamodb.Attribute{Name: jsii.String("pk"), Type: awsdynamodb.AttributeType_STRING},
		SortKey:             &awsdynamodb.Attribute{Name: jsii.String("sk"), Type: awsdynamodb.AttributeType_STRING},
		BillingMode:         awsdynamodb.BillingMode_PAY_PER_REQUEST,
		TimeToLiveAttribute: jsii.String("ttl"),
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
			PointInTimeRecoveryEnabled: jsii.Bool(true),
		},
		Encryption:         awsdynamodb.TableEncryption_CUSTOMER_MANAGED,
		EncryptionKey:      s.Key,
		DeletionProtection: jsii.Bool(true),
		RemovalPolicy:      awscdk.RemovalPolicy_RETAIN,
	})

	// Server access logs cannot be delivered to an SSE-KMS bucket, so this one
	// alone uses S3-managed keys.
	s.AccessLogs = awss3.NewBucket(stack, jsii.String("AccessLogs"), &awss3.BucketProps{
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		EnforceSSL:        jsii.Bool(true),
		Versioned:         jsii.Bool(true),
		ObjectOwnership:   awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
		LifecycleRules: &[]*awss3.LifecycleRule{{
			Id:                          jsii.String("expire-access-logs"),
			Expiration:                  awscdk.Duration_Days(jsii.Number(365)),
			NoncurrentVersionExpiration: awscdk.Duration_Days(jsii.Number(30)),
		}},
	})
	suppress(s.AccessLogs, false, nagSuppression("AwsSolutions-S1",
		"This bucket is the server access log destination; logging it to itself would loop."))

	s.Documents = s.dataBucket("Documents", true)
	s.Index = s.dataBucket("Index", false)
	s.EvalArtifacts = s.dataBucket("EvalArtifacts", false)
	s.customizationData()
	var tenants []TenantConfig
	if props != nil {
		tenants = props.Tenants
	}
	for _, t := range tenants {
		if t.Tier == TierSilo {
			s.Silos = append(s.Silos, s.newSiloTenant(t.ID))
		}
	}
	if len(Config{Tenants: tenants}.HybridTenants()) > 0 {
		s.TenantTelemetry = s.dataBucket("TenantTelemetry", false)
	}

	s.ProviderSecret = awssecretsmanager.NewSecret(stack, jsii.String("ProviderSecret"), &awssecretsmanager.SecretProps{
		Description:   jsii.String("Plinth model-provider API keys, a JSON object keyed by provider deployment"),
		EncryptionKey: s.Key,
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	suppress(s.ProviderSecret, false, nagSuppression("AwsSolutions-SMG4", reasonProviderKeyRotation))

	s.UsageDLQ = encryptedQueue(stack, "UsageDLQ", s)
	s.UsageQueue = awssqs.NewQueue(stack, jsii.String("UsageQueue"), &awssqs.QueueProps{
		Encryption:          awssqs.QueueEncryption_KMS,
		EncryptionMasterKey: s.Key,
		EnforceSSL:          jsii.Bool(true),
		RetentionPeriod:     awscdk.Duration_Days(jsii.Number(14)),
		VisibilityTimeout:   durationSeconds(usageVisibilitySeconds),
		DeadLetterQueue:     &awssqs.DeadLetterQueue{Queue: s.UsageDLQ, MaxReceiveCount: jsii.Number(5)},
	})

	// S3 bucket notifications are configured by a CDK-provided custom resource.
	for _, child := range *stack.Node().Children() {
		if strings.HasPrefix(*child.Node().Id(), "BucketNotificationsHandler") {
			suppress(child, true, nagSuppression("AwsSolutions-IAM4",
				"CDK's bucket-notifications custom resource handler logs with the AWS-managed AWSLambdaBasicExecutionRole; "+
					"it runs only during deployment to switch on EventBridge delivery for the documents bucket.",
				"Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"))
		}
	}

	s.auditTrail()
	s.TenantDataRoles = map[string]awsiam.Role{}
	for _, t := range tenants {
		if t.Account != "" {
			s.TenantDataRoles[t.ID] = s.tenantDataRole(t)
		}
	}

	output(stack, "TableName", s.Table.TableName())
	output(stack, "DocumentsBucketName", s.Documents.BucketName())
	return s
}

// auditTrail records who did what to the platform's AWS resources: CloudTrail
// management events in every region, and object-level (data) events of the buckets that
// hold tenant documents, index segments and evaluation artifacts.
func (s *DataStack) auditTrail() {
	stack := s.Stack
	s.TrailLogs = s.dataBucket("TrailLogs", false)
	trailArns := awscdk.Fn_Join(jsii.String(""), &[]*string{
		jsii.String("arn:"), awscdk.Aws_PARTITION(), jsii.String(":cloudtrail:*:"), awscdk.Aws_ACCOUNT_ID(), jsii.String(":trail/*"),
	})
	s.Key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("AllowCloudTrailEncryption"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudtrail.amazonaws.com"), nil)},
		Actions:    jsii.Strings("kms:GenerateDataKey", "kms:DescribeKey"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]interface{}{
			"StringLike":   map[string]interface{}{"kms:EncryptionContext:aws:cloudtrail:arn": trailArns},
			"StringEquals": map[string]interface{}{"aws:SourceAccount": awscdk.Aws_ACCOUNT_ID()},
		},
	}), jsii.Bool(false))
	logs := awslogs.NewLogGroup(stack, jsii.String("TrailEvents"), &awslogs.LogGroupProps{
		EncryptionKey: s.Key,
		Retention:     awslogs.RetentionDays_ONE_YEAR,
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	s.Trail = awscloudtrail.NewTrail(stack, jsii.String("AuditTrail"), &awscloudtrail.TrailProps{
		Bucket:                     s.TrailLogs,
		EncryptionKey:              s.Key,
		EnableFileValidation:       jsii.Bool(true),
		IncludeGlobalServiceEvents: jsii.Bool(true),
		IsMultiRegionTrail:         jsii.Bool(true),
		ManagementEvents:           awscloudtrail.ReadWriteType_ALL,
		SendToCloudWatchLogs:       jsii.Bool(true),
		CloudWatchLogGroup:         logs,
	})
	selectors := []*awscloudtrail.S3EventSelector{{Bucket: s.Documents}, {Bucket: s.Index}, {Bucket: s.EvalArtifacts}, {Bucket: s.Customization}}
	for _, t := range s.Silos {
		selectors = append(selectors, &awscloudtrail.S3EventSelector{Bucket: t.Documents},
			&awscloudtrail.S3EventSelector{Bucket: t.Index}, &awscloudtrail.S3EventSelector{Bucket: t.EvalArtifacts},
			&awscloudtrail.S3EventSelector{Bucket: t.Customization})
	}
	s.Trail.AddS3EventSelector(&selectors, &awscloudtrail.AddEventSelectorOptions{ReadWriteType: awscloudtrail.ReadWriteType_ALL, IncludeManagementEvents: jsii.Bool(false)})
}

// dataBucket creates a KMS-encrypted, versioned, private, TLS-only bucket
// that logs access to AccessLogs.
func (s *DataStack) dataBucket(id string, eventBridge bool) awss3.Bucket {
	return newDataBucket(s.Stack, id, s.Key, s.AccessLogs, fmt.Sprintf("%s/", id), eventBridge)
}

// newDataBucket creates a bucket encrypted with key (SSE-KMS with a bucket key),
// versioned, private and TLS-only, logging access to accessLogs under logPrefix.
func newDataBucket(scope constructs.Construct, id string, key awskms.IKey, accessLogs awss3.IBucket, logPrefix string, eventBridge bool) awss3.Bucket {
	return awss3.NewBucket(scope, jsii.String(id), &awss3.BucketProps{
		Encryption:             awss3.BucketEncryption_KMS,
		EncryptionKey:          key,
		BucketKeyEnabled:       jsii.Bool(true),
		BlockPublicAccess:      awss3.BlockPublicAccess_BLOCK_ALL(),
		EnforceSSL:             jsii.Bool(true),
		Versioned:              jsii.Bool(true),
		ObjectOwnership:        awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		ServerAccessLogsBucket: accessLogs,
		ServerAccessLogsPrefix: jsii.String(logPrefix),
		EventBridgeEnabled:     jsii.Bool(eventBridge),
		RemovalPolicy:          awscdk.RemovalPolicy_RETAIN,
		LifecycleRules: &[]*awss3.LifecycleRule{{
			Id:                                  jsii.String("expire-noncurrent"),
			NoncurrentVersionExpiration:         awscdk.Duration_Days(jsii.Number(30)),
			AbortIncompleteMultipartUploadAfter: awscdk.Duration_Days(jsii.Number(7)),
		}},
	})
}

// allowServiceUseOfKey lets the AWS services that encrypt on the platform's
// behalf use the key: CloudWatch Logs for encrypted log groups (scoped to log
// groups of this account and region), EventBridge for the encrypted dead-letter
// queues, and CloudWatch alarms publishing to the encrypted SNS topic.
func allowServiceUseOfKey(key awskms.Key) {
	logsArn := awscdk.Fn_Join(jsii.String(""), &[]*string{
		jsii.String("arn:"), awscdk.Aws_PARTITION(), jsii.String(":logs:"), awscdk.Aws_REGION(),
		jsii.String(":"), awscdk.Aws_ACCOUNT_ID(), jsii.String(":log-group:*"),
	})
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid: jsii.String("AllowCloudWatchLogs"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(
			awscdk.Fn_Join(jsii.String(""), &[]*string{jsii.String("logs."), awscdk.Aws_REGION(), jsii.String(".amazonaws.com")}), nil)},
		Actions: jsii.Strings("kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo",
			"kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:DescribeKey"),
		Resources: jsii.Strings("*"),
		Conditions: &map[string]interface{}{
			"ArnLike": map[string]interface{}{"kms:EncryptionContext:aws:logs:arn": logsArn},
		},
	}), jsii.Bool(false))
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid: jsii.String("AllowEventDeliveryToEncryptedQueuesAndTopics"),
		Principals: &[]awsiam.IPrincipal{
			awsiam.NewServicePrincipal(jsii.String("events.amazonaws.com"), nil),
			awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil),
		},
		Actions:   jsii.Strings("kms:Decrypt", "kms:GenerateDataKey"),
		Resources: jsii.Strings("*"),
		Conditions: &map[string]interface{}{
			"StringEquals": map[string]interface{}{"aws:SourceAccount": awscdk.Aws_ACCOUNT_ID()},
		},
	}), jsii.Bool(false))
}

// vectorBucket creates the S3 vector bucket, SSE-KMS with the platform key, which S3
// Vectors' indexing service may use to decrypt only for this account's vector buckets.
func (s *DataStack) vectorBucket() {
	s.VectorBucketName = awscdk.Fn_Join(jsii.String("-"), &[]*string{jsii.String("plinth-vectors"), awscdk.Aws_ACCOUNT_ID(), awscdk.Aws_REGION()})
	s.Vectors = newVectorBucket(s.Stack, "Vectors", s.VectorBucketName, s.Key)
	output(s.Stack, "VectorBucketName", s.VectorBucketName)
}

// newVectorBucket creates an S3 vector bucket encrypted with key (SSE-KMS), kept when the
// stack is deleted, and lets S3 Vectors' indexing service decrypt with the key for this
// account's vector buckets only.
func newVectorBucket(scope constructs.Construct, id string, name *string, key awskms.Key) awss3vectors.CfnVectorBucket {
	b := awss3vectors.NewCfnVectorBucket(scope, jsii.String(id), &awss3vectors.CfnVectorBucketProps{
		VectorBucketName: name,
		EncryptionConfiguration: &awss3vectors.CfnVectorBucket_EncryptionConfigurationProperty{
			SseType: jsii.String("aws:kms"), KmsKeyArn: key.KeyArn(),
		},
	})
	b.ApplyRemovalPolicy(awscdk.RemovalPolicy_RETAIN, nil)
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("AllowS3VectorsIndexing"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("indexing.s3vectors.amazonaws.com"), nil)},
		Actions:    jsii.Strings("kms:Decrypt"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]interface{}{
			"StringEquals": map[string]interface{}{"aws:SourceAccount": awscdk.Aws_ACCOUNT_ID()},
			"ArnLike": map[string]interface{}{"aws:SourceArn": awscdk.Fn_Join(jsii.String(""), &[]*string{
				jsii.String("arn:"), awscdk.Aws_PARTITION(), jsii.String(":s3vectors:"), awscdk.Aws_REGION(),
				jsii.String(":"), awscdk.Aws_ACCOUNT_ID(), jsii.String(":bucket/*")})},
		},
	}), jsii.Bool(false))
	return b
}

// output adds a stack output.
func output(stack awscdk.Stack, id string, value *string) {
	awscdk.NewCfnOutput(stack, jsii.String(id), &awscdk.CfnOutputProps{Value: value})
}
