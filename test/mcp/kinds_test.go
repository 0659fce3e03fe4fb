package mcp

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestOpenAPIServer registers an HTTP API by its OpenAPI document: each operation becomes
// a tool, calls carry the server's credential in its header, and HTTP errors come back
// as error results.
func TestOpenAPIServer(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Api-Key") != "s3cret" {
			http.Error(w, `{"error":"no key"}`, http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == "GET" && r.URL.Path == "/pets/7":
			_, _ = w.Write([]byte(`{"id":"7","name":"Rex","verbose":` + jsonBool(r.URL.Query().Get("verbose") == "true") + `}`))
		case r.Method == "POST" && r.URL.Path == "/pets":
			var in map[string]any
			_ = json.NewDecoder(r.Body).Decode(&in)
			w.WriteHeader(http.StatusCreated)
			_ = json.NewEncoder(w).Encode(map[string]any{"id": "8", "name": in["name"]})
		default:
			http.Error(w, `{"error":"no such pet"}`, http.StatusNotFound)
		}
	}))
	defer api.Close()
	doc := map[string]any{
		"openapi": "3.0.3", "info": map[string]any{"title": "Pets", "version": "1"},
		"servers": []map[string]any{{"url": api.URL}},
		"paths": map[string]any{
			"/pets/{id}": map[string]any{"get": map[string]any{"operationId": "getPet", "summary": "Get a pet",
				"parameters": []map[string]any{{"name": "id", "in": "path", "required": true, "schema": map[string]any{"type": "string"}},
					{"name": "verbose", "in": "query", "schema": map[string]any{"type": "boolean"}}}}},
			"/pets": map[string]any{"post": map[string]any{"operationId": "createPet", "summary": "Add a pet",
				"requestBody": map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Pet"}}}}}},
		},
		"components": map[string]any{"schemas": map[string]any{"Pet": map[string]any{"type": "object", "properties": map[string]any{"name": map[string]any{"type": "string"}}, "required": []string{"name"}}}},
	}
	e := newEnv(t)
	key := e.tenant("petco")
	var s struct {
		Tools []struct {
			Name        string          `json:"name"`
			InputSchema json.RawMessage `json:"input_schema"`
			Status      string          `json:"status"`
		} `json:"tools"`
	}
	e.do("POST", "/admin/tool-servers", adminKey, map[string]any{"id": "pets", "kind": "openapi", "openapi": doc, "prefix": "pets.",
		"credential": map[string]string{"header": "X-Api-Key", "value": "s3cret"}}, http.StatusCreated, &s)
	if len(s.Tools) != 2 || s.Tools[0].Name != "createPet" || s.Tools[1].Name != "getPet" || s.Tools[0].Status != "pending-review" {
		t.Fatalf("tools %+v", s.Tools)
	}
	if !strings.Contains(string(s.Tools[0].InputSchema), `"name":{"type":"string"}`) {
		t.Errorf("the body schema's $ref was not inlined: %s", s.Tools[0].InputSchema)
	}
	e.do("POST", "/admin/tool-servers/pets/review", adminKey, map[string]any{"decision": "approve", "reviewer": "alice"}, http.StatusOK, nil)
	e.grant("petco", map[string]any{"server": "pets"})

	ctx := context.Background()
	cs, err := e.connect(ctx, key, "")
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "pets.getPet", Arguments: map[string]any{"id": "7", "verbose": true}})
	if err != nil || res.IsError {
		t.Fatalf("getPet: %v %+v", err, res)
	}
	if sc, _ := res.StructuredContent.(map[string]any); sc["name"] != "Rex" || sc["verbose"] != true {
		t.Errorf("getPet structured content %v", res.StructuredContent)
	}
	res, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "pets.createPet", Arguments: map[string]any{"body": map[string]any{"name": "Fido"}}})
	if err != nil || res.IsError || !strings.Contains(text(t, res), `"Fido"`) {
		t.Fatalf("createPet: %v %+v", err, res)
	}
	res, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "pets.getPet", Arguments: map[string]any{"id": "99"}})
	if err != nil || !res.IsError || !strings.Contains(text(t, res), "404") {
		t.Fatalf("missing pet: %v %+v", err, res)
	}
}

