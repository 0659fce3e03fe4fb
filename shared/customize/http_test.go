package customize_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plinth-ai/plinth/shared/auth"
	"github.com/plinth-ai/plinth/shared/customize"
	"github.com/plinth-ai/plinth/shared/flow"
	"github.com/plinth-ai/plinth/shared/registry"
)

// api serves the tenant routes with the principal of the X-Test-Tenant header, as the
// gateway's authentication middleware would.
func api(h *harness) http.Handler {
	mux := http.NewServeMux()
	customize.Routes(mux, h.svc)
	customize.AdminRoutes(mux, h.svc)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := auth.Principal{TenantID: r.Header.Get("X-Test-Tenant"), KeyID: "key_" + r.Header.Get("X-Test-Tenant"), Scopes: []auth.Scope{auth.ScopeInference}}
		if p.TenantID == "" {
			p = auth.Principal{Admin: true, KeyID: "admin"}
		}
		mux.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), p)))
	})
}

type response struct {
	status int
	body   []byte
}

func (r response) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %d %s: %v", r.status, r.body, err)
	}
}

func (r response) errorCode(t testing.TB) string {
	t.Helper()
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	r.decode(t, &e)
	return e.Error.Code
}

func do(t testing.TB, h http.Handler, tenant, method, path string, body any) response {
	t.Helper()
	var rd io.Reader
	ct := "application/json"
	switch b := body.(type) {
	case nil:
	case *bytes.Buffer:
		rd = b
	case multipartBody:
		rd, ct = b.buf, b.contentType
	default:
		enc, _ := json.Marshal(b)
		rd = bytes.NewReader(enc)
	}
	req := httptest.NewRequest(method, path, rd)
	req.Header.Set("Content-Type", ct)
	req.Header.Set("X-Test-Tenant", tenant)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return response{status: w.Code, body: w.Body.Bytes()}
}

type multipartBody struct {
	buf         *bytes.Buffer
	contentType string
}

// upload builds a multipart body as OpenAI's SDKs send it; fields are written in the
// order given ("file" takes the content).
func upload(fields [][2]string, content string) multipartBody {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, f := range fields {
		if f[0] == "file" {
			w, _ := mw.CreateFormFile("file", f[1])
			_, _ = w.Write([]byte(content))
			continue
		}
		_ = mw.WriteField(f[0], f[1])
	}
	_ = mw.Close()
	return multipartBody{buf: &buf, contentType: mw.FormDataContentType()}
}

