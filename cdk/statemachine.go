package main

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// ErrUnboundPlaceholder reports a `${Name}` in a definition that no function
// or substitution binds.
var ErrUnboundPlaceholder = errors.New("unbound placeholder in state machine definition")

// placeholderPattern matches DefinitionSubstitutions placeholders.
var placeholderPattern = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)\}`)

// Placeholders lists the distinct `${Name}` placeholders of a definition, sorted.
func Placeholders(definition []byte) []string {
	seen := map[string]bool{}
	var names []string
	for _, m := range placeholderPattern.FindAllSubmatch(definition, -1) {
		if n := string(m[1]); !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// StateMachineFromFileProps configures StateMachineFromFile.
type StateMachineFromFileProps struct {
	// DefinitionFile is an Amazon States Language file with `${Name}` placeholders.
	DefinitionFile string
	// Functions binds placeholders to Lambda functions: the placeholder is
	// substituted with the function's ARN and the state machine may invoke it.
	// Functions the definition does not reference are neither bound nor granted.
	Functions map[string]awslambda.IFunction
	// Substitutions binds the remaining placeholders (names, ARNs) to values.
	Substitutions map[string]*string
	// LogKey encrypts the execution log group.
	LogKey awskms.IKey
	// Timeout bounds one execution; zero means the Step Functions maximum.
	Timeout awscdk.Duration
	// Name, when set, names the state machine, so its ARN is known before it exists
	// (its own task functions may then name it without a dependency cycle).
	Name *string
}

// StateMachineFromFile is a standard state machine loaded from a definition
// file, with X-Ray tracing, every event (with execution data) logged to a
// KMS-encrypted log group, and a role that may invoke exactly the functions
// the definition references.
type StateMachineFromFile struct {
	constructs.Construct
	// StateMachine is the Step Functions state machine.
	StateMachine awsstepfunctions.StateMachine
	// Role is the state machine's execution role.
	Role awsiam.Role
	// LogGroup receives execution history.
	LogGroup awslogs.LogGroup
	// Referenced lists the placeholders the definition uses, sorted.
	Referenced []string
	// InvokedFunctions are the functions the definition references, by placeholder.
	InvokedFunctions map[string]awslambda.IFunction
}

// NewStateMachineFromFile reads and binds the definition and creates the
// state machine. It fails, creating nothing, when a placeholder is unbound.
func NewStateMachineFromFile(scope constructs.Construct, id string, props *StateMachineFromFileProps) (*StateMachineFromFile, error) {
	definition, err := os.ReadFile(props.DefinitionFile)
	if err != nil {
		return nil, fmt.Errorf("state machine %s: %w", id, err)
	}
	referenced := Placeholders(definition)
	substitutions := map[string]*string{}
	invoked := map[string]awslambda.IFunction{}
	var unbound []string
	for _, name := range referenced {
		if fn, ok := props.Functions[name]; ok {
			substitutions[name] = fn.FunctionArn()
			invoked[name] = fn
			continue
		}
		if v, ok := props.Substitutions[name]; ok && v != nil {
			substitutions[name] = v
			continue
		}
		unbound = append(unbound, name)
	}
	if len(unbound) > 0 {
		return nil, fmt.Errorf("state machine %s (%s): %w: %s", id, props.DefinitionFile, ErrUnboundPlaceholder,
			strings.Join(unbound, ", "))
	}

	c := constructs.NewConstruct(scope, &id)
	sm := &StateMachineFromFile{Construct: c, Referenced: referenced, InvokedFunctions: invoked}
	sm.LogGroup = awslogs.NewLogGroup(c, jsii.String("Logs"), &awslogs.LogGroupProps{
		// The vended-logs prefix keeps the log group's resource policy small.
		LogGroupName: awscdk.Fn_Join(jsii.String(""), &[]*string{
			jsii.String("/aws/vendedlogs/states/"), awscdk.Aws_STACK_NAME(), jsii.String("-" + id),
		}),
		EncryptionKey: props.LogKey,
		Retention:     awslogs.RetentionDays_THREE_MONTHS,
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	sm.Role = awsiam.NewRole(c, jsii.String("Role"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("states.amazonaws.com"), nil),
		Description: jsii.String("Execution role of the " + id + " state machine"),
	})
	names := make([]string, 0, len(invoked))
	for name := range invoked {
		names = append(names, name)
	}
	sort.Strings(names)
	if len(names) > 0 {
		arns := make([]*string, 0, len(names))
		for _, name := range names {
			arns = append(arns, invoked[name].FunctionArn())
		}
		sm.Role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("InvokeReferencedFunctions"),
			Actions:   jsii.Strings("lambda:InvokeFunction"),
			Resources: &arns,
		}))
	}
	smProps := &awsstepfunctions.StateMachineProps{
		DefinitionBody:          awsstepfunctions.DefinitionBody_FromString(jsii.String(string(definition))),
		DefinitionSubstitutions: &substitutions,
		StateMachineType:        awsstepfunctions.StateMachineType_STANDARD,
		TracingEnabled:          jsii.Bool(true),
		Role:                    sm.Role,
		Logs: &awsstepfunctions.LogOptions{
			Destination:          sm.LogGroup,
			Level:                awsstepfunctions.LogLevel_ALL,
			IncludeExecutionData: jsii.Bool(true),
		},
	}
	if props.Timeout != nil {
		smProps.Timeout = props.Timeout
	}
	if props.Name != nil {
		smProps.StateMachineName = props.Name
	}
	sm.StateMachine = awsstepfunctions.NewStateMachine(c, jsii.String("StateMachine"), smProps)
	suppress(sm.Role, true, nagSuppression("AwsSolutions-IAM5", reasonXRayAndLogDelivery, "Resource::*"))
	return sm, nil
}

// readFile reads a definition file.
func readFile(path string) ([]byte, error) { return os.ReadFile(path) }
