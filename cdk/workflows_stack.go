package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsscheduler"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Names fixed by the platform's contract with its runtime code.
const (
	// EventBusName is the custom bus evaluation events are published to.
	EventBusName = "plinth"
	// ScheduleGroupName is the Scheduler group the admin API creates evaluation schedules in.
	ScheduleGroupName = "plinth-evaluations"
	// DocumentsPrefix is the key prefix of tenant documents; objects elsewhere never start ingestion.
	DocumentsPrefix = "tenants/"
	// WorkPrefix holds ingestion intermediates in the documents bucket.
	WorkPrefix = "work/"
	// EvaluationEventSource is the source of the events evaluation tasks publish.
	EvaluationEventSource = "plinth.evaluation"
	// TaskEnv names the environment variable telling a multi-task binary which
	// task it runs: the placeholder that names the function, as the ingestion and
	// evaluation packages key their task handlers ("ExtractFunctionArn").
	TaskEnv = "PLINTH_TASK"
)

// WorkflowsStackProps configures the workflows stack.
type WorkflowsStackProps struct {
	awscdk.StackProps
	// Data is the data stack whose table, buckets and key the flows use.
	Data *DataStack
	// Network, when set, runs the task functions in the private network.
	Network *NetworkStack
	// AssetDir is the folder with the function binaries.
	AssetDir string
	// IngestionDefinition, EvaluationDefinition, AgentDefinition and
	// CustomizationDefinition are the ASL files.
	IngestionDefinition     string
	EvaluationDefinition    string
	AgentDefinition         string
	CustomizationDefinition string
}

// WorkflowsStack runs ingestion and evaluation on Step Functions: one Lambda
// function per task the definitions reference (from the `ingest` and
// `evaluation` binaries, switched by PLINTH_TASK), the two state machines,
// the S3-to-ingestion EventBridge rule, the `plinth` event bus, and the
// Scheduler group and role the admin API uses for evaluation schedules.
type WorkflowsStack struct {
	awscdk.Stack
	// Ingestion, Evaluation and Agent (durable agent runs) are the state machines.
	Ingestion  *StateMachineFromFile
	Evaluation *StateMachineFromFile
	Agent      *StateMachineFromFile
	// TaskFunctions are the task functions by placeholder name.
	TaskFunctions map[string]*Function
	// DocumentsRule starts ingestion for document events.
	DocumentsRule awsevents.Rule
	// IngestionDLQ receives document events the rule could not deliver.
	IngestionDLQ awssqs.Queue
	// Bus is the `plinth` event bus.
	Bus awsevents.EventBus
	// ScheduleGroup holds evaluation schedules.
	ScheduleGroup awsscheduler.ScheduleGroup
	// SchedulerRole is the role schedules assume to start evaluations.
	SchedulerRole awsiam.Role
	// SchedulerDLQ receives schedule invocations that failed.
	SchedulerDLQ awssqs.Queue
	// Customization is the fine-tuning state machine (customization.go), named so its
	// ARN (CustomizationMachineARN) is known to its own task functions.
	Customization           *StateMachineFromFile
	CustomizationMachineARN *string
	// CustomizationJobRole is the role Bedrock assumes for customisation jobs.
	CustomizationJobRole awsiam.Role
	// BedrockJobRule sends Bedrock's job state changes to BedrockJobFunction, the
	// backstop; what it cannot deliver lands in BedrockJobDLQ.
	BedrockJobRule     awsevents.Rule
	BedrockJobFunction *Function
	BedrockJobDLQ      awssqs.Queue

	customizationMachineName *string

	// AgentMachineARN is the agent run state machine's ARN, built from its fixed name
	// (agentMachineName): the agent binary's task functions need it at start-up
	// (approvals resume the run on it), and a reference to the machine from its own task
	// functions would be a dependency cycle.
	AgentMachineARN  *string
	agentMachineName *string

	data    *DataStack
	network *NetworkStack
}

// taskSpec describes one task function.
type taskSpec struct {
	binary      string
	description string
	timeout     float64
	memoryMB    float64
	grant       func(w *WorkflowsStack, f *Function)
}

