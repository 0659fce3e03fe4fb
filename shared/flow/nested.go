package flow

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ResourceStartExecutionSync is Step Functions' optimised integration that runs a
// nested execution and waits for it (the ":2" form returns its output as JSON).
const ResourceStartExecutionSync = "arn:aws:states:::states:startExecution.sync:2"

// nestedRequest is StartExecution's request as a Task's Parameters carry it.
type nestedRequest struct {
	StateMachineArn string          `json:"StateMachineArn"`
	Name            string          `json:"Name"`
	Input           json.RawMessage `json:"Input"`
}

// nestedResult is DescribeExecution's answer as the .sync:2 integration returns it.
type nestedResult struct {
	ExecutionArn    string          `json:"ExecutionArn"`
	StateMachineArn string          `json:"StateMachineArn"`
	Name            string          `json:"Name"`
	Status          string          `json:"Status"`
	StartDate       time.Time       `json:"StartDate"`
	StopDate        *time.Time      `json:"StopDate,omitempty"`
	Input           json.RawMessage `json:"Input"`
	Output          json.RawMessage `json:"Output"`
}

// StartExecutionSync returns the task that runs ResourceStartExecutionSync in-process:
// it starts the machine its Parameters name (by the last ':'-separated part of
// StateMachineArn, a machine registered with this executor), waits for it and returns
// its output. Without a Name, the execution is named after its input, so a task run again
// after a restart finds the execution it started. A failed nested execution fails the
// task with States.TaskFailed and the execution's error and cause; stopping the parent
// stops the nested execution.
func (e *Executor) StartExecutionSync() TaskFunc {
	return func(ctx context.Context, raw json.RawMessage) (json.RawMessage, error) {
		var req nestedRequest
		if err := json.Unmarshal(raw, &req); err != nil || req.StateMachineArn == "" {
			return nil, &TaskError{Type: ErrNameTaskFailed, Cause: "startExecution.sync: Parameters need a StateMachineArn"}
		}
		machine := req.StateMachineArn[strings.LastIndexByte(req.StateMachineArn, ':')+1:]
		input := req.Input
		if len(input) == 0 || string(input) == "null" {
			input = json.RawMessage("{}")
		}
		if input[0] == '"' {
			var s string
			if err := json.Unmarshal(input, &s); err == nil {
				input = json.RawMessage(s)
			}
		}
		if v, err := decodeJSON(input); err == nil {
			if canon, err := marshalJSON(v); err == nil {
				input = canon
			}
		}
		name := req.Name
		if name == "" {
			sum := sha256.Sum256(append([]byte(machine+"\x00"), input...))
			name = "nested-" + hex.EncodeToString(sum[:12])
		}
		ex, err := e.Start(ctx, machine, name, input)
		if errors.Is(err, ErrExecutionExists) {
			ex, err = e.Describe(ctx, ExecutionID(machine, name))
		}
		if err != nil {
			return nil, &TaskError{Type: ErrNameTaskFailed, Cause: fmt.Sprintf("start nested execution of %s: %v", machine, err)}
		}
		done, err := e.Wait(ctx, ex.ID)
		if err != nil {
			if ctx.Err() != nil {
				_, _ = e.Stop(context.WithoutCancel(ctx), ex.ID, "States.Aborted", "the parent execution stopped")
			}
			return nil, err
		}
		if done.Status != StatusSucceeded {
			return nil, &TaskError{Type: ErrNameTaskFailed, Cause: fmt.Sprintf("nested execution %s %s: %s: %s", done.ID, done.Status, done.Error, done.Cause)}
		}
		out := done.Output
		if len(out) == 0 {
			out = json.RawMessage("null")
		}
		return json.Marshal(nestedResult{ExecutionArn: done.ID, StateMachineArn: done.MachineID, Name: done.Name, Status: done.Status,
			StartDate: done.StartTime, StopDate: done.StopTime, Input: done.Input, Output: out})
	}
}