func jsonBool(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// TestBuiltinTools grants the platform's own guardrail and evaluation tools: they act for
// the calling tenant only.
func TestBuiltinTools(t *testing.T) {
	e := newEnv(t)
	key := e.tenant("builtin-co")
	e.tenant("other-co")
	for _, set := range []string{"guardrail", "evaluation"} {
		e.do("POST", "/admin/tool-servers", adminKey, map[string]any{"id": set, "kind": "builtin", "builtin": set}, http.StatusCreated, nil)
		e.do("POST", "/admin/tool-servers/"+set+"/review", adminKey, map[string]any{"decision": "approve", "reviewer": "alice"}, http.StatusOK, nil)
		e.grant("builtin-co", map[string]any{"server": set})
	}
	suite := func(tenant, id string) {
		e.do("POST", "/admin/eval-suites", adminKey, map[string]any{"tenant": tenant, "id": id,
			"dataset": map[string]any{"items": []map[string]any{{"id": "1", "input": "Capital of France?", "references": []string{"Paris"}, "output": "Paris"}}},
			"target":  map[string]any{"model": "local-chat"}, "metrics": []string{"exact_match"}}, http.StatusCreated, nil)
	}
	suite("builtin-co", "mine")
	suite("other-co", "theirs")

	ctx := context.Background()
	cs, err := e.connect(ctx, key, "2026-07-28")
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "guardrail_check", Arguments: map[string]any{"text": "hello"}})
	if err != nil || res.IsError || !strings.Contains(text(t, res), `"action":"NONE"`) {
		t.Fatalf("guardrail_check: %v %+v %s", err, res, text(t, res))
	}
	res, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "start_evaluation_run", Arguments: map[string]any{"suite": "mine"}})
	if err != nil || res.IsError {
		t.Fatalf("start run: %v %s", err, text(t, res))
	}
	run, _ := res.StructuredContent.(map[string]any)
	id, _ := run["id"].(string)
	if id == "" {
		t.Fatalf("no run id in %s", text(t, res))
	}
	res, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "get_evaluation_run", Arguments: map[string]any{"run_id": id}})
	if err != nil || res.IsError {
		t.Fatalf("get run: %v %s", err, text(t, res))
	}
	res, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "start_evaluation_run", Arguments: map[string]any{"suite": "theirs"}})
	if err != nil || !res.IsError || !strings.Contains(text(t, res), "not found") {
		t.Fatalf("another tenant's suite: %v %s", err, text(t, res))
	}
}

// TestKnowledgeBaseTool grants the platform's knowledge-base retrieval tool: it searches
// the calling tenant's knowledge bases only, and answers with the passages and their
// sources.
func TestKnowledgeBaseTool(t *testing.T) {
	e := newEnv(t)
	key := e.tenant("kb-co")
	otherKey := e.tenant("kb-other")
	e.do("POST", "/admin/tool-servers", adminKey, map[string]any{"id": "kb", "kind": "builtin", "builtin": "knowledge-base"}, http.StatusCreated, nil)
	e.do("POST", "/admin/tool-servers/kb/review", adminKey, map[string]any{"decision": "approve", "reviewer": "alice"}, http.StatusOK, nil)
	e.grant("kb-co", map[string]any{"server": "kb"})
	e.do("POST", "/admin/knowledge-bases", adminKey, map[string]any{"tenant": "kb-co", "id": "handbook"}, http.StatusCreated, nil)
	e.do("POST", "/admin/knowledge-bases", adminKey, map[string]any{"tenant": "kb-other", "id": "secrets"}, http.StatusCreated, nil)
	e.upload(key, "handbook", "leave.txt", "Employees get 30 days of paid leave per year. Unused leave expires in March.")
	e.upload(otherKey, "secrets", "plan.txt", "Project Zanzibar launches in spring.")

	ctx := context.Background()
	cs, err := e.connect(ctx, key, "2026-07-28")
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "retrieve", Arguments: map[string]any{"knowledge_base": "handbook", "query": "How many days of paid leave?", "top_k": 3}})
	if err != nil || res.IsError {
		t.Fatalf("retrieve: %v %s", err, text(t, res))
	}
	out := text(t, res)
	if !strings.Contains(out, "30 days of paid leave") || !strings.Contains(out, "leave.txt") {
		t.Fatalf("retrieve answered %s: want the passage and its source", out)
	}
	if _, ok := res.StructuredContent.(map[string]any); !ok {
		t.Errorf("retrieve: no structured content in %+v", res)
	}
	// Another tenant's knowledge base is not there for this caller.
	res, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "retrieve", Arguments: map[string]any{"knowledge_base": "secrets", "query": "launch"}})
	if err != nil || !res.IsError || strings.Contains(text(t, res), "Zanzibar") {
		t.Fatalf("another tenant's knowledge base: %v %s", err, text(t, res))
	}
	// A tenant without the grant does not see the tool.
	other, err := e.connect(ctx, otherKey, "2026-07-28")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if l, err := other.ListTools(ctx, nil); err != nil || len(l.Tools) != 0 {
		t.Fatalf("a tenant without the grant lists %+v (%v)", l, err)
	}
}

// upload adds a text document to a knowledge base with a tenant's key and waits until
// it is indexed.
func (e *env) upload(key, kb, name, body string) {
	e.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("file", name)
	_, _ = fw.Write([]byte(body))
	mw.Close()
	req, _ := http.NewRequest("POST", e.srv.URL+"/v1/knowledge-bases/"+kb+"/documents", &buf)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		e.t.Fatalf("upload %s: %d %s", name, resp.StatusCode, b)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var list struct {
			Data []struct{ Status, Reason string } `json:"data"`
		}
		e.do("GET", "/v1/knowledge-bases/"+kb+"/documents", key, nil, http.StatusOK, &list)
		if len(list.Data) == 1 && list.Data[0].Status == "indexed" {
			return
		}
		if len(list.Data) == 1 && list.Data[0].Status == "failed" {
			e.t.Fatalf("%s failed: %s", name, list.Data[0].Reason)
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%s not indexed: %+v", name, list.Data)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