// taskCatalog is every task a definition may reference, by placeholder.
func taskCatalog() map[string]taskSpec {
	d := func(w *WorkflowsStack) *DataStack { return w.data }
	catalog := map[string]taskSpec{
		// Ingestion: documents under tenants/, intermediates under work/ of the
		// documents bucket, index segments in the index bucket.
		"PrepareFunctionArn": {"ingest", "Resolves an object event to a document and decides upsert, delete or skip", 60, 256, func(w *WorkflowsStack, f *Function) {
			d(w).grantObjectsRead(f.Role, d(w).Documents, DocumentsPrefix)
			d(w).grantTableReadWrite(f.Role)
		}},
		"ExtractFunctionArn": {"ingest", "Extracts text and pages from a document", 300, 1536, func(w *WorkflowsStack, f *Function) {
			d(w).grantObjectsRead(f.Role, d(w).Documents, DocumentsPrefix)
			d(w).grantObjectsReadWrite(f.Role, d(w).Documents, WorkPrefix)
			d(w).grantTableReadWrite(f.Role)
		}},
		"ChunkFunctionArn": {"ingest", "Splits extracted text into chunks", 300, 1024, func(w *WorkflowsStack, f *Function) {
			d(w).grantObjectsReadWrite(f.Role, d(w).Documents, WorkPrefix)
			d(w).grantTableRead(f.Role)
		}},
		"EmbedFunctionArn": {"ingest", "Embeds chunks with the knowledge base's embedding model", 900, 1024, func(w *WorkflowsStack, f *Function) {
			d(w).grantObjectsReadWrite(f.Role, d(w).Documents, WorkPrefix)
			d(w).grantTableReadWrite(f.Role)
			grantSecretRead(f.Role, d(w).ProviderSecret, d(w).Key)
			grantBedrockInvoke(f.Role)
		}},
		"IndexFunctionArn": {"ingest", "Writes chunks and vectors into the knowledge-base index", 600, 2048, func(w *WorkflowsStack, f *Function) {
			d(w).grantObjectsReadWrite(f.Role, d(w).Documents, WorkPrefix)
			d(w).grantObjectsReadWrite(f.Role, d(w).Index, "")
			grantVectors(f.Role, d(w), vectorsWrite)
			d(w).grantTableReadWrite(f.Role)
		}},
		"MarkDocumentFunctionArn": {"ingest", "Records a document as indexed", 60, 256, func(w *WorkflowsStack, f *Function) {
			d(w).grantObjectsReadWrite(f.Role, d(w).Documents, WorkPrefix)
			d(w).grantTableReadWrite(f.Role)
		}},
		"FailDocumentFunctionArn": {"ingest", "Records a document that could not be ingested, with its reason", 60, 256, func(w *WorkflowsStack, f *Function) {
			d(w).grantObjectsReadWrite(f.Role, d(w).Documents, WorkPrefix)
			d(w).grantTableReadWrite(f.Role)
		}},
		"DeleteDocumentFunctionArn": {"ingest", "Removes a deleted document from the index and the records", 300, 1024, func(w *WorkflowsStack, f *Function) {
			d(w).grantObjectsReadWrite(f.Role, d(w).Documents, WorkPrefix)
			d(w).grantObjectsReadWrite(f.Role, d(w).Index, "")
			grantVectors(f.Role, d(w), vectorsWrite)
			d(w).grantTableReadWrite(f.Role)
		}},
		// Evaluation: runs and item results in the table, datasets and reports
		// in the evaluation-artifacts bucket.
		"LoadDatasetFunctionArn": {"evaluation", "Loads and validates an evaluation dataset and opens the run", 300, 1024, func(w *WorkflowsStack, f *Function) {
			d(w).grantObjectsRead(f.Role, d(w).EvalArtifacts, "")
			d(w).grantTableReadWrite(f.Role)
		}},
		// Durable agent runs: the run in the table, model steps through the gateway
		// service (provider keys, Bedrock, guardrails), tools through the tool hub (tool
		// credentials in the provider secret, Lambda tools named plinth-tool-*), and the
		// approval task's token handed back through the API.
		"AgentModelStepFunctionArn": {"agent", "Asks the agent's model for its next step", 300, 1024, grantAgentTask},
		"AgentRequestApprovalFunctionArn": {"agent", "Parks the run until every call that needs approval is decided", 30, 256, func(w *WorkflowsStack, f *Function) {
			d(w).grantTableReadWrite(f.Role)
			// Calls decided before the run parked resume it at once.
			allow(f.Role, []string{"states:SendTaskSuccess"}, w.AgentMachineARN)
		}},
		"AgentToolCallFunctionArn": {"agent", "Makes one of a step's tool calls through the tool hub", 900, 1024, grantAgentTask},
		"AgentCollectFunctionArn": {"agent", "Adds a step's tool results to the run's conversation", 60, 512, func(w *WorkflowsStack, f *Function) {
			d(w).grantTableReadWrite(f.Role)
		}},
		"AgentFailFunctionArn": {"agent", "Records why a run failed", 30, 256, func(w *WorkflowsStack, f *Function) {
			d(w).grantTableReadWrite(f.Role)
		}},
		"InvokeTargetFunctionArn": {"evaluation", "Runs dataset items through the target model or RAG configuration", 900, 1024, func(w *WorkflowsStack, f *Function) {
			d(w).grantTableReadWrite(f.Role)
			d(w).grantObjectsRead(f.Role, d(w).Index, "")
			grantVectors(f.Role, d(w), vectorsRead)
			grantSecretRead(f.Role, d(w).ProviderSecret, d(w).Key)
			grantBedrockInvoke(f.Role)
			grantBedrockGuardrail(f.Role)
			// Fine-tuned candidates are evaluated before approval.
			grantCustomModelKey(f.Role, d(w), false)
		}},
		"ScoreItemFunctionArn": {"evaluation", "Scores items (reference metrics, embeddings, judge)", 900, 1024, func(w *WorkflowsStack, f *Function) {
			d(w).grantTableReadWrite(f.Role)
			grantSecretRead(f.Role, d(w).ProviderSecret, d(w).Key)
			grantBedrockInvoke(f.Role)
		}},
		"AggregateFunctionArn": {"evaluation", "Aggregates item scores into run metrics", 300, 1024, func(w *WorkflowsStack, f *Function) {
			d(w).grantTableRead(f.Role)
		}},
		"StoreRunFunctionArn": {"evaluation", "Stores a run's outcome", 60, 512, func(w *WorkflowsStack, f *Function) {
			d(w).grantTableReadWrite(f.Role)
		}},
		"CompareBaselineFunctionArn": {"evaluation", "Compares a run with its suite's baseline", 60, 512, func(w *WorkflowsStack, f *Function) {
			d(w).grantTableReadWrite(f.Role)
		}},
		"PublishEventFunctionArn": {"evaluation", "Writes the run report and publishes Evaluation Completed/Regressed", 60, 512, func(w *WorkflowsStack, f *Function) {
			d(w).grantTableReadWrite(f.Role)
			d(w).grantObjectsReadWrite(f.Role, d(w).EvalArtifacts, "")
			f.Role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Actions:   jsii.Strings("events:PutEvents"),
				Resources: &[]*string{w.Bus.EventBusArn()},
				Conditions: &map[string]interface{}{
					"StringEquals": map[string]interface{}{"events:source": EvaluationEventSource},
				},
			}))
		}},
	}
	for name, spec := range customizationTasks() {
		catalog[name] = spec
	}
	return catalog
}

