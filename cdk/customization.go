package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Fine-tuning on AWS.
//
// Data: one customisation bucket, each tenant under tenants/{tenant}/customization/
// (uploaded files, each job's validated records under jobs/{job}/data/, Bedrock's output
// under jobs/{job}/output/). It is encrypted with its own KMS key, which encrypts nothing
// else, and which also encrypts the custom models Bedrock trains (CustomModelKmsKeyId).
// The bucket has no S3 bucket key, so S3 asks KMS for every object with the object's ARN
// as encryption context; every role's use of the key through S3 is conditioned on that
// context lying under tenants/ (the job role's under tenants/*/customization/jobs/), and
// its use through Bedrock on kms:ViaService. A PutObject naming any other key is refused
// by the bucket policy.
//
// Per-tenant keys: the functions serve every pool tenant from one role each, so a key per
// pool tenant would not narrow who can decrypt (the same role would use every key), while
// costing a key per tenant and kms:CreateKey on "*" at runtime when tenants are onboarded
// through the admin API. What separates pool tenants is the prefix, enforced by the
// runtime's tenant scoping; what a per-tenant key would add (crypto-shredding one tenant)
// is what the silo tier gives with its own key, table and buckets. The runtime asks for
// the key per tenant (customize.KeyResolver over the tenant's cell), so a silo tenant's
// cell can name its own.
//
// Flow: the customisation state machine (statemachines/customization.asl.json), one
// function per task from the customize binary, Bedrock base models trained through Step
// Functions' bedrock:createModelCustomizationJob.sync integration as the job role, which
// only bedrock.amazonaws.com may assume and only Bedrock may be passed (iam:PassedToService).
// Bedrock's "Model Customization Job State Change" events (default bus) go to a backstop
// function that ends jobs whose flow missed the end of their Bedrock job.

const (
	// CustomizationPrefix is the key prefix of every tenant's customisation objects.
	CustomizationPrefix = "tenants/"
	// BedrockJobStateChangeTask is the backstop function's PLINTH_TASK.
	BedrockJobStateChangeTask = "BedrockJobStateChange"
	// BedrockJobStateChange is the detail-type of Bedrock's job state-change events.
	BedrockJobStateChange = "Model Customization Job State Change"
	// FineTuningJobPrefix starts every Plinth fine-tuning job's ID, which is its Bedrock
	// job name; the backstop rule matches only those jobs.
	FineTuningJobPrefix = "ftjob-"
	// customizationTimeoutDays bounds one customisation execution: a Bedrock job may
	// train for days and the approval waits up to 14.
	customizationTimeoutDays = 30
)

// customizationData creates the customisation key and bucket.
func (s *DataStack) customizationData() {
	s.CustomizationKey = awskms.NewKey(s.Stack, jsii.String("CustomizationKey"), &awskms.KeyProps{
		Description:       jsii.String("Plinth fine-tuning: tenants' datasets, jobs' data and output, and the custom models Bedrock trains"),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
	})
	s.Customization = newCustomizationBucket(s.Stack, "Customization", s.CustomizationKey, s.AccessLogs, "Customization/")
	output(s.Stack, "CustomizationBucketName", s.Customization.BucketName())
}

// newCustomizationBucket creates a customisation bucket encrypted with key and no bucket
// key (S3 then calls KMS with each object's ARN as encryption context, which is what
// scopes the key's use to tenants' prefixes), refusing objects written with any other key.
func newCustomizationBucket(scope constructs.Construct, id string, key awskms.IKey, accessLogs awss3.IBucket, logPrefix string) awss3.Bucket {
	b := awss3.NewBucket(scope, jsii.String(id), &awss3.BucketProps{
		Encryption:             awss3.BucketEncryption_KMS,
		EncryptionKey:          key,
		BucketKeyEnabled:       jsii.Bool(false),
		BlockPublicAccess:      awss3.BlockPublicAccess_BLOCK_ALL(),
		EnforceSSL:             jsii.Bool(true),
		Versioned:              jsii.Bool(true),
		ObjectOwnership:        awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		ServerAccessLogsBucket: accessLogs,
		ServerAccessLogsPrefix: jsii.String(logPrefix),
		RemovalPolicy:          awscdk.RemovalPolicy_RETAIN,
		LifecycleRules: &[]*awss3.LifecycleRule{{
			Id:                                  jsii.String("expire-noncurrent"),
			NoncurrentVersionExpiration:         awscdk.Duration_Days(jsii.Number(30)),
			AbortIncompleteMultipartUploadAfter: awscdk.Duration_Days(jsii.Number(7)),
		}},
	})
	b.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("DenyOtherKeys"),
		Effect:     awsiam.Effect_DENY,
		Principals: &[]awsiam.IPrincipal{awsiam.NewAnyPrincipal()},
		Actions:    jsii.Strings("s3:PutObject"),
		Resources:  &[]*string{b.ArnForObjects(jsii.String("*"))},
		Conditions: &map[string]interface{}{
			"StringNotEqualsIfExists": map[string]interface{}{
				"s3:x-amz-server-side-encryption":                "aws:kms",
				"s3:x-amz-server-side-encryption-aws-kms-key-id": key.KeyArn(),
			},
		},
	}))
	return b
}

