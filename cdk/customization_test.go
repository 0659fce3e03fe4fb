package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

// customizationEnv are the variables that name the customisation resources.
var customizationEnv = []string{"PLINTH_CUSTOMIZATION_BUCKET", "PLINTH_CUSTOMIZATION_KEY_ARN",
	"PLINTH_CUSTOMIZATION_ROLE_ARN", "PLINTH_CUSTOMIZATION_STATE_MACHINE_ARN"}

// envOf returns a function resource's environment variables.
func envOf(fn map[string]any) map[string]any {
	env, _ := props(fn)["Environment"].(map[string]any)
	vars, _ := env["Variables"].(map[string]any)
	return vars
}

// conditionValue returns a statement's condition value for operator and key.
func conditionValue(stmt map[string]any, operator, key string) any {
	c, _ := stmt["Condition"].(map[string]any)
	op, _ := c[operator].(map[string]any)
	return op[key]
}

func TestCustomization(t *testing.T) {
	s := platform(t)
	d, w := s.platform.Data, s.platform.Workflows
	dataTpl, dataRaw, flowsRaw, apiRaw := s.templates["data"], s.raw["data"], s.raw["workflows"], s.raw["api"]
	keyID := logicalID(d.Stack, d.CustomizationKey.KeyArn())
	bucketID := logicalID(d.Stack, d.Customization.BucketArn())
	jobRoleID := logicalID(w.Stack, w.CustomizationJobRole.RoleArn())

	t.Run("bucket: the customisation key on every object, no bucket key", func(t *testing.T) {
		b := props(resources(dataRaw, "AWS::S3::Bucket")[bucketID])
		enc := jsonText(b["BucketEncryption"])
		if !strings.Contains(enc, `"SSEAlgorithm":"aws:kms"`) || !strings.Contains(enc, `"`+keyID+`"`) || !strings.Contains(enc, `"BucketKeyEnabled":false`) {
			t.Errorf("encryption %s, want SSE-KMS with %s and no bucket key", enc, keyID)
		}
		if jsonText(b["VersioningConfiguration"]) != `{"Status":"Enabled"}` || b["LoggingConfiguration"] == nil {
			t.Errorf("versioning %v, logging %v", b["VersioningConfiguration"], b["LoggingConfiguration"])
		}
		has(t, "public access blocked", func() {
			dataTpl.HasResourceProperties(jsii.String("AWS::S3::Bucket"), map[string]any{
				"BucketEncryption": assertions.Match_ObjectLike(&map[string]any{"ServerSideEncryptionConfiguration": assertions.Match_AnyValue()}),
				"PublicAccessBlockConfiguration": map[string]any{"BlockPublicAcls": true, "BlockPublicPolicy": true,
					"IgnorePublicAcls": true, "RestrictPublicBuckets": true},
				"LoggingConfiguration": map[string]any{"DestinationBucketName": assertions.Match_AnyValue(), "LogFilePrefix": "Customization/"},
			})
		})
		var tls, otherKeys bool
		for _, p := range resources(dataRaw, "AWS::S3::BucketPolicy") {
			if getAttTarget(props(p)["Bucket"]) != bucketID {
				continue
			}
			for _, st := range list(props(p)["PolicyDocument"].(map[string]any)["Statement"]) {
				stmt := st.(map[string]any)
				if stmt["Effect"] != "Deny" {
					continue
				}
				if conditionValue(stmt, "Bool", "aws:SecureTransport") == "false" {
					tls = true
				}
				if hasAction(stmt, "s3:PutObject") && strings.Contains(jsonText(conditionValue(stmt, "StringNotEqualsIfExists",
					"s3:x-amz-server-side-encryption-aws-kms-key-id")), keyID) {
					otherKeys = true
				}
			}
		}
		if !tls || !otherKeys {
			t.Errorf("bucket policy: TLS-only %v, other keys refused %v", tls, otherKeys)
		}
	})

	t.Run("key use: by S3 for tenants' objects, or by Bedrock", func(t *testing.T) {
		uses := 0
		for stackName, raw := range s.raw {
			for policy, stmts := range statements(raw) {
				for _, stmt := range stmts {
					if stmt["Effect"] != "Allow" || !strings.Contains(jsonText(stmt["Resource"]), "CustomizationKey") {
						continue
					}
					uses++
					via := jsonText(conditionValue(stmt, "StringEquals", "kms:ViaService"))
					context := jsonText(conditionValue(stmt, "StringLike", "kms:EncryptionContext:aws:s3:arn"))
					switch {
					case strings.Contains(via, `"s3."`):
						if !strings.Contains(context, "/"+CustomizationPrefix) || !strings.Contains(context, bucketID) {
							t.Errorf("%s/%s: key use through S3 not scoped to tenants' objects: %s", stackName, policy, context)
						}
					case strings.Contains(via, `"bedrock."`):
					default:
						t.Errorf("%s/%s: key use %v through no service", stackName, policy, stmt["Action"])
					}
					for _, a := range list(stmt["Action"]) {
						switch a {
						case "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey":
						case "kms:CreateGrant":
							if conditionValue(stmt, "Bool", "kms:GrantIsForAWSResource") != "true" {
								t.Errorf("%s/%s: CreateGrant for anything but an AWS service", stackName, policy)
							}
						default:
							t.Errorf("%s/%s: %s on the customisation key", stackName, policy, a)
						}
					}
				}
			}
		}
		if uses < 10 {
			t.Errorf("only %d statements use the customisation key", uses)
		}
	})

	t.Run("job role: Bedrock's customisation jobs of this account only", func(t *testing.T) {
		role := props(resources(flowsRaw, "AWS::IAM::Role")[jobRoleID])
		trust := list(role["AssumeRolePolicyDocument"].(map[string]any)["Statement"])
		if len(trust) != 1 {
			t.Fatalf("trust %v", trust)
		}
		st := trust[0].(map[string]any)
		if jsonText(st["Principal"]) != `{"Service":"bedrock.amazonaws.com"}` || st["Action"] != "sts:AssumeRole" {
			t.Errorf("trusted %v for %v, want bedrock.amazonaws.com only", st["Principal"], st["Action"])
		}
		if jsonText(conditionValue(st, "StringEquals", "aws:SourceAccount")) != `{"Ref":"AWS::AccountId"}` ||
			!strings.Contains(jsonText(conditionValue(st, "ArnLike", "aws:SourceArn")), ":model-customization-job/*") {
			t.Errorf("trust conditions %v", st["Condition"])
		}
		for _, stmt := range policyOfRole(flowsRaw, jobRoleID) {
			for _, a := range list(stmt["Action"]) {
				switch a {
				case "s3:GetObject", "s3:ListBucket", "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey", "kms:CreateGrant":
				case "s3:PutObject":
					if r := jsonText(stmt["Resource"]); !strings.Contains(r, "/customization/jobs/*/output/*") {
						t.Errorf("the job role writes %s, want only jobs' output", r)
					}
				default:
					t.Errorf("the job role may %s", a)
				}
			}
		}
	})

	t.Run("the job role is passed to Bedrock only", func(t *testing.T) {
		passes := 0
		for stackName, raw := range s.raw {
			for policy, stmts := range statements(raw) {
				for _, stmt := range stmts {
					if !hasAction(stmt, "iam:PassRole") || !strings.Contains(jsonText(stmt["Resource"]), "CustomizationJobRole") {
						continue
					}
					passes++
					if conditionValue(stmt, "StringEquals", "iam:PassedToService") != "bedrock.amazonaws.com" {
						t.Errorf("%s/%s passes the job role without iam:PassedToService bedrock.amazonaws.com: %v", stackName, policy, stmt["Condition"])
					}
					if len(list(stmt["Resource"])) != 1 {
						t.Errorf("%s/%s passes more than the job role: %v", stackName, policy, stmt["Resource"])
					}
				}
			}
		}
		if passes != 1 {
			t.Errorf("%d statements pass the job role, want the state machine's", passes)
		}
	})

	t.Run("state machine: Bedrock's .sync integration and nested evaluations", func(t *testing.T) {
		smID := logicalID(w.Stack, w.Customization.StateMachine.StateMachineArn())
		p := props(resources(flowsRaw, "AWS::StepFunctions::StateMachine")[smID])
		def := p["DefinitionString"].(string)
		if !strings.Contains(def, `"arn:aws:states:::bedrock:createModelCustomizationJob.sync"`) {
			t.Fatal("the definition does not train through the .sync integration")
		}
		subs := p["DefinitionSubstitutions"].(map[string]any)
		if got := getAttTarget(subs["EvaluationStateMachineArn"]); got != logicalID(w.Stack, w.Evaluation.StateMachine.StateMachineArn()) {
			t.Errorf("${EvaluationStateMachineArn} → %s, want the evaluation machine", got)
		}
		if !strings.Contains(jsonText(p["StateMachineName"]), `"-Customization"`) {
			t.Errorf("name %v", p["StateMachineName"])
		}
		roleID := getAttTarget(p["RoleArn"])
		need := map[string]string{
			"bedrock:CreateModelCustomizationJob": "model-customization-job/*", "bedrock:GetModelCustomizationJob": "model-customization-job/*",
			"bedrock:StopModelCustomizationJob": "model-customization-job/*", "iam:PassRole": jobRoleID,
			"states:StartExecution": "", "states:DescribeExecution": ":execution:", "events:PutRule": "StepFunctionsGetEventsForStepFunctionsExecutionRule",
			"kms:CreateGrant": keyID,
		}
		for _, stmt := range policyOfRole(flowsRaw, roleID) {
			for action, resource := range need {
				if hasAction(stmt, action) && strings.Contains(jsonText(stmt["Resource"]), resource) {
					delete(need, action)
				}
			}
		}
		if len(need) > 0 {
			t.Errorf("the state machine's role lacks %v", need)
		}
	})

	t.Run("the flow's functions know the machine by name, not by reference", func(t *testing.T) {
		smID := logicalID(w.Stack, w.Customization.StateMachine.StateMachineArn())
		tasks := 0
		for id, fn := range resources(flowsRaw, "AWS::Lambda::Function") {
			env := envOf(fn)
			task, _ := env[TaskEnv].(string)
			if _, ok := customizationTasks()[task]; !ok && task != BedrockJobStateChangeTask {
				continue
			}
			tasks++
			for _, v := range customizationEnv {
				if env[v] == nil {
					t.Errorf("%s (%s): no %s", id, task, v)
				}
			}
			arn := jsonText(env["PLINTH_CUSTOMIZATION_STATE_MACHINE_ARN"])
			if strings.Contains(arn, smID) || !strings.Contains(arn, `":stateMachine:"`) || !strings.Contains(arn, `"-Customization"`) {
				t.Errorf("%s: machine ARN %s, want the name-built ARN", id, arn)
			}
		}
		if tasks != len(customizationTasks())+1 {
			t.Errorf("%d customisation functions, want one per task and the backstop", tasks)
		}
	})

	t.Run("the API's fine-tuning and admin functions", func(t *testing.T) {
		a := s.platform.API
		for _, binary := range []string{"finetuning", "admin"} {
			id := logicalID(a.Stack, a.Functions[binary].Function.FunctionArn())
			env := envOf(resources(apiRaw, "AWS::Lambda::Function")[id])
			for _, v := range customizationEnv {
				if env[v] == nil {
					t.Errorf("%s: no %s", binary, v)
				}
			}
		}
		ft := logicalID(a.Stack, a.Functions["finetuning"].Role.RoleArn())
		found := map[string]bool{}
		for _, stmt := range policyOfRole(apiRaw, ft) {
			for _, a := range []string{"states:StartExecution", "states:StopExecution", "s3:PutObject", "bedrock:StopModelCustomizationJob"} {
				if hasAction(stmt, a) {
					found[a] = true
				}
			}
		}
		if len(found) != 4 {
			t.Errorf("the fine-tuning function may only %v", found)
		}
	})

	t.Run("backstop: Bedrock's job state changes of Plinth's jobs", func(t *testing.T) {
		fnID := logicalID(w.Stack, w.BedrockJobFunction.Function.FunctionArn())
		dlq := logicalID(w.Stack, w.BedrockJobDLQ.QueueArn())
		rule := props(resources(flowsRaw, "AWS::Events::Rule")[logicalID(w.Stack, w.BedrockJobRule.RuleArn())])
		var pattern struct {
			Source     []string `json:"source"`
			DetailType []string `json:"detail-type"`
			Detail     struct {
				JobName []struct {
					Prefix string `json:"prefix"`
				} `json:"jobName"`
			} `json:"detail"`
		}
		if err := json.Unmarshal([]byte(jsonText(rule["EventPattern"])), &pattern); err != nil {
			t.Fatal(err)
		}
		if rule["EventBusName"] != nil {
			t.Errorf("the rule is on bus %v; Bedrock sends to the default bus", rule["EventBusName"])
		}
		targets := list(rule["Targets"])
		if len(targets) != 1 {
			t.Fatalf("targets %v", targets)
		}
		target := targets[0].(map[string]any)
		if getAttTarget(target["Arn"]) != fnID || getAttTarget(target["DeadLetterConfig"].(map[string]any)["Arn"]) != dlq ||
			jsonText(target["RetryPolicy"]) != `{"MaximumEventAgeInSeconds":86400,"MaximumRetryAttempts":185}` {
			t.Errorf("target %v", target)
		}
		if envOf(resources(flowsRaw, "AWS::Lambda::Function")[fnID])[TaskEnv] != BedrockJobStateChangeTask {
			t.Errorf("the target function does not run the backstop")
		}

		// The sample event in events/ is one the rule matches.
		root, err := repoRoot()
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(root, "events", "bedrock-customization-job-state-change.json"))
		if err != nil {
			t.Fatal(err)
		}
		var ev struct {
			Source     string `json:"source"`
			DetailType string `json:"detail-type"`
			Detail     struct {
				JobName   string `json:"jobName"`
				JobStatus string `json:"jobStatus"`
			} `json:"detail"`
		}
		if err := json.Unmarshal(b, &ev); err != nil {
			t.Fatal(err)
		}
		if len(pattern.Source) != 1 || pattern.Source[0] != ev.Source || len(pattern.DetailType) != 1 || pattern.DetailType[0] != ev.DetailType ||
			len(pattern.Detail.JobName) != 1 || !strings.HasPrefix(ev.Detail.JobName, pattern.Detail.JobName[0].Prefix) || ev.Detail.JobStatus == "" {
			t.Errorf("the rule %+v does not match the sample event %+v", pattern, ev)
		}
		stops := false
		for _, stmt := range policyOfRole(flowsRaw, logicalID(w.Stack, w.BedrockJobFunction.Role.RoleArn())) {
			if hasAction(stmt, "states:StopExecution") && strings.Contains(jsonText(stmt["Resource"]), "-Customization:*") {
				stops = true
			}
		}
		if !stops {
			t.Error("the backstop cannot stop the customisation flow's executions")
		}
	})
}
