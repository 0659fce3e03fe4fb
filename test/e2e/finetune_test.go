package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/param"

	"github.com/plinth-ai/plinth/test/datasets"
	"github.com/plinth-ai/plinth/test/e2e/platformtest"
)

// squadJSONL returns SQuAD's answerable questions as prompt/completion JSON Lines, in
// the prompt layout the evaluation service renders: the first four articles for
// training, the fifth held back for validation and evaluation.
func squadJSONL(t *testing.T) (train, valid []byte, heldBack []qa) {
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
	var tr, va bytes.Buffer
	for i, art := range f.Data {
		for _, p := range art.Paragraphs {
			for _, q := range p.QAs {
				if q.IsImpossible || len(q.Answers) == 0 {
					continue
				}
				prompt := "Context:\n" + p.Context + "\n\nQuestion: " + q.Question
				line, _ := json.Marshal(map[string]string{"prompt": prompt, "completion": q.Answers[0].Text})
				out := &tr
				if i == len(f.Data)-1 {
					out = &va
					heldBack = append(heldBack, qa{prompt: prompt, answer: q.Answers[0].Text})
				}
				out.Write(line)
				out.WriteByte('\n')
			}
		}
	}
	return tr.Bytes(), va.Bytes(), heldBack
}

type qa struct{ prompt, answer string }

// ftDetails is the part of a job's Plinth details the test reads.
type ftDetails struct {
	Status         string  `json:"status"`
	FineTunedModel *string `json:"fine_tuned_model"`
	Error          *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	Customization struct {
		Stage      string `json:"stage"`
		Evaluation *struct {
			Scores    map[string]map[string]float64 `json:"scores"`
			BeatsBase bool                          `json:"beats_base"`
		} `json:"evaluation"`
		Promotion *struct {
			Alias string `json:"alias"`
		} `json:"promotion"`
		Datasets []struct {
			Role   string `json:"role"`
			SHA256 string `json:"sha256"`
		} `json:"datasets"`
	} `json:"customization"`
}

func adminJob(t *testing.T, p *platformtest.Platform, id string) ftDetails {
	t.Helper()
	resp, err := p.Admin(context.Background(), "GET", "/admin/fine_tuning/jobs/"+id, nil)
	if err != nil || resp.Status != 200 {
		t.Fatalf("admin get job: %v %v", resp, err)
	}
	var d ftDetails
	if err := resp.JSON(&d); err != nil {
		t.Fatal(err)
	}
	return d
}

