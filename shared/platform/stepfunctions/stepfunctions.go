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
	arn, ok := s.Machines[machine]
	if !ok {
		return "", fmt.Errorf("state machine %s: %w", machine, ErrUnknownMachine)
	}
	out, err := s.Client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(arn), Input: aws.String(string(input))})
	if err != nil {
		return "", fmt.Errorf("start execution of %s: %w", arn, err)
	}
	return aws.ToString(out.ExecutionArn), nil
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