// viaService is the kms:ViaService value of an AWS service in this region.
func viaService(service string) *string {
	return awscdk.Fn_Join(jsii.String(""), &[]*string{jsii.String(service + "."), awscdk.Aws_REGION(), jsii.String(".amazonaws.com")})
}

// grantCustomizationObjects allows reading (and with write, writing and deleting)
// objects under prefix (a pattern below tenants/) of the customisation bucket, and the
// customisation key's use by S3 for exactly those objects.
func grantCustomizationObjects(role awsiam.IRole, data *DataStack, prefix string, write bool) {
	grantCustomizationBucket(role, data.Customization, data.CustomizationKey, prefix, write)
	// A silo tenant's own customisation bucket and key, on the same terms.
	for _, t := range data.Silos {
		grantCustomizationBucket(role, t.Customization, t.Key, prefix, write)
	}
}

func grantCustomizationBucket(role awsiam.IRole, bucket awss3.IBucket, key awskms.IKey, prefix string, write bool) {
	objects := bucket.ArnForObjects(jsii.String(prefix + "*"))
	allow(role, []string{"s3:GetObject", "s3:GetObjectVersion"}, objects)
	allow(role, []string{"s3:ListBucket"}, bucket.BucketArn())
	keyActions := []string{"kms:Decrypt"}
	if write {
		allow(role, []string{"s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"}, objects)
		keyActions = append(keyActions, "kms:GenerateDataKey")
	}
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings(keyActions...),
		Resources: &[]*string{key.KeyArn()},
		Conditions: &map[string]interface{}{
			"StringEquals": map[string]interface{}{"kms:ViaService": viaService("s3")},
			"StringLike":   map[string]interface{}{"kms:EncryptionContext:aws:s3:arn": objects},
		},
	}))
}

// grantCustomModelKey allows Bedrock, on the role's behalf, to use the customisation key
// for custom models: to train one encrypted with it (create, with grants Bedrock makes
// for itself) or only to run one (invoke).
func grantCustomModelKey(role awsiam.IRole, data *DataStack, create bool) {
	actions := []string{"kms:Decrypt", "kms:GenerateDataKey"}
	if create {
		actions = append(actions, "kms:DescribeKey")
	}
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:    jsii.Strings(actions...),
		Resources:  &[]*string{data.CustomizationKey.KeyArn()},
		Conditions: &map[string]interface{}{"StringEquals": map[string]interface{}{"kms:ViaService": viaService("bedrock")}},
	}))
	if create {
		role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings("kms:CreateGrant"),
			Resources: &[]*string{data.CustomizationKey.KeyArn()},
			Conditions: &map[string]interface{}{
				"StringEquals": map[string]interface{}{"kms:ViaService": viaService("bedrock")},
				"Bool":         map[string]interface{}{"kms:GrantIsForAWSResource": "true"},
			},
		}))
	}
}

// bedrockJobs are this account's model customisation jobs in the region.
func bedrockJobs() *string {
	return bedrockARN(awscdk.Aws_REGION(), awscdk.Aws_ACCOUNT_ID(), "model-customization-job/*")
}

// customizationEnvironment names the customisation resources for a function.
func customizationEnvironment(f *Function, w *WorkflowsStack) {
	data := w.data
	f.AddEnvironment("PLINTH_CUSTOMIZATION_BUCKET", data.Customization.BucketName())
	f.AddEnvironment("PLINTH_CUSTOMIZATION_KEY_ARN", data.CustomizationKey.KeyArn())
	f.AddEnvironment("PLINTH_CUSTOMIZATION_ROLE_ARN", w.CustomizationJobRole.RoleArn())
	f.AddEnvironment("PLINTH_CUSTOMIZATION_STATE_MACHINE_ARN", w.CustomizationMachineARN)
}

