package humaneval_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/plinth-ai/plinth/shared/auth"
	"github.com/plinth-ai/plinth/shared/humaneval"
)

// server serves both route sets; the X-Test-Principal header stands in for the
// platform's authentication ("admin" or "tenant:key").
func server(t *testing.T) *httptest.Server {
	t.Helper()
	svc := newService(t)
	mux := http.NewServeMux()
	humaneval.AdminRoutes(mux, svc)
	humaneval.ReviewerRoutes(mux, svc)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := auth.Principal{Admin: true, KeyID: "admin"}
		if who := r.Header.Get("X-Test-Principal"); who != "admin" {
			tenant, key, _ := strings.Cut(who, ":")
			p = auth.Principal{TenantID: tenant, KeyID: key}
		}
		mux.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), p)))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func call(t *testing.T, srv *httptest.Server, who, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, srv.URL+path, rd)
	req.Header.Set("X-Test-Principal", who)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func TestReviewRoutes(t *testing.T) {
	srv := server(t)
	status, q := call(t, srv, "admin", "POST", "/admin/review-queues", map[string]any{
		"tenant": "acme", "name": "A/B", "kind": "pairwise", "reviewers_per_item": 2,
		"source": map[string]any{"type": "samples", "samples": []any{
			map[string]any{"id": "x", "input": "2+2?", "outputs": []string{"4", "5"}},
		}},
	})
	if status != 201 {
		t.Fatalf("create: %d %v", status, q)
	}
	id := q["id"].(string)
	// A reviewer of another tenant cannot see the queue.
	if status, body := call(t, srv, "globex:key_g", "POST", "/v1/review-queues/"+id+"/next", nil); status != 404 {
		t.Errorf("other tenant next: %d %v", status, body)
	}
	if status, body := call(t, srv, "globex:key_g", "GET", "/v1/review-queues", nil); status != 200 || len(body["data"].([]any)) != 0 {
		t.Errorf("other tenant list: %d %v", status, body)
	}
	// The tenant's key is the reviewer; what it sends as reviewer is ignored.
	status, next := call(t, srv, "acme:key_a", "POST", "/v1/review-queues/"+id+"/next", map[string]any{"reviewer": "someone-else"})
	a, _ := next["assignment"].(map[string]any)
	if status != 200 || a == nil || a["reviewer"] != "key_a" || a["item_id"] != "x" {
		t.Fatalf("next: %d %v", status, next)
	}
	status, rv := call(t, srv, "acme:key_a", "POST", "/v1/review-queues/"+id+"/reviews", map[string]any{"item_id": "x", "choice": "right", "reviewer": "someone-else"})
	if status != 201 || rv["reviewer"] != "key_a" || rv["preferred"] != a["order"].([]any)[1] {
		t.Fatalf("review: %d %v (order %v)", status, rv, a["order"])
	}
	if status, body := call(t, srv, "acme:key_a", "POST", "/v1/review-queues/"+id+"/reviews", map[string]any{"item_id": "x", "choice": "left"}); status != 409 {
		t.Errorf("second review: %d %v", status, body)
	}
	if status, body := call(t, srv, "admin", "POST", "/admin/review-queues/"+id+"/reviews", map[string]any{"item_id": "x", "choice": "left"}); status != 400 {
		t.Errorf("admin review without reviewer: %d %v", status, body)
	}
	if status, body := call(t, srv, "admin", "GET", "/admin/review-queues/"+id+"/agreement", nil); status != 200 || body["reviews"] != 1.0 {
		t.Errorf("agreement: %d %v", status, body)
	}
	if status, body := call(t, srv, "admin", "GET", "/admin/datasets", nil); status != 400 {
		t.Errorf("datasets without tenant: %d %v", status, body)
	}
	if status, body := call(t, srv, "admin", "POST", "/admin/review-queues/"+id+"/datasets", map[string]any{"name": "ab", "min_reviews": 1}); status != 201 || body["version"] != 1.0 {
		t.Errorf("publish: %d %v", status, body)
	}
	req, _ := http.NewRequest("GET", srv.URL+"/admin/datasets/ab/versions/1?tenant=acme&format=preference", nil)
	req.Header.Set("X-Test-Principal", "admin")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var line map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&line)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-ndjson" || line["preferred_output"] == nil {
		t.Errorf("content: %d %v", resp.StatusCode, line)
	}
	if status, _ := call(t, srv, "admin", "DELETE", "/admin/review-queues/"+id, nil); status != 204 {
		t.Errorf("delete: %d", status)
	}
	if status, _ := call(t, srv, "admin", "GET", "/admin/review-queues/"+id, nil); status != 404 {
		t.Errorf("get after delete: %d", status)
	}
}
