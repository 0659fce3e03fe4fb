package eval

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/plinth-ai/plinth/shared/auth"
	"github.com/plinth-ai/plinth/shared/flow"
)

type apiClient struct {
	t   *testing.T
	srv *httptest.Server
}

func (c apiClient) do(method, path, body string, principal *auth.Principal) (*http.Response, []byte) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.srv.URL+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if principal != nil {
		b, _ := json.Marshal(principal)
		req.Header.Set("X-Test-Principal", string(b))
	}
	resp, err := c.srv.Client().Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// newAPI serves Routes with a stand-in authentication middleware that takes the
// principal from a test header.
func newAPI(t *testing.T, svc *Service) apiClient {
	mux := http.NewServeMux()
	Routes(mux, svc)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v := r.Header.Get("X-Test-Principal"); v != "" {
			var p auth.Principal
			_ = json.Unmarshal([]byte(v), &p)
			r = r.WithContext(auth.WithPrincipal(r.Context(), p))
		}
		mux.ServeHTTP(w, r)
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return apiClient{t: t, srv: srv}
}

func TestEvaluationAPI(t *testing.T) {
	t.Parallel()
	svc, h, _, _ := newTestService(t, newFakeTarget(goodAnswers))
	api := newAPI(t, svc)
	suite := `{"tenant":"acme","id":"qa","dataset":{"items":[
		{"id":"q1","input":"What is the capital of France?","references":["Paris"]},
		{"id":"q2","input":"When were the Normans in Normandy?","references":["10th and 11th centuries"]},
		{"id":"q3","input":"anything","references":["Rollo"],"output":"Rollo"}]},
		"target":{"model":"local-chat"},"metrics":["exact_match","f1","rougeL","bleu"],
		"thresholds":{"exact_match":50},"schedule":"cron(0 6 * * ? *)"}`
	resp, body := api.do("POST", "/admin/eval-suites", suite, nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	if resp, body = api.do("POST", "/admin/eval-suites", suite, nil); resp.StatusCode != http.StatusConflict {
		t.Fatalf("duplicate create: %d %s", resp.StatusCode, body)
	}
	resp, body = api.do("GET", "/admin/eval-suites?tenant=acme", "", nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"id":"qa"`) {
		t.Fatalf("list: %d %s", resp.StatusCode, body)
	}
	if resp, _ = api.do("GET", "/admin/eval-suites?tenant=other", "", nil); resp.StatusCode != 200 {
		t.Fatalf("list other: %d", resp.StatusCode)
	}
	if resp, body = api.do("GET", "/admin/eval-suites/qa", "", nil); resp.StatusCode != 200 || !strings.Contains(string(body), `"q2"`) {
		t.Fatalf("get: %d %s", resp.StatusCode, body)
	}
	resp, body = api.do("POST", "/admin/eval-suites/qa/runs", "", nil)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("start: %d %s", resp.StatusCode, body)
	}
	var started struct{ ID, Status, ExecutionID string }
	_ = json.Unmarshal(body, &started)
	var sr startRunResponse
	_ = json.Unmarshal(body, &sr)
	if started.ID == "" || started.Status != "running" {
		t.Fatalf("start body %s", body)
	}
	if e := h.wait(t, sr.ExecutionID); e.Status != flow.StatusSucceeded {
		t.Fatalf("execution %s %s", e.Status, e.Cause)
	}
	resp, body = api.do("GET", "/admin/eval-runs/"+started.ID, "", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("get run: %d %s", resp.StatusCode, body)
	}
	var view struct {
		Status  string             `json:"status"`
		Metrics map[string]float64 `json:"metrics"`
		Passed  *bool              `json:"passed"`
		Items   []struct {
			ID     string             `json:"id"`
			Output string             `json:"output"`
			Scores map[string]float64 `json:"scores"`
		} `json:"items"`
	}
	if err := json.Unmarshal(body, &view); err != nil {
		t.Fatal(err)
	}
	if view.Status != "succeeded" || len(view.Items) != 3 || view.Items[0].Output != "Paris" || view.Items[0].Scores["exact_match"] != 100 {
		t.Fatalf("run view %s", body)
	}
	if view.Metrics["exact_match"] != 100 || view.Passed == nil || !*view.Passed {
		t.Fatalf("metrics %v passed %v", view.Metrics, view.Passed)
	}

	resp, body = api.do("GET", "/admin/eval-runs/"+started.ID+".csv", "", nil)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("csv: %d %s", resp.StatusCode, body)
	}
	rows, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if err != nil || len(rows) != 4 || rows[0][6] != "exact_match" || rows[1][4] != "Paris" || rows[1][6] != "100" {
		t.Fatalf("csv rows %q, %v", rows, err)
	}
	resp, body = api.do("GET", "/admin/eval-runs/"+started.ID+"/report.html", "", nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "<svg") || !strings.Contains(string(body), "exact_match") {
		t.Fatalf("report: %d %.200s", resp.StatusCode, body)
	}
	resp, body = api.do("GET", "/admin/eval-suites/qa/trend", "", nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "<polyline") || !strings.Contains(string(body), started.ID) {
		t.Fatalf("trend: %d %.300s", resp.StatusCode, body)
	}
	resp, body = api.do("GET", "/admin/eval-suites/qa/runs", "", nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), started.ID) {
		t.Fatalf("runs: %d %s", resp.StatusCode, body)
	}

	errorCases := []struct {
		name, method, path, body string
		status                   int
	}{
		{"unknown suite", "GET", "/admin/eval-suites/nope", "", 404},
		{"unknown run", "GET", "/admin/eval-runs/nope", "", 404},
		{"unknown run csv", "GET", "/admin/eval-runs/nope.csv", "", 404},
		{"unknown run report", "GET", "/admin/eval-runs/nope/report.html", "", 404},
		{"start unknown suite", "POST", "/admin/eval-suites/nope/runs", "", 404},
		{"bad concurrency", "POST", "/admin/eval-suites/qa/runs", `{"max_concurrency":1000}`, 400},
		{"invalid suite", "POST", "/admin/eval-suites", `{"tenant":"acme","id":"x","dataset":{},"target":{"model":"m"}}`, 400},
		{"unknown metric", "POST", "/admin/eval-suites", `{"tenant":"acme","id":"x","dataset":{"uri":"blob://d.jsonl"},"target":{"model":"m"},"metrics":["meteor"]}`, 400},
		{"malformed json", "POST", "/admin/eval-suites", `{`, 400},
		{"put mismatched id", "PUT", "/admin/eval-suites/qa", `{"id":"other"}`, 400},
		{"delete unknown", "DELETE", "/admin/eval-suites/nope", "", 404},
	}
	for _, c := range errorCases {
		t.Run(c.name, func(t *testing.T) {
			resp, body := api.do(c.method, c.path, c.body, nil)
			if resp.StatusCode != c.status || !strings.Contains(string(body), `"error"`) {
				t.Fatalf("%s %s: %d %s", c.method, c.path, resp.StatusCode, body)
			}
		})
	}
	if resp, _ = api.do("DELETE", "/admin/eval-suites/qa", "", nil); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
	if resp, _ = api.do("GET", "/admin/eval-runs/"+started.ID, "", nil); resp.StatusCode != 200 {
		t.Fatalf("run unreadable after suite deletion: %d", resp.StatusCode)
	}
}

func TestFeedbackAPI(t *testing.T) {
	t.Parallel()
	lookup := func(_ context.Context, tenant, id string) (string, string, bool) {
		if tenant == "acme" && id == "req_known" {
			return "What is the capital of France?", "Paris", true
		}
		return "", "", false
	}
	svc, _, _, _ := newTestService(t, newFakeTarget(nil), WithRequestLookup(lookup))
	api := newAPI(t, svc)
	acme := &auth.Principal{TenantID: "acme", KeyID: "key_1", Scopes: []auth.Scope{auth.ScopeInference}}
	other := &auth.Principal{TenantID: "globex", KeyID: "key_2", Scopes: []auth.Scope{auth.ScopeInference}}
	cases := []struct {
		name   string
		p      *auth.Principal
		body   string
		status int
	}{
		{"corrected answer", acme, `{"request_id":"req_1","rating":2,"comment":"wrong city","corrected_answer":"Paris","input":"Capital of France?","output":"Lyon"}`, 201},
		{"good answer from lookup", acme, `{"request_id":"req_known","rating":5}`, 201},
		{"bad answer without correction", acme, `{"request_id":"req_2","rating":1,"input":"q","output":"a"}`, 201},
		{"unknown request", acme, `{"request_id":"req_unknown","rating":5}`, 201},
		{"other tenant", other, `{"request_id":"req_9","rating":5,"input":"q9","output":"a9"}`, 201},
		{"no principal", nil, `{"request_id":"req_3","rating":5}`, 401},
		{"no scope", &auth.Principal{TenantID: "acme"}, `{"request_id":"req_3","rating":5}`, 403},
		{"rating out of range", acme, `{"request_id":"req_3","rating":9}`, 400},
		{"rating missing", acme, `{"request_id":"req_3"}`, 400},
		{"request id missing", acme, `{"rating":3}`, 400},
	}
	for _, c := range cases {
		resp, body := api.do("POST", "/v1/feedback", c.body, c.p)
		if resp.StatusCode != c.status {
			t.Fatalf("%s: %d %s", c.name, resp.StatusCode, body)
		}
	}
	resp, body := api.do("GET", "/admin/feedback/export?tenant=acme", "", nil)
	if resp.StatusCode != 200 || resp.Header.Get("X-Plinth-Exported") != "2" || resp.Header.Get("X-Plinth-Skipped") != "2" {
		t.Fatalf("export: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	items, err := ParseJSONL(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 2 || items[0].ID != "req_1" || items[0].References[0] != "Paris" || items[0].Metadata["rated_output"] != "Lyon" ||
		items[1].Input != "What is the capital of France?" || items[1].References[0] != "Paris" {
		t.Fatalf("exported items %+v", items)
	}
	if resp, _ = api.do("GET", "/admin/feedback/export", "", nil); resp.StatusCode != 400 {
		t.Fatalf("export without tenant: %d", resp.StatusCode)
	}
}
