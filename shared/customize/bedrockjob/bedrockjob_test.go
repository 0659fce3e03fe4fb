package bedrockjob_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"

	"github.com/plinth-ai/plinth/shared/blob/fsblob"
	"github.com/plinth-ai/plinth/shared/customize"
	"github.com/plinth-ai/plinth/shared/customize/bedrockjob"
	"github.com/plinth-ai/plinth/shared/customize/customizetest"
)

func setup(t *testing.T) (*bedrockjob.Customizer, *customizetest.Bedrock, customize.BedrockSettings) {
	t.Helper()
	blobs, err := fsblob.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	fake := customizetest.NewBedrock()
	t.Cleanup(fake.Close)
	fake.Blobs, fake.Bucket = blobs, "plinth-data"
	client := bedrock.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")},
		func(o *bedrock.Options) { o.BaseEndpoint = aws.String(fake.URL) })
	settings := customize.BedrockSettings{RoleARN: "arn:aws:iam::123456789012:role/plinth-customization", Bucket: "plinth-data"}
	return bedrockjob.New(client, settings, blobs), fake, settings
}

func spec() customize.JobSpec {
	return customize.JobSpec{
		Name: "ftjob-0123456789abcdef01234567", Tenant: "acme", BaseModel: "amazon.nova-lite-v1:0:300k",
		OutputModelName: "ft:nova-lite:acme:support:01234567", Type: customize.TypeFineTuning,
		Hyperparameters: map[string]string{"epochCount": "2", "learningRate": "1e-05", "learningRateWarmupSteps": "10"},
		TrainingKey:     "tenants/acme/customization/jobs/ftjob-1/data/training.jsonl",
		ValidationKey:   "tenants/acme/customization/jobs/ftjob-1/data/validation.jsonl",
		OutputPrefix:    "tenants/acme/customization/jobs/ftjob-1/output/",
		KMSKeyID:        "arn:aws:kms:us-east-1:123456789012:key/acme", Tags: map[string]string{"plinth:tenant": "acme"},
	}
}

func TestBedrockJobLifecycle(t *testing.T) {
	ctx := context.Background()
	c, fake, _ := setup(t)
	arn, err := c.Start(ctx, spec())
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.Start(ctx, spec())
	if err != nil || again != arn {
		t.Fatalf("a repeated start (same client request token) gave %q, %v; want %q", again, err, arn)
	}
	body := fake.Created()[0]
	for k, want := range map[string]any{
		"baseModelIdentifier": "amazon.nova-lite-v1:0:300k", "jobName": "ftjob-0123456789abcdef01234567",
		"customModelName": "ft-nova-lite-acme-support-01234567", "roleArn": "arn:aws:iam::123456789012:role/plinth-customization",
		"customizationType": "FINE_TUNING", "customModelKmsKeyId": "arn:aws:kms:us-east-1:123456789012:key/acme",
		"clientRequestToken": "ftjob-0123456789abcdef01234567",
	} {
		if body[k] != want {
			t.Errorf("request %s = %v, want %v", k, body[k], want)
		}
	}
	if hp := body["hyperParameters"].(map[string]any); hp["epochCount"] != "2" || hp["learningRate"] != "1e-05" {
		t.Errorf("hyperParameters %v (Bedrock takes strings)", hp)
	}
	if tr := body["trainingDataConfig"].(map[string]any); tr["s3Uri"] != "s3://plinth-data/tenants/acme/customization/jobs/ftjob-1/data/training.jsonl" {
		t.Errorf("trainingDataConfig %v", tr)
	}
	if v := body["validationDataConfig"].(map[string]any)["validators"].([]any); len(v) != 1 {
		t.Errorf("validators %v", v)
	}
	pj, err := c.Get(ctx, spec(), arn)
	if err != nil || pj.Status != customize.ProviderInProgress || pj.Done() {
		t.Fatalf("first status %+v %v", pj, err)
	}
	pj, err = c.Get(ctx, spec(), arn)
	if err != nil || pj.Status != customize.ProviderCompleted || !strings.Contains(pj.OutputModel, ":custom-model/") ||
		pj.TrainingLoss == nil || *pj.TrainingLoss < 1 || pj.ValidationLoss == nil || len(pj.ResultKeys) != 1 ||
		!strings.HasSuffix(pj.ResultKeys[0], "training_artifacts/step_wise_training_metrics.csv") || pj.EndTime == nil {
		t.Fatalf("completed %+v %v", pj, err)
	}
	if err := c.Stop(ctx, spec(), arn); err != nil {
		t.Fatalf("stopping a finished job: %v", err)
	}
	if _, err := c.Get(ctx, spec(), "arn:aws:bedrock:us-east-1:123456789012:model-customization-job/x/missing"); !errors.Is(err, customize.ErrNotFound) {
		t.Fatalf("unknown job: %v", err)
	}
}

func TestBedrockJobFailureAndStop(t *testing.T) {
	ctx := context.Background()
	c, fake, _ := setup(t)
	fake.FailWith["amazon.nova-lite-v1:0:300k"] = "Insufficient training data"
	arn, err := c.Start(ctx, spec())
	if err != nil {
		t.Fatal(err)
	}
	_, _ = c.Get(ctx, spec(), arn)
	pj, err := c.Get(ctx, spec(), arn)
	if err != nil || pj.Status != customize.ProviderFailed || pj.FailureMessage != "Insufficient training data" {
		t.Fatalf("failed job %+v %v", pj, err)
	}
	s := spec()
	s.Name = "ftjob-second"
	arn2, err := c.Start(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(ctx, s, arn2); err != nil {
		t.Fatal(err)
	}
	if j, _ := fake.Job(arn2); j.Status != "Stopped" {
		t.Fatalf("job after stop: %+v", j)
	}
	bad := spec()
	bad.Name = "ftjob third with spaces"
	if _, err := c.Start(ctx, bad); err == nil || !strings.Contains(err.Error(), "ValidationException") {
		t.Fatalf("an invalid job name: %v", err)
	}
}
