package mcpfixture

//lint:file-ignore SA1019 MCP 2026-07-28 deprecates logging, sampling and roots (SEP-2577), but 2025-11-25 clients and servers still use them and the gateway must carry them

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Tools that need the client's input answer with an input-required result (SEP-2322);
// the SDK turns it into server-to-client requests for clients of 2025-11-25.

func elicit(msg string, schema string) *mcp.ElicitParams {
	return &mcp.ElicitParams{Message: msg, RequestedSchema: json.RawMessage(schema)}
}

func sample(prompt string, maxTokens int64) *mcp.CreateMessageParams {
	return &mcp.CreateMessageParams{MaxTokens: maxTokens, Messages: []*mcp.SamplingMessage{{Role: "user", Content: &mcp.TextContent{Text: prompt}}}}
}

func need(reqs mcp.InputRequestMap, state string) *mcp.CallToolResult {
	return &mcp.CallToolResult{InputRequests: reqs, RequestState: state}
}

func elicited(r mcp.InputResponse) (*mcp.ElicitResult, bool) {
	e, ok := r.(*mcp.ElicitResult)
	return e, ok
}

func sampledText(r mcp.InputResponse) (string, bool) {
	switch s := r.(type) {
	case *mcp.CreateMessageWithToolsResult:
		for _, c := range s.Content {
			if t, ok := c.(*mcp.TextContent); ok {
				return t.Text, true
			}
		}
		return "", true
	case *mcp.CreateMessageResult:
		if t, ok := s.Content.(*mcp.TextContent); ok {
			return t.Text, true
		}
		return "", true
	}
	return "", false
}

func elicitation(e *mcp.ElicitResult) string {
	b, _ := json.Marshal(e.Content)
	return fmt.Sprintf("action=%s, content=%s", e.Action, b)
}

const nameSchema = `{"type":"object","properties":{"name":{"type":"string"}},"required":["name"]}`

