package main

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsoam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3notifications"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3vectors"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// TenantStackConfig selects and configures a hybrid tenant's stack (context
// `tenantStack`, `centralAccount`, `centralApiId`, `centralSinkArn`, optional
// `centralRegion` and `embeddingModel`, with `stage`, `assetDir` and `vectorBackend` as
// for the platform).
type TenantStackConfig struct {
	// Tenant is the tenant id the central platform knows the line of business by.
	Tenant string
	// CentralAccount and CentralRegion locate the central platform.
	CentralAccount string
	CentralRegion  string
	// CentralAPIID is the id of the central IAM API (output IamApiURL of PlinthApi:
	// https://<id>.execute-api.<region>.amazonaws.com/<stage>/).
	CentralAPIID string
	// CentralSinkARN is the central OAM sink (output TenantSinkArn of PlinthObservability).
	CentralSinkARN string
	// EmbeddingModel is the central registry's embedding model the ingestion embeds
	// documents with (context `embeddingModel`, default TenantDefaultEmbeddingModel). One
	// model per stack: vectors of different models do not share an index.
	EmbeddingModel string
}

// TenantDefaultEmbeddingModel is the tenant stack's embedding model unless the context
// names another: the central platform's built-in embedder, which every platform serves.
const TenantDefaultEmbeddingModel = "local-embed"

// TenantIngestDLQName names a tenant stack's queue of ingestion events that failed.
func TenantIngestDLQName(tenant string) string { return "plinth-" + tenant + "-ingest-failed" }