// NewWorkflowsStack creates the workflows stack. It returns an error when a
// definition cannot be read or references a placeholder nothing binds.
func NewWorkflowsStack(scope constructs.Construct, id string, props *WorkflowsStackProps) (*WorkflowsStack, error) {
	stack := awscdk.NewStack(scope, &id, &props.StackProps)
	w := &WorkflowsStack{Stack: stack, data: props.Data, network: props.Network, TaskFunctions: map[string]*Function{}}
	data := props.Data

	w.Bus = awsevents.NewEventBus(stack, jsii.String("Bus"), &awsevents.EventBusProps{
		EventBusName: jsii.String(EventBusName),
		Description:  jsii.String("Plinth platform events (evaluation completed/regressed)"),
	})

	substitutions := map[string]*string{
		"TableName":               data.Table.TableName(),
		"DocumentsBucketName":     data.Documents.BucketName(),
		"IndexBucketName":         data.Index.BucketName(),
		"EvalArtifactsBucketName": data.EvalArtifacts.BucketName(),
		"EventBusName":            w.Bus.EventBusName(),
		"EventBusArn":             w.Bus.EventBusArn(),
	}
	w.agentMachineName, w.AgentMachineARN = namedStateMachine("-Agent")
	machines := []struct {
		id, file string
		dst      **StateMachineFromFile
		hours    float64
		name     *string
	}{
		{"Ingestion", props.IngestionDefinition, &w.Ingestion, 24, nil},
		{"Evaluation", props.EvaluationDefinition, &w.Evaluation, 24, nil},
		// An agent run may wait a week for a reviewer's approval.
		{"Agent", props.AgentDefinition, &w.Agent, 8 * 24, w.agentMachineName},
	}
	for _, m := range machines {
		functions, err := w.taskFunctions(m.id, m.file, props.AssetDir)
		if err != nil {
			return nil, err
		}
		sm, err := NewStateMachineFromFile(stack, m.id, &StateMachineFromFileProps{
			DefinitionFile: m.file,
			Functions:      functions,
			Substitutions:  substitutions,
			LogKey:         data.Key,
			Timeout:        awscdk.Duration_Hours(jsii.Number(m.hours)),
			Name:           m.name,
		})
		if err != nil {
			return nil, err
		}
		*m.dst = sm
	}

	if err := w.customizationFlow(props.CustomizationDefinition, props.AssetDir, substitutions); err != nil {
		return nil, err
	}
	w.documentsTrigger()
	w.schedulerAccess()
	output(stack, "IngestionStateMachineArn", w.Ingestion.StateMachine.StateMachineArn())
	output(stack, "EvaluationStateMachineArn", w.Evaluation.StateMachine.StateMachineArn())
	output(stack, "AgentStateMachineArn", w.Agent.StateMachine.StateMachineArn())
	return w, nil
}

