package main

import (
	"strings"
	"testing"
)

// TestAgentMachineKnownToItsTasks: every function deployed from the agent binary gets
// PLINTH_AGENT_STATE_MACHINE_ARN (the binary refuses to start without it), built from the
// machine's fixed name rather than a reference to the machine (which would be a cycle:
// machine → task function → machine); the name the ARN is built from is the machine's
// own, its role may invoke every task function, and the approval task may resume runs
// of that machine only.
func TestAgentMachineKnownToItsTasks(t *testing.T) {
	s := platform(t)
	w := s.platform.Workflows
	flowsRaw := s.raw["workflows"]
	smID := logicalID(w.Stack, w.Agent.StateMachine.StateMachineArn())
	sm := props(resources(flowsRaw, "AWS::StepFunctions::StateMachine")[smID])
	name := jsonText(sm["StateMachineName"])
	if name != `{"Fn::Join":["",[{"Ref":"AWS::StackName"},"-Agent"]]}` {
		t.Fatalf("agent machine name %s, want the stack's name and -Agent", name)
	}
	// The ARN the functions are given, as synthesis flattens it: the machine's name last.
	wantARN := `{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":states:",{"Ref":"AWS::Region"},":",{"Ref":"AWS::AccountId"},":stateMachine:",{"Ref":"AWS::StackName"},"-Agent"]]}`

	// The agent binary's asset, from the catalog's agent tasks.
	agentTasks := map[string]bool{}
	for task, spec := range taskCatalog() {
		if spec.binary == "agent" {
			agentTasks[task] = true
		}
	}
	if len(agentTasks) == 0 {
		t.Fatal("no agent tasks in the catalog")
	}
	assetKeys := map[string]bool{}
	for task := range agentTasks {
		f, ok := w.TaskFunctions[task]
		if !ok {
			t.Fatalf("agent task %s has no function", task)
		}
		fn := resources(flowsRaw, "AWS::Lambda::Function")[logicalID(w.Stack, f.Function.FunctionArn())]
		code, _ := props(fn)["Code"].(map[string]any)
		assetKeys[jsonText(code["S3Key"])] = true
	}
	if len(assetKeys) != 1 {
		t.Fatalf("agent tasks deploy %d different assets, want the one agent binary", len(assetKeys))
	}

	// Every function of every stack that runs that asset.
	agentFns := 0
	for stackName, raw := range s.raw {
		for id, fn := range resources(raw, "AWS::Lambda::Function") {
			code, _ := props(fn)["Code"].(map[string]any)
			if !assetKeys[jsonText(code["S3Key"])] {
				continue
			}
			agentFns++
			arn := jsonText(envOf(fn)["PLINTH_AGENT_STATE_MACHINE_ARN"])
			if arn == "null" || arn == "" {
				t.Errorf("%s/%s runs the agent binary without PLINTH_AGENT_STATE_MACHINE_ARN", stackName, id)
				continue
			}
			if strings.Contains(arn, smID) {
				t.Errorf("%s/%s: the ARN refers to the machine (%s), a dependency cycle", stackName, id, arn)
			}
			if arn != wantARN {
				t.Errorf("%s/%s: machine ARN %s, want %s", stackName, id, arn, wantARN)
			}
		}
	}
	if agentFns != len(agentTasks) {
		t.Errorf("%d functions run the agent binary, want one per agent task (%d)", agentFns, len(agentTasks))
	}

	// The machine's role invokes every agent task function.
	roleID := getAttTarget(sm["RoleArn"])
	invoked := jsonText(policyOfRole(flowsRaw, roleID))
	for task := range agentTasks {
		if fid := logicalID(w.Stack, w.TaskFunctions[task].Function.FunctionArn()); !strings.Contains(invoked, `"`+fid+`"`) {
			t.Errorf("the agent machine's role may not invoke %s (%s)", task, fid)
		}
	}

	// The approval task resumes runs of the agent machine, nothing wider.
	approve := w.TaskFunctions["AgentRequestApprovalFunctionArn"]
	resumes := 0
	for _, stmt := range policyOfRole(flowsRaw, logicalID(w.Stack, approve.Role.RoleArn())) {
		if !hasAction(stmt, "states:SendTaskSuccess") {
			continue
		}
		resumes++
		if res := jsonText(stmt["Resource"]); res != wantARN {
			t.Errorf("the approval task resumes %s, want the agent machine", res)
		}
	}
	if resumes != 1 {
		t.Errorf("the approval task has %d SendTaskSuccess statements, want 1", resumes)
	}
}
