package parity

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plinth-ai/plinth/shared/customize"
	"github.com/plinth-ai/plinth/shared/flow"
	"github.com/plinth-ai/plinth/statemachines"
)

// TestFineTuningOnAWS walks a tenant through fine-tuning on the AWS handlers, as the
// stack deploys them: datasets uploaded to the fine-tuning function through API
// Gateway (multipart, a binary media type), jobs started on the customisation state
// machine, whose tasks run in the customize function and whose Bedrock step is Step
// Functions' .sync integration against the Bedrock customisation fake. A broken
// dataset fails at validation naming its line; a good one trains on Bedrock with the
// job role and the customisation key, registers the model pending review with its
// training loss, is evaluated against its base model, waits for the admin's approval
// (the review completes the flow's task token), is promoted, and answers its tenant
// only; a flow lost while Bedrock trains is ended by Bedrock's state-change event
// through the backstop function. (The local platform's run of the same API, with
// local-tune, is test/e2e's.)
func TestFineTuningOnAWS(t *testing.T) {
	rt := newAWS(t, newEnv(t))
	admin := adminCaller(t, rt)
	admin("POST", "/admin/models", map[string]any{"id": "nova", "kind": "chat",
		"deployments": []any{map[string]any{"provider": "bedrock", "model": "amazon.nova-lite-v1:0:300k", "region": "eu-west-1"}},
		"prices":      map[string]any{"input_per_million": 0.06, "output_per_million": 0.24}}, http.StatusCreated)
	admin("POST", "/admin/models/nova/review", map[string]any{"decision": "approve", "reviewer": "parity"}, http.StatusOK)
	keys := map[string]string{}
	for _, tenant := range []string{"acme", "initech"} {
		admin("POST", "/admin/tenants", map[string]any{"id": tenant, "name": tenant}, http.StatusCreated)
		var k struct {
			Key string `json:"key"`
		}
		admin("POST", "/admin/tenants/"+tenant+"/keys", map[string]any{}, http.StatusCreated).decode(t, &k)
		keys[tenant] = k.Key
	}
	tenantCall := func(tenant, method, path string, body any) reply {
		t.Helper()
		c := call{Method: method, Path: path, Key: keys[tenant]}
		if body != nil {
			c.Body, c.ContentType = jsonBody(body), "application/json"
		}
		return rt.do(t, c)
	}
	upload := func(name, content string) string {
		t.Helper()
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		_ = mw.WriteField("purpose", "fine-tune")
		fw, _ := mw.CreateFormFile("file", name)
		_, _ = fw.Write([]byte(content))
		_ = mw.Close()
		r := rt.do(t, call{Method: "POST", Path: "/v1/files", Key: keys["acme"], Body: buf.Bytes(), ContentType: mw.FormDataContentType()})
		var f struct {
			ID    string `json:"id"`
			Bytes int    `json:"bytes"`
		}
		r.decode(t, &f)
		if r.Status != http.StatusOK || f.Bytes != len(content) {
			t.Fatalf("upload %s: %v", name, r)
		}
		return f.ID
	}
	var good strings.Builder
	for i := 0; i < 25; i++ {
		fmt.Fprintf(&good, `{"system":"Answer tersely.","messages":[{"role":"user","content":"Ticket %d: how do I reset my password?"},{"role":"assistant","content":"Use the reset link on the sign-in page (case %d)."}]}`+"\n", i, i)
	}
	type job struct {
		ID             string                    `json:"id"`
		Status         string                    `json:"status"`
		FineTunedModel string                    `json:"fine_tuned_model"`
		Error          *struct{ Message string } `json:"error"`
		Details        customize.Details         `json:"customization"`
	}

	// A broken dataset: the flow fails at validation, naming the line.
	broken := good.String()[:strings.Index(good.String(), "\n")+1] + "{\"messages\": [\n" + good.String()
	var bad job
	tenantCall("acme", "POST", "/v1/fine_tuning/jobs", map[string]any{"model": "nova", "training_file": upload("broken.jsonl", broken)}).decode(t, &bad)
	tenantCall("acme", "GET", "/v1/fine_tuning/jobs/"+bad.ID, nil).decode(t, &bad)
	if bad.Status != customize.StatusFailed || bad.Error == nil || !strings.Contains(bad.Error.Message, "line 2") {
		t.Fatalf("the broken dataset's job: %s %+v", bad.Status, bad.Error)
	}
	var list struct {
		Data []job `json:"data"`
	}
	tenantCall("acme", "GET", "/v1/fine_tuning/jobs", nil).decode(t, &list)
	if len(list.Data) != 1 || list.Data[0].ID != bad.ID || list.Data[0].Status != customize.StatusFailed {
		t.Fatalf("acme's jobs: %+v", list.Data)
	}
	if r := tenantCall("initech", "GET", "/v1/fine_tuning/jobs/"+bad.ID, nil); r.Status != http.StatusNotFound {
		t.Fatalf("another tenant reads acme's job: %v", r)
	}

	// A good dataset trains on Bedrock and waits for the admin's approval.
	var ok job
	r := tenantCall("acme", "POST", "/v1/fine_tuning/jobs", map[string]any{"model": "nova", "training_file": upload("support.jsonl", good.String()), "suffix": "support"})
	if r.Status != http.StatusOK {
		t.Fatalf("create job: %v", r)
	}
	r.decode(t, &ok)
	tenantCall("acme", "GET", "/v1/fine_tuning/jobs/"+ok.ID, nil).decode(t, &ok)
	if ok.Status != customize.StatusSucceeded || ok.FineTunedModel == "" || ok.Details.Stage != customize.StageAwaitingApproval {
		t.Fatalf("the job before approval: %s %s %q (%+v)", ok.Status, ok.Details.Stage, ok.FineTunedModel, ok.Error)
	}
	created := rt.bedrock.Created()
	if len(created) != 1 {
		t.Fatalf("Bedrock got %d jobs", len(created))
	}
	req := created[0]
	training, _ := req["trainingDataConfig"].(map[string]any)
	if req["roleArn"] != customizationRole || req["customModelKmsKeyId"] != customizationKey || req["jobName"] != ok.ID ||
		training["s3Uri"] != "s3://"+customizationBucket+"/tenants/acme/customization/jobs/"+ok.ID+"/data/training.jsonl" {
		t.Fatalf("CreateModelCustomizationJob %v", req)
	}
	var events struct {
		Data []customize.Event `json:"data"`
	}
	tenantCall("acme", "GET", "/v1/fine_tuning/jobs/"+ok.ID+"/events?limit=100", nil).decode(t, &events)
	var losses int
	for _, e := range events.Data {
		if _, has := e.Data["train_loss"]; has && e.Type == "metrics" {
			losses++
		}
	}
	if losses != 3 {
		t.Fatalf("%d training-loss events (the metrics file has 3 steps): %+v", losses, events.Data)
	}
	if ev := ok.Details.Evaluation; ev == nil || ev.Scores["candidate"] == nil || ev.Scores["base"] == nil {
		t.Fatalf("no evaluation against the base model: %+v", ok.Details.Evaluation)
	}
	var model struct {
		Status  string `json:"status"`
		Lineage struct {
			BaseModel string             `json:"base_model"`
			JobARN    string             `json:"job_arn"`
			Metrics   map[string]float64 `json:"metrics"`
		} `json:"lineage"`
	}
	admin("GET", "/admin/models/"+ok.FineTunedModel, nil, http.StatusOK).decode(t, &model)
	if model.Status != "pending-review" || model.Lineage.BaseModel != "nova" || !strings.Contains(model.Lineage.JobARN, ":model-customization-job/") ||
		model.Lineage.Metrics["training_loss"] != 1.1 {
		t.Fatalf("the registered model: %+v", model)
	}
	if r := admin("GET", "/admin/fine_tuning/jobs?tenant=acme", nil, http.StatusOK); !r.contains(ok.ID, bad.ID) {
		t.Fatalf("the admin's job list: %v", r)
	}

	// The review resumes the flow, which promotes the model; it answers acme only.
	admin("POST", "/admin/models/"+ok.FineTunedModel+"/review", map[string]any{"decision": "approve", "reviewer": "parity"}, http.StatusOK)
	tenantCall("acme", "GET", "/v1/fine_tuning/jobs/"+ok.ID, nil).decode(t, &ok)
	if ok.Details.Stage != customize.StagePromoted || ok.Details.Promotion == nil || ok.Details.Promotion.Alias != "acme/nova" {
		t.Fatalf("the job after approval: %s %+v", ok.Details.Stage, ok.Details.Promotion)
	}
	if r := admin("GET", "/admin/aliases/history?alias=acme/nova", nil, http.StatusOK); !r.contains(ok.FineTunedModel) {
		t.Fatalf("alias history: %v", r)
	}
	chat := map[string]any{"model": ok.FineTunedModel, "messages": []any{map[string]any{"role": "user", "content": "How do I reset my password?"}}}
	if r := tenantCall("acme", "POST", "/v1/chat/completions", chat); r.Status != http.StatusOK || !r.contains("Hello from Bedrock.") {
		t.Fatalf("acme calls its model: %v", r)
	}
	if r := tenantCall("initech", "POST", "/v1/chat/completions", chat); r.Status != http.StatusNotFound && r.Status != http.StatusForbidden {
		t.Fatalf("initech calls acme's model: %v", r)
	}

	// A flow lost while Bedrock trains (an operator stops its execution; Step Functions
	// stops the Bedrock job): Bedrock's "Stopped" event reaches the backstop function,
	// which ends the job with the reason instead of leaving it queued for ever.
	rt.bedrock.GetsToComplete = 1 << 30
	rt.longTraining.Store(true)
	var lost job
	tenantCall("acme", "POST", "/v1/fine_tuning/jobs", map[string]any{"model": "nova", "training_file": upload("more.jsonl", good.String())}).decode(t, &lost)
	bj, found := rt.bedrock.Job(lost.ID)
	if !found {
		t.Fatalf("Bedrock has no job %s", lost.ID)
	}
	ctx := context.Background()
	if _, err := rt.exec.Stop(ctx, flow.ExecutionID(statemachines.Customization, lost.ID), "Operator", "stopped by hand"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the Bedrock job stopped with its execution", func() (bool, string) {
		bj, _ = rt.bedrock.Job(bj.Arn)
		return bj.Status == "Stopped", bj.Status
	})
	tenantCall("acme", "GET", "/v1/fine_tuning/jobs/"+lost.ID, nil).decode(t, &lost)
	if lost.Status != customize.StatusQueued {
		t.Fatalf("before the event the job is %s", lost.Status)
	}
	var ev map[string]any
	if err := json.Unmarshal(eventFile(t, "bedrock-customization-job-state-change.json"), &ev); err != nil {
		t.Fatal(err)
	}
	detail := ev["detail"].(map[string]any)
	detail["jobName"], detail["jobArn"], detail["jobStatus"] = lost.ID, bj.Arn, "Stopped"
	delete(detail, "failureMessage")
	raw, _ := json.Marshal(ev)
	if _, err := rt.backstop(ctx, raw); err != nil {
		t.Fatal(err)
	}
	tenantCall("acme", "GET", "/v1/fine_tuning/jobs/"+lost.ID, nil).decode(t, &lost)
	if lost.Status != customize.StatusFailed || lost.Error == nil || !strings.Contains(lost.Error.Message, "Stopped") || lost.Details.ProviderJobID != bj.Arn {
		t.Fatalf("after Bedrock's event the job is %s %+v", lost.Status, lost.Error)
	}
}

// eventFile reads a sample event from events/.
func eventFile(t *testing.T, name string) []byte {
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
	b, err := os.ReadFile(filepath.Join(dir, "events", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