// namedStateMachine returns the name of one of the stack's state machines (the stack's
// name and suffix) and the ARN that name gives it, known before the machine exists.
func namedStateMachine(suffix string) (name, arn *string) {
	name = awscdk.Fn_Join(jsii.String(""), &[]*string{awscdk.Aws_STACK_NAME(), jsii.String(suffix)})
	arn = awscdk.Fn_Join(jsii.String(""), &[]*string{
		jsii.String("arn:"), awscdk.Aws_PARTITION(), jsii.String(":states:"), awscdk.Aws_REGION(), jsii.String(":"),
		awscdk.Aws_ACCOUNT_ID(), jsii.String(":stateMachine:"), name,
	})
	return name, arn
}

// taskFunctions creates a function for every function placeholder of a
// definition; an unknown one is an error.
func (w *WorkflowsStack) taskFunctions(machine, file, assetDir string) (map[string]awslambda.IFunction, error) {
	definition, err := readFile(file)
	if err != nil {
		return nil, fmt.Errorf("%s definition: %w", machine, err)
	}
	catalog := taskCatalog()
	functions := map[string]awslambda.IFunction{}
	for _, name := range Placeholders(definition) {
		if !strings.HasSuffix(name, "FunctionArn") {
			continue
		}
		spec, ok := catalog[name]
		if !ok {
			return nil, fmt.Errorf("%s definition %s: %w: ${%s} names no known task function",
				machine, filepath.Base(file), ErrUnboundPlaceholder, name)
		}
		if f, ok := w.TaskFunctions[name]; ok {
			functions[name] = f.Function
			continue
		}
		f := NewFunction(w.Stack, strings.TrimSuffix(name, "Arn"), &FunctionProps{
			AssetDir:    assetDir,
			Binary:      spec.binary,
			Description: "Plinth " + machine + " task: " + spec.description,
			LogKey:      w.data.Key,
			Timeout:     durationSeconds(spec.timeout),
			MemoryMB:    spec.memoryMB,
			Environment: map[string]*string{
				TaskEnv: jsii.String(name),
			},
			Network: w.network,
		})
		commonEnvironment(f, w.data)
		f.AddEnvironment("PLINTH_EVENT_BUS", w.Bus.EventBusName())
		spec.grant(w, f)
		if spec.binary == "agent" {
			// Every agent task builds the durable runtime, which resumes runs on the machine.
			f.AddEnvironment("PLINTH_AGENT_STATE_MACHINE_ARN", w.AgentMachineARN)
		}
		suppressDataAccess(f)
		w.TaskFunctions[name] = f
		functions[name] = f.Function
	}
	return functions, nil
}

