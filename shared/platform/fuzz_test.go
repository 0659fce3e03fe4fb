package platform

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

// The platform's HTTP fuzz targets send arbitrary bodies to the routes that parse
// outside input, through the whole local platform: every answer is a success or a 4xx
// in the API's error shape, never a 5xx, a panic or a body that is not what it says.

// fuzzPlatform starts a local platform for one fuzz process, with a knowledge base.
func fuzzPlatform(f *testing.F) *Local {
	f.Helper()
	dir, err := os.MkdirTemp("", "plinth-fuzz-")
	if err != nil {
		f.Fatal(err)
	}
	l, err := NewLocal(context.Background(), Config{DataDir: dir, AdminKey: "adm", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() {
		_ = l.Close(context.Background())
		_ = os.RemoveAll(dir)
	})
	r := httptest.NewRequest("POST", "/admin/knowledge-bases", strings.NewReader(`{"tenant":"demo","id":"docs"}`))
	r.Header.Set("Authorization", "Bearer adm")
	w := httptest.NewRecorder()
	l.Handler.ServeHTTP(w, r)
	if w.Code != 201 {
		f.Fatalf("create knowledge base: %d %s", w.Code, w.Body)
	}
	return l
}

// fuzzCall sends one request and checks the answer's shape.
func fuzzCall(t *testing.T, l *Local, key, path, contentType string, body []byte) {
	r := httptest.NewRequest("POST", path, bytes.NewReader(body))
	r.Header.Set("Authorization", "Bearer "+key)
	r.Header.Set("Content-Type", contentType)
	w := httptest.NewRecorder()
	l.Handler.ServeHTTP(w, r)
	if w.Code >= 500 {
		t.Fatalf("POST %s answered %d: %s\nbody: %q", path, w.Code, w.Body, body)
	}
	ct := w.Header().Get("Content-Type")
	switch {
	case strings.HasPrefix(ct, "text/event-stream"):
		if !strings.Contains(w.Body.String(), "data: ") {
			t.Fatalf("POST %s: an event stream without events: %q", path, w.Body)
		}
	case w.Code == 204:
	default:
		if !json.Valid(w.Body.Bytes()) {
			t.Fatalf("POST %s answered %d with a body that is not JSON: %q", path, w.Code, w.Body)
		}
	}
}

func FuzzChatCompletions(f *testing.F) {
	for _, s := range []string{
		`{"model":"local-chat","messages":[{"role":"user","content":"What is Plinth?"}]}`,
		`{"model":"local-chat","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"system","content":"x"},{"role":"user","content":[{"type":"text","text":"hi"}]}]}`,
		`{"model":"local-chat","max_tokens":9223372036854775807,"messages":[{"role":"user","content":"x"}]}`,
		`{"model":"local-chat","tools":[{"type":"function","function":{"name":"f","parameters":{}}}],"messages":[{"role":"assistant","tool_calls":[{"id":"1","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"1","content":"r"}]}`,
		`{"model":"local-chat","knowledge_base":{"id":"docs","top_k":3},"messages":[{"role":"user","content":"leave"}]}`,
		`{"model":"local-chat","messages":[{"role":"user","content":null}],"n":2,"temperature":3,"stop":["a","b","c","d","e"]}`,
	} {
		f.Add([]byte(s))
	}
	l := fuzzPlatform(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		fuzzCall(t, l, l.DemoKey, "/v1/chat/completions", "application/json", body)
	})
}

func FuzzEmbeddings(f *testing.F) {
	for _, s := range []string{`{"model":"local-embed","input":"a text"}`, `{"model":"local-embed","input":["a","b"],"dimensions":64}`,
		`{"model":"local-embed","input":[[1,2,3]],"encoding_format":"base64"}`, `{"model":"local-embed","input":[]}`} {
		f.Add([]byte(s))
	}
	l := fuzzPlatform(f)
	f.Fuzz(func(t *testing.T, body []byte) { fuzzCall(t, l, l.DemoKey, "/v1/embeddings", "application/json", body) })
}

