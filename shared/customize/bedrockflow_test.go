package customize_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/plinth-ai/plinth/shared/customize"
)

// A Bedrock job without validation data (too few records to hold any back) sends
// Bedrock no ValidationDataConfig, which Bedrock would refuse empty: the flow takes its
// branch without one.
func TestFlowTrainsOnBedrockWithoutValidationData(t *testing.T) {
	ctx := context.Background()
	h, fake := bedrockHarness(t)
	fake.GetsToComplete = 1
	var b strings.Builder
	for i := 0; i < 8; i++ {
		fmt.Fprintf(&b, `{"messages":[{"role":"user","content":"Ticket %d: reset my password"},{"role":"assistant","content":"Use the reset link, case %d."}]}`+"\n", i, i)
	}
	id := h.upload(t, "acme", "small.jsonl", b.String())
	job, err := h.svc.CreateJob(ctx, "acme", customize.JobRequest{Model: "nova-lite", TrainingFile: id}, "key_alice")
	if err != nil {
		t.Fatal(err)
	}
	j := h.waitJob(t, "acme", job.ID, func(j *customize.Job) bool { return j.Details.Stage == customize.StageAwaitingApproval })
	created := fake.Created()
	if len(created) != 1 {
		t.Fatalf("Bedrock got %d jobs", len(created))
	}
	if v, ok := created[0]["validationDataConfig"]; ok {
		t.Fatalf("Bedrock got validationDataConfig %v for a job without validation data", v)
	}
	if j.FineTunedModel == nil || len(j.Details.Datasets) != 1 {
		t.Fatalf("job %+v", j.Details)
	}
}