// documentsTrigger starts ingestion for every object created or deleted under
// tenants/ in the documents bucket or a silo tenant's documents bucket. Delivery is retried for a day and what
// still fails lands in an encrypted dead-letter queue.
func (w *WorkflowsStack) documentsTrigger() {
	data := w.data
	w.IngestionDLQ = encryptedQueue(w.Stack, "IngestionTriggerDLQ", data)
	// Silo tenants' documents buckets start the same flow.
	documentBuckets := []*string{data.Documents.BucketName()}
	for _, t := range data.Silos {
		documentBuckets = append(documentBuckets, t.Documents.BucketName())
	}
	w.DocumentsRule = awsevents.NewRule(w.Stack, jsii.String("DocumentsRule"), &awsevents.RuleProps{
		Description: jsii.String("Start document ingestion when a tenant document is created or deleted"),
		EventPattern: &awsevents.EventPattern{
			Source:     jsii.Strings("aws.s3"),
			DetailType: jsii.Strings("Object Created", "Object Deleted"),
			Detail: &map[string]interface{}{
				"bucket": map[string]interface{}{"name": documentBuckets},
				"object": map[string]interface{}{"key": []interface{}{map[string]interface{}{"prefix": DocumentsPrefix}}},
			},
		},
	})
	w.DocumentsRule.AddTarget(awseventstargets.NewSfnStateMachine(w.Ingestion.StateMachine, &awseventstargets.SfnStateMachineProps{
		// The input keeps the EventBridge S3 event's structure, reduced to the
		// fields present in both event types, so the flow reads the same shape
		// as the platform's own upload events.
		Input: awsevents.RuleTargetInput_FromObject(map[string]interface{}{
			"version":     "0",
			"id":          awsevents.EventField_EventId(),
			"source":      "aws.s3",
			"detail-type": awsevents.EventField_DetailType(),
			"time":        awsevents.EventField_Time(),
			"account":     awsevents.EventField_Account(),
			"region":      awsevents.EventField_Region(),
			"detail": map[string]interface{}{
				"bucket": map[string]interface{}{"name": awsevents.EventField_FromPath(jsii.String("$.detail.bucket.name"))},
				"object": map[string]interface{}{
					"key":       awsevents.EventField_FromPath(jsii.String("$.detail.object.key")),
					"sequencer": awsevents.EventField_FromPath(jsii.String("$.detail.object.sequencer")),
				},
				"reason": awsevents.EventField_FromPath(jsii.String("$.detail.reason")),
			},
		}),
		DeadLetterQueue: w.IngestionDLQ,
		RetryAttempts:   jsii.Number(185),
		MaxEventAge:     awscdk.Duration_Hours(jsii.Number(24)),
	}))
}

// schedulerAccess creates the schedule group, the role schedules run with
// (start the evaluation machine, dead-letter to an encrypted queue), and
// that queue.
func (w *WorkflowsStack) schedulerAccess() {
	data := w.data
	w.ScheduleGroup = awsscheduler.NewScheduleGroup(w.Stack, jsii.String("EvaluationSchedules"), &awsscheduler.ScheduleGroupProps{
		ScheduleGroupName: jsii.String(ScheduleGroupName),
		RemovalPolicy:     awscdk.RemovalPolicy_DESTROY,
	})
	w.SchedulerDLQ = encryptedQueue(w.Stack, "SchedulerDLQ", data)
	w.SchedulerRole = awsiam.NewRole(w.Stack, jsii.String("SchedulerRole"), &awsiam.RoleProps{
		Description: jsii.String("Role EventBridge Scheduler assumes to start scheduled evaluations"),
		AssumedBy: awsiam.NewServicePrincipal(jsii.String("scheduler.amazonaws.com"), &awsiam.ServicePrincipalOpts{
			Conditions: &map[string]interface{}{
				"StringEquals": map[string]interface{}{"aws:SourceAccount": awscdk.Aws_ACCOUNT_ID()},
			},
		}),
	})
	allow(w.SchedulerRole, []string{"states:StartExecution"}, w.Evaluation.StateMachine.StateMachineArn())
	allow(w.SchedulerRole, []string{"sqs:SendMessage"}, w.SchedulerDLQ.QueueArn())
	allow(w.SchedulerRole, []string{"kms:Decrypt", "kms:GenerateDataKey"}, data.Key.KeyArn())
}