// customizeTask is a customisation task's grant: the customisation environment, the
// table, and what extra adds.
func customizeTask(extra ...func(w *WorkflowsStack, f *Function)) func(w *WorkflowsStack, f *Function) {
	return func(w *WorkflowsStack, f *Function) {
		customizationEnvironment(f, w)
		w.data.grantTableReadWrite(f.Role)
		for _, e := range extra {
			e(w, f)
		}
	}
}

// Grants the customisation tasks combine.
var (
	customizationRead = func(w *WorkflowsStack, f *Function) {
		grantCustomizationObjects(f.Role, w.data, CustomizationPrefix, false)
	}
	customizationWrite = func(w *WorkflowsStack, f *Function) {
		grantCustomizationObjects(f.Role, w.data, CustomizationPrefix, true)
	}
	providerKeys = func(w *WorkflowsStack, f *Function) {
		grantSecretRead(f.Role, w.data.ProviderSecret, w.data.Key)
	}
	bedrockJobStatus = func(_ *WorkflowsStack, f *Function) {
		allow(f.Role, []string{"bedrock:GetModelCustomizationJob"}, bedrockJobs())
	}
	bedrockJobStop = func(_ *WorkflowsStack, f *Function) {
		allow(f.Role, []string{"bedrock:GetModelCustomizationJob", "bedrock:StopModelCustomizationJob"}, bedrockJobs())
	}
)

// customizationTasks are the customisation flow's tasks, by placeholder.
func customizationTasks() map[string]taskSpec {
	return map[string]taskSpec{
		"ValidateFunctionArn": {"customize", "Validates and PII-scans a job's datasets and writes the accepted records", 900, 1024,
			customizeTask(customizationWrite, func(_ *WorkflowsStack, f *Function) { grantBedrockGuardrail(f.Role) })},
		"StartTrainingFunctionArn": {"customize", "Starts an OpenAI-compatible provider's fine-tuning job", 300, 512,
			customizeTask(customizationWrite, providerKeys)},
		"CheckTrainingFunctionArn": {"customize", "Polls an OpenAI-compatible provider's fine-tuning job", 60, 512,
			customizeTask(customizationWrite, providerKeys)},
		"RecordTrainingFunctionArn": {"customize", "Records a finished job's training metrics and result files", 300, 512,
			customizeTask(customizationWrite, providerKeys, bedrockJobStatus)},
		"RegisterModelFunctionArn": {"customize", "Registers the trained model pending review with its lineage", 60, 256,
			customizeTask()},
		"PrepareEvaluationFunctionArn": {"customize", "Writes the held-out records as evaluation suites for the candidate and its baselines", 300, 512,
			customizeTask(customizationRead, func(w *WorkflowsStack, f *Function) {
				w.data.grantObjectsReadWrite(f.Role, w.data.EvalArtifacts, "")
			})},
		"CompareEvaluationFunctionArn": {"customize", "Records the candidate's scores against its baselines", 60, 256,
			customizeTask()},
		"RequestApprovalFunctionArn": {"customize", "Parks the flow until an admin reviews the model", 30, 256,
			customizeTask(func(w *WorkflowsStack, f *Function) {
				// A review made before the flow got here resumes it at once.
				allow(f.Role, []string{"states:SendTaskSuccess", "states:SendTaskFailure"}, w.CustomizationMachineARN)
			})},
		"PromoteFunctionArn": {"customize", "Points the job's alias at the approved model", 30, 256,
			customizeTask()},
		"RecordRejectionFunctionArn": {"customize", "Records a rejected model", 30, 256,
			customizeTask()},
		"CleanupFunctionArn": {"customize", "Ends a failed job: its reason, the provider job stopped, intermediate data removed", 300, 512,
			customizeTask(customizationWrite, providerKeys, bedrockJobStop)},
	}
}

