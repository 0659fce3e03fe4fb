package main

import (
	"strings"
	"testing"

	"github.com/aws/jsii-runtime-go"
)

func TestObservabilityStack(t *testing.T) {
	s := platform(t)
	o := s.platform.Observability
	tpl, raw := s.templates["observability"], s.raw["observability"]
	topicID := logicalID(o.Stack, o.Topic.TopicArn())

	t.Run("topic is encrypted", func(t *testing.T) {
		if props(resources(raw, "AWS::SNS::Topic")[topicID])["KmsMasterKeyId"] == nil {
			t.Error("alarm topic without KMS key")
		}
	})

	t.Run("alarms notify the topic", func(t *testing.T) {
		alarms := resources(raw, "AWS::CloudWatch::Alarm")
		// API 5xx and latency; errors and throttles per API function; failed
		// executions per state machine; a non-empty check per dead-letter queue.
		if want := 2 + 2*len(s.platform.API.Functions) + 2 + 3; len(alarms) != want {
			t.Errorf("alarms = %d, want %d", len(alarms), want)
		}
		for id, a := range alarms {
			if actions := list(props(a)["AlarmActions"]); len(actions) != 1 || getAttTarget(actions[0]) != topicID {
				t.Errorf("%s: actions %v, want the alarm topic", id, actions)
			}
		}
		for _, metric := range []string{"5XXError", "Errors", "ExecutionsFailed", "ApproximateNumberOfMessagesVisible"} {
			has(t, metric, func() {
				tpl.HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), map[string]any{"MetricName": metric})
			})
		}
	})

	t.Run("dashboard shows API, Lambda and tenant/model metrics", func(t *testing.T) {
		boards := resources(raw, "AWS::CloudWatch::Dashboard")
		if len(boards) != 1 {
			t.Fatalf("dashboards = %d", len(boards))
		}
		var body string
		for _, b := range boards {
			body = jsonText(props(b)["DashboardBody"])
		}
		for _, want := range []string{"AWS/ApiGateway", "Latency", "5XXError", "AWS/Lambda", "Duration", "Errors"} {
			if !strings.Contains(body, want) {
				t.Errorf("dashboard lacks %q", want)
			}
		}
		for _, metric := range []string{"Requests", "Latency", "Tokens", "Errors"} {
			want := `SEARCH('{Plinth,Model,Tenant} MetricName=\\\"` + metric + `\\\"'`
			if !strings.Contains(body, want) {
				t.Errorf("dashboard lacks EMF metric %s (%s)", metric, want)
			}
		}
	})

	t.Run("regressions reach the topic", func(t *testing.T) {
		has(t, "rule", func() {
			tpl.HasResourceProperties(jsii.String("AWS::Events::Rule"), map[string]any{
				"EventPattern": map[string]any{"detail-type": []any{"Evaluation Regressed"}},
				"Targets":      []any{map[string]any{"Arn": map[string]any{"Ref": topicID}, "Id": "Target0"}},
			})
		})
	})
}
