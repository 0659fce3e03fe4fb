package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// nodeSummary is what test/tools/openai-client.mjs prints.
type nodeSummary struct {
	Models struct {
		IDs     []string `json:"ids"`
		Objects []string `json:"objects"`
		Error   *nodeErr `json:"error"`
	} `json:"models"`
	Chat struct {
		Model        string     `json:"model"`
		Object       string     `json:"object"`
		Content      *string    `json:"content"`
		Role         string     `json:"role"`
		FinishReason string     `json:"finish_reason"`
		Usage        *nodeUsage `json:"usage"`
		RequestID    *string    `json:"request_id"`
		Error        *nodeErr   `json:"error"`
	} `json:"chat"`
	Stream struct {
		Chunks                   int        `json:"chunks"`
		Content                  string     `json:"content"`
		FinishReason             string     `json:"finish_reason"`
		Usage                    *nodeUsage `json:"usage"`
		Model                    string     `json:"model"`
		UsageChunkWithoutChoices bool       `json:"usage_chunk_without_choices"`
		Error                    *nodeErr   `json:"error"`
	} `json:"stream"`
	Embeddings struct {
		Object     string    `json:"object"`
		Model      string    `json:"model"`
		Count      int       `json:"count"`
		Dims       []int     `json:"dims"`
		AllNumbers bool      `json:"all_numbers"`
		Norms      []float64 `json:"norms"`
		Error      *nodeErr  `json:"error"`
	} `json:"embeddings"`
	EmbeddingsDimensions struct {
		Dims  int      `json:"dims"`
		Error *nodeErr `json:"error"`
	} `json:"embeddings_dimensions"`
	UnknownModel struct {
		Unexpected string   `json:"unexpected"`
		Error      *nodeErr `json:"error"`
	} `json:"unknown_model"`
}

type nodeUsage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

type nodeErr struct {
	Status  *int    `json:"status"`
	Code    *string `json:"code"`
	Message string  `json:"message"`
}

// TestNodeOpenAIClient drives the platform with the real npm openai package
// (test/tools/openai-client.mjs) and checks what it saw.
func TestNodeOpenAIClient(t *testing.T) {
	e := sharedEnv(t)
	tools := toolsDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, nodeBinary(t, tools), filepath.Join(tools, "openai-client.mjs"))
	cmd.Dir = tools
	cmd.Env = append(os.Environ(), "OPENAI_BASE_URL="+e.p.URL+"/v1", "OPENAI_API_KEY="+e.open.Key,
		"CHAT_MODEL=local-chat", "EMBED_MODEL=local-embed")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("openai-client.mjs: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	var s nodeSummary
	if err := json.Unmarshal(stdout.Bytes(), &s); err != nil {
		t.Fatalf("summary is not JSON: %v: %s", err, stdout.String())
	}
	t.Logf("npm openai summary: %s", stdout.String())

	t.Run("models", func(t *testing.T) {
		if s.Models.Error != nil {
			t.Fatalf("models.list failed: %+v", *s.Models.Error)
		}
		for _, id := range []string{"local-chat", "local-embed"} {
			if !slices.Contains(s.Models.IDs, id) {
				t.Errorf("models.list = %v, missing %s", s.Models.IDs, id)
			}
		}
		if !slices.Equal(s.Models.Objects, []string{"model"}) {
			t.Errorf("model objects = %v, want [model]", s.Models.Objects)
		}
	})
	t.Run("chat", func(t *testing.T) {
		c := s.Chat
		if c.Error != nil {
			t.Fatalf("chat failed: %+v", *c.Error)
		}
		if c.Model != "local-chat" || c.Object != "chat.completion" || c.Role != "assistant" || c.FinishReason != "stop" {
			t.Errorf("chat = model %q object %q role %q finish %q", c.Model, c.Object, c.Role, c.FinishReason)
		}
		if c.Content == nil || *c.Content == "" {
			t.Error("chat content is empty")
		}
		if c.Usage == nil || c.Usage.TotalTokens <= 0 || c.Usage.TotalTokens != c.Usage.PromptTokens+c.Usage.CompletionTokens {
			t.Errorf("chat usage = %+v", c.Usage)
		}
		if c.RequestID == nil || *c.RequestID == "" {
			t.Error("no x-request-id on the chat response")
		}
	})
	t.Run("stream", func(t *testing.T) {
		st := s.Stream
		if st.Error != nil {
			t.Fatalf("stream failed: %+v", *st.Error)
		}
		if st.Chunks < 3 || st.FinishReason != "stop" || st.Model != "local-chat" {
			t.Errorf("stream = %d chunks, finish %q, model %q", st.Chunks, st.FinishReason, st.Model)
		}
		if s.Chat.Content != nil && st.Content != *s.Chat.Content {
			t.Errorf("streamed %q, non-streaming answered %q", st.Content, *s.Chat.Content)
		}
		if st.Usage == nil || st.Usage.TotalTokens <= 0 || !st.UsageChunkWithoutChoices {
			t.Errorf("stream usage = %+v (usage chunk without choices: %v)", st.Usage, st.UsageChunkWithoutChoices)
		}
		if s.Chat.Usage != nil && st.Usage != nil && *st.Usage != *s.Chat.Usage {
			t.Errorf("stream usage %+v differs from chat usage %+v", *st.Usage, *s.Chat.Usage)
		}
	})
	t.Run("embeddings (base64 by default)", func(t *testing.T) {
		em := s.Embeddings
		if em.Error != nil {
			t.Fatalf("embeddings failed: %+v", *em.Error)
		}
		if em.Object != "list" || em.Model != "local-embed" || em.Count != 2 || !slices.Equal(em.Dims, []int{1024, 1024}) || !em.AllNumbers {
			t.Errorf("embeddings = %+v", em)
		}
		for i, n := range em.Norms {
			if math.Abs(n-1) > 1e-3 {
				t.Errorf("embedding %d norm %f, want 1", i, n)
			}
		}
		if s.EmbeddingsDimensions.Error != nil || s.EmbeddingsDimensions.Dims != 64 {
			t.Errorf("embeddings with dimensions 64: %+v", s.EmbeddingsDimensions)
		}
	})
	t.Run("unknown model", func(t *testing.T) {
		u := s.UnknownModel
		if u.Error == nil {
			t.Fatalf("an unknown model did not fail: %+v", u)
		}
		if u.Error.Status == nil || *u.Error.Status != 404 || u.Error.Code == nil || *u.Error.Code != "model_not_found" {
			t.Errorf("unknown model error = %+v, want 404 model_not_found", *u.Error)
		}
	})
}
