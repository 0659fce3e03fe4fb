package flow

import (
	"errors"
	"fmt"

	"github.com/plinth-ai/plinth/shared/fault"
)

// Predefined error names of the Amazon States Language.
const (
	ErrNameALL                    = "States.ALL"
	ErrNameTaskFailed             = "States.TaskFailed"
	ErrNameTimeout                = "States.Timeout"
	ErrNameHeartbeatTimeout       = "States.HeartbeatTimeout"
	ErrNameRuntime                = "States.Runtime"
	ErrNameDataLimitExceeded      = "States.DataLimitExceeded"
	ErrNameIntrinsicFailure       = "States.IntrinsicFailure"
	ErrNameNoChoiceMatched        = "States.NoChoiceMatched"
	ErrNameParameterPathFailure   = "States.ParameterPathFailure"
	ErrNameResultPathMatchFailure = "States.ResultPathMatchFailure"
	ErrNameItemReaderFailed       = "States.ItemReaderFailed"
	ErrNameExceedToleratedFailure = "States.ExceedToleratedFailureThreshold"
	ErrNameBranchFailed           = "States.BranchFailed"
	ErrNamePermissions            = "States.Permissions"
	ErrNameResultWriterFailed     = "States.ResultWriterFailed"
	ErrNameQueryEvaluationError   = "States.QueryEvaluationError"
)

// maxPayloadBytes is Step Functions' limit on a state's input or output and an execution's
// input or output (256 KiB).
const maxPayloadBytes = 256 * 1024

// Sentinel errors returned by the executor API.
var (
	// ErrInvalidDefinition means a state machine definition does not follow the States Language.
	ErrInvalidDefinition = fault.Sentinel("flow: invalid state machine definition", fault.ErrInvalid)
	// ErrExecutionNotFound means no execution has the ID.
	ErrExecutionNotFound = fault.Sentinel("flow: execution not found", fault.ErrNotFound)
	// ErrExecutionExists means an execution with the same name is already known with a different input.
	ErrExecutionExists = fault.Sentinel("flow: execution already exists", fault.ErrExists)
	// ErrMachineNotFound means no state machine is registered under the name.
	ErrMachineNotFound = fault.Sentinel("flow: state machine not found", fault.ErrNotFound)
	// ErrTaskTokenInvalid means a task token is unknown or its task already completed.
	ErrTaskTokenInvalid = errors.New("flow: invalid task token")
	// ErrNotRunning means the execution already finished.
	ErrNotRunning = errors.New("flow: execution is not running")
)

// TaskError lets a task fail with a named error, matched by Retry and Catch ErrorEquals.
// Any other error returned by a TaskFunc fails the task with States.TaskFailed.
type TaskError struct {
	Type  string
	Cause string
}

// Error implements error.
func (e *TaskError) Error() string {
	if e.Cause == "" {
		return e.Type
	}
	return e.Type + ": " + e.Cause
}

// failure is an error raised while running a state, carrying its States Language name.
type failure struct {
	name, cause string
	// terminal failures (States.Runtime, States.DataLimitExceeded) are neither retried nor
	// caught by States.ALL.
	terminal bool
}

func (f *failure) Error() string { return f.name + ": " + f.cause }

func fail(name, format string, args ...any) *failure {
	return &failure{name: name, cause: fmt.Sprintf(format, args...), terminal: name == ErrNameRuntime || name == ErrNameDataLimitExceeded}
}

// asFailure converts any error raised by a state into a failure.
func asFailure(err error) *failure {
	var f *failure
	if errors.As(err, &f) {
		return f
	}
	var te *TaskError
	if errors.As(err, &te) {
		name := te.Type
		if name == "" {
			name = ErrNameTaskFailed
		}
		return &failure{name: name, cause: te.Cause}
	}
	return &failure{name: ErrNameTaskFailed, cause: err.Error()}
}

// ExecutionError is the failure that ended an execution run by Machine.Run.
type ExecutionError struct {
	// Name is the States Language error name (e.g. "States.TaskFailed" or a Fail state's Error).
	Name string
	// Cause is the human-readable cause.
	Cause string
}

// Error implements error.
func (e *ExecutionError) Error() string { return e.Name + ": " + e.Cause }
