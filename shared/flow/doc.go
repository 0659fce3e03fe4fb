// Package flow is Plinth's embedded workflow engine: an Amazon States Language (JSONPath)
// interpreter and a durable executor, so the statemachines/*.asl.json definitions that
// Step Functions runs in AWS run unchanged in the local platform and in tests.
//
// # Definitions
//
// Load parses a definition after replacing its ${Placeholders} (the same substitutions CDK
// passes as DefinitionSubstitutions). Every state type is supported (Pass, Task, Choice,
// Wait, Succeed, Fail, Parallel, inline Map with ItemProcessor or the legacy Iterator), with
// InputPath, Parameters, ResultSelector, ResultPath, OutputPath, the context object, all
// intrinsic functions, Retry (with BackoffRate, MaxDelaySeconds, JitterStrategy) and Catch.
// JSONata and distributed Map ItemReader/ResultWriter are rejected at load time.
//
// # Tasks
//
// A Task's Resource is bound to an in-process TaskFunc by its string after substitution (a
// function ARN, a function name, or any other resource such as a service integration ARN).
// For arn:aws:states:::lambda:invoke the function is Parameters.FunctionName, it receives
// Parameters.Payload, and the result is shaped like Lambda Invoke's response
// ({"ExecutedVersion","Payload","SdkHttpMetadata","SdkResponseMetadata","StatusCode"}), so
// "ResultSelector": {"x.$": "$.Payload"} works as in AWS. With .waitForTaskToken the
// function gets $$.Task.Token (through Parameters) and the task completes when
// Executor.SendTaskSuccess or SendTaskFailure is called with that token.
//
// A TaskFunc fails with a named error by returning *TaskError; that name is what Retry and
// Catch match. Any other error is States.TaskFailed with the error text as cause (in AWS a
// Go Lambda's error type would be its Go type name; a named error is the portable choice).
// The cause is the TaskError's Cause text; in AWS, a failed Lambda function's cause is its
// JSON error payload ({"errorMessage","errorType","stackTrace"}) as a string, so flows
// should treat causes as opaque text.
//
// # Executions
//
// Executor is the durable side: executions are started by name, persisted through an
// ExecutionStore (MemoryStore, or StoreBacked over the platform's store port), observable
// (Describe, History, List, the admin routes) and cancellable (Stop). Entering a top-level
// Task, Wait, Parallel or Map state saves a checkpoint (state name and input) together with
// the history events since the last one, in one store write; after a restart, Resume
// continues every RUNNING execution from its last checkpoint, so the state it was in runs
// again (tasks are at-least-once, as in Step Functions) and data-only states after it are
// recomputed. Parallel and Map states resume as a whole. An execution's TimeoutSeconds
// restarts its count on resume.
//
// Time comes from a Clock: Wait states, retry intervals, task timeouts, heartbeats and
// execution timeouts all use it, and FakeClock lets tests drive them without sleeping.
//
// # Errors
//
// Failures carry the States Language names (ErrName... constants). States.Runtime and
// States.DataLimitExceeded are terminal: neither retried nor caught by States.ALL.
// States.TaskFailed in ErrorEquals matches every error of a Task state except
// States.Timeout and States.HeartbeatTimeout. Payloads above 256 KiB (task input, task
// result, execution input and output) fail with States.DataLimitExceeded.
package flow
