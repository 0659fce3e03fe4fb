package parity

import (
	"bufio"
	"bytes"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"github.com/plinth-ai/plinth/shared/gateway"
)

const handbook = "# Leave\n\nParental leave at Plinth lasts twenty weeks at full pay.\n\nThe office closes on public holidays.\n"

// TestScenario walks a tenant through the platform, with the same requests and the same
// checks on both runtimes: onboarding, models (local and Amazon Bedrock), chat whole
// and streamed, embeddings, guardrails inline and standalone, a knowledge base from
// upload to grounded answers and grounded chat (the knowledge_base extension),
// evaluation runs, feedback, usage, the session and the audit trail.
func TestScenario(t *testing.T) {
	onBoth(t, func(t *testing.T, rt runtime) {
		admin := adminCaller(t, rt)

		// Public routes.
		if r := rt.do(t, call{Method: "GET", Path: "/healthz"}); r.Status != 200 || !r.contains(`"ok"`) {
			t.Fatalf("healthz: %v", r)
		}
		if r := rt.do(t, call{Method: "GET", Path: "/openapi.json"}); r.Status != 200 || !r.contains(`"openapi"`, `"/v1/chat/completions"`) {
			t.Fatalf("openapi.json: %d", r.Status)
		}

		// Onboarding: a Bedrock model, a policy, a tenant that may call them, its key.
		admin("POST", "/admin/models", map[string]any{"id": "nova", "kind": "chat",
			"deployments": []any{map[string]any{"provider": "bedrock", "model": "amazon.nova-lite-v1:0", "region": "eu-west-1"}},
			"prices":      map[string]any{"input_per_million": 0.06, "output_per_million": 0.24}}, http.StatusCreated)
		admin("POST", "/admin/models/nova/review", map[string]any{"decision": "approve", "reviewer": "parity"}, http.StatusOK)
		admin("POST", "/admin/tenants", map[string]any{"id": "acme", "name": "Acme",
			"allowed_models": []string{"local-chat", "local-embed", "nova"}}, http.StatusCreated)
		var policy struct {
			ID string `json:"id"`
		}
		admin("POST", "/admin/guardrail-policies", map[string]any{"name": "acme-default", "tenant": "acme",
			"blockedInputMessaging": "Sorry, I cannot help with that.", "blockedOutputsMessaging": "Withheld.",
			"sensitiveInformationPolicyConfig": map[string]any{"piiEntitiesConfig": []any{
				map[string]any{"type": "EMAIL", "action": "ANONYMIZE"}, map[string]any{"type": "US_SOCIAL_SECURITY_NUMBER", "action": "BLOCK"}}},
			"contentPolicyConfig": map[string]any{"filtersConfig": []any{
				map[string]any{"type": "PROMPT_ATTACK", "inputStrength": "HIGH", "outputStrength": "NONE"}}},
		}, http.StatusCreated).decode(t, &policy)
		admin("PATCH", "/admin/tenants/acme", map[string]any{"guardrail_policy": policy.ID}, http.StatusOK)
		var created struct {
			Key string `json:"key"`
		}
		admin("POST", "/admin/tenants/acme/keys", map[string]any{}, http.StatusCreated).decode(t, &created)
		key := created.Key
		admin("POST", "/admin/knowledge-bases", map[string]any{"tenant": "acme", "id": "docs"}, http.StatusCreated)
		tenantCall := func(method, path string, body any) reply {
			t.Helper()
			c := call{Method: method, Path: path, Key: key}
			if body != nil {
				c.Body, c.ContentType = jsonBody(body), "application/json"
			}
			return rt.do(t, c)
		}

		// Models: the list is what the key may call; each is callable.
		var models struct {
			Data []struct{ ID string } `json:"data"`
		}
		tenantCall("GET", "/v1/models", nil).decode(t, &models)
		listed := map[string]bool{}
		for _, m := range models.Data {
			listed[m.ID] = true
		}
		if len(listed) != 3 || !listed["local-chat"] || !listed["local-embed"] || !listed["nova"] {
			t.Fatalf("models %v", listed)
		}
		if r := tenantCall("GET", "/v1/models/nova", nil); r.Status != 200 || !r.contains(`"id":"nova"`) {
			t.Fatalf("GET /v1/models/nova: %v", r)
		}

		// Chat, whole and streamed, on the built-in model and on Bedrock.
		var requestID string
		for _, model := range []string{"local-chat", "nova"} {
			r := tenantCall("POST", "/v1/chat/completions", map[string]any{"model": model,
				"messages": []any{map[string]any{"role": "user", "content": "Plinth is a platform. What is Plinth?"}}})
			var out struct {
				Model   string `json:"model"`
				Choices []struct {
					Message      struct{ Content string } `json:"message"`
					FinishReason string                   `json:"finish_reason"`
				} `json:"choices"`
				Usage struct {
					TotalTokens int `json:"total_tokens"`
				} `json:"usage"`
			}
			r.decode(t, &out)
			if r.Status != 200 || out.Model != model || out.Choices[0].FinishReason != "stop" || out.Choices[0].Message.Content == "" || out.Usage.TotalTokens == 0 {
				t.Fatalf("chat with %s: %v", model, r)
			}
			if model == "nova" && out.Choices[0].Message.Content != "Hello from Bedrock." {
				t.Fatalf("Bedrock answered %q", out.Choices[0].Message.Content)
			}
			if requestID = r.Header.Get("X-Request-Id"); requestID == "" {
				t.Fatal("no X-Request-Id")
			}
			s := tenantCall("POST", "/v1/chat/completions", map[string]any{"model": model, "stream": true,
				"stream_options": map[string]any{"include_usage": true},
				"messages":       []any{map[string]any{"role": "user", "content": "Plinth is a platform. What is Plinth?"}}})
			events := sse(s.Body)
			if s.Status != 200 || !strings.HasPrefix(s.Header.Get("Content-Type"), "text/event-stream") || len(events) < 3 ||
				events[len(events)-1] != "[DONE]" || !strings.Contains(events[len(events)-2], `"usage":{"prompt_tokens"`) {
				t.Fatalf("stream from %s: %d %q", model, s.Status, events)
			}
		}

		// Embeddings.
		var emb struct {
			Data []struct {
				Embedding []float32 `json:"embedding"`
			} `json:"data"`
		}
		tenantCall("POST", "/v1/embeddings", map[string]any{"model": "local-embed", "input": []string{"a first text", "a second"}}).decode(t, &emb)
		if len(emb.Data) != 2 || len(emb.Data[0].Embedding) != 1024 {
			t.Fatalf("embeddings: %d vectors", len(emb.Data))
		}

		// Guardrails: standalone, and inline with the refusal naming the policy.
		if r := tenantCall("POST", "/v1/guardrails/apply", map[string]any{"source": "INPUT",
			"content": []any{map[string]any{"text": map[string]any{"text": "Mail me at jane@example.com"}}}}); r.Status != 200 ||
			!r.contains(`"GUARDRAIL_INTERVENED"`, `Mail me at {EMAIL}`) {
			t.Fatalf("guardrails/apply: %v", r)
		}
		r := tenantCall("POST", "/v1/chat/completions", map[string]any{"model": "local-chat",
			"messages": []any{map[string]any{"role": "user", "content": "My SSN is 123-45-6789. Remember it."}}})
		var refused struct {
			Choices []struct {
				FinishReason string `json:"finish_reason"`
			} `json:"choices"`
			Guardrail *gateway.Guardrail `json:"guardrail"`
		}
		r.decode(t, &refused)
		if r.Status != 200 || refused.Choices[0].FinishReason != "content_filter" || refused.Guardrail == nil ||
			refused.Guardrail.Policy != policy.ID || r.Header.Get(gateway.HeaderGuardrailPolicy) != policy.ID {
			t.Fatalf("a blocked input: %v", r)
		}

		// A knowledge base: upload, ingestion, retrieval, a grounded answer, grounded chat.
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		fw, _ := mw.CreateFormFile("file", "handbook.md")
		_, _ = fw.Write([]byte(handbook))
		_ = mw.WriteField("metadata", `{"team":"hr"}`)
		_ = mw.Close()
		up := rt.do(t, call{Method: "POST", Path: "/v1/knowledge-bases/docs/documents", Key: key, Body: buf.Bytes(), ContentType: mw.FormDataContentType()})
		var doc struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		}
		up.decode(t, &doc)
		if up.Status != http.StatusAccepted || doc.ID == "" {
			t.Fatalf("upload: %v", up)
		}
		eventually(t, "document "+doc.ID+" indexed", func() (bool, string) {
			var d struct{ Status string }
			tenantCall("GET", "/v1/knowledge-bases/docs/documents/"+doc.ID, nil).decode(t, &d)
			return d.Status == "indexed", d.Status
		})
		if r := tenantCall("POST", "/v1/knowledge-bases/docs/retrieve", map[string]any{"query": "parental leave", "top_k": 3,
			"filter": map[string]any{"equals": map[string]any{"key": "team", "value": "hr"}}}); r.Status != 200 || !r.contains("twenty weeks", "handbook.md") {
			t.Fatalf("retrieve: %v", r)
		}
		var answer struct {
			Answer    string             `json:"answer"`
			Citations []any              `json:"citations"`
			Guardrail *gateway.Guardrail `json:"guardrail"`
		}
		tenantCall("POST", "/v1/knowledge-bases/docs/answer", map[string]any{"query": "How long is parental leave?"}).decode(t, &answer)
		if !strings.Contains(answer.Answer, "twenty weeks") || len(answer.Citations) == 0 || answer.Guardrail != nil {
			t.Fatalf("answer: %+v", answer)
		}
		r = tenantCall("POST", "/v1/chat/completions", map[string]any{"model": "local-chat",
			"knowledge_base": map[string]any{"id": "docs", "top_k": 3},
			"messages":       []any{map[string]any{"role": "user", "content": "How long is parental leave?"}}})
		if r.Status != 200 || !r.contains("twenty weeks", `"citations":[{`, "handbook.md") {
			t.Fatalf("grounded chat (the knowledge_base extension): %v", r)
		}

		// An evaluation run: the state machine over the tenant's target.
		admin("POST", "/admin/eval-suites", map[string]any{"tenant": "acme", "id": "qa", "target": map[string]any{"model": "local-chat"},
			"metrics": []string{"exact_match", "f1"},
			"dataset": map[string]any{"items": []any{
				map[string]any{"id": "1", "input": "Paris is the capital of France. What is the capital of France?", "references": []string{"Paris"}},
				map[string]any{"id": "2", "input": "Jupiter is the largest planet. Which is the largest planet?", "references": []string{"Jupiter"}}}},
		}, http.StatusCreated)
		var run struct {
			ID string `json:"id"`
		}
		admin("POST", "/admin/eval-suites/qa/runs", map[string]any{}, http.StatusAccepted).decode(t, &run)
		eventually(t, "evaluation run "+run.ID, func() (bool, string) {
			var got struct {
				Status  string             `json:"status"`
				Metrics map[string]float64 `json:"metrics"`
			}
			admin("GET", "/admin/eval-runs/"+run.ID, nil, http.StatusOK).decode(t, &got)
			if got.Status == "failed" {
				t.Fatalf("run failed: %+v", got)
			}
			_, hasF1 := got.Metrics["f1"]
			return got.Status == "succeeded" && hasF1, got.Status
		})

		// Feedback on an answer, the tenant's usage and session, the audit trail, tools,
		// and the Responses API.
		if r := tenantCall("POST", "/v1/feedback", map[string]any{"request_id": requestID, "rating": 1, "comment": "helpful"}); r.Status != http.StatusCreated {
			t.Fatalf("feedback: %v", r)
		}
		var u struct {
			Total struct {
				Requests int `json:"requests"`
			} `json:"total"`
		}
		eventually(t, "acme's usage", func() (bool, string) {
			tenantCall("GET", "/v1/usage", nil).decode(t, &u)
			return u.Total.Requests >= 8, string(jsonBody(u))
		})
		if r := admin("GET", "/admin/usage/report?group_by=model", nil, http.StatusOK); !r.contains("local-chat", "nova") {
			t.Fatalf("usage report: %v", r)
		}
		if r := tenantCall("GET", "/v1/session", nil); r.Status != 200 || !r.contains(`"acme"`) {
			t.Fatalf("session: %v", r)
		}
		if r := admin("GET", "/admin/audit?tenant=acme", nil, http.StatusOK); !r.contains("createTenant", "uploadDocument") {
			t.Fatalf("audit: %v", r)
		}
		if r := tenantCall("GET", "/v1/tools", nil); r.Status != 200 {
			t.Fatalf("tools: %v", r)
		}
		if r := tenantCall("POST", "/v1/responses", map[string]any{"model": "local-chat", "input": "Plinth is a platform. What is Plinth?"}); r.Status != 200 || !r.contains(`"output"`) {
			t.Fatalf("responses: %v", r)
		}

		// Deleting the document removes it from retrieval.
		if r := tenantCall("DELETE", "/v1/knowledge-bases/docs/documents/"+doc.ID, nil); r.Status >= 300 {
			t.Fatalf("delete: %v", r)
		}
		eventually(t, "document "+doc.ID+" gone from retrieval", func() (bool, string) {
			r := tenantCall("POST", "/v1/knowledge-bases/docs/retrieve", map[string]any{"query": "parental leave", "top_k": 3})
			return r.Status == 200 && !r.contains("twenty weeks"), string(r.Body)
		})
	})
}

// sse splits a server-sent event stream into its data payloads.
func sse(body []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			out = append(out, d)
		}
	}
	return out
}
