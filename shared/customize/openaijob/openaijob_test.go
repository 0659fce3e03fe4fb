package openaijob_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/plinth-ai/plinth/shared/blob"
	"github.com/plinth-ai/plinth/shared/blob/fsblob"
	"github.com/plinth-ai/plinth/shared/customize"
	"github.com/plinth-ai/plinth/shared/customize/customizetest"
	"github.com/plinth-ai/plinth/shared/customize/openaijob"
)

func setup(t *testing.T) (*openaijob.Customizer, *customizetest.OpenAIFineTuning, customize.JobSpec, *fsblob.Store) {
	t.Helper()
	blobs, err := fsblob.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	fake := customizetest.NewOpenAIFineTuning("sk-upstream", "gpt-4o-mini-2024-07-18")
	t.Cleanup(fake.Close)
	ctx := context.Background()
	put := func(key, body string) {
		if _, err := blobs.Put(ctx, key, strings.NewReader(body), blob.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	put("jobs/1/data/training.jsonl", `{"prompt":"Reset my password","completion":"Use the reset link."}`+"\n"+
		`{"system":"Be brief.","messages":[{"role":"user","content":"Hi"},{"role":"assistant","content":"Hello"}]}`+"\n")
	put("jobs/1/data/validation.jsonl", `{"prompt":"Lost my key","completion":"Ask an admin."}`+"\n")
	spec := customize.JobSpec{Name: "ftjob-0123456789abcdef", Tenant: "acme", BaseModel: "gpt-4o-mini-2024-07-18",
		Hyperparameters: map[string]string{"epochCount": "3", "batchSize": "1", "learningRateMultiplier": "1.5"},
		TrainingKey:     "jobs/1/data/training.jsonl", ValidationKey: "jobs/1/data/validation.jsonl", OutputPrefix: "jobs/1/output/",
		Endpoint: customize.Endpoint{BaseURL: fake.URL + "/v1", APIKey: "sk-upstream"}}
	return openaijob.New(nil, blobs), fake, spec, blobs
}

func TestOpenAIJobLifecycle(t *testing.T) {
	ctx := context.Background()
	c, fake, spec, blobs := setup(t)
	id, err := c.Start(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := c.Start(ctx, spec); err != nil || again != id {
		t.Fatalf("a repeated start found %q, %v; want %q", again, err, id)
	}
	obj, _ := fake.Job(id)
	hp := obj["hyperparameters"].(map[string]any)
	if hp["n_epochs"] != 3.0 || hp["batch_size"] != 1.0 || hp["learning_rate_multiplier"] != 1.5 || obj["validation_file"] == nil {
		t.Fatalf("job as the provider saw it: %v", obj)
	}
	training, _ := fake.File(obj["training_file"].(string))
	want := `{"messages":[{"role":"user","content":"Reset my password"},{"role":"assistant","content":"Use the reset link."}]}` + "\n" +
		`{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"},{"role":"assistant","content":"Hello"}]}` + "\n"
	if string(training) != want {
		t.Fatalf("uploaded training file:\n%s\nwant\n%s", training, want)
	}
	var pj customize.ProviderJob
	for i := 0; i < 3; i++ {
		if pj, err = c.Get(ctx, spec, id); err != nil {
			t.Fatal(err)
		}
	}
	if pj.Status != customize.ProviderCompleted || !strings.HasPrefix(pj.OutputModel, "ft:gpt-4o-mini-2024-07-18:") || pj.TrainedTokens != 1234 ||
		len(pj.Steps) != 3 || pj.Steps[2].Step != 3 || pj.TrainingLoss == nil || len(pj.ResultKeys) != 1 {
		t.Fatalf("finished job %+v", pj)
	}
	rc, _, err := blobs.Get(ctx, pj.ResultKeys[0])
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if err := c.Stop(ctx, spec, id); err != nil {
		t.Fatalf("stopping a finished job: %v", err)
	}
	if _, err := c.Get(ctx, spec, "ftjob-missing"); !errors.Is(err, customize.ErrNotFound) {
		t.Fatalf("unknown job: %v", err)
	}
}

func TestOpenAIJobFailuresAndCancel(t *testing.T) {
	ctx := context.Background()
	c, fake, spec, _ := setup(t)
	bad := spec
	bad.Endpoint.APIKey = "sk-wrong"
	if _, err := c.Start(ctx, bad); err == nil || !strings.Contains(err.Error(), "invalid_api_key") {
		t.Fatalf("wrong key: %v", err)
	}
	unknown := spec
	unknown.BaseModel = "gpt-unknown"
	if _, err := c.Start(ctx, unknown); err == nil || !strings.Contains(err.Error(), "model_not_available") {
		t.Fatalf("unknown model: %v", err)
	}
	fake.FailModel = spec.BaseModel
	id, err := c.Start(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	var pj customize.ProviderJob
	for i := 0; i < 3; i++ {
		pj, _ = c.Get(ctx, spec, id)
	}
	if pj.Status != customize.ProviderFailed || !strings.Contains(pj.FailureMessage, "invalid training file") {
		t.Fatalf("failed job %+v", pj)
	}
	second := spec
	second.Name = "ftjob-second"
	id2, err := c.Start(ctx, second)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(ctx, second, id2); err != nil {
		t.Fatal(err)
	}
	if pj, _ := c.Get(ctx, second, id2); pj.Status != customize.ProviderStopped {
		t.Fatalf("cancelled job %+v", pj)
	}
}
