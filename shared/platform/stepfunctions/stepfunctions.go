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
