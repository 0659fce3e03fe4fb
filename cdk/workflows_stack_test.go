package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

func TestWorkflowsStack(t *testing.T) {
	s := platform(t)
	w := s.platform.Workflows
	tpl, raw := s.templates["workflows"], s.raw["workflows"]
	t.Logf("state machine definitions from %v", s.defSources)

	functions := resources(raw, "AWS::Lambda::Function")
	taskOf := map[string]string{} // function logical ID → PLINTH_TASK
	for id, f := range functions {
		env, _ := props(f)["Environment"].(map[string]any)
		vars, _ := env["Variables"].(map[string]any)
		task, _ := vars[TaskEnv].(string)
		taskOf[id] = task
	}

	t.Run("task functions", func(t *testing.T) {
		if len(functions) == 0 {
			t.Fatal("no task functions")
		}
		for id, f := range functions {
			if taskOf[id] == "" {
				t.Errorf("%s: no %s", id, TaskEnv)
			}
			checkGoFunction(t, id, props(f))
		}
	})

	allInvoked := map[string]bool{}
	for _, m := range []struct {
		name string
		file string
		sm   *StateMachineFromFile
	}{
		{"ingestion", "ingestion.asl.json", w.Ingestion},
		{"evaluation", "evaluation.asl.json", w.Evaluation},
		{"agent", "agent.asl.json", w.Agent},
		{"customization", "customization.asl.json", w.Customization},
	} {
		t.Run(m.name+" state machine", func(t *testing.T) {
			def, err := os.ReadFile(filepath.Join(s.defsDir, m.file))
			if err != nil {
				t.Fatal(err)
			}
			smID := logicalID(w.Stack, m.sm.StateMachine.StateMachineArn())
			res, ok := resources(raw, "AWS::StepFunctions::StateMachine")[smID]
			if !ok {
				t.Fatalf("state machine %s not in template", smID)
			}
			p := props(res)
			definition, ok := p["DefinitionString"].(string)
			if !ok {
				t.Fatalf("DefinitionString is not a literal: %v", p["DefinitionString"])
			}
			if definition != string(def) {
				t.Errorf("DefinitionString differs from %s", m.file)
			}
			subs, _ := p["DefinitionSubstitutions"].(map[string]any)

			// Every placeholder is bound, and substituting leaves none behind.
			resolved := definition
			for name, v := range subs {
				resolved = strings.ReplaceAll(resolved, "${"+name+"}", jsonText(v))
			}
			if strings.Contains(resolved, "${") {
				t.Errorf("unresolved placeholders after substitution: %v", regexp.MustCompile(`\$\{[^}]*\}`).FindAllString(resolved, -1))
			}
			placeholders := Placeholders(def)
			if len(placeholders) == 0 {
				t.Fatal("definition has no placeholders")
			}
			if keys := sortedKeys(subs); !slices.Equal(keys, placeholders) {
				t.Errorf("substitutions %v, want exactly the placeholders %v", keys, placeholders)
			}

			// Each function placeholder names the function built for its task.
			var referenced []string
			for _, name := range placeholders {
				if !strings.HasSuffix(name, "FunctionArn") {
					continue
				}
				fnID := getAttTarget(subs[name])
				if got := taskOf[fnID]; got != name {
					t.Errorf("${%s} → %s (task %q), want the %q task function", name, fnID, got, name)
				}
				referenced = append(referenced, fnID)
				allInvoked[fnID] = true
			}
			sort.Strings(referenced)

			// The role may invoke exactly the referenced functions.
			roleID := getAttTarget(p["RoleArn"])
			var invokable []string
			for _, stmt := range policyOfRole(raw, roleID) {
				if !hasAction(stmt, "lambda:InvokeFunction") {
					continue
				}
				if len(list(stmt["Action"])) != 1 {
					t.Errorf("invoke statement grants more than lambda:InvokeFunction: %v", stmt["Action"])
				}
				for _, r := range list(stmt["Resource"]) {
					invokable = append(invokable, getAttTarget(r))
				}
			}
			sort.Strings(invokable)
			if !slices.Equal(invokable, referenced) {
				t.Errorf("role may invoke %v, want exactly %v", invokable, referenced)
			}

			if tc, _ := p["TracingConfiguration"].(map[string]any); tc["Enabled"] != true {
				t.Errorf("tracing %v", tc)
			}
			lc, _ := p["LoggingConfiguration"].(map[string]any)
			if lc["Level"] != "ALL" || lc["IncludeExecutionData"] != true {
				t.Errorf("logging %v, want ALL with execution data", lc)
			}
			logID := logicalID(w.Stack, m.sm.LogGroup.LogGroupArn())
			if !strings.Contains(jsonText(lc["Destinations"]), logID) {
				t.Errorf("logs go to %v, want %s", lc["Destinations"], logID)
			}
			lg := props(resources(raw, "AWS::Logs::LogGroup")[logID])
			if lg["KmsKeyId"] == nil {
				t.Errorf("execution log group %s is not KMS-encrypted", logID)
			}
		})
	}

	t.Run("no task function is left unreferenced", func(t *testing.T) {
		for id := range functions {
			// The Bedrock backstop is invoked by EventBridge (TestCustomization).
			if !allInvoked[id] && taskOf[id] != BedrockJobStateChangeTask {
				t.Errorf("function %s (task %s) is referenced by no state machine", id, taskOf[id])
			}
		}
	})

	t.Run("documents rule", func(t *testing.T) {
		dlq := logicalID(w.Stack, w.IngestionDLQ.QueueArn())
		sm := logicalID(w.Stack, w.Ingestion.StateMachine.StateMachineArn())
		has(t, "rule", func() {
			tpl.HasResourceProperties(jsii.String("AWS::Events::Rule"), map[string]any{
				"EventPattern": map[string]any{
					"source":      []any{"aws.s3"},
					"detail-type": []any{"Object Created", "Object Deleted"},
					"detail": map[string]any{
						"bucket": map[string]any{"name": []any{assertions.Match_AnyValue()}},
						"object": map[string]any{"key": []any{map[string]any{"prefix": DocumentsPrefix}}},
					},
				},
				"Targets": []any{assertions.Match_ObjectLike(&map[string]any{
					"Arn":              map[string]any{"Ref": sm},
					"DeadLetterConfig": map[string]any{"Arn": map[string]any{"Fn::GetAtt": []any{dlq, "Arn"}}},
					"RetryPolicy":      map[string]any{"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400},
					"InputTransformer": assertions.Match_ObjectLike(&map[string]any{
						"InputPathsMap": assertions.Match_ObjectLike(&map[string]any{
							"detail-bucket-name": "$.detail.bucket.name",
							"detail-object-key":  "$.detail.object.key",
						}),
						"InputTemplate": assertions.Match_StringLikeRegexp(jsii.String(`"detail-type":<detail-type>`)),
					}),
				})},
			})
		})
	})

	t.Run("dead-letter queues are encrypted", func(t *testing.T) {
		queues := resources(raw, "AWS::SQS::Queue")
		if len(queues) != 3 {
			t.Fatalf("queues = %d, want the ingestion trigger's, the scheduler's and the Bedrock backstop's", len(queues))
		}
		for id, q := range queues {
			if props(q)["KmsMasterKeyId"] == nil {
				t.Errorf("%s: not KMS-encrypted", id)
			}
		}
	})

	t.Run("event bus and scheduler", func(t *testing.T) {
		has(t, "bus", func() {
			tpl.HasResourceProperties(jsii.String("AWS::Events::EventBus"), map[string]any{"Name": EventBusName})
		})
		has(t, "schedule group", func() {
			tpl.HasResourceProperties(jsii.String("AWS::Scheduler::ScheduleGroup"), map[string]any{"Name": ScheduleGroupName})
		})
		roleID := logicalID(w.Stack, w.SchedulerRole.RoleArn())
		role := props(resources(raw, "AWS::IAM::Role")[roleID])
		if !strings.Contains(jsonText(role["AssumeRolePolicyDocument"]), "scheduler.amazonaws.com") {
			t.Errorf("scheduler role trust: %v", role["AssumeRolePolicyDocument"])
		}
		evalID := logicalID(w.Stack, w.Evaluation.StateMachine.StateMachineArn())
		found := false
		for _, stmt := range policyOfRole(raw, roleID) {
			if hasAction(stmt, "states:StartExecution") {
				found = true
				if r := list(stmt["Resource"]); len(r) != 1 || getAttTarget(r[0]) != evalID {
					t.Errorf("scheduler may start %v, want only %s", r, evalID)
				}
			}
		}
		if !found {
			t.Error("scheduler role cannot start the evaluation state machine")
		}
	})
}