// encryptedQueue creates a KMS-encrypted, TLS-only dead-letter queue that
// keeps messages for the SQS maximum of 14 days.
func encryptedQueue(scope constructs.Construct, id string, data *DataStack) awssqs.Queue {
	q := awssqs.NewQueue(scope, jsii.String(id), &awssqs.QueueProps{
		Encryption:          awssqs.QueueEncryption_KMS,
		EncryptionMasterKey: data.Key,
		EnforceSSL:          jsii.Bool(true),
		RetentionPeriod:     awscdk.Duration_Days(jsii.Number(14)),
	})
	suppress(q, false, nagSuppression("AwsSolutions-SQS3", "This queue is itself a dead-letter queue."))
	return q
}

// commonEnvironment names the data resources for a function.
func commonEnvironment(f *Function, data *DataStack) {
	f.AddEnvironment("PLINTH_TABLE", data.Table.TableName())
	f.AddEnvironment("PLINTH_DOCUMENTS_BUCKET", data.Documents.BucketName())
	f.AddEnvironment("PLINTH_INDEX_BUCKET", data.Index.BucketName())
	f.AddEnvironment("PLINTH_EVAL_BUCKET", data.EvalArtifacts.BucketName())
	f.AddEnvironment("PLINTH_PROVIDER_SECRET_ARN", data.ProviderSecret.SecretArn())
	// Every function that calls models records usage: it spools each record to the
	// usage queue before its invocation ends.
	f.AddEnvironment("PLINTH_USAGE_QUEUE_URL", data.UsageQueue.QueueUrl())
	if data.GuardrailEmbeddingModel != "" {
		f.AddEnvironment("PLINTH_GUARDRAIL_EMBEDDING_MODEL", jsii.String(data.GuardrailEmbeddingModel))
	}
	if data.Vectors != nil {
		// New knowledge bases keep their dense vectors in the vector bucket.
		f.AddEnvironment("PLINTH_VECTOR_BUCKET", data.VectorBucketName)
		f.AddEnvironment("PLINTH_INDEX_BACKEND", jsii.String(VectorBackendS3Vectors))
	}
	siloEnvironment(f, data)
	allow(f.Role, []string{"sqs:SendMessage"}, data.UsageQueue.QueueArn())
	allow(f.Role, []string{"kms:GenerateDataKey", "kms:Decrypt"}, data.Key.KeyArn())
}

// suppressDataAccess records why object and model ARNs end in wildcards.
func suppressDataAccess(f *Function) {
	suppress(f.Role, true,
		nagSuppression("AwsSolutions-IAM5", reasonObjectPrefix, `/^Resource::.*\/\*$/g`),
		nagSuppression("AwsSolutions-IAM5", reasonBedrockModels, `/^Resource::arn:<AWS::Partition>:bedrock:.*\/\*$/g`),
	)
}

// grantAgentTask lets an agent task call models through the gateway service and tools
// through the tool hub: the table, provider and tool secrets, Bedrock, and Lambda tool
// servers (functions named plinth-tool-*).
func grantAgentTask(w *WorkflowsStack, f *Function) {
	data := w.data
	data.grantTableReadWrite(f.Role)
	grantSecretRead(f.Role, data.ProviderSecret, data.Key)
	grantBedrockInvoke(f.Role)
	grantBedrockGuardrail(f.Role)
	grantToolServers(f)
}