// waitStage polls the job (as an admin) until done holds; a job that fails or is
// cancelled while waiting ends the test.
func waitStage(t *testing.T, p *platformtest.Platform, id string, done func(ftDetails) bool) ftDetails {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		d := adminJob(t, p, id)
		if done(d) {
			return d
		}
		if d.Status == "failed" || d.Status == "cancelled" || d.Customization.Stage == "failed" {
			t.Fatalf("job %s ended %s at stage %s: %+v", id, d.Status, d.Customization.Stage, d.Error)
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s still %s at stage %s after three minutes", id, d.Status, d.Customization.Stage)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestFineTuningEndToEnd runs the customisation flow on the local platform with the
// OpenAI Go client: SQuAD question/answer pairs train a local-tune model that must
// beat its base model on a held-out article; the model is registered pending review
// with its lineage, approved, promoted and answers /v1/chat/completions for its tenant
// only.
func TestFineTuningEndToEnd(t *testing.T) {
	p := startPlatform(t, "")
	defer func() {
		if err := p.Stop(20 * time.Second); err != nil {
			t.Error(err)
		}
	}()
	ctx := context.Background()
	for _, id := range []string{"ft-acme", "ft-globex"} {
		if err := p.CreateTenant(ctx, map[string]any{"id": id, "name": id}); err != nil {
			t.Fatal(err)
		}
	}
	acme, err := p.CreateKey(ctx, "ft-acme")
	if err != nil {
		t.Fatal(err)
	}
	globex, err := p.CreateKey(ctx, "ft-globex")
	if err != nil {
		t.Fatal(err)
	}
	client := openai.NewClient(option.WithBaseURL(p.URL+"/v1"), option.WithAPIKey(acme.Key), option.WithMaxRetries(0))
	train, valid, held := squadJSONL(t)

	trainFile, err := client.Files.New(ctx, openai.FileNewParams{File: openai.File(bytes.NewReader(train), "squad-train.jsonl", "application/jsonl"), Purpose: openai.FilePurposeFineTune})
	if err != nil {
		t.Fatal(err)
	}
	validFile, err := client.Files.New(ctx, openai.FileNewParams{File: openai.File(bytes.NewReader(valid), "squad-valid.jsonl", "application/jsonl"), Purpose: openai.FilePurposeFineTune})
	if err != nil {
		t.Fatal(err)
	}
	if trainFile.Bytes != int64(len(train)) || trainFile.Purpose != "fine-tune" {
		t.Fatalf("uploaded file %+v", trainFile)
	}
	job, err := client.FineTuning.Jobs.New(ctx, openai.FineTuningJobNewParams{
		Model: "local-tune", TrainingFile: trainFile.ID, ValidationFile: param.NewOpt(validFile.ID), Suffix: param.NewOpt("squad"),
		Method: openai.FineTuningJobNewParamsMethod{Type: "supervised", Supervised: openai.SupervisedMethodParam{
			Hyperparameters: openai.SupervisedHyperparameters{NEpochs: openai.SupervisedHyperparametersNEpochsUnion{OfInt: param.NewOpt[int64](4)}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if job.Status != "validating_files" || job.Model != "local-tune" || job.Hyperparameters.NEpochs.AsInt() != 4 {
		t.Fatalf("new job %s: %s", job.Status, job.RawJSON())
	}
	d := waitStage(t, p, job.ID, func(d ftDetails) bool { return d.Customization.Stage == "awaiting_approval" })
	got, err := client.FineTuning.Jobs.Get(ctx, job.ID)
	if err != nil {
		t.Fatal(err)
	}
	model := got.FineTunedModel
	if got.Status != "succeeded" || !strings.HasPrefix(model, "ft:local-tune:ft-acme:squad:") || got.TrainedTokens == 0 || len(got.ResultFiles) != 2 {
		t.Fatalf("job after training: %s", got.RawJSON())
	}
	ev := d.Customization.Evaluation
	if ev == nil || !ev.BeatsBase || ev.Scores["candidate"]["f1"] <= ev.Scores["base"]["f1"]+10 {
		t.Fatalf("evaluation %+v", ev)
	}
	t.Logf("held-out SQuAD article (%d questions): fine-tuned F1 %.1f EM %.1f; local-tune base F1 %.1f EM %.1f",
		len(held), ev.Scores["candidate"]["f1"], ev.Scores["candidate"]["exact_match"], ev.Scores["base"]["f1"], ev.Scores["base"]["exact_match"])

	// Training loss per step, through the client's event pager.
	var losses []float64
	iter := client.FineTuning.Jobs.ListEventsAutoPaging(ctx, job.ID, openai.FineTuningJobListEventsParams{Limit: param.NewOpt[int64](100)})
	for iter.Next() {
		e := iter.Current()
		if e.Type == "metrics" {
			data, _ := e.Data.(map[string]any)
			if loss, ok := data["train_loss"].(float64); ok {
				losses = append(losses, loss)
			}
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Reverse(losses) // events come newest first
	if len(losses) < 10 || mean(losses[len(losses)-10:]) >= mean(losses[:10]) {
		t.Fatalf("training losses do not fall: %v", losses)
	}
	t.Logf("training loss: first 10 steps %.3f, last 10 steps %.3f over %d steps", mean(losses[:10]), mean(losses[len(losses)-10:]), len(losses))
	cps, err := client.FineTuning.Jobs.Checkpoints.List(ctx, job.ID, openai.FineTuningJobCheckpointListParams{})
	if err != nil || len(cps.Data) != 1 || cps.Data[0].FineTunedModelCheckpoint != model || cps.Data[0].Metrics.TrainLoss == 0 {
		t.Fatalf("checkpoints %+v %v", cps, err)
	}

	// Pending review: registered with lineage, not yet callable.
	resp, err := p.Admin(ctx, "GET", "/admin/models/"+model, nil)
	if err != nil || resp.Status != 200 {
		t.Fatalf("registry entry: %v %v", resp, err)
	}
	var entry struct {
		Status  string `json:"status"`
		Tenant  string `json:"tenant"`
		Lineage struct {
			BaseModel       string            `json:"base_model"`
			Job             string            `json:"job"`
			StartedBy       string            `json:"started_by"`
			Hyperparameters map[string]string `json:"hyperparameters"`
			Metrics         map[string]float64
			Datasets        []struct {
				FileID string `json:"file_id"`
				SHA256 string `json:"sha256"`
			} `json:"datasets"`
		} `json:"lineage"`
	}
	if err := resp.JSON(&entry); err != nil {
		t.Fatal(err)
	}
	if entry.Status != "pending-review" || entry.Tenant != "ft-acme" || entry.Lineage.BaseModel != "local-tune" || entry.Lineage.Job != job.ID ||
		entry.Lineage.StartedBy != acme.ID || entry.Lineage.Hyperparameters["epochCount"] != "4" || len(entry.Lineage.Datasets) != 2 ||
		entry.Lineage.Datasets[0].FileID != trainFile.ID || entry.Lineage.Datasets[0].SHA256 == "" {
		t.Fatalf("registry entry %s", resp.Body)
	}
	if _, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: model, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(held[0].prompt)}}); !apiStatus(err, http.StatusForbidden) {
		t.Fatalf("a model pending review answered: %v", err)
	}

	// Approve: the flow promotes the alias.
	if status, err := p.Review(ctx, model, "approve"); err != nil || status != "approved" {
		t.Fatalf("review: %s %v", status, err)
	}
	d = waitStage(t, p, job.ID, func(d ftDetails) bool { return d.Customization.Stage == "promoted" })
	if d.Customization.Promotion == nil || d.Customization.Promotion.Alias != "ft-acme/local-tune" {
		t.Fatalf("promotion %+v", d.Customization.Promotion)
	}
	// The promoted model answers through the gateway: exact answers on the held-out
	// article (the base model, which quotes whole sentences, has none), and the alias
	// gives the same answers as the model's own name.
	exact := 0
	for i, q := range held {
		c, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: model, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(q.prompt)}})
		if err != nil {
			t.Fatal(err)
		}
		answer := strings.TrimSpace(c.Choices[0].Message.Content)
		if c.Model != model || answer == "" {
			t.Fatalf("answered by %s: %q", c.Model, answer)
		}
		if strings.EqualFold(strings.TrimRight(answer, "."), q.answer) {
			exact++
		}
		if i < 5 {
			a, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "ft-acme/local-tune", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(q.prompt)}})
			if err != nil || a.Choices[0].Message.Content != c.Choices[0].Message.Content {
				t.Fatalf("through the alias: %v %v", a, err)
			}
		}
	}
	if exact < len(held)/8 {
		t.Fatalf("only %d of %d held-out answers are exact", exact, len(held))
	}
	t.Logf("through /v1/chat/completions: %d of %d held-out answers exact", exact, len(held))
	models, err := client.Models.List(ctx)
	if err != nil || !slices.ContainsFunc(models.Data, func(m openai.Model) bool { return m.ID == model }) {
		t.Fatalf("the owner's model list lacks %s: %v", model, err)
	}

	// Another tenant neither sees nor calls it.
	other := openai.NewClient(option.WithBaseURL(p.URL+"/v1"), option.WithAPIKey(globex.Key), option.WithMaxRetries(0))
	for _, name := range []string{model, "ft-acme/local-tune"} {
		_, err := other.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: name, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
		if !apiStatus(err, http.StatusNotFound) {
			t.Fatalf("another tenant calling %s: %v", name, err)
		}
	}
	if ms, err := other.Models.List(ctx); err != nil || slices.ContainsFunc(ms.Data, func(m openai.Model) bool { return strings.HasPrefix(m.ID, "ft:") }) {
		t.Fatalf("another tenant's model list: %v %v", ms, err)
	}
	if _, err := other.FineTuning.Jobs.Get(ctx, job.ID); !apiStatus(err, http.StatusNotFound) {
		t.Fatalf("another tenant reads the job: %v", err)
	}
	// Shared by an admin, it becomes callable for that tenant.
	if resp, err := p.Admin(ctx, "PATCH", "/admin/models/"+model, map[string]any{"shared_with": []string{"ft-globex"}}); err != nil || resp.Status != 200 {
		t.Fatalf("share: %v %v", resp, err)
	}
	if _, err := other.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: model, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(held[0].prompt)}}); err != nil {
		t.Fatalf("after sharing: %v", err)
	}

	// Rollback re-points the alias (here: removes it, as it was new).
	if resp, err := p.Admin(ctx, "POST", "/admin/aliases/rollback", map[string]any{"alias": "ft-acme/local-tune"}); err != nil || resp.Status != 200 {
		t.Fatalf("rollback: %v %v", resp, err)
	}
	if _, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "ft-acme/local-tune", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}); !apiStatus(err, http.StatusNotFound) {
		t.Fatalf("the rolled-back alias still answers: %v", err)
	}

	t.Run("invalid dataset fails at validation with its line", func(t *testing.T) {
		bad := "{\"prompt\":\"a\",\"completion\":\"b\"}\n{\"prompt\":\"c\",\"completion\":\"\"}\n"
		f, err := client.Files.New(ctx, openai.FileNewParams{File: openai.File(strings.NewReader(bad), "bad.jsonl", "application/jsonl"), Purpose: openai.FilePurposeFineTune})
		if err != nil {
			t.Fatal(err)
		}
		j, err := client.FineTuning.Jobs.New(ctx, openai.FineTuningJobNewParams{Model: "local-tune", TrainingFile: f.ID})
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(time.Minute)
		for j.Status != "failed" {
			if time.Now().After(deadline) {
				t.Fatalf("job still %s", j.Status)
			}
			time.Sleep(50 * time.Millisecond)
			if j, err = client.FineTuning.Jobs.Get(ctx, j.ID); err != nil {
				t.Fatal(err)
			}
		}
		if j.Error.Code != "invalid_training_file" || !strings.Contains(j.Error.Message, "line 2") || !strings.Contains(j.Error.Message, "completion is empty") {
			t.Fatalf("error %s", j.Error.RawJSON())
		}
	})
}

