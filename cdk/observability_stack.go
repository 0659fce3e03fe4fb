package main

import (
	"fmt"
	"sort"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// MetricsNamespace is the CloudWatch namespace of the functions' EMF metrics
// (Requests, Latency, Tokens, Errors with dimensions Tenant and Model).
const MetricsNamespace = "Plinth"

// ObservabilityStackProps configures the observability stack.
type ObservabilityStackProps struct {
	awscdk.StackProps
	Data      *DataStack
	Workflows *WorkflowsStack
	API       *APIStack
	// AlarmEmail, when set, subscribes an address to the alarm topic.
	AlarmEmail string
	// HybridTenants, when any, get the central telemetry side (TenantTelemetry).
	HybridTenants []TenantConfig
}

// ObservabilityStack holds the operations dashboard, the alarms and the
// encrypted SNS topic they notify (which also receives evaluation regressions).
type ObservabilityStack struct {
	awscdk.Stack
	// Topic receives alarm notifications and Evaluation Regressed events.
	Topic awssns.Topic
	// Dashboard is the operations dashboard.
	Dashboard awscloudwatch.Dashboard
	// Alarms by construct ID.
	Alarms map[string]awscloudwatch.Alarm
	// Tenants is the central side of hybrid tenants' telemetry; nil without them.
	Tenants *TenantTelemetry
}

// NewObservabilityStack creates the observability stack.
func NewObservabilityStack(scope constructs.Construct, id string, props *ObservabilityStackProps) *ObservabilityStack {
	stack := awscdk.NewStack(scope, &id, &props.StackProps)
	s := &ObservabilityStack{Stack: stack, Alarms: map[string]awscloudwatch.Alarm{}}
	s.Topic = awssns.NewTopic(stack, jsii.String("Alarms"), &awssns.TopicProps{
		DisplayName: jsii.String("Plinth alarms"),
		MasterKey:   props.Data.Key,
		EnforceSSL:  jsii.Bool(true),
	})
	if props.AlarmEmail != "" {
		s.Topic.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(props.AlarmEmail), nil))
	}
	if len(props.HybridTenants) > 0 {
		s.Tenants = newTenantTelemetry(stack, props.Data, props.HybridTenants)
	}
	action := awscloudwatchactions.NewSnsAction(s.Topic)
	five := awscdk.Duration_Minutes(jsii.Number(5))
	alarm := func(id, description string, metric awscloudwatch.IMetric, threshold float64) {
		a := awscloudwatch.NewAlarm(stack, jsii.String(id), &awscloudwatch.AlarmProps{
			AlarmDescription:   jsii.String(description),
			Metric:             metric,
			Threshold:          jsii.Number(threshold),
			EvaluationPeriods:  jsii.Number(3),
			DatapointsToAlarm:  jsii.Number(2),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
		a.AddAlarmAction(action)
		s.Alarms[id] = a
	}

	api := props.API.API
	sum := &awscloudwatch.MetricOptions{Statistic: jsii.String("Sum"), Period: five}
	alarm("Api5xx", "API Gateway answered 5xx errors", api.MetricServerError(sum), 5)
	alarm("ApiLatencyP99", "API Gateway p99 latency above 20 s (non-streamed routes)",
		api.MetricLatency(&awscloudwatch.MetricOptions{Statistic: jsii.String("p99"), Period: five}), 20000)

	fnNames := make([]string, 0, len(props.API.Functions))
	for name := range props.API.Functions {
		fnNames = append(fnNames, name)
	}
	sort.Strings(fnNames)
	var errorsMetrics, durationMetrics []awscloudwatch.IMetric
	for _, name := range fnNames {
		fn := props.API.Functions[name].Function
		alarm(fmt.Sprintf("%sErrors", titleCase(name)), "The "+name+" function reported errors",
			fn.MetricErrors(&awscloudwatch.MetricOptions{Statistic: jsii.String("Sum"), Period: five}), 5)
		errs := fn.MetricErrors(&awscloudwatch.MetricOptions{Statistic: jsii.String("Sum"), Period: five, Label: jsii.String(name)})
		alarm(fmt.Sprintf("%sThrottles", titleCase(name)), "The "+name+" function was throttled",
			fn.MetricThrottles(&awscloudwatch.MetricOptions{Statistic: jsii.String("Sum"), Period: five}), 1)
		errorsMetrics = append(errorsMetrics, errs)
		durationMetrics = append(durationMetrics,
			fn.MetricDuration(&awscloudwatch.MetricOptions{Statistic: jsii.String("p99"), Period: five, Label: jsii.String(name)}))
	}

	flows := props.Workflows
	for _, m := range []struct {
		id string
		sm *StateMachineFromFile
	}{{"Ingestion", flows.Ingestion}, {"Evaluation", flows.Evaluation}} {
		alarm(m.id+"ExecutionsFailed", "The "+m.id+" state machine had failed executions",
			m.sm.StateMachine.MetricFailed(&awscloudwatch.MetricOptions{Statistic: jsii.String("Sum"), Period: five}), 1)
	}
	for _, q := range []struct {
		id    string
		queue awssqs.IQueue
	}{{"IngestionTriggerDLQ", flows.IngestionDLQ}, {"SchedulerDLQ", flows.SchedulerDLQ}, {"UsageDLQ", props.Data.UsageDLQ}} {
		alarm(q.id+"NotEmpty", "Events are waiting in the "+q.id+" dead-letter queue",
			q.queue.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Statistic: jsii.String("Maximum"), Period: five}), 1)
	}

	if c := props.API.Central; c != nil {
		alarm("CentralSyncFailing", "Pulls from the central Plinth failed: its registry and guardrail baseline are not followed",
			c.CentralSyncFailures(), 1)
	}

	// Regressions found by scheduled evaluations reach the same people.
	awsevents.NewRule(stack, jsii.String("EvaluationRegressed"), &awsevents.RuleProps{
		Description: jsii.String("Notify operators when an evaluation run regresses against its baseline"),
		EventBus:    flows.Bus,
		EventPattern: &awsevents.EventPattern{
			DetailType: jsii.Strings("Evaluation Regressed"),
		},
		Targets: &[]awsevents.IRuleTarget{awseventstargets.NewSnsTopic(s.Topic, nil)},
	})

	emf := func(metric, stat, label string) awscloudwatch.IMetric {
		return awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
			Expression: jsii.String(fmt.Sprintf(
				`SEARCH('{%s,Model,Tenant} MetricName="%s"', '%s', 300)`, MetricsNamespace, metric, stat)),
			Label:  jsii.String(label),
			Period: five,
		})
	}
	s.Dashboard = awscloudwatch.NewDashboard(stack, jsii.String("Dashboard"), &awscloudwatch.DashboardProps{
		DefaultInterval: awscdk.Duration_Hours(jsii.Number(3)),
	})
	graph := func(title string, left ...awscloudwatch.IMetric) awscloudwatch.IWidget {
		return awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
			Title: jsii.String(title), Left: &left, Width: jsii.Number(12), Height: jsii.Number(6),
		})
	}
	s.Dashboard.AddWidgets(
		graph("API latency (p50, p99)",
			api.MetricLatency(&awscloudwatch.MetricOptions{Statistic: jsii.String("p50"), Period: five}),
			api.MetricLatency(&awscloudwatch.MetricOptions{Statistic: jsii.String("p99"), Period: five})),
		graph("API errors (4xx, 5xx)", api.MetricClientError(sum), api.MetricServerError(sum)),
	)
	s.Dashboard.AddWidgets(graph("Lambda errors", errorsMetrics...), graph("Lambda duration p99", durationMetrics...))
	s.Dashboard.AddWidgets(
		graph("Requests by tenant and model", emf("Requests", "Sum", "Requests")),
		graph("Latency p99 by tenant and model", emf("Latency", "p99", "Latency")),
	)
	s.Dashboard.AddWidgets(
		graph("Tokens by tenant and model", emf("Tokens", "Sum", "Tokens")),
		graph("Errors by tenant and model", emf("Errors", "Sum", "Errors")),
	)
	return s
}
