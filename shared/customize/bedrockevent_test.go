package customize_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	bedrocktypes "github.com/aws/aws-sdk-go-v2/service/bedrock/types"

	"github.com/plinth-ai/plinth/shared/customize"
	"github.com/plinth-ai/plinth/shared/customize/bedrockjob"
	"github.com/plinth-ai/plinth/shared/customize/customizetest"
	"github.com/plinth-ai/plinth/shared/flow"
	"github.com/plinth-ai/plinth/shared/registry"
)

// bedrockEvent reads the sample "Model Customization Job State Change" event and points
// it at a job.
func bedrockEvent(t *testing.T, jobName, jobARN, status string) customize.BedrockJobEvent {
	t.Helper()
	dir, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		if filepath.Dir(dir) == dir {
			t.Fatal("go.mod not found")
		}
		dir = filepath.Dir(dir)
	}
	b, err := os.ReadFile(filepath.Join(dir, "events", "bedrock-customization-job-state-change.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ev customize.BedrockJobEvent
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Source != customize.BedrockEventSource || ev.DetailType != customize.BedrockJobStateChange ||
		!strings.HasPrefix(ev.Detail.JobName, "ftjob-") || ev.Detail.JobStatus != "Failed" || ev.Detail.FailureMessage == "" {
		t.Fatalf("sample event %+v", ev)
	}
	ev.Detail.JobName, ev.Detail.JobArn, ev.Detail.JobStatus = jobName, jobARN, status
	return ev
}

// bedrockHarness is the flow with Bedrock base models against the Bedrock fake, whose
// jobs never finish on their own: only the events the tests send end them.
func bedrockHarness(t *testing.T) (*harness, *customizetest.Bedrock) {
	t.Helper()
	fake := customizetest.NewBedrock()
	t.Cleanup(fake.Close)
	fake.GetsToComplete = 1 << 30
	client := fake.Client()
	settings := customize.BedrockSettings{RoleARN: "arn:aws:iam::123456789012:role/plinth-customization", Bucket: "plinth-data"}
	h := newHarness(t, func(h *harness) []customize.Option {
		fake.Blobs, fake.Bucket = h.blobs, settings.Bucket
		return []customize.Option{customize.WithBedrock(settings), customize.WithCustomizer("bedrock", bedrockjob.New(client, settings, h.blobs))}
	})
	ctx := context.Background()
	if _, err := h.reg.Create(ctx, registry.Model{ID: "nova-lite", Kind: registry.KindChat,
		Deployments: []registry.Deployment{{Provider: "bedrock", Model: "amazon.nova-lite-v1:0:300k"}}}, "admin"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.reg.Review(ctx, "nova-lite", "approve", "alice", ""); err != nil {
		t.Fatal(err)
	}
	return h, fake
}

// startBedrockJob creates a job and waits until Bedrock has it.
func startBedrockJob(t *testing.T, h *harness, fake *customizetest.Bedrock) (*customize.Job, customizetest.BedrockJob) {
	t.Helper()
	var b strings.Builder
	for i := 0; i < 25; i++ {
		fmt.Fprintf(&b, `{"messages":[{"role":"user","content":"Ticket %d: reset my password"},{"role":"assistant","content":"Use the reset link, case %d."}]}`+"\n", i, i)
	}
	id := h.upload(t, "acme", "support.jsonl", b.String())
	job, err := h.svc.CreateJob(context.Background(), "acme", customize.JobRequest{Model: "nova-lite", TrainingFile: id}, "key_alice")
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		if bj, ok := fake.Job(job.ID); ok {
			return job, bj
		}
		if time.Now().After(deadline) {
			t.Fatalf("Bedrock never got job %s", job.ID)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// When the flow's .sync step misses the end of a Bedrock job, Bedrock's own events end
// the fine-tuning job: InProgress marks it running, Failed fails it with Bedrock's
// message, stops its flow and removes its data; a Bedrock job still running for a job
// that already ended is stopped.
func TestBedrockEventsEndJobs(t *testing.T) {
	ctx := context.Background()
	h, fake := bedrockHarness(t)
	job, bj := startBedrockJob(t, h, fake)

	out, err := h.svc.BedrockJobChanged(ctx, bedrockEvent(t, job.ID, bj.Arn, "InProgress"))
	if err != nil || out.Action != customize.ActionMarkedRunning || out.JobID != job.ID {
		t.Fatalf("InProgress: %+v, %v", out, err)
	}
	j, _ := h.svc.GetJob(ctx, "acme", job.ID)
	if j.Status != customize.StatusRunning || j.Details.Stage != customize.StageTraining || j.Details.ProviderJobID != bj.Arn {
		t.Fatalf("after InProgress: %s/%s %q", j.Status, j.Details.Stage, j.Details.ProviderJobID)
	}
	if out, err := h.svc.BedrockJobChanged(ctx, bedrockEvent(t, job.ID, bj.Arn, "InProgress")); err != nil || out.Action != customize.ActionIgnored {
		t.Fatalf("a repeated InProgress: %+v, %v", out, err)
	}
	if keys, _ := h.svc.JobData(ctx, "acme", job.ID); len(keys) == 0 {
		t.Fatal("the job holds no data before it fails")
	}

	ev := bedrockEvent(t, job.ID, bj.Arn, "Failed")
	out, err = h.svc.BedrockJobChanged(ctx, ev)
	if err != nil || out.Action != customize.ActionFailed {
		t.Fatalf("Failed: %+v, %v", out, err)
	}
	j, _ = h.svc.GetJob(ctx, "acme", job.ID)
	if j.Status != customize.StatusFailed || j.Error == nil || j.Error.Code != "training_failed" || j.Error.Message != ev.Detail.FailureMessage {
		t.Fatalf("after Failed: %s %+v", j.Status, j.Error)
	}
	ex, err := h.exec.Wait(ctx, j.Details.Execution)
	if err != nil || ex.Status != flow.StatusAborted || ex.Error != customize.ErrNameTrainingFailed {
		t.Fatalf("the flow: %s %s (%v)", ex.Status, ex.Error, err)
	}
	if keys, _ := h.svc.JobData(ctx, "acme", job.ID); len(keys) != 0 {
		t.Fatalf("the failed job's data was kept: %v", keys)
	}
	if out, err := h.svc.BedrockJobChanged(ctx, ev); err != nil || out.Action != customize.ActionIgnored {
		t.Fatalf("a repeated Failed: %+v, %v", out, err)
	}

	// A Bedrock job still running for the ended job (here one started by hand under
	// another name; its events name the Plinth job) is stopped when its event comes.
	orphan, err := fake.Client().CreateModelCustomizationJob(ctx, &bedrock.CreateModelCustomizationJobInput{
		BaseModelIdentifier: aws.String("amazon.nova-lite-v1:0:300k"), CustomModelName: aws.String("orphan"), JobName: aws.String("orphan-1"),
		RoleArn:            aws.String("arn:aws:iam::123456789012:role/plinth-customization"),
		TrainingDataConfig: &bedrocktypes.TrainingDataConfig{S3Uri: aws.String("s3://plinth-data/tenants/acme/x.jsonl")},
		OutputDataConfig:   &bedrocktypes.OutputDataConfig{S3Uri: aws.String("s3://plinth-data/tenants/acme/out/")},
	})
	if err != nil {
		t.Fatal(err)
	}
	orphanARN := aws.ToString(orphan.JobArn)
	out, err = h.svc.BedrockJobChanged(ctx, bedrockEvent(t, job.ID, orphanARN, "InProgress"))
	if err != nil || out.Action != customize.ActionStoppedOrphan {
		t.Fatalf("InProgress after the end: %+v, %v", out, err)
	}
	if cur, _ := fake.Job(orphanARN); cur.Status != "Stopped" {
		t.Fatalf("the orphaned Bedrock job is %s", cur.Status)
	}
	out, err = h.svc.BedrockJobChanged(ctx, bedrockEvent(t, job.ID, bj.Arn, "Completed"))
	if err != nil || out.Action != customize.ActionNoted {
		t.Fatalf("Completed after the end: %+v, %v", out, err)
	}
	var messages []string
	for _, e := range h.events(t, "acme", job.ID) {
		messages = append(messages, e.Message)
	}
	all := strings.Join(messages, "\n")
	for _, want := range []string{"Fine-tuning job failed: " + ev.Detail.FailureMessage, "Stopped Bedrock job " + orphanARN, "is not registered"} {
		if !strings.Contains(all, want) {
			t.Errorf("no event %q in\n%s", want, all)
		}
	}
}

// Events of jobs Plinth did not start are left alone; what is not a Bedrock
// customisation event is refused.
func TestBedrockEventsOfOtherJobs(t *testing.T) {
	ctx := context.Background()
	h, _ := bedrockHarness(t)
	out, err := h.svc.BedrockJobChanged(ctx, bedrockEvent(t, "nightly-claims-tuning", "arn:aws:bedrock:eu-west-1:123456789012:model-customization-job/amazon.nova-lite-v1:0:300k/aaaaaaaaaaaa", "Failed"))
	if err != nil || out.Action != customize.ActionIgnored || out.JobID != "" {
		t.Fatalf("another team's job: %+v, %v", out, err)
	}
	ev := bedrockEvent(t, "ftjob-0", "", "Failed")
	ev.DetailType = "Batch Inference Job State Change"
	if _, err := h.svc.BedrockJobChanged(ctx, ev); err == nil {
		t.Fatal("a batch inference event was accepted")
	}
}

// Cleaning up a job whose Bedrock job Step Functions started (no ARN recorded yet)
// stops the Bedrock job by its name, the job's ID.
func TestCleanupStopsBedrockJobByName(t *testing.T) {
	ctx := context.Background()
	h, fake := bedrockHarness(t)
	job, bj := startBedrockJob(t, h, fake)
	if j, _ := h.svc.GetJob(ctx, "acme", job.ID); j.Details.ProviderJobID != "" {
		t.Fatalf("the ARN is recorded already: %q", j.Details.ProviderJobID)
	}
	if _, err := h.svc.Cleanup(ctx, customize.CleanupInput{JobID: job.ID, Error: &customize.FlowError{Error: "States.Timeout", Cause: "timed out"}}); err != nil {
		t.Fatal(err)
	}
	if cur, _ := fake.Job(bj.Arn); cur.Status != "Stopped" {
		t.Fatalf("the Bedrock job is %s after the cleanup", cur.Status)
	}
}