func mean(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

func apiStatus(err error, status int) bool {
	var apiErr *openai.Error
	return err != nil && errors.As(err, &apiErr) && apiErr.StatusCode == status
}

// ftNodeSummary is what test/tools/openai-finetune.mjs prints.
type ftNodeSummary struct {
	File struct {
		ID      string `json:"id"`
		Purpose string `json:"purpose"`
		Bytes   int    `json:"bytes"`
	} `json:"file"`
	Job struct {
		ID             string `json:"id"`
		Status         string `json:"status"`
		FineTunedModel string `json:"fine_tuned_model"`
	} `json:"job"`
	Listed      bool     `json:"listed"`
	LossEvents  int      `json:"loss_events"`
	Checkpoints int      `json:"checkpoints"`
	Cancelled   string   `json:"cancelled"`
	Invalid     string   `json:"invalid_error"`
	Errors      []string `json:"errors"`
}

// TestNodeOpenAIFineTuning runs the npm openai package's fine-tuning calls
// (test/tools/openai-finetune.mjs) against the local platform.
func TestNodeOpenAIFineTuning(t *testing.T) {
	p := startPlatform(t, "")
	defer func() {
		if err := p.Stop(20 * time.Second); err != nil {
			t.Error(err)
		}
	}()
	ctx := context.Background()
	if err := p.CreateTenant(ctx, map[string]any{"id": "ft-node", "name": "Node"}); err != nil {
		t.Fatal(err)
	}
	key, err := p.CreateKey(ctx, "ft-node")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var data bytes.Buffer
	for i := 0; i < 40; i++ {
		fmt.Fprintf(&data, `{"prompt":"Context:\nThe locker of desk %d holds a %s umbrella.\n\nQuestion: What colour is the umbrella in the locker of desk %d?","completion":"%s"}`+"\n",
			i, []string{"red", "green", "blue", "black"}[i%4], i, []string{"red", "green", "blue", "black"}[i%4])
	}
	if err := os.WriteFile(filepath.Join(dir, "train.jsonl"), data.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bad.jsonl"), []byte("{\"prompt\":\"a\",\"completion\":\"b\"}\nnot json\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tools := toolsDir(t)
	cctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(cctx, nodeBinary(t, tools), filepath.Join(tools, "openai-finetune.mjs"))
	cmd.Dir = tools
	cmd.Env = append(os.Environ(), "OPENAI_BASE_URL="+p.URL+"/v1", "OPENAI_API_KEY="+key.Key,
		"TRAINING_FILE="+filepath.Join(dir, "train.jsonl"), "BAD_FILE="+filepath.Join(dir, "bad.jsonl"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("openai-finetune.mjs: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	t.Logf("npm openai fine-tuning summary: %s", stdout.String())
	var s ftNodeSummary
	if err := json.Unmarshal(stdout.Bytes(), &s); err != nil {
		t.Fatalf("summary is not JSON: %v: %s", err, stdout.String())
	}
	switch {
	case len(s.Errors) > 0:
		t.Fatalf("client errors: %v", s.Errors)
	case !strings.HasPrefix(s.File.ID, "file-") || s.File.Purpose != "fine-tune" || s.File.Bytes != data.Len():
		t.Fatalf("file %+v", s.File)
	case s.Job.Status != "succeeded" || !strings.HasPrefix(s.Job.FineTunedModel, "ft:local-tune:ft-node::"):
		t.Fatalf("job %+v", s.Job)
	case !s.Listed || s.LossEvents == 0 || s.Checkpoints != 1:
		t.Fatalf("listed %v, %d loss events, %d checkpoints", s.Listed, s.LossEvents, s.Checkpoints)
	case s.Cancelled != "cancelled":
		t.Fatalf("cancelled job: %s", s.Cancelled)
	case !strings.Contains(s.Invalid, "line 2"):
		t.Fatalf("invalid dataset error: %q", s.Invalid)
	}
}
