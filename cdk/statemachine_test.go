package main

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/jsii-runtime-go"
)

func TestPlaceholders(t *testing.T) {
	tests := []struct {
		name string
		def  string
		want []string
	}{
		{"none", `{"StartAt":"A"}`, nil},
		{"sorted and distinct", `{"a":"${B}","b":"${A}","c":"${B}:$LATEST"}`, []string{"A", "B"}},
		{"ignores JSONPath and intrinsics", `{"x.$":"$.y","z.$":"States.Format('{}', $.v)"}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Placeholders([]byte(tt.def)); !slices.Equal(got, tt.want) {
				t.Errorf("Placeholders = %v, want %v", got, tt.want)
			}
		})
	}
}

// writeDefinition writes an ASL document into a test folder.
func writeDefinition(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "machine.asl.json")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

const twoTaskDefinition = `{"StartAt":"A","States":{
 "A":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"${AFunctionArn}","Payload.$":"$"},"Next":"B"},
 "B":{"Type":"Task","Resource":"${BFunctionArn}","Parameters":{"bucket":"${Bucket}"},"End":true}}}`

func TestStateMachineFromFile(t *testing.T) {
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
	stack := awscdk.NewStack(app, jsii.String("Test"), nil)
	key := awskms.NewKey(stack, jsii.String("Key"), nil)
	fn := func(name string) awslambda.IFunction {
		return awslambda.Function_FromFunctionArn(stack, jsii.String(name),
			jsii.String("arn:aws:lambda:eu-west-1:111122223333:function:"+name))
	}
	sm, err := NewStateMachineFromFile(stack, "Machine", &StateMachineFromFileProps{
		DefinitionFile: writeDefinition(t, twoTaskDefinition),
		Functions:      map[string]awslambda.IFunction{"AFunctionArn": fn("a"), "BFunctionArn": fn("b"), "UnusedFunctionArn": fn("unused")},
		Substitutions:  map[string]*string{"Bucket": jsii.String("docs"), "Unused": jsii.String("x")},
		LogKey:         key,
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"AFunctionArn", "BFunctionArn", "Bucket"}; !slices.Equal(sm.Referenced, want) {
		t.Errorf("Referenced = %v, want %v", sm.Referenced, want)
	}
	tpl := assertions.Template_FromStack(stack, nil)
	has(t, "substitutions", func() {
		tpl.HasResourceProperties(jsii.String("AWS::StepFunctions::StateMachine"), map[string]any{
			"DefinitionSubstitutions": map[string]any{
				"AFunctionArn": "arn:aws:lambda:eu-west-1:111122223333:function:a",
				"BFunctionArn": "arn:aws:lambda:eu-west-1:111122223333:function:b",
				"Bucket":       "docs",
			},
			"TracingConfiguration": map[string]any{"Enabled": true},
			"LoggingConfiguration": assertions.Match_ObjectLike(&map[string]any{"Level": "ALL", "IncludeExecutionData": true}),
		})
	})
	has(t, "encrypted log group", func() {
		tpl.HasResourceProperties(jsii.String("AWS::Logs::LogGroup"), map[string]any{
			"KmsKeyId": map[string]any{"Fn::GetAtt": []any{assertions.Match_StringLikeRegexp(jsii.String("^Key")), "Arn"}},
		})
	})
	var invokable []string
	for _, stmts := range statements(*tpl.ToJSON()) {
		for _, stmt := range stmts {
			if hasAction(stmt, "lambda:InvokeFunction") {
				for _, r := range list(stmt["Resource"]) {
					invokable = append(invokable, r.(string))
				}
			}
		}
	}
	sort.Strings(invokable)
	want := []string{"arn:aws:lambda:eu-west-1:111122223333:function:a", "arn:aws:lambda:eu-west-1:111122223333:function:b"}
	if !slices.Equal(invokable, want) {
		t.Errorf("invokable = %v, want exactly the referenced %v", invokable, want)
	}
}

func TestStateMachineFromFileUnbound(t *testing.T) {
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
	stack := awscdk.NewStack(app, jsii.String("Test"), nil)
	_, err := NewStateMachineFromFile(stack, "Machine", &StateMachineFromFileProps{
		DefinitionFile: writeDefinition(t, twoTaskDefinition),
		Functions:      map[string]awslambda.IFunction{},
		Substitutions:  map[string]*string{"Bucket": jsii.String("docs")},
	})
	if !errors.Is(err, ErrUnboundPlaceholder) {
		t.Fatalf("err = %v, want ErrUnboundPlaceholder", err)
	}
	if got := err.Error(); !containsAll(got, "AFunctionArn", "BFunctionArn") {
		t.Errorf("error %q does not name the unbound placeholders", got)
	}
	if n := len(*stack.Node().Children()); n != 0 {
		t.Errorf("%d constructs created despite the error", n)
	}
}

func TestWorkflowsStackRejectsUnknownTask(t *testing.T) {
	assets, err := dummyAssets()
	if err != nil {
		t.Fatal(err)
	}
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
	data := NewDataStack(app, "D", nil)
	good := filepath.Join("testdata", "evaluation.asl.json")
	_, err = NewWorkflowsStack(app, "W", &WorkflowsStackProps{
		Data:                 data,
		AssetDir:             assets,
		IngestionDefinition:  writeDefinition(t, `{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"${SummariseFunctionArn}","End":true}}}`),
		EvaluationDefinition: good,
	})
	if !errors.Is(err, ErrUnboundPlaceholder) {
		t.Fatalf("err = %v, want ErrUnboundPlaceholder", err)
	}
}

// nagErrorsForInsecureBucket synthesizes a bucket without encryption
// settings, logging or TLS enforcement under the AwsSolutions checks.
func nagErrorsForInsecureBucket(t *testing.T) int {
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
	stack := awscdk.NewStack(app, jsii.String("Insecure"), nil)
	awss3.NewBucket(stack, jsii.String("Bucket"), nil)
	applyNag(app)
	errs := assertions.Annotations_FromStack(stack).FindError(jsii.String("*"),
		assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-S(1|10)")))
	return len(*errs)
}