var (
	apiIDPattern   = regexp.MustCompile(`^[a-z0-9]{10}$`)
	modelIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$`)
	sinkARNPattern = regexp.MustCompile(`^arn:aws[a-z-]*:oam:([a-z0-9-]+):([0-9]{12}):sink/[A-Za-z0-9-]+$`)
)

// tenantStackConfig reads the TenantStack context; nil when `tenantStack` is unset.
func tenantStackConfig(node constructs.Node) (*TenantStackConfig, error) {
	get := func(key string) string {
		v, _ := node.TryGetContext(jsii.String(key)).(string)
		return strings.TrimSpace(v)
	}
	tenant := get("tenantStack")
	if tenant == "" {
		return nil, nil
	}
	c := &TenantStackConfig{Tenant: tenant, CentralAccount: get("centralAccount"), CentralRegion: get("centralRegion"),
		CentralAPIID: get("centralApiId"), CentralSinkARN: get("centralSinkArn"), EmbeddingModel: get("embeddingModel")}
	if c.EmbeddingModel == "" {
		c.EmbeddingModel = TenantDefaultEmbeddingModel
	}
	if !modelIDPattern.MatchString(c.EmbeddingModel) {
		return nil, fmt.Errorf("context embeddingModel=%q: a registry model id must match %s", c.EmbeddingModel, modelIDPattern)
	}
	if !tenantIDPattern.MatchString(c.Tenant) {
		return nil, fmt.Errorf("context tenantStack=%q: a tenant id must match %s", c.Tenant, tenantIDPattern)
	}
	if !accountPattern.MatchString(c.CentralAccount) {
		return nil, fmt.Errorf("context centralAccount=%q: the central platform's 12-digit AWS account id is required with tenantStack", c.CentralAccount)
	}
	if !apiIDPattern.MatchString(c.CentralAPIID) {
		return nil, fmt.Errorf("context centralApiId=%q: the central IAM API's id (from the PlinthApi output IamApiURL) is required with tenantStack", c.CentralAPIID)
	}
	m := sinkARNPattern.FindStringSubmatch(c.CentralSinkARN)
	if m == nil {
		return nil, fmt.Errorf("context centralSinkArn=%q: the central OAM sink's ARN (PlinthObservability output TenantSinkArn) is required with tenantStack", c.CentralSinkARN)
	}
	if m[2] != c.CentralAccount {
		return nil, fmt.Errorf("context centralSinkArn is in account %s, not centralAccount %s", m[2], c.CentralAccount)
	}
	if c.CentralRegion == "" {
		c.CentralRegion = m[1]
	}
	return c, nil
}

// TenantStackProps configures a TenantStack.
type TenantStackProps struct {
	awscdk.StackProps
	TenantStackConfig
	// AssetDir holds the ingest binary (build/ingest/bootstrap).
	AssetDir string
	// Stage is the central API's stage.
	Stage string
	// VectorBackend is "embedded" (index segments in the Index bucket) or "s3vectors"
	// (a vector bucket of the tenant's own, encrypted with its key).
	VectorBackend string
}

// TenantStack is what a line of business deploys into its own account for a hybrid
// tenant: its own data (key, documents and index buckets or an S3 vector bucket), its
// ingestion (documents under tenants/ trigger the ingestion function), and its
// application layer's role; both roles call the central gateway's IAM API with SigV4
// across accounts. Its logs go to the central log destination (subscription filters) and
// its metrics, logs and traces are shared with the central account (an OAM link).
type TenantStack struct {
	awscdk.Stack
	Config TenantStackConfig
	// Key encrypts the tenant's buckets, vector bucket and log groups.
	Key awskms.Key
	// AccessLogs receives the tenant buckets' server access logs.
	AccessLogs awss3.Bucket
	// Documents holds documents under tenants/<tenant>/kb/<kb>/; Index the embedded
	// index segments and the documents' records (records/<tenant>/<kb>/<document>.json).
	Documents awss3.Bucket
	Index     awss3.Bucket
	// Vectors is the S3 vector bucket (vectorBackend s3vectors only).
	Vectors awss3vectors.CfnVectorBucket
	// Ingest is the ingestion function, triggered by documents created or removed.
	Ingest *Function
	// IngestFailures keeps the notifications the ingestion function failed on after
	// Lambda's retries (its on-failure destination), encrypted with the tenant's key.
	IngestFailures awssqs.Queue
	// AppRole is the application layer's role (named plinth-<tenant>-app).
	AppRole awsiam.Role
	// AppLogs is the application layer's log group.
	AppLogs awslogs.LogGroup
	// Subscriptions send the ingestion and application logs to the central destination.
	Subscriptions []awslogs.CfnSubscriptionFilter
	// Link shares metrics, log groups and traces with the central sink.
	Link awsoam.CfnLink
}

// CentralIAMAPIURL is the central IAM API's invoke URL.
func (c TenantStackConfig) CentralIAMAPIURL(stage string) string {
	return fmt.Sprintf("https://%s.execute-api.%s.amazonaws.com/%s/", c.CentralAPIID, c.CentralRegion, stage)
}

// centralAPIArn is an execute-api ARN of the central IAM API for a method and path.
func (c TenantStackConfig) centralAPIArn(stage, method, path string) *string {
	return awscdk.Fn_Join(jsii.String(""), &[]*string{
		jsii.String("arn:"), awscdk.Aws_PARTITION(),
		jsii.String(fmt.Sprintf(":execute-api:%s:%s:%s/%s/%s/%s", c.CentralRegion, c.CentralAccount, c.CentralAPIID, stage, method, path)),
	})
}

// CentralLogDestinationArn is the central log destination's ARN.
func (c TenantStackConfig) CentralLogDestinationArn() *string {
	return awscdk.Fn_Join(jsii.String(""), &[]*string{jsii.String("arn:"), awscdk.Aws_PARTITION(),
		jsii.String(fmt.Sprintf(":logs:%s:%s:destination:%s", c.CentralRegion, c.CentralAccount, TenantLogDestinationName))})
}

// NewTenantStack creates a hybrid tenant's stack.
func NewTenantStack(scope constructs.Construct, id string, props *TenantStackProps) *TenantStack {
	stack := awscdk.NewStack(scope, &id, &props.StackProps)
	stack.Node().SetContext(jsii.String("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy"), true)
	s := &TenantStack{Stack: stack, Config: props.TenantStackConfig}
	tenant, stage := props.Tenant, props.Stage
	if stage == "" {
		stage = DefaultConfig().StageName
	}
	awscdk.Tags_Of(stack).Add(jsii.String("plinth:tenant"), jsii.String(tenant), nil)
	awscdk.Tags_Of(stack).Add(jsii.String("plinth:tier"), jsii.String(TierHybrid), nil)

	s.Key = awskms.NewKey(stack, jsii.String("Key"), &awskms.KeyProps{
		Description:       jsii.String("Plinth hybrid tenant " + tenant + ": documents, index and logs"),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
	})
	allowServiceUseOfKey(s.Key)
	s.AccessLogs = awss3.NewBucket(stack, jsii.String("AccessLogs"), &awss3.BucketProps{
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		EnforceSSL:        jsii.Bool(true),
		Versioned:         jsii.Bool(true),
		ObjectOwnership:   awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
		LifecycleRules: &[]*awss3.LifecycleRule{{
			Id:         jsii.String("expire-access-logs"),
			Expiration: awscdk.Duration_Days(jsii.Number(365)),
		}},
	})
	suppress(s.AccessLogs, false, nagSuppression("AwsSolutions-S1",
		"This bucket is the server access log destination; logging it to itself would loop."))
	s.Documents = newDataBucket(stack, "Documents", s.Key, s.AccessLogs, "Documents/", false)
	s.Index = newDataBucket(stack, "Index", s.Key, s.AccessLogs, "Index/", false)

	var vectorIndexes *string
	if props.VectorBackend == VectorBackendS3Vectors {
		name := awscdk.Fn_Join(jsii.String("-"), &[]*string{jsii.String("plinth-" + tenant + "-vectors"), awscdk.Aws_ACCOUNT_ID()})
		s.Vectors = awss3vectors.NewCfnVectorBucket(stack, jsii.String("Vectors"), &awss3vectors.CfnVectorBucketProps{
			VectorBucketName: name,
			EncryptionConfiguration: &awss3vectors.CfnVectorBucket_EncryptionConfigurationProperty{
				SseType: jsii.String("aws:kms"), KmsKeyArn: s.Key.KeyArn(),
			},
		})
		s.Vectors.ApplyRemovalPolicy(awscdk.RemovalPolicy_RETAIN, nil)
		s.Key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String("AllowS3VectorsIndexing"),
			Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("indexing.s3vectors.amazonaws.com"), nil)},
			Actions:    jsii.Strings("kms:Decrypt"),
			Resources:  jsii.Strings("*"),
			Conditions: &map[string]any{
				"StringEquals": map[string]any{"aws:SourceAccount": awscdk.Aws_ACCOUNT_ID()},
			},
		}), jsii.Bool(false))
		vectorIndexes = awscdk.Fn_Join(jsii.String(""), &[]*string{s.Vectors.AttrVectorBucketArn(), jsii.String("/index/kb-*")})
	}

	// Ingestion: documents under tenants/<tenant>/kb/ start the function, which embeds
	// through the central gateway and writes the tenant's own index. What it fails on
	// after Lambda's two retries is kept in an encrypted queue, never dropped.
	docsPrefix := DocumentsPrefix + tenant + "/kb/"
	s.Ingest = NewFunction(stack, "Ingest", &FunctionProps{
		AssetDir:    props.AssetDir,
		Binary:      "ingest",
		Description: "Plinth hybrid tenant " + tenant + ": indexes documents into the tenant's own vector store",
		LogKey:      s.Key,
		Timeout:     durationSeconds(900),
		MemoryMB:    2048,
		Environment: map[string]*string{
			TaskEnv:                   jsii.String("TenantIngest"),
			"PLINTH_TENANT":           jsii.String(tenant),
			"PLINTH_DOCUMENTS_BUCKET": s.Documents.BucketName(),
			"PLINTH_INDEX_BUCKET":     s.Index.BucketName(),
			"PLINTH_GATEWAY_URL":      jsii.String(s.Config.CentralIAMAPIURL(stage)),
			"PLINTH_GATEWAY_AUTH":     jsii.String("sigv4"),
			"PLINTH_GATEWAY_REGION":   jsii.String(s.Config.CentralRegion),
			"PLINTH_EMBEDDING_MODEL":  jsii.String(s.Config.EmbeddingModel),
		},
	})
	ingestRole := s.Ingest.Role.Node().DefaultChild().(awsiam.CfnRole)
	ingestRole.SetRoleName(jsii.String(TenantIngestRoleName(tenant)))
	grantObjectsRead(s.Ingest.Role, s.Documents, s.Key, docsPrefix)
	grantObjectsReadWrite(s.Ingest.Role, s.Index, s.Key, "")
	// Embeddings, and who the centre takes the role for (checked before the first call).
	allow(s.Ingest.Role, []string{"execute-api:Invoke"}, s.Config.centralAPIArn(stage, "POST", "v1/embeddings"),
		s.Config.centralAPIArn(stage, "GET", "v1/session"))
	if s.Vectors != nil {
		s.Ingest.AddEnvironment("PLINTH_VECTOR_BUCKET", s.Vectors.VectorBucketName())
		s.Ingest.AddEnvironment("PLINTH_INDEX_BACKEND", jsii.String(VectorBackendS3Vectors))
		allow(s.Ingest.Role, vectorsWrite, vectorIndexes)
		allow(s.Ingest.Role, []string{"kms:Decrypt", "kms:GenerateDataKey"}, s.Key.KeyArn())
	}
	s.IngestFailures = awssqs.NewQueue(stack, jsii.String("IngestFailures"), &awssqs.QueueProps{
		QueueName:           jsii.String(TenantIngestDLQName(tenant)),
		Encryption:          awssqs.QueueEncryption_KMS,
		EncryptionMasterKey: s.Key,
		EnforceSSL:          jsii.Bool(true),
		RetentionPeriod:     awscdk.Duration_Days(jsii.Number(14)),
	})
	suppress(s.IngestFailures, false, nagSuppression("AwsSolutions-SQS3",
		"This queue is itself the ingestion function's on-failure destination (its dead letters)."))
	// Granted by hand rather than by CDK's SQS destination, whose grant on the key is
	// kms:GenerateDataKey*/ReEncrypt*; Lambda checks the role may send when the
	// configuration is created, hence the dependency.
	allow(s.Ingest.Role, []string{"sqs:SendMessage"}, s.IngestFailures.QueueArn())
	allow(s.Ingest.Role, []string{"kms:GenerateDataKey", "kms:Decrypt"}, s.Key.KeyArn())
	async := awslambda.NewCfnEventInvokeConfig(stack, jsii.String("IngestAsync"), &awslambda.CfnEventInvokeConfigProps{
		FunctionName:             s.Ingest.Function.FunctionName(),
		Qualifier:                jsii.String("$LATEST"),
		MaximumRetryAttempts:     jsii.Number(2),
		MaximumEventAgeInSeconds: jsii.Number(6 * 3600),
		DestinationConfig: &awslambda.CfnEventInvokeConfig_DestinationConfigProperty{
			OnFailure: &awslambda.CfnEventInvokeConfig_OnFailureProperty{Destination: s.IngestFailures.QueueArn()},
		},
	})
	async.Node().AddDependency(s.Ingest.Role)
	for _, ev := range []awss3.EventType{awss3.EventType_OBJECT_CREATED, awss3.EventType_OBJECT_REMOVED} {
		s.Documents.AddEventNotification(ev, awss3notifications.NewLambdaDestination(s.Ingest.Function),
			&awss3.NotificationKeyFilter{Prefix: jsii.String(docsPrefix)})
	}
	for _, child := range *stack.Node().Children() {
		if strings.HasPrefix(*child.Node().Id(), "BucketNotificationsHandler") {
			suppress(child, true, nagSuppression("AwsSolutions-IAM4",
				"CDK's bucket-notifications custom resource handler logs with the AWS-managed AWSLambdaBasicExecutionRole; "+
					"it runs only during deployment to point the documents bucket's notifications at the ingestion function.",
				"Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"),
				nagSuppression("AwsSolutions-IAM5", "CDK's bucket-notifications handler sets notification configuration, "+
					"which S3 does not scope below the bucket; it runs only during deployment.", "Resource::*"))
		}
	}

	// The application layer: the tenant's services (Lambda, ECS tasks, or any principal of
	// its account it delegates to) assume this role to call the central gateway with SigV4
	// and to read the tenant's own index.
	s.AppLogs = awslogs.NewLogGroup(stack, jsii.String("AppLogs"), &awslogs.LogGroupProps{
		LogGroupName:  jsii.String("/plinth/" + tenant + "/app"),
		EncryptionKey: s.Key,
		Retention:     awslogs.RetentionDays_THREE_MONTHS,
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	s.AppRole = awsiam.NewRole(stack, jsii.String("AppRole"), &awsiam.RoleProps{
		RoleName:    jsii.String(TenantAppRoleName(tenant)),
		Description: jsii.String("Plinth hybrid tenant " + tenant + ": application layer calling the central gateway"),
		AssumedBy: awsiam.NewCompositePrincipal(
			awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
			awsiam.NewServicePrincipal(jsii.String("ecs-tasks.amazonaws.com"), nil),
			awsiam.NewAccountRootPrincipal(),
		),
	})
	allow(s.AppRole, []string{"execute-api:Invoke"}, s.Config.centralAPIArn(stage, "*", "v1/*"))
	grantObjectsRead(s.AppRole, s.Index, s.Key, "")
	if s.Vectors != nil {
		allow(s.AppRole, vectorsRead, vectorIndexes)
	}
	allow(s.AppRole, []string{"logs:CreateLogStream", "logs:PutLogEvents"}, s.AppLogs.LogGroupArn())
	allow(s.AppRole, []string{"kms:GenerateDataKey"}, s.Key.KeyArn())
	for _, r := range []awsiam.IRole{s.AppRole, s.Ingest.Role} {
		suppress(r, true,
			nagSuppression("AwsSolutions-IAM5", reasonObjectPrefix, `/^Resource::.*\/\*$/g`),
			nagSuppression("AwsSolutions-IAM5", "The central gateway's tenant routes are /v1/…; the method and the "+
				"path below /v1/ vary per call, so the execute-api ARN ends in a wildcard within the central IAM API's stage.",
				`/^Resource::arn:<AWS::Partition>:execute-api:.*$/g`))
		if s.Vectors != nil {
			suppress(r, true, nagSuppression("AwsSolutions-IAM5", reasonVectorIndexes, `/^Resource::.*\/index\/kb-\*$/g`))
		}
	}

	// Telemetry to the centre: every log event of the ingestion function and the
	// application to the central destination, and metrics, logs and traces shared with
	// the central account's CloudWatch.
	for i, lg := range []awslogs.ILogGroup{s.Ingest.LogGroup, s.AppLogs} {
		sf := awslogs.NewCfnSubscriptionFilter(stack, jsii.String(fmt.Sprintf("CentralLogs%d", i)), &awslogs.CfnSubscriptionFilterProps{
			LogGroupName:   lg.LogGroupName(),
			DestinationArn: s.Config.CentralLogDestinationArn(),
			FilterPattern:  jsii.String(""),
		})
		s.Subscriptions = append(s.Subscriptions, sf)
	}
	s.Link = awsoam.NewCfnLink(stack, jsii.String("CentralLink"), &awsoam.CfnLinkProps{
		SinkIdentifier: jsii.String(s.Config.CentralSinkARN),
		ResourceTypes:  jsii.Strings(oamResourceTypes...),
		LabelTemplate:  jsii.String("$AccountName"),
	})

	output(stack, "AppRoleArn", s.AppRole.RoleArn())
	output(stack, "IngestRoleArn", s.Ingest.Role.RoleArn())
	output(stack, "DocumentsBucketName", s.Documents.BucketName())
	output(stack, "IngestFailuresQueueUrl", s.IngestFailures.QueueUrl())
	return s
}