func (f *Fixture) addInteractiveTools() {
	f.tool("test_sampling", "Asks the client's model", json.RawMessage(`{"type":"object","properties":{"prompt":{"type":"string"}},"required":["prompt"]}`),
		func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			if r, ok := req.Params.InputResponses["sample"]; ok {
				if t, ok := sampledText(r); ok {
					return text("LLM response: " + t), nil
				}
			}
			p, _ := args(req)["prompt"].(string)
			return need(mcp.InputRequestMap{"sample": sample(p, 100)}, ""), nil
		})
	f.tool("test_elicitation", "Asks the user", json.RawMessage(`{"type":"object","properties":{"message":{"type":"string"}},"required":["message"]}`),
		func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			if e, ok := elicited(req.Params.InputResponses["user"]); ok {
				return text("User response: " + elicitation(e)), nil
			}
			m, _ := args(req)["message"].(string)
			return need(mcp.InputRequestMap{"user": elicit(m, `{"type":"object","properties":{"username":{"type":"string","description":"User's response"},"email":{"type":"string","description":"User's email address"}},"required":["username","email"]}`)}, ""), nil
		})
	f.tool("test_elicitation_sep1034_defaults", "Asks with defaults", noArgs, func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		if e, ok := elicited(req.Params.InputResponses["defaults"]); ok {
			return text("Elicitation completed: " + elicitation(e)), nil
		}
		return need(mcp.InputRequestMap{"defaults": elicit("Please review your details", `{"type":"object","properties":{
			"name":{"type":"string","default":"John Doe"},
			"age":{"type":"integer","default":30},
			"score":{"type":"number","default":95.5},
			"status":{"type":"string","enum":["active","inactive","pending"],"default":"active"},
			"verified":{"type":"boolean","default":true}}}`)}, ""), nil
	})
	f.tool("test_elicitation_sep1330_enums", "Asks with enums", noArgs, func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		if e, ok := elicited(req.Params.InputResponses["enums"]); ok {
			return text("Elicitation completed: " + elicitation(e)), nil
		}
		return need(mcp.InputRequestMap{"enums": elicit("Choose options", `{"type":"object","properties":{
			"untitledSingle":{"type":"string","enum":["option1","option2","option3"]},
			"titledSingle":{"type":"string","oneOf":[{"const":"value1","title":"First Option"},{"const":"value2","title":"Second Option"},{"const":"value3","title":"Third Option"}]},
			"legacyEnum":{"type":"string","enum":["opt1","opt2","opt3"],"enumNames":["Option One","Option Two","Option Three"]},
			"untitledMulti":{"type":"array","items":{"type":"string","enum":["option1","option2","option3"]}},
			"titledMulti":{"type":"array","items":{"anyOf":[{"const":"value1","title":"First Choice"},{"const":"value2","title":"Second Choice"},{"const":"value3","title":"Third Choice"}]}}}}`)}, ""), nil
	})

	f.tool("test_input_required_result_elicitation", "Input-required elicitation", noArgs, func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		if e, ok := elicited(req.Params.InputResponses["user_name"]); ok {
			return text(fmt.Sprintf("Hello, %v!", e.Content["name"])), nil
		}
		return need(mcp.InputRequestMap{"user_name": elicit("What is your name?", nameSchema)}, ""), nil
	})
	f.tool("test_input_required_result_sampling", "Input-required sampling", noArgs, func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		if t, ok := sampledText(req.Params.InputResponses["capital_question"]); ok {
			return text("The model answered: " + t), nil
		}
		return need(mcp.InputRequestMap{"capital_question": sample("What is the capital of France?", 100)}, ""), nil
	})
	f.tool("test_input_required_result_list_roots", "Input-required roots", noArgs, func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		if r, ok := req.Params.InputResponses["client_roots"].(*mcp.ListRootsResult); ok {
			uris := make([]string, len(r.Roots))
			for i, root := range r.Roots {
				uris[i] = root.URI
			}
			return text("Client roots: " + strings.Join(uris, ", ")), nil
		}
		return need(mcp.InputRequestMap{"client_roots": &mcp.ListRootsParams{}}, ""), nil
	})
	f.tool("test_input_required_result_request_state", "Input-required with state", noArgs, func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		if _, ok := elicited(req.Params.InputResponses["confirm"]); ok && req.Params.RequestState != "" {
			if _, err := f.verify(req.Params.RequestState); err != nil {
				return nil, err
			}
			return text("state-ok: confirmation received"), nil
		}
		return need(mcp.InputRequestMap{"confirm": elicit("Please confirm", `{"type":"object","properties":{"ok":{"type":"boolean"}},"required":["ok"]}`)}, f.state("confirm")), nil
	})
	f.tool("test_input_required_result_multiple_inputs", "Several inputs at once", noArgs, func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		in := req.Params.InputResponses
		_, a := elicited(in["user_name"])
		_, b := sampledText(in["greeting"])
		_, c := in["client_roots"].(*mcp.ListRootsResult)
		if a && b && c && req.Params.RequestState != "" {
			if _, err := f.verify(req.Params.RequestState); err != nil {
				return nil, err
			}
			return text("All inputs received"), nil
		}
		return need(mcp.InputRequestMap{
			"user_name":    elicit("What is your name?", nameSchema),
			"greeting":     sample("Generate a greeting", 50),
			"client_roots": &mcp.ListRootsParams{},
		}, f.state("multiple")), nil
	})
	f.tool("test_input_required_result_multi_round", "Two rounds of input", noArgs, func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		round := ""
		if req.Params.RequestState != "" {
			r, err := f.verify(req.Params.RequestState)
			if err != nil {
				return nil, err
			}
			round = r
		}
		switch {
		case round == "round-1":
			if _, ok := elicited(req.Params.InputResponses["step1"]); ok {
				return need(mcp.InputRequestMap{"step2": elicit("Step 2: What is your favorite color?", `{"type":"object","properties":{"color":{"type":"string"}},"required":["color"]}`)}, f.state("round-2")), nil
			}
		case round == "round-2":
			if _, ok := elicited(req.Params.InputResponses["step2"]); ok {
				return text("Both rounds completed"), nil
			}
		}
		return need(mcp.InputRequestMap{"step1": elicit("Step 1: What is your name?", nameSchema)}, f.state("round-1")), nil
	})
	f.tool("test_input_required_result_tampered_state", "Refuses tampered state", noArgs, func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		if req.Params.RequestState != "" {
			if _, err := f.verify(req.Params.RequestState); err != nil {
				return nil, err
			}
			return text("state verified"), nil
		}
		return need(mcp.InputRequestMap{"confirm": elicit("Please confirm", `{"type":"object","properties":{"ok":{"type":"boolean"}},"required":["ok"]}`)}, f.state("tamper-check")), nil
	})
	f.tool("test_missing_capability", "Needs the client's sampling capability", noArgs, func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		if caps := req.ClientCapabilities(); caps == nil || caps.Sampling == nil {
			data, _ := json.Marshal(mcp.MissingRequiredClientCapabilityData{RequiredCapabilities: &mcp.ClientCapabilities{Sampling: &mcp.SamplingCapabilities{}}})
			return nil, &jsonrpc.Error{Code: mcp.CodeMissingRequiredClientCapabilities, Message: "this tool needs the client's sampling capability", Data: data}
		}
		if t, ok := sampledText(req.Params.InputResponses["sample"]); ok {
			return text("sampled: " + t), nil
		}
		return need(mcp.InputRequestMap{"sample": sample("Say hello", 10)}, ""), nil
	})
	f.tool("test_input_required_result_capabilities", "Asks only for what the client can give", noArgs, func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		if len(req.Params.InputResponses) > 0 {
			return text("inputs received"), nil
		}
		caps := req.ClientCapabilities()
		reqs := mcp.InputRequestMap{}
		if caps != nil && caps.Sampling != nil {
			reqs["sample"] = sample("Say hello", 10)
		}
		if caps != nil && caps.Elicitation != nil {
			reqs["user_name"] = elicit("What is your name?", nameSchema)
		}
		if len(reqs) == 0 {
			return text("the client declared neither sampling nor elicitation"), nil
		}
		return need(reqs, ""), nil
	})
	f.tool("test_streaming_elicitation", "Elicits while it runs", noArgs, func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		if e, ok := elicited(req.Params.InputResponses["user"]); ok {
			return text("Elicitation completed: " + elicitation(e)), nil
		}
		return need(mcp.InputRequestMap{"user": elicit("What is your name?", nameSchema)}, ""), nil
	})
}
