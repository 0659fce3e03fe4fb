package mcp

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

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
