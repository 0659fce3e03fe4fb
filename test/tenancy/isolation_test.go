package tenancy

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/plinth-ai/plinth/shared/store/memstore"
)

// upload sends a document to a knowledge base as multipart form data.
func upload(t *testing.T, base, key, kb, name, text string) string {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("file", name)
	_, _ = fw.Write([]byte(text))
	mw.Close()
	req, _ := http.NewRequest("POST", base+"/v1/knowledge-bases/"+kb+"/documents", &buf)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 202 {
		t.Fatalf("upload: %d %s", resp.StatusCode, b)
	}
	var doc struct{ ID string }
	_ = json.Unmarshal(b, &doc)
	return doc.ID
}

// TestIsolationMatrix gives two tenants look-alike resources (a knowledge base of the
// same name, a private model each) and checks that every tenant endpoint, called with the
// other tenant's key, refuses or answers only with the caller's own data: the other
// tenant's secret text, document IDs and request IDs never appear in a response. It runs
// with the tenants in every combination of isolation tiers.
func TestIsolationMatrix(t *testing.T) {
	for _, tiers := range [][2]string{{"pool", "pool"}, {"silo", "silo"}, {"silo", "pool"}, {"pool", "silo"}} {
		t.Run("alpha "+tiers[0]+" bravo "+tiers[1], func(t *testing.T) { isolationMatrix(t, tiers[0], tiers[1]) })
	}
}

func isolationMatrix(t *testing.T, alphaTier, bravoTier string) {
	c := instances(t, memstore.New(), 1)
	srv := c.servers[0]
	priced(t, srv, "model-a")
	priced(t, srv, "model-b")
	mustCall(t, srv, "POST", "/admin/tenants", adminKey, map[string]any{"id": "alpha", "isolation_tier": alphaTier, "allowed_models": []string{"model-a", "local-embed"}}, 201)
	mustCall(t, srv, "POST", "/admin/tenants", adminKey, map[string]any{"id": "bravo", "isolation_tier": bravoTier, "allowed_models": []string{"model-b", "local-embed"}}, 201)
	keyOf := func(tenant string) string {
		var k struct{ Key string }
		_ = json.Unmarshal(mustCall(t, srv, "POST", "/admin/tenants/"+tenant+"/keys", adminKey, map[string]any{}, 201), &k)
		return k.Key
	}
	alpha, bravo := keyOf("alpha"), keyOf("bravo")
	for _, tn := range []string{"alpha", "bravo"} {
		mustCall(t, srv, "POST", "/admin/knowledge-bases", adminKey, map[string]any{"tenant": tn, "id": "docs"}, 201)
	}
	const secret = "Zanzibar-7741 is the alpha launch codename"
	alphaDoc := upload(t, srv.URL, alpha, "docs", "plan.txt", secret+". It ships in spring.")
	upload(t, srv.URL, bravo, "docs", "notes.txt", "Bravo keeps notes about gardening and tomatoes.")
	waitIndexed(t, srv.URL, alpha, "docs", 1)
	waitIndexed(t, srv.URL, bravo, "docs", 1)

	// Alpha's traffic, whose traces must not leak to bravo.
	status, body := call(t, srv, "POST", "/v1/chat/completions", alpha, map[string]any{"model": "model-a",
		"messages": []map[string]string{{"role": "user", "content": secret + ". What is the codename?"}}})
	if status != 200 {
		t.Fatalf("alpha chat: %d %s", status, body)
	}
	c.flush(t)

	forbidden := []string{"Zanzibar", alphaDoc, "model-a", "alpha"}
	cases := []struct {
		method, path string
		body         any
		want         int // 0 = any 2xx whose body must not leak
	}{
		{"GET", "/v1/models", nil, 0},
		{"GET", "/v1/models/model-a", nil, 404},
		{"POST", "/v1/chat/completions", map[string]any{"model": "model-a", "messages": []map[string]string{{"role": "user", "content": "hi"}}}, 403},
		{"POST", "/v1/knowledge-bases/docs/retrieve", map[string]any{"query": "Zanzibar launch codename", "top_k": 10}, 0},
		{"POST", "/v1/knowledge-bases/docs/answer", map[string]any{"query": "What is the launch codename?", "model": "model-b"}, 0},
		{"GET", "/v1/knowledge-bases/docs/documents", nil, 0},
		{"GET", "/v1/knowledge-bases/docs/documents/" + alphaDoc, nil, 404},
		{"DELETE", "/v1/knowledge-bases/docs/documents/" + alphaDoc, nil, 404},
		{"GET", "/v1/usage", nil, 0},
		{"GET", "/admin/tenants", nil, 403},
		{"GET", "/admin/tenants/alpha", nil, 403},
		{"POST", "/admin/tenants/alpha/keys", map[string]any{}, 403},
		{"GET", "/admin/usage/report", nil, 403},
		{"GET", "/admin/knowledge-bases?tenant=alpha", nil, 403},
	}
	leaks := 0
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			status, body := call(t, srv, tc.method, tc.path, bravo, tc.body)
			if tc.want != 0 && status != tc.want {
				t.Fatalf("status %d, want %d: %s", status, tc.want, body)
			}
			if tc.want == 0 && (status < 200 || status > 299) {
				t.Fatalf("status %d: %s", status, body)
			}
			sent, _ := json.Marshal(tc.body)
			for _, f := range forbidden {
				// Echoing what bravo itself sent (a model or document ID in an error
				// message) is not a leak; anything else of alpha's is.
				if strings.Contains(tc.path, f) || strings.Contains(string(sent), f) {
					continue
				}
				if strings.Contains(string(body), f) {
					leaks++
					t.Fatalf("response to bravo mentions %q: %s", f, body)
				}
			}
		})
	}
	t.Logf("isolation matrix (alpha %s, bravo %s): %d endpoints called with the other tenant's key, %d leaks", alphaTier, bravoTier, len(cases), leaks)
	// Alpha's own document is still there: bravo's attempts changed nothing.
	status, body = call(t, srv, "GET", "/v1/knowledge-bases/docs/documents/"+alphaDoc, alpha, nil)
	if status != 200 || !strings.Contains(string(body), "indexed") {
		t.Fatalf("alpha's document after bravo's attempts: %d %s", status, body)
	}
}

func waitIndexed(t *testing.T, base, key, kb string, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		req, _ := http.NewRequest("GET", base+"/v1/knowledge-bases/"+kb+"/documents", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var list struct {
			Data []struct{ Status, Reason string } `json:"data"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&list)
		resp.Body.Close()
		done := 0
		for _, d := range list.Data {
			switch d.Status {
			case "indexed":
				done++
			case "failed":
				t.Fatalf("document failed: %s", d.Reason)
			}
		}
		if done >= n {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("documents were not indexed in time")
}