// customizationFlow deploys fine-tuning's flow: the Bedrock job role, the state machine
// (named, so its task functions can name its ARN without depending on it), its
// permissions for Bedrock's .sync integration and the nested evaluations, and the
// backstop on Bedrock's state-change events.
func (w *WorkflowsStack) customizationFlow(file, assetDir string, substitutions map[string]*string) error {
	data, stack := w.data, w.Stack
	name := awscdk.Fn_Join(jsii.String(""), &[]*string{awscdk.Aws_STACK_NAME(), jsii.String("-Customization")})
	w.customizationMachineName = name
	w.CustomizationMachineARN = awscdk.Fn_Join(jsii.String(""), &[]*string{
		jsii.String("arn:"), awscdk.Aws_PARTITION(), jsii.String(":states:"), awscdk.Aws_REGION(), jsii.String(":"),
		awscdk.Aws_ACCOUNT_ID(), jsii.String(":stateMachine:"), name,
	})
	w.customizationJobRole()

	functions, err := w.taskFunctions("Customization", file, assetDir)
	if err != nil {
		return err
	}
	subs := map[string]*string{}
	for k, v := range substitutions {
		subs[k] = v
	}
	subs["EvaluationStateMachineArn"] = w.Evaluation.StateMachine.StateMachineArn()
	sm, err := NewStateMachineFromFile(stack, "Customization", &StateMachineFromFileProps{
		DefinitionFile: file,
		Functions:      functions,
		Substitutions:  subs,
		LogKey:         data.Key,
		Timeout:        awscdk.Duration_Days(jsii.Number(customizationTimeoutDays)),
		Name:           name,
	})
	if err != nil {
		return err
	}
	w.Customization = sm
	role := sm.Role
	// Bedrock's .sync integration: create the job, read its status until it ends, stop it
	// when the execution stops; tags name the tenant and job on the job and the model.
	allow(role, []string{"bedrock:CreateModelCustomizationJob", "bedrock:GetModelCustomizationJob",
		"bedrock:StopModelCustomizationJob", "bedrock:TagResource"},
		bedrockARN(awscdk.Aws_REGION(), jsii.String(""), "foundation-model/*"),
		bedrockARN(awscdk.Aws_REGION(), awscdk.Aws_ACCOUNT_ID(), "custom-model/*"),
		bedrockJobs())
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("PassTheJobRoleToBedrockOnly"),
		Actions:   jsii.Strings("iam:PassRole"),
		Resources: &[]*string{w.CustomizationJobRole.RoleArn()},
		Conditions: &map[string]interface{}{
			"StringEquals": map[string]interface{}{"iam:PassedToService": "bedrock.amazonaws.com"},
		},
	}))
	grantCustomModelKey(role, data, true)
	// The nested evaluations (states:startExecution.sync:2).
	eval := w.Evaluation.StateMachine
	allow(role, []string{"states:StartExecution"}, eval.StateMachineArn())
	allow(role, []string{"states:DescribeExecution", "states:StopExecution"}, executionsOf(eval.StateMachineName()))
	allow(role, []string{"events:PutTargets", "events:PutRule", "events:DescribeRule"}, awscdk.Fn_Join(jsii.String(""), &[]*string{
		jsii.String("arn:"), awscdk.Aws_PARTITION(), jsii.String(":events:"), awscdk.Aws_REGION(), jsii.String(":"),
		awscdk.Aws_ACCOUNT_ID(), jsii.String(":rule/StepFunctionsGetEventsForStepFunctionsExecutionRule"),
	}))
	suppress(role, true,
		nagSuppression("AwsSolutions-IAM5", "Base models are approved into the registry at runtime and every job creates its own "+
			"Bedrock job and custom model, so the Bedrock integration is scoped to foundation models of this region and to "+
			"this account's customisation jobs and custom models.", `/^Resource::arn:<AWS::Partition>:bedrock:.*\/\*$/g`),
		nagSuppression("AwsSolutions-IAM5", "Nested evaluation executions are named at start time; access is limited to "+
			"executions of the evaluation state machine.", `/^Resource::arn:<AWS::Partition>:states:.*:execution:.*:\*$/g`),
	)
	w.bedrockBackstop(assetDir)
	output(stack, "CustomizationStateMachineArn", sm.StateMachine.StateMachineArn())
	return nil
}