func TestFilesAPI(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	srv := api(h)
	data := "{\"prompt\":\"a\",\"completion\":\"b\"}\n"
	r := do(t, srv, "acme", "POST", "/v1/files", upload([][2]string{{"file", "train.jsonl"}, {"purpose", "fine-tune"}}, data))
	var f customize.File
	r.decode(t, &f)
	if r.status != 200 || !strings.HasPrefix(f.ID, "file-") || f.Bytes != int64(len(data)) || f.Purpose != "fine-tune" || f.Filename != "train.jsonl" || f.Object != "file" {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	r = do(t, srv, "acme", "GET", "/v1/files/"+f.ID+"/content", nil)
	if r.status != 200 || string(r.body) != data {
		t.Fatalf("content: %d %q", r.status, r.body)
	}
	if r := do(t, srv, "globex", "GET", "/v1/files/"+f.ID, nil); r.status != 404 {
		t.Fatalf("another tenant's file: %d %s", r.status, r.body)
	}
	var list customize.Page[customize.File]
	do(t, srv, "acme", "GET", "/v1/files?purpose=fine-tune", nil).decode(t, &list)
	if len(list.Data) != 1 || list.Data[0].ID != f.ID {
		t.Fatalf("list %+v", list)
	}
	for _, bad := range []struct {
		name string
		body multipartBody
		code string
	}{
		{"no purpose", upload([][2]string{{"file", "x.jsonl"}}, data), "invalid_request_error"},
		{"wrong purpose", upload([][2]string{{"purpose", "assistants"}, {"file", "x.jsonl"}}, data), "invalid_request_error"},
		{"no file", upload([][2]string{{"purpose", "fine-tune"}}, ""), "invalid_request_error"},
		{"empty file", upload([][2]string{{"purpose", "fine-tune"}, {"file", "x.jsonl"}}, ""), "invalid_request_error"},
	} {
		if r := do(t, srv, "acme", "POST", "/v1/files", bad.body); r.status != 400 || r.errorCode(t) != bad.code {
			t.Errorf("%s: %d %s", bad.name, r.status, r.body)
		}
	}
	if r := do(t, srv, "acme", "POST", "/v1/files", map[string]string{"file": "x"}); r.status != 400 {
		t.Fatalf("a JSON body: %d %s", r.status, r.body)
	}
	do(t, srv, "acme", "GET", "/v1/files", nil).decode(t, &list)
	if len(list.Data) != 1 {
		t.Fatalf("refused uploads left files behind: %+v", list.Data)
	}
	if r := do(t, srv, "acme", "DELETE", "/v1/files/"+f.ID, nil); r.status != 200 || !strings.Contains(string(r.body), `"deleted":true`) {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if r := do(t, srv, "acme", "GET", "/v1/files/"+f.ID+"/content", nil); r.status != 404 {
		t.Fatalf("deleted content: %d", r.status)
	}
	if r := do(t, srv, "", "POST", "/v1/fine_tuning/jobs", map[string]string{"model": "local-tune"}); r.status != 403 {
		t.Fatalf("an admin principal has no tenant: %d %s", r.status, r.body)
	}
}

func TestCreateJobRefusesBadRequests(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	srv := api(h)
	ctx := context.Background()
	id := h.upload(t, "acme", "t.jsonl", "{\"prompt\":\"a\",\"completion\":\"b\"}\n")
	other := h.upload(t, "globex", "t.jsonl", "{\"prompt\":\"a\",\"completion\":\"b\"}\n")
	emb, _ := h.reg.Resolve(ctx, "local-embed")
	for _, c := range []struct {
		name   string
		body   map[string]any
		status int
		code   string
	}{
		{"no model", map[string]any{"training_file": id}, 400, "invalid_request_error"},
		{"unknown model", map[string]any{"model": "gpt-9", "training_file": id}, 400, "invalid_request_error"},
		{"embedding model", map[string]any{"model": emb.ID, "training_file": id}, 400, "invalid_request_error"},
		{"not trainable", map[string]any{"model": "local-chat", "training_file": id}, 400, "invalid_request_error"},
		{"missing file", map[string]any{"model": "local-tune", "training_file": "file-nope"}, 400, "invalid_request_error"},
		{"another tenant's file", map[string]any{"model": "local-tune", "training_file": other}, 400, "invalid_request_error"},
		{"epochs out of bounds", map[string]any{"model": "local-tune", "training_file": id, "hyperparameters": map[string]any{"n_epochs": 99}}, 400, "invalid_request_error"},
		{"unknown hyperparameter", map[string]any{"model": "local-tune", "training_file": id, "hyperparameters": map[string]any{"dropout": 0.1}}, 400, "invalid_request_error"},
		{"dpo", map[string]any{"model": "local-tune", "training_file": id, "method": map[string]any{"type": "dpo"}}, 400, "invalid_request_error"},
		{"bad suffix", map[string]any{"model": "local-tune", "training_file": id, "suffix": "no spaces please"}, 400, "invalid_request_error"},
		{"integrations", map[string]any{"model": "local-tune", "training_file": id, "integrations": []any{map[string]any{"type": "wandb"}}}, 400, "invalid_request_error"},
	} {
		r := do(t, srv, "acme", "POST", "/v1/fine_tuning/jobs", c.body)
		if r.status != c.status || r.errorCode(t) != c.code {
			t.Errorf("%s: %d %s", c.name, r.status, r.body)
		}
	}
}

// stuckProvider is a provider whose jobs run until stopped.
type stuckProvider struct {
	mu      sync.Mutex
	started map[string]customize.JobSpec
	stopped []string
}

func (p *stuckProvider) Start(_ context.Context, spec customize.JobSpec) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.started["prov-"+spec.Name] = spec
	return "prov-" + spec.Name, nil
}

func (p *stuckProvider) Get(_ context.Context, _ customize.JobSpec, id string) (customize.ProviderJob, error) {
	return customize.ProviderJob{ID: id, Status: customize.ProviderInProgress, Steps: []customize.StepMetric{{Step: 1, Epoch: 1, TrainingLoss: 2.5}}}, nil
}

func (p *stuckProvider) Stop(_ context.Context, _ customize.JobSpec, id string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopped = append(p.stopped, id)
	return nil
}

func TestCancelStopsFlowAndProviderJob(t *testing.T) {
	t.Parallel()
	prov := &stuckProvider{started: map[string]customize.JobSpec{}}
	h := newHarness(t, func(*harness) []customize.Option { return []customize.Option{customize.WithCustomizer("openai", prov)} })
	srv := api(h)
	ctx := context.Background()
	if _, err := h.reg.Create(ctx, registry.Model{ID: "gpt-x", Kind: registry.KindChat,
		Deployments: []registry.Deployment{{Provider: "openai", BaseURL: "http://127.0.0.1:1/v1", Model: "gpt-4o-mini-2024-07-18"}}}, "admin"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.reg.Review(ctx, "gpt-x", "approve", "alice", ""); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for i := 0; i < 12; i++ {
		fmt.Fprintf(&b, `{"messages":[{"role":"user","content":"q%d"},{"role":"assistant","content":"a%d"}]}`+"\n", i, i)
	}
	id := h.upload(t, "acme", "chat.jsonl", b.String())
	r := do(t, srv, "acme", "POST", "/v1/fine_tuning/jobs", map[string]any{"model": "gpt-x", "training_file": id, "hyperparameters": map[string]any{"n_epochs": 2}})
	var job customize.Job
	r.decode(t, &job)
	if r.status != 200 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	running := h.waitJob(t, "acme", job.ID, func(j *customize.Job) bool { return j.Status == customize.StatusRunning })
	spec := prov.started[running.Details.ProviderJobID]
	if spec.BaseModel != "gpt-4o-mini-2024-07-18" || spec.Hyperparameters["epochCount"] != "2" || spec.TrainingKey == "" || spec.ValidationKey != "" {
		t.Fatalf("provider got %+v", spec)
	}
	h.waitJob(t, "acme", job.ID, func(*customize.Job) bool {
		evs := h.events(t, "acme", job.ID)
		return len(evs) > 0 && evs[0].Type == "metrics"
	})
	if r := do(t, srv, "globex", "POST", "/v1/fine_tuning/jobs/"+job.ID+"/cancel", nil); r.status != 404 {
		t.Fatalf("another tenant cancels: %d", r.status)
	}
	r = do(t, srv, "acme", "POST", "/v1/fine_tuning/jobs/"+job.ID+"/cancel", nil)
	r.decode(t, &job)
	if r.status != 200 || job.Status != customize.StatusCancelled || job.FinishedAt == nil {
		t.Fatalf("cancel: %d %s", r.status, r.body)
	}
	ex, err := h.exec.Wait(ctx, job.Details.Execution)
	if err != nil || ex.Status != flow.StatusAborted {
		t.Fatalf("flow after cancel: %+v %v", ex, err)
	}
	if len(prov.stopped) != 1 || prov.stopped[0] != running.Details.ProviderJobID {
		t.Fatalf("provider stops %v", prov.stopped)
	}
	if r := do(t, srv, "acme", "POST", "/v1/fine_tuning/jobs/"+job.ID+"/cancel", nil); r.status != 409 {
		t.Fatalf("second cancel: %d %s", r.status, r.body)
	}
	var events customize.Page[customize.Event]
	do(t, srv, "acme", "GET", "/v1/fine_tuning/jobs/"+job.ID+"/events?limit=2", nil).decode(t, &events)
	if len(events.Data) != 2 || !events.HasMore || events.Data[0].Message != "Fine-tuning job cancelled" {
		t.Fatalf("events page %+v", events)
	}
	var older customize.Page[customize.Event]
	do(t, srv, "acme", "GET", "/v1/fine_tuning/jobs/"+job.ID+"/events?after="+events.Data[1].ID, nil).decode(t, &older)
	if len(older.Data) == 0 || older.Data[0].CreatedAt > events.Data[1].CreatedAt || older.Data[0].ID == events.Data[1].ID {
		t.Fatalf("next page %+v", older)
	}
	// The admin route reads the same events without the tenant's key.
	var adminEvents customize.Page[customize.Event]
	do(t, srv, "", "GET", "/admin/fine_tuning/jobs/"+job.ID+"/events?limit=2", nil).decode(t, &adminEvents)
	if len(adminEvents.Data) != 2 || adminEvents.Data[0].ID != events.Data[0].ID || adminEvents.Data[1].ID != events.Data[1].ID {
		t.Fatalf("admin events %+v, tenant's %+v", adminEvents, events)
	}
	if r := do(t, srv, "", "GET", "/admin/fine_tuning/jobs/ftjob-missing/events", nil); r.status != 404 || r.errorCode(t) != "not_found" {
		t.Fatalf("admin events of a missing job: %d %s", r.status, r.body)
	}
	if r := do(t, srv, "", "GET", "/admin/fine_tuning/jobs/"+job.ID+"/events?limit=x", nil); r.status != 400 {
		t.Fatalf("admin events with a bad limit: %d %s", r.status, r.body)
	}
	var jobs customize.Page[customize.Job]
	do(t, srv, "acme", "GET", "/v1/fine_tuning/jobs", nil).decode(t, &jobs)
	if len(jobs.Data) != 1 || jobs.Data[0].ID != job.ID {
		t.Fatalf("jobs %+v", jobs)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		objs, _ := h.svc.JobData(ctx, "acme", job.ID)
		if len(objs) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("cancelled job's data left: %v", objs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
