package platform

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestEvaluationRunPinsRegistryPrompt: a suite naming a registry prompt template runs
// with the latest version at run time, and the run records exactly that version and text.
func TestEvaluationRunPinsRegistryPrompt(t *testing.T) {
	ctx := context.Background()
	p, err := NewLocal(ctx, Config{DataDir: t.TempDir(), AdminKey: "adm", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(ctx)
	srv := httptest.NewServer(p.Handler)
	defer srv.Close()
	admin := func(method, path, body string, want int) []byte {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer adm")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
		return b
	}
	admin("POST", "/admin/prompts", `{"id":"qa","template":"Answer from this: {{input}}"}`, 201)
	v2 := admin("POST", "/admin/prompts", `{"id":"qa","template":"Context first. {{input}}"}`, 201)
	if !strings.Contains(string(v2), `"version":2`) {
		t.Fatalf("second save is not version 2: %s", v2)
	}
	admin("GET", "/admin/prompts/qa/versions/1", "", 200)
	admin("GET", "/admin/prompts/qa/versions/9", "", 404)
	admin("POST", "/admin/prompts", `{"id":"bad id","template":"x"}`, 400)

	admin("POST", "/admin/eval-suites", `{"tenant":"demo","id":"pinned","target":{"model":"local-chat","prompt":{"id":"qa"}},
		"dataset":{"items":[{"id":"1","input":"Paris is the capital of France. What is the capital of France?","references":["Paris"]}]},
		"metrics":["f1"]}`, 201)
	var run struct{ ID string }
	_ = json.Unmarshal(admin("POST", "/admin/eval-suites/pinned/runs", "", 202), &run)
	deadline := time.Now().Add(10 * time.Second)
	for {
		var got struct {
			Status string
			Suite  struct {
				Target struct {
					PromptTemplate string `json:"prompt_template"`
					PromptVersion  string `json:"prompt_version"`
					Prompt         struct{ Version int }
				}
			}
		}
		_ = json.Unmarshal(admin("GET", "/admin/eval-runs/"+run.ID, "", 200), &got)
		if got.Status == "succeeded" {
			tg := got.Suite.Target
			if tg.PromptVersion != "qa@2" || tg.Prompt.Version != 2 || tg.PromptTemplate != "Context first. {{input}}" {
				t.Fatalf("run target %+v, want qa version 2 pinned with its template", tg)
			}
			return
		}
		if got.Status == "failed" || time.Now().After(deadline) {
			t.Fatalf("run status %q", got.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