// customizationJobRole creates the role Bedrock assumes for a job: only
// bedrock.amazonaws.com, for this account's customisation jobs, may assume it; it reads
// a job's data and writes its output in the customisation bucket, and lets Bedrock
// encrypt the custom model with the customisation key.
func (w *WorkflowsStack) customizationJobRole() {
	data := w.data
	w.CustomizationJobRole = awsiam.NewRole(w.Stack, jsii.String("CustomizationJobRole"), &awsiam.RoleProps{
		Description: jsii.String("Role Amazon Bedrock assumes for Plinth's model customisation jobs"),
		AssumedBy: awsiam.NewServicePrincipal(jsii.String("bedrock.amazonaws.com"), &awsiam.ServicePrincipalOpts{
			Conditions: &map[string]interface{}{
				"StringEquals": map[string]interface{}{"aws:SourceAccount": awscdk.Aws_ACCOUNT_ID()},
				"ArnLike":      map[string]interface{}{"aws:SourceArn": bedrockJobs()},
			},
		}),
	})
	role := w.CustomizationJobRole
	jobs := CustomizationPrefix + "*/customization/jobs/"
	allow(role, []string{"s3:GetObject"}, data.Customization.ArnForObjects(jsii.String(jobs+"*")))
	allow(role, []string{"s3:PutObject"}, data.Customization.ArnForObjects(jsii.String(jobs+"*/output/*")))
	allow(role, []string{"s3:ListBucket"}, data.Customization.BucketArn())
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("kms:Decrypt", "kms:GenerateDataKey"),
		Resources: &[]*string{data.CustomizationKey.KeyArn()},
		Conditions: &map[string]interface{}{
			"StringEquals": map[string]interface{}{"kms:ViaService": viaService("s3")},
			"StringLike":   map[string]interface{}{"kms:EncryptionContext:aws:s3:arn": data.Customization.ArnForObjects(jsii.String(jobs + "*"))},
		},
	}))
	grantCustomModelKey(role, data, true)
	suppress(role, true, nagSuppression("AwsSolutions-IAM5", reasonObjectPrefix, `/^Resource::.*\/\*$/g`))
}

// bedrockBackstop sends Bedrock's state-change events of Plinth's jobs to the customize
// binary's backstop task. Delivery is retried for a day; what still fails lands in an
// encrypted dead-letter queue.
func (w *WorkflowsStack) bedrockBackstop(assetDir string) {
	data := w.data
	f := NewFunction(w.Stack, "BedrockJobStateChangeFunction", &FunctionProps{
		AssetDir:    assetDir,
		Binary:      "customize",
		Description: "Plinth customisation backstop: ends fine-tuning jobs by Bedrock's job state-change events",
		LogKey:      data.Key,
		Timeout:     durationSeconds(120),
		MemoryMB:    512,
		Environment: map[string]*string{TaskEnv: jsii.String(BedrockJobStateChangeTask)},
		Network:     w.network,
	})
	commonEnvironment(f, data)
	f.AddEnvironment("PLINTH_EVENT_BUS", w.Bus.EventBusName())
	customizeTask(customizationWrite, providerKeys, bedrockJobStop)(w, f)
	allow(f.Role, []string{"states:StopExecution"}, executionsOf(w.customizationMachineName))
	suppressDataAccess(f)
	suppress(f.Role, true, nagSuppression("AwsSolutions-IAM5", "Executions are named after fine-tuning jobs at start time; "+
		"the backstop may stop only executions of the customisation state machine.",
		`/^Resource::arn:<AWS::Partition>:states:.*:execution:.*:\*$/g`))
	w.BedrockJobFunction = f
	w.BedrockJobDLQ = encryptedQueue(w.Stack, "BedrockJobEventsDLQ", data)
	w.BedrockJobRule = awsevents.NewRule(w.Stack, jsii.String("BedrockJobRule"), &awsevents.RuleProps{
		Description: jsii.String("End Plinth fine-tuning jobs by their Bedrock jobs' state changes"),
		EventPattern: &awsevents.EventPattern{
			Source:     jsii.Strings("aws.bedrock"),
			DetailType: jsii.Strings(BedrockJobStateChange),
			Detail: &map[string]interface{}{
				"jobName": []interface{}{map[string]interface{}{"prefix": FineTuningJobPrefix}},
			},
		},
	})
	w.BedrockJobRule.AddTarget(awseventstargets.NewLambdaFunction(f.Function, &awseventstargets.LambdaFunctionProps{
		DeadLetterQueue: w.BedrockJobDLQ,
		RetryAttempts:   jsii.Number(185),
		MaxEventAge:     awscdk.Duration_Hours(jsii.Number(24)),
	}))
}
