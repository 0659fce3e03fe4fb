package platform

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/plinth-ai/plinth/shared/eval"
	"github.com/plinth-ai/plinth/shared/flow"
	"github.com/plinth-ai/plinth/statemachines"
)

// Flows starts the platform's state machines (statemachines.Ingestion,
// statemachines.Evaluation) with an execution input, returning the execution's ID: the
// embedded executor locally (ExecutorFlows), AWS Step Functions in AWS.
type Flows interface {
	Start(ctx context.Context, machine string, input json.RawMessage) (executionID string, err error)
}

// Schedules runs evaluation suites on their schedules. Sync gets every scheduled suite
// after each change to suites (and when the local platform starts) and makes the
// runtime's scheduler hold exactly those: the in-process scheduler locally
// (LocalSchedules), EventBridge Scheduler in AWS.
type Schedules interface {
	Sync(ctx context.Context, suites []eval.ScheduledSuite) error
}

// LocalFunctionARN is the function ARN a task placeholder is bound to in local mode; it
// has the shape of a real Lambda ARN so the definitions run unchanged.
func LocalFunctionARN(placeholder string) string {
	return "arn:aws:lambda:local:000000000000:function:plinth-" + placeholder
}

// RunFlows registers the ingestion and evaluation state machines on the embedded
// executor with the platform's own tasks (the local counterpart of the ingest and
// evaluation Lambda functions) and resumes the executions a previous run left unfinished.
func RunFlows(ctx context.Context, p *Platform, exec *flow.Executor) error {
	auditFlowEnds(p, exec)
	ingest, err := IngestTasks(p)
	if err != nil {
		return err
	}
	evalTasks, err := EvalTasks(p)
	if err != nil {
		return err
	}
	if err := registerMachine(exec, statemachines.Ingestion, ingest); err != nil {
		return err
	}
	if err := registerMachine(exec, statemachines.Evaluation, evalTasks); err != nil {
		return err
	}
	agentTasks, err := AgentTasks(p)
	if err != nil {
		return err
	}
	if agentTasks != nil {
		if err := registerMachine(exec, statemachines.Agent, agentTasks); err != nil {
			return err
		}
	}
	if err := runCustomization(p, exec); err != nil {
		return err
	}
	n, err := exec.Resume(ctx)
	if err != nil {
		return fmt.Errorf("resume executions: %w", err)
	}
	if n > 0 {
		p.log.Info("resumed unfinished executions", "count", n)
	}
	return nil
}

// LocalStateMachineARN is the ARN a state machine is registered under in local mode,
// for definitions that start another machine (a nested execution).
func LocalStateMachineARN(name string) string {
	return "arn:aws:states:local:000000000000:stateMachine:" + name
}

// registerMachine loads a definition from statemachines/, binds each ${…} placeholder to
// its in-process task and registers the machine with the executor.
func registerMachine(exec *flow.Executor, name string, tasks map[string]TaskFunc) error {
	return registerMachineWith(exec, name, tasks, nil)
}

// registerMachineWith is registerMachine with placeholders that are not tasks (the ARN
// of a nested state machine) substituted from extra.
func registerMachineWith(exec *flow.Executor, name string, tasks map[string]TaskFunc, extra map[string]string) error {
	def, err := statemachines.Definition(name)
	if err != nil {
		return err
	}
	subs := map[string]string{}
	for _, ph := range statemachines.Placeholders(def) {
		if v, ok := extra[ph]; ok {
			subs[ph] = v
			continue
		}
		fn, ok := tasks[ph]
		if !ok {
			return fmt.Errorf("state machine %s: no task bound to ${%s}", name, ph)
		}
		arn := LocalFunctionARN(ph)
		exec.Bind(arn, flow.TaskFunc(fn))
		subs[ph] = arn
	}
	m, err := flow.Load(def, subs)
	if err != nil {
		return fmt.Errorf("load state machine %s: %w", name, err)
	}
	return exec.Register(name, m)
}
