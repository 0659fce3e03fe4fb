package customize_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"

	"github.com/plinth-ai/plinth/shared/customize"
	"github.com/plinth-ai/plinth/shared/customize/bedrockjob"
	"github.com/plinth-ai/plinth/shared/customize/customizetest"
	"github.com/plinth-ai/plinth/shared/flow"
	"github.com/plinth-ai/plinth/shared/registry"
	"github.com/plinth-ai/plinth/test/datasets"
)

// squadFiles returns SQuAD's answerable questions as prompt/completion JSONL: the
// first four articles for training, the fifth for validation.
func squadFiles(t testing.TB) (train, valid string) {
	t.Helper()
	b, err := os.ReadFile(datasets.Require(t, "squad", "dev-v2.0-first5articles.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Data []struct {
			Paragraphs []struct {
				Context string `json:"context"`
				QAs     []struct {
					Question     string `json:"question"`
					IsImpossible bool   `json:"is_impossible"`
					Answers      []struct {
						Text string `json:"text"`
					} `json:"answers"`
				} `json:"qas"`
			} `json:"paragraphs"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	var tr, va strings.Builder
	for i, art := range f.Data {
		for _, p := range art.Paragraphs {
			for _, qa := range p.QAs {
				if qa.IsImpossible || len(qa.Answers) == 0 {
					continue
				}
				line, _ := json.Marshal(map[string]string{"prompt": "Context:\n" + p.Context + "\n\nQuestion: " + qa.Question, "completion": qa.Answers[0].Text})
				out := &tr
				if i == len(f.Data)-1 {
					out = &va
				}
				out.Write(line)
				out.WriteByte('\n')
			}
		}
	}
	return tr.String(), va.String()
}

// The whole flow on SQuAD: validate, train local-tune, register pending-review with
// lineage, evaluate against the base model, approve, promote, roll back.
func TestFlowTrainsEvaluatesApprovesAndPromotes(t *testing.T) {
	if testing.Short() {
		t.Skip("trains on SQuAD")
	}
	h := newHarness(t)
	ctx := context.Background()
	train, valid := squadFiles(t)
	trainID := h.upload(t, "acme", "squad-train.jsonl", train)
	validID := h.upload(t, "acme", "squad-valid.jsonl", valid)
	job, err := h.svc.CreateJob(ctx, "acme", customize.JobRequest{Model: "local-tune", TrainingFile: trainID, ValidationFile: validID,
		Suffix: "squad", Hyperparameters: map[string]any{"n_epochs": 4}}, "key_alice")
	if err != nil {
		t.Fatal(err)
	}
	if job.Status != customize.StatusValidatingFiles || fmt.Sprint(job.Hyperparameters.NEpochs) != "4" || job.Details.Hyperparameters["epochCount"] != "4" {
		t.Fatalf("created job %+v", job)
	}
	j := h.waitJob(t, "acme", job.ID, func(j *customize.Job) bool { return j.Details.Stage == customize.StageAwaitingApproval })
	if j.Status != customize.StatusSucceeded || j.FineTunedModel == nil || !strings.HasPrefix(*j.FineTunedModel, "ft:local-tune:acme:squad:") {
		t.Fatalf("job after training %+v", j)
	}
	model := *j.FineTunedModel
	ev := j.Details.Evaluation
	if ev == nil || ev.Scores["candidate"]["f1"] <= ev.Scores["base"]["f1"]+5 || !ev.BeatsBase {
		t.Fatalf("evaluation %+v", ev)
	}
	t.Logf("held-out SQuAD article: candidate F1 %.1f EM %.1f, base F1 %.1f EM %.1f", ev.Scores["candidate"]["f1"], ev.Scores["candidate"]["exact_match"],
		ev.Scores["base"]["f1"], ev.Scores["base"]["exact_match"])
	m, err := h.reg.Get(ctx, model)
	if err != nil {
		t.Fatal(err)
	}
	lin := m.Lineage
	if m.Status != registry.StatusPendingReview || m.Tenant != "acme" || lin == nil || lin.BaseModel != "local-tune" || lin.Job != job.ID ||
		lin.StartedBy != "key_alice" || lin.Hyperparameters["epochCount"] != "4" || len(lin.Datasets) != 2 || lin.Datasets[0].SHA256 == "" ||
		lin.Metrics["training_loss"] == 0 || lin.Evaluation["candidate"]["f1"] == 0 {
		t.Fatalf("registered model %+v lineage %+v", m, lin)
	}
	var losses int
	for _, e := range h.events(t, "acme", job.ID) {
		if e.Type == "metrics" {
			if _, ok := e.Data["train_loss"].(float64); !ok {
				t.Fatalf("metrics event without a loss: %+v", e)
			}
			losses++
		}
	}
	if losses == 0 || j.TrainedTokens == nil || *j.TrainedTokens == 0 || len(j.ResultFiles) != 2 {
		t.Fatalf("%d loss events, trained tokens %v, result files %v", losses, j.TrainedTokens, j.ResultFiles)
	}
	cps, err := h.svc.ListCheckpoints(ctx, "acme", job.ID)
	if err != nil || len(cps.Data) != 1 || cps.Data[0].Metrics.TrainLoss == 0 || cps.Data[0].Metrics.ValidLoss == nil {
		t.Fatalf("checkpoints %+v %v", cps, err)
	}
	if _, err := h.reg.Review(ctx, model, "approve", "alice", "beats the base"); err != nil {
		t.Fatal(err)
	}
	done, err := h.exec.Wait(ctx, j.Details.Execution)
	if err != nil || done.Status != flow.StatusSucceeded {
		t.Fatalf("flow %+v %v", done, err)
	}
	if got, err := h.reg.Resolve(ctx, "acme/local-tune"); err != nil || got.ID != model {
		t.Fatalf("alias names %v, %v", got, err)
	}
	j, _ = h.svc.GetJob(ctx, "acme", job.ID)
	if j.Details.Stage != customize.StagePromoted || j.Details.Approval.Reviewer != "alice" || j.Details.Promotion.Alias != "acme/local-tune" {
		t.Fatalf("job after approval %+v", j.Details)
	}
	if _, err := h.svc.RollbackAlias(ctx, "acme/local-tune", "bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.reg.Resolve(ctx, "acme/local-tune"); err == nil {
		t.Fatal("after rollback the alias must be gone (it was new)")
	}
}

// An invalid training file fails the job at validation, naming the first bad line.
func TestFlowFailsInvalidDatasetWithLineNumber(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	bad := `{"prompt":"What is 2+2?","completion":"4"}
{"prompt":"Capital of France?","completion":"Paris"}
{"prompt":"Missing completion"}
{"prompt":"broken json",
`
	id := h.upload(t, "acme", "bad.jsonl", bad)
	job, err := h.svc.CreateJob(ctx, "acme", customize.JobRequest{Model: "local-tune", TrainingFile: id}, "key_alice")
	if err != nil {
		t.Fatal(err)
	}
	j := h.waitJob(t, "acme", job.ID, func(j *customize.Job) bool { return j.Status == customize.StatusFailed })
	if j.Error == nil || j.Error.Code != "invalid_training_file" || !strings.Contains(j.Error.Message, "line 3") || !strings.Contains(j.Error.Message, "completion") {
		t.Fatalf("error %+v", j.Error)
	}
	ex, err := h.exec.Wait(ctx, j.Details.Execution)
	if err != nil || ex.Status != flow.StatusFailed || ex.Error != "CustomizationFailed" {
		t.Fatalf("flow %+v %v", ex, err)
	}
	if _, err := h.reg.Get(ctx, "ft:local-tune:acme::"+strings.TrimPrefix(job.ID, "ftjob-")[:8]); err == nil {
		t.Fatal("a failed job registered a model")
	}
}

// A rejected model is never promoted; the flow ends without an alias.
func TestFlowRejection(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	var b strings.Builder
	for i := 0; i < 30; i++ {
		line, _ := json.Marshal(map[string]string{"prompt": "Context:\nThe code of room " + string(rune('A'+i%26)) + string(rune('a'+i/26)) + " is blue.\n\nQuestion: What colour is the code?", "completion": "blue"})
		b.Write(line)
		b.WriteByte('\n')
	}
	id := h.upload(t, "acme", "rooms.jsonl", b.String())
	job, err := h.svc.CreateJob(ctx, "acme", customize.JobRequest{Model: "local-tune", TrainingFile: id, PromoteAlias: "acme/rooms"}, "key_alice")
	if err != nil {
		t.Fatal(err)
	}
	j := h.waitJob(t, "acme", job.ID, func(j *customize.Job) bool { return j.Details.Stage == customize.StageAwaitingApproval })
	if len(j.Details.Datasets) != 2 || j.Details.Datasets[1].Role != "held_back" || j.Details.Datasets[1].Records != 3 {
		t.Fatalf("datasets %+v", j.Details.Datasets)
	}
	if _, err := h.reg.Review(ctx, *j.FineTunedModel, "reject", "carol", "too narrow"); err != nil {
		t.Fatal(err)
	}
	ex, err := h.exec.Wait(ctx, j.Details.Execution)
	if err != nil || ex.Status != flow.StatusSucceeded {
		t.Fatalf("flow %+v %v", ex, err)
	}
	j, _ = h.svc.GetJob(ctx, "acme", job.ID)
	if j.Details.Stage != customize.StageRejected || j.Details.Promotion != nil {
		t.Fatalf("job %+v", j.Details)
	}
	if _, err := h.reg.Resolve(ctx, "acme/rooms"); err == nil {
		t.Fatal("a rejected model was promoted")
	}
}

// A Bedrock base model takes the flow's TrainOnBedrock branch: the .sync integration
// (run in-process against the Bedrock fake) starts the job and waits for it; the
// custom model is registered with its Bedrock ARN.
func TestFlowTrainsOnBedrock(t *testing.T) {
	ctx := context.Background()
	fake := customizetest.NewBedrock()
	t.Cleanup(fake.Close)
	client := bedrock.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")},
		func(o *bedrock.Options) { o.BaseEndpoint = aws.String(fake.URL) })
	settings := customize.BedrockSettings{RoleARN: "arn:aws:iam::123456789012:role/plinth-customization", Bucket: "plinth-data"}
	h := newHarness(t, func(h *harness) []customize.Option {
		fake.Blobs, fake.Bucket = h.blobs, settings.Bucket
		return []customize.Option{customize.WithBedrock(settings), customize.WithCustomizer("bedrock", bedrockjob.New(client, settings, h.blobs))}
	})
	if _, err := h.reg.Create(ctx, registry.Model{ID: "nova-lite", Kind: registry.KindChat,
		Deployments: []registry.Deployment{{Provider: "bedrock", Model: "amazon.nova-lite-v1:0:300k"}}}, "admin"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.reg.Review(ctx, "nova-lite", "approve", "alice", ""); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for i := 0; i < 25; i++ {
		fmt.Fprintf(&b, `{"system":"Answer tersely.","messages":[{"role":"user","content":"Ticket %d: reset my password"},{"role":"assistant","content":"Use the reset link, case %d."}]}`+"\n", i, i)
	}
	id := h.upload(t, "acme", "support.jsonl", b.String())
	job, err := h.svc.CreateJob(ctx, "acme", customize.JobRequest{Model: "nova-lite", TrainingFile: id, Suffix: "support",
		Hyperparameters: map[string]any{"epochCount": 3, "learning_rate_multiplier": 2}}, "key_alice")
	if err != nil {
		t.Fatal(err)
	}
	j := h.waitJob(t, "acme", job.ID, func(j *customize.Job) bool { return j.Details.Stage == customize.StageAwaitingApproval })
	created := fake.Created()
	if len(created) != 1 || created[0]["baseModelIdentifier"] != "amazon.nova-lite-v1:0:300k" ||
		created[0]["hyperParameters"].(map[string]any)["learningRate"] != "2e-05" {
		t.Fatalf("Bedrock saw %v", created)
	}
	m, err := h.reg.Get(ctx, *j.FineTunedModel)
	if err != nil {
		t.Fatal(err)
	}
	if d := m.Deployments[0]; d.Provider != "bedrock" || !strings.Contains(d.Model, ":custom-model/") || m.Lineage.JobARN != j.Details.ProviderJobID ||
		!strings.Contains(m.Lineage.JobARN, ":model-customization-job/") || len(j.ResultFiles) != 1 || m.Lineage.Metrics["training_loss"] != 1.1 {
		t.Fatalf("model %+v lineage %+v job %+v", m.Deployments, m.Lineage, j)
	}
}
