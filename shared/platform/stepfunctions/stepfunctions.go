// Package stepfunctions starts the platform's state machines on AWS Step Functions (the
// platform's Flows backend in AWS).
package stepfunctions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
)

// API is the part of the Step Functions client that starts runs.
type API interface {
	StartExecution(ctx context.Context, in *sfn.StartExecutionInput, optFns ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error)
}

// ErrUnknownMachine means a state machine has no ARN here.
var ErrUnknownMachine = errors.New("state machine not deployed here")

// Flows starts the platform's state machines on AWS Step Functions.
type Flows struct {
	Client API
	// Machines maps a state machine's name (statemachines.Evaluation, ...) to its ARN.
	Machines map[string]string
}

// Start starts machine with input; the execution ID is the execution ARN.
func (s *Flows) Start(ctx context.Context, machine string, input json.RawMessage) (string, error) {
	return s.StartNamed(ctx, machine, "", input)
}

// StartNamed starts machine with input as the execution named name (a generated name
// when empty). Step Functions keeps a name unique per machine for 90 days and answers a
// repeated start with the same input with the running execution, so a retried start
// does not run the flow twice.
func (s *Flows) StartNamed(ctx context.Context, machine, name string, input json.RawMessage) (string, error) {
	arn, ok := s.Machines[machine]
	if !ok {
		return "", fmt.Errorf("state machine %s: %w", machine, ErrUnknownMachine)
	}
	in := &sfn.StartExecutionInput{StateMachineArn: aws.String(arn), Input: aws.String(string(input))}
	if name != "" {
		in.Name = aws.String(name)
	}
	out, err := s.Client.StartExecution(ctx, in)
	if err != nil {
		return "", fmt.Errorf("start execution of %s: %w", arn, err)
	}
	return aws.ToString(out.ExecutionArn), nil
}

// stopAPI is the part of the Step Functions client that stops executions.
type stopAPI interface {
	StopExecution(ctx context.Context, in *sfn.StopExecutionInput, optFns ...func(*sfn.Options)) (*sfn.StopExecutionOutput, error)
}

// Stop stops an execution (by its ARN) with an error name and cause.
func (s *Flows) Stop(ctx context.Context, executionARN, errName, cause string) error {
	c, ok := s.Client.(stopAPI)
	if !ok {
		return errors.New("the Step Functions client cannot stop executions")
	}
	in := &sfn.StopExecutionInput{ExecutionArn: aws.String(executionARN)}
	if errName != "" {
		in.Error = aws.String(truncate(errName, 256))
	}
	if cause != "" {
		in.Cause = aws.String(truncate(cause, 32768))
	}
	if _, err := c.StopExecution(ctx, in); err != nil {
		return fmt.Errorf("stop execution %s: %w", executionARN, err)
	}
	return nil
}

// truncate cuts s to at most n bytes (StopExecution's and SendTaskFailure's limits).
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// Has reports whether machine is deployed here.
func (s *Flows) Has(machine string) bool {
	_, ok := s.Machines[machine]
	return ok
}

// tokenAPI is the part of the Step Functions client that completes waiting tasks.
type tokenAPI interface {
	SendTaskSuccess(ctx context.Context, in *sfn.SendTaskSuccessInput, optFns ...func(*sfn.Options)) (*sfn.SendTaskSuccessOutput, error)
}

// SendTaskSuccess completes a waiting (.waitForTaskToken) task with output: durable agent
// runs resume on it after approvals.
func (s *Flows) SendTaskSuccess(ctx context.Context, token string, output json.RawMessage) error {
	c, ok := s.Client.(tokenAPI)
	if !ok {
		return errors.New("the Step Functions client cannot complete task tokens")
	}
	if _, err := c.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(token), Output: aws.String(string(output))}); err != nil {
		return fmt.Errorf("send task success: %w", err)
	}
	return nil
}

// failureAPI is the part of the Step Functions client that fails waiting tasks.
type failureAPI interface {
	SendTaskFailure(ctx context.Context, in *sfn.SendTaskFailureInput, optFns ...func(*sfn.Options)) (*sfn.SendTaskFailureOutput, error)
}

// SendTaskFailure fails a waiting (.waitForTaskToken) task with an error name and cause.
func (s *Flows) SendTaskFailure(ctx context.Context, token, errName, cause string) error {
	c, ok := s.Client.(failureAPI)
	if !ok {
		return errors.New("the Step Functions client cannot fail task tokens")
	}
	in := &sfn.SendTaskFailureInput{TaskToken: aws.String(token)}
	if errName != "" {
		in.Error = aws.String(truncate(errName, 256))
	}
	if cause != "" {
		in.Cause = aws.String(truncate(cause, 32768))
	}
	if _, err := c.SendTaskFailure(ctx, in); err != nil {
		return fmt.Errorf("send task failure: %w", err)
	}
	return nil
}
