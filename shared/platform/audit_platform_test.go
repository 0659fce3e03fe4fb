package platform

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/plinth-ai/plinth/shared/audit"
	"github.com/plinth-ai/plinth/statemachines"
)

// TestPlatformActionsAreAudited: what the platform does on its own leaves events with
// the platform as the actor: the flows it starts (joined to the request that set them
// off) and their ends, each uploaded document's ingestion (indexed, or failed), the
// evaluation run a schedule starts and every run's end, and a fine-tuning job's status
// changes. None holds document text, dataset items or prompts.
func TestPlatformActionsAreAudited(t *testing.T) {
	l, err := NewLocal(context.Background(), Config{DataDir: t.TempDir(), AdminKey: "adm-platform",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close(context.Background()) })
	call := func(key, method, path, contentType string, body []byte, want int) ([]byte, string) {
		t.Helper()
		r := httptest.NewRequest(method, path, bytes.NewReader(body))
		r.Header.Set("Authorization", "Bearer "+key)
		r.Header.Set("Content-Type", contentType)
		w := httptest.NewRecorder()
		l.Handler.ServeHTTP(w, r)
		if w.Code != want {
			t.Fatalf("%s %s = %d %s, want %d", method, path, w.Code, w.Body, want)
		}
		return w.Body.Bytes(), w.Header().Get("X-Request-Id")
	}
	js := func(key, method, path string, body any, want int) ([]byte, string) {
		t.Helper()
		raw, _ := json.Marshal(body)
		return call(key, method, path, "application/json", raw, want)
	}
	id := func(raw []byte) string {
		var v struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(raw, &v)
		return v.ID
	}
	const secretText = "Refunds are paid within 14 days to zebra-7731"
	const item = "What is the capital of Atlantis-5521?"

	// Ingestion: one document indexed, one that cannot be read.
	js(l.AdminKey, "POST", "/admin/knowledge-bases", map[string]any{"tenant": DemoTenant, "id": "docs"}, 201)
	var form bytes.Buffer
	ct := multipartWriter(t, &form, "refunds.md", "# Refunds\n"+secretText+"\n", `{}`)
	up, uploadReq := call(l.DemoKey, "POST", "/v1/knowledge-bases/docs/documents", ct, form.Bytes(), 202)
	good := id(up)
	form.Reset()
	ct = multipartWriter(t, &form, "broken.pdf", "%PDF-1.7 this is not a PDF "+secretText, `{}`)
	up, _ = call(l.DemoKey, "POST", "/v1/knowledge-bases/docs/documents", ct, form.Bytes(), 202)
	bad := id(up)

	// Evaluation: a run through the API, and the run the suite's schedule starts (with
	// the input the schedule holds, as the scheduler starts it).
	js(l.AdminKey, "POST", "/admin/eval-suites", map[string]any{"tenant": DemoTenant, "id": "qa", "schedule": "rate(1 day)",
		"dataset": map[string]any{"items": []map[string]any{{"id": "1", "input": item, "references": []string{"Paris"}, "output": "Paris"}}},
		"target":  map[string]any{"model": "local-chat"}, "metrics": []string{"exact_match"}}, 201)
	run, runReq := js(l.AdminKey, "POST", "/admin/eval-suites/qa/runs", nil, 202)
	apiRun := id(run)
	scheduled, err := l.Eval.Schedules(context.Background())
	if err != nil || len(scheduled) != 1 {
		t.Fatalf("schedules: %v %+v", err, scheduled)
	}
	ex, err := l.Executor.Start(context.Background(), statemachines.Evaluation, "", scheduled[0].Input)
	if err != nil {
		t.Fatal(err)
	}

	// Fine-tuning: a job created and cancelled.
	var ft bytes.Buffer
	fw := multipart.NewWriter(&ft)
	_ = fw.WriteField("purpose", "fine-tune")
	ff, _ := fw.CreateFormFile("file", "rooms.jsonl")
	for i := 0; i < 12; i++ {
		fmt.Fprintf(ff, `{"prompt":"Room %d is which colour?","completion":"blue"}`+"\n", i)
	}
	_ = fw.Close()
	file, _ := call(l.DemoKey, "POST", "/v1/files", fw.FormDataContentType(), ft.Bytes(), 200)
	job, _ := js(l.DemoKey, "POST", "/v1/fine_tuning/jobs", map[string]any{"model": "local-tune", "training_file": id(file)}, 200)
	jobID := id(job)
	js(l.DemoKey, "POST", "/v1/fine_tuning/jobs/"+jobID+"/cancel", nil, 200)

	// Everything started ends.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if done, err := l.Executor.Wait(ctx, ex.ID); err != nil || done.Status != "SUCCEEDED" {
		t.Fatalf("scheduled evaluation: %v %+v", err, done)
	}
	var events []audit.Event
	want := map[string]bool{}
	for ctx.Err() == nil {
		if err := l.Audit.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		page, err := l.AuditLog.Query(ctx, audit.Query{Actor: audit.ActorPlatform, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		events = page.Events
		want = map[string]bool{
			"flow.start ingestion " + uploadReq:                          false,
			"ingestion.indexed knowledge-bases/docs/documents/" + good:   false,
			"ingestion.failed knowledge-bases/docs/documents/" + bad:     false,
			"flow.start evaluation " + runReq:                            false,
			"evaluation.run_finished eval-runs/" + apiRun:                false,
			"evaluation.scheduled_run":                                   false,
			"evaluation.run_finished scheduled":                          false,
			"flow.end " + ex.ID:                                          false,
			"fine_tuning.job_status cancelled fine_tuning/jobs/" + jobID: false,
		}
		var scheduledRun string
		for _, e := range events {
			if e.ActorType != audit.ActorPlatform || e.Actor != audit.ActorPlatform || e.Details["component"] == "" || e.Time.IsZero() {
				t.Errorf("not a platform event: %+v", e)
			}
			if e.Action == ActionScheduledRun && e.Tenant == DemoTenant {
				scheduledRun = e.Resource
				want["evaluation.scheduled_run"] = true
			}
		}
		for _, e := range events {
			switch {
			case e.Action == ActionFlowStart && e.Tenant == DemoTenant && e.Outcome == audit.OutcomeSuccess:
				want[e.Action+" "+e.Details["machine"]+" "+e.RequestID] = true
			case e.Action == ActionRunFinished && e.Resource == scheduledRun && scheduledRun != "":
				want["evaluation.run_finished scheduled"] = e.Tenant == DemoTenant && e.Details["suite"] == "qa"
				fallthrough
			case e.Action == ActionIngested || e.Action == ActionIngestFailed || e.Action == ActionRunFinished:
				if e.Tenant == DemoTenant {
					want[e.Action+" "+e.Resource] = true
				}
			case e.Action == ActionFlowEnd && e.Details["status"] == "SUCCEEDED" && e.Details["machine"] == statemachines.Evaluation:
				want[e.Action+" "+strings.TrimPrefix(e.Resource, "executions/")] = true
			case e.Action == ActionJobStatus && e.Details["to"] == "cancelled" && e.Outcome == audit.OutcomeRejected:
				want[e.Action+" cancelled "+e.Resource] = e.Tenant == DemoTenant
			}
		}
		missing := false
		for _, ok := range want {
			missing = missing || !ok
		}
		if !missing {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for k, ok := range want {
		if !ok {
			t.Errorf("no platform event %q", k)
		}
	}
	raw, _ := json.Marshal(events)
	for _, s := range []string{secretText, "zebra-7731", "Atlantis-5521", "Room 3 is"} {
		if strings.Contains(string(raw), s) {
			t.Errorf("the trail holds %q", s)
		}
	}
	if t.Failed() {
		for _, e := range events {
			t.Logf("%s %s %s %s %v", e.Action, e.Tenant, e.Resource, e.Outcome, e.Details)
		}
	}
}
