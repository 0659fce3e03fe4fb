package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestUsageLedgerQueue: usage records reach the table through an encrypted queue with a
// dead-letter queue; the usage function drains it reporting partial batch failures and
// redrives the dead-letter queue on a schedule; every function that records usage may
// send to the queue and knows its URL.
func TestUsageLedgerQueue(t *testing.T) {
	s := platform(t)
	data, api := s.raw["data"], s.raw["api"]
	queueID := logicalID(s.platform.Data.Stack, s.platform.Data.UsageQueue.QueueArn())
	dlqID := logicalID(s.platform.Data.Stack, s.platform.Data.UsageDLQ.QueueArn())
	q := props(resources(data, "AWS::SQS::Queue")[queueID])
	if q["KmsMasterKeyId"] == nil {
		t.Error("usage queue is not KMS-encrypted")
	}
	rp := jsonText(q["RedrivePolicy"])
	if !containsAll(rp, `"maxReceiveCount":5`, dlqID) {
		t.Errorf("usage queue redrive policy %s: want 5 receives then %s", rp, dlqID)
	}
	if props(resources(data, "AWS::SQS::Queue")[dlqID])["MessageRetentionPeriod"] != float64(14*24*3600) {
		t.Error("usage dead-letter queue does not keep messages 14 days")
	}

	usageFn := logicalID(s.platform.API.Stack, s.platform.API.Functions["usage"].Function.FunctionArn())
	mappings := resources(api, "AWS::Lambda::EventSourceMapping")
	found := false
	for _, m := range mappings {
		p := props(m)
		if getAttTarget(p["FunctionName"]) == usageFn {
			found = true
			if jsonText(p["FunctionResponseTypes"]) != `["ReportBatchItemFailures"]` || !strings.Contains(jsonText(p["EventSourceArn"]), "UsageQueue") {
				t.Errorf("usage event source mapping %s", jsonText(p))
			}
		}
	}
	if !found {
		t.Fatal("no event source mapping feeds the usage function")
	}
	scheduled := false
	for _, r := range resources(api, "AWS::Events::Rule") {
		p := props(r)
		if p["ScheduleExpression"] == "rate(15 minutes)" && strings.Contains(jsonText(p["Targets"]), usageFn) {
			scheduled = true
		}
	}
	if !scheduled {
		t.Error("no schedule redrives the usage dead-letter queue")
	}

	for _, binary := range []string{"gateway", "guardrails", "retrieval", "admin"} {
		fn := props(resources(api, "AWS::Lambda::Function")[logicalID(s.platform.API.Stack, s.platform.API.Functions[binary].Function.FunctionArn())])
		if !strings.Contains(jsonText(fn["Environment"]), "PLINTH_USAGE_QUEUE_URL") {
			t.Errorf("%s: no PLINTH_USAGE_QUEUE_URL", binary)
		}
		roleID := getAttTarget(fn["Role"])
		send := false
		for _, st := range policyOfRole(api, roleID) {
			send = send || (hasAction(st, "sqs:SendMessage") && strings.Contains(jsonText(st["Resource"]), "UsageQueue"))
		}
		if !send {
			t.Errorf("%s may not send to the usage queue", binary)
		}
	}
}

// TestCloudTrail: a multi-region, KMS-encrypted trail with log-file validation records
// management events and the data events of the tenant-data buckets.
func TestCloudTrail(t *testing.T) {
	s := platform(t)
	trails := resources(s.raw["data"], "AWS::CloudTrail::Trail")
	if len(trails) != 1 {
		t.Fatalf("trails = %d, want 1", len(trails))
	}
	for id, tr := range trails {
		p := props(tr)
		if p["EnableLogFileValidation"] != true || p["IsMultiRegionTrail"] != true || p["IncludeGlobalServiceEvents"] != true {
			t.Errorf("%s: validation %v, multi-region %v, global events %v", id, p["EnableLogFileValidation"], p["IsMultiRegionTrail"], p["IncludeGlobalServiceEvents"])
		}
		if p["KMSKeyId"] == nil || p["CloudWatchLogsLogGroupArn"] == nil {
			t.Errorf("%s: KMS key %v, CloudWatch Logs %v", id, p["KMSKeyId"], p["CloudWatchLogsLogGroupArn"])
		}
		sel := jsonText(p["EventSelectors"])
		for _, bucket := range []string{"Documents", "Index", "EvalArtifacts", "Customization"} {
			if !strings.Contains(sel, bucket) {
				t.Errorf("%s: no data events for the %s bucket: %s", id, bucket, sel)
			}
		}
		if !containsAll(sel, `"Type":"AWS::S3::Object"`, `"ReadWriteType":"All"`) {
			t.Errorf("%s: event selectors %s", id, sel)
		}
	}
}

// TestNagReasonsAreTrue reads every cdk-nag suppression in the synthesized templates:
// each has a reason a reviewer can check, and one that says the admin API rotates
// something names an operation the admin API documents.
func TestNagReasonsAreTrue(t *testing.T) {
	s := platform(t)
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(root, "shared", "platform", "openapi", "*.json"))
	var doc strings.Builder
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		doc.Write(b)
	}
	if doc.Len() == 0 {
		t.Fatal("no OpenAPI fragments found")
	}
	total := 0
	for name, raw := range s.raw {
		for id, res := range raw["Resources"].(map[string]any) {
			meta, _ := res.(map[string]any)["Metadata"].(map[string]any)
			nag, _ := meta["cdk_nag"].(map[string]any)
			for _, r := range list(nag["rules_to_suppress"]) {
				rule := r.(map[string]any)
				reason, _ := rule["reason"].(string)
				total++
				if len(reason) < 40 {
					t.Errorf("%s/%s: %v suppressed with too thin a reason: %q", name, id, rule["id"], reason)
				}
				if strings.Contains(reason, "admin API") && strings.Contains(reason, "rotat") && !strings.Contains(doc.String(), `"operationId": "rotate`) {
					t.Errorf("%s/%s: %v says the admin API rotates keys, but no admin operation does: %q", name, id, rule["id"], reason)
				}
			}
		}
	}
	if total == 0 {
		t.Fatal("no cdk-nag suppressions found: the test reads the wrong metadata")
	}
}