func FuzzGuardrailApply(f *testing.F) {
	for _, s := range []string{
		`{"source":"INPUT","content":[{"text":{"text":"mail jane@example.com, card 4111 1111 1111 1111"}}]}`,
		`{"source":"OUTPUT","content":[{"text":{"text":"x"}}],"policy":{"name":"p","sensitiveInformationPolicyConfig":{"piiEntitiesConfig":[{"type":"EMAIL","action":"ANONYMIZE"}],"regexesConfig":[{"name":"r","pattern":"a+b","action":"BLOCK"}]},"wordPolicyConfig":{"wordsConfig":[{"text":"zebra"}],"managedWordListsConfig":[{"type":"PROFANITY"}]},"topicPolicyConfig":{"topicsConfig":[{"name":"t","definition":"money","type":"DENY"}]},"contentPolicyConfig":{"filtersConfig":[{"type":"PROMPT_ATTACK","inputStrength":"HIGH","outputStrength":"NONE"}]}}}`,
		`{"source":"OUTPUT","content":[{"text":{"text":"a"}},{"text":{"text":"b","qualifiers":["grounding_source"]}}],"policy":{"name":"g","contextualGroundingPolicyConfig":{"filtersConfig":[{"type":"GROUNDING","threshold":0.5}]}}}`,
		`{"source":"INPUT","guardrailIdentifier":"gr-x","guardrailVersion":"DRAFT","content":[]}`,
	} {
		f.Add([]byte(s))
	}
	l := fuzzPlatform(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		fuzzCall(t, l, l.DemoKey, "/v1/guardrails/apply", "application/json", body)
	})
}

func FuzzGuardrailPolicy(f *testing.F) {
	for _, s := range []string{
		`{"name":"p","blockedInputMessaging":"no","sensitiveInformationPolicyConfig":{"piiEntitiesConfig":[{"type":"NAME","action":"BLOCK"}]}}`,
		`{"name":"p","tenant":"demo","wordPolicyConfig":{"wordsConfig":[{"text":"x"}]}}`,
		`{"name":"p","sensitiveInformationPolicyConfig":{"regexesConfig":[{"name":"r","pattern":"(a|b)*c{2,5}","action":"ANONYMIZE"}]}}`,
		`{"name":"b","bedrockGuardrail":{"guardrailIdentifier":"abc","guardrailVersion":"1"}}`,
	} {
		f.Add([]byte(s))
	}
	l := fuzzPlatform(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		fuzzCall(t, l, "adm", "/admin/guardrail-policies", "application/json", body)
	})
}

func FuzzRetrieve(f *testing.F) {
	for _, s := range []string{`{"query":"leave","top_k":3}`, `{"query":"x","search_type":"HYBRID","filter":{"andAll":[{"equals":{"key":"team","value":"hr"}},{"in":{"key":"y","value":[1,2]}}]}}`,
		`{"query":"","top_k":-1}`, `{"query":"x","filter":{"orAll":[{"startsWith":{"key":"k","value":"v"}},{"greaterThan":{"key":"n","value":2}}]}}`} {
		f.Add([]byte(s))
	}
	l := fuzzPlatform(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		fuzzCall(t, l, l.DemoKey, "/v1/knowledge-bases/docs/retrieve", "application/json", body)
	})
}

// FuzzUpload fuzzes multipart form data: the boundary and the whole body.
func FuzzUpload(f *testing.F) {
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	fw, _ := mw.CreateFormFile("file", "leave.md")
	_, _ = io.WriteString(fw, "# Leave\nParental leave is sixteen weeks.\n")
	_ = mw.WriteField("metadata", `{"team":"hr"}`)
	_ = mw.Close()
	f.Add(mw.Boundary(), form.Bytes())
	f.Add("x", []byte("--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\nhello\r\n--x--\r\n"))
	f.Add("b", []byte("--b\r\nContent-Disposition: form-data; name=\"metadata\"\r\n\r\n{\"a\":\r\n--b--"))
	l := fuzzPlatform(f)
	f.Fuzz(func(t *testing.T, boundary string, body []byte) {
		fuzzCall(t, l, l.DemoKey, "/v1/knowledge-bases/docs/documents", "multipart/form-data; boundary="+boundary, body)
	})
}

func FuzzResponses(f *testing.F) {
	for _, s := range []string{
		`{"model":"local-chat","input":"What is Plinth?"}`,
		`{"model":"local-chat","input":"What is Plinth?","stream":true,"max_output_tokens":16}`,
		`{"model":"local-chat","input":[{"role":"user","content":[{"type":"input_text","text":"hi"}]},{"type":"function_call_output","call_id":"c","output":{"a":1}}]}`,
		`{"model":"local-chat","input":"x","tools":[{"type":"function","name":"f","parameters":{"type":"object"}}],"tool_choice":{"type":"function","name":"f"}}`,
		`{"model":"local-chat","input":"x","tools":[{"type":"mcp","server_label":"s","require_approval":{"never":{"tool_names":["a"]}}}],"tool_choice":{"type":"allowed_tools","mode":"required","tools":[{"type":"mcp","server_label":"s"}]}}`,
		`{"model":"agent:nobody","input":"x","previous_response_id":"resp_x","tool_choice":"none"}`,
	} {
		f.Add([]byte(s))
	}
	l := fuzzPlatform(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		fuzzCall(t, l, l.DemoKey, "/v1/responses", "application/json", body)
	})
}
