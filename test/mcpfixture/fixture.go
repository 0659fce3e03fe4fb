// Package mcpfixture is a real MCP server built with the Go SDK that serves the tools,
// resources and prompts the MCP conformance suite expects of a server under test
// (its "everything server" requirements), on both protocol revisions. Tests register it
// in the tool catalog as an upstream and run the suite through the platform's /mcp.
package mcpfixture

//lint:file-ignore SA1019 MCP 2026-07-28 deprecates logging, sampling and roots (SEP-2577), but 2025-11-25 clients and servers still use them and the gateway must carry them

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/plinth-ai/plinth/shared/mcpgw"
)

// Name is the fixture's server name.
const Name = "plinth-mcp-fixture"

// Fixture is one fixture server.
type Fixture struct {
	server *mcp.Server
	key    []byte
	// Calls counts tool calls served (tests compare it with what the gateway forwarded).
	Calls atomic.Int64
	// LastHeader holds the last tools/call request's HTTP headers (tests check that a
	// client's credentials never reach the upstream).
	lastHeader atomic.Pointer[http.Header]
	// SlowCancelled counts calls of the slow tool that ended because the caller cancelled.
	SlowCancelled atomic.Int64
	slowStarted   atomic.Int64
}

// New returns a fixture server.
func New() *Fixture {
	f := &Fixture{key: make([]byte, 32)}
	if _, err := rand.Read(f.key); err != nil {
		panic(err)
	}
	f.server = mcp.NewServer(&mcp.Implementation{Name: Name, Version: "1.0.0"}, &mcp.ServerOptions{
		CompletionHandler:  complete,
		SubscribeHandler:   func(context.Context, *mcp.SubscribeRequest) error { return nil },
		UnsubscribeHandler: func(context.Context, *mcp.UnsubscribeRequest) error { return nil },
		Capabilities: &mcp.ServerCapabilities{
			Logging:     &mcp.LoggingCapabilities{},
			Completions: &mcp.CompletionCapabilities{},
			Tools:       &mcp.ToolCapabilities{ListChanged: true},
			Prompts:     &mcp.PromptCapabilities{ListChanged: true},
			Resources:   &mcp.ResourceCapabilities{ListChanged: true, Subscribe: true},
		},
	})
	f.addTools()
	f.addResources()
	f.addPrompts()
	return f
}

// Server returns the SDK server.
func (f *Fixture) Server() *mcp.Server { return f.server }

// LastHeader returns the HTTP headers of the last tools/call the fixture served.
func (f *Fixture) LastHeader() http.Header {
	if h := f.lastHeader.Load(); h != nil {
		return *h
	}
	return nil
}

// Handler serves the fixture over Streamable HTTP, both revisions.
func (f *Fixture) Handler() http.Handler {
	get := func(*http.Request) *mcp.Server { return f.server }
	stateful := mcp.NewStreamableHTTPHandler(get, &mcp.StreamableHTTPOptions{
		EventStore: mcp.NewMemoryEventStore(nil), SessionTimeout: 5 * time.Minute,
	})
	stateless := mcp.NewStreamableHTTPHandler(get, &mcp.StreamableHTTPOptions{Stateless: true, PropagateRequestCancellation: true})
	return mcpgw.Dispatch(stateful, stateless, 4<<20)
}

var (
	noArgs = json.RawMessage(`{"type":"object","properties":{}}`)
	// A 1×1 red PNG and a minimal WAV.
	pngData = mustB64("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")
	wavData = mustB64("UklGRiQAAABXQVZFZm10IBAAAAABAAEAQB8AAEAfAAABAAgAZGF0YQAAAAA=")
)

func mustB64(s string) []byte {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func text(s string) *mcp.CallToolResult {
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: s}}}
}

func (f *Fixture) tool(name, desc string, schema json.RawMessage, h mcp.ToolHandler) {
	f.server.AddTool(&mcp.Tool{Name: name, Description: desc, InputSchema: schema}, func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		f.Calls.Add(1)
		if req.Extra != nil && req.Extra.Header != nil {
			h := req.Extra.Header.Clone()
			f.lastHeader.Store(&h)
		}
		return h(ctx, req)
	})
}

func args(req *mcp.CallToolRequest) map[string]any {
	var m map[string]any
	_ = json.Unmarshal(req.Params.Arguments, &m)
	return m
}

func (f *Fixture) addTools() {
	f.tool("test_simple_text", "Returns simple text", noArgs, func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return text("This is a simple text response for testing."), nil
	})
	f.tool("test_image_content", "Returns an image", noArgs, func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.ImageContent{Data: pngData, MIMEType: "image/png"}}}, nil
	})
	f.tool("test_audio_content", "Returns audio", noArgs, func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.AudioContent{Data: wavData, MIMEType: "audio/wav"}}}, nil
	})
	f.tool("test_embedded_resource", "Returns an embedded resource", noArgs, func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.EmbeddedResource{Resource: &mcp.ResourceContents{
			URI: "test://embedded-resource", MIMEType: "text/plain", Text: "This is an embedded resource content."}}}}, nil
	})
	f.tool("test_multiple_content_types", "Returns text, an image and a resource", noArgs, func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{
			&mcp.TextContent{Text: "Multiple content types test:"},
			&mcp.ImageContent{Data: pngData, MIMEType: "image/png"},
			&mcp.EmbeddedResource{Resource: &mcp.ResourceContents{URI: "test://mixed-content-resource", MIMEType: "application/json", Text: `{"test":"data","value":123}`}},
		}}, nil
	})
	f.tool("test_tool_with_logging", "Logs while it runs", noArgs, func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		for i, msg := range []string{"Tool execution started", "Tool processing data", "Tool execution completed"} {
			if i > 0 {
				pause(ctx, 50*time.Millisecond)
			}
			_ = req.Session.Log(ctx, &mcp.LoggingMessageParams{Level: "info", Logger: Name, Data: msg})
		}
		return text("Tool with logging executed successfully"), nil
	})
	f.tool("test_logging_tool", "Logs at every level", noArgs, func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		for _, l := range []mcp.LoggingLevel{"debug", "info", "warning", "error"} {
			_ = req.Session.Log(ctx, &mcp.LoggingMessageParams{Level: l, Logger: Name, Data: "log at " + string(l)})
		}
		return text("Logging tool executed"), nil
	})
	f.tool("test_tool_with_progress", "Reports progress", noArgs, func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		tok := req.Params.GetProgressToken()
		for i, p := range []float64{0, 50, 100} {
			if i > 0 {
				pause(ctx, 50*time.Millisecond)
			}
			if tok != nil {
				_ = req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: tok, Progress: p, Total: 100})
			}
		}
		return text("Tool with progress executed successfully"), nil
	})
	f.tool("test_error_handling", "Always fails", noArgs, func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		r := text("This tool intentionally returns an error for testing")
		r.IsError = true
		return r, nil
	})
	f.tool("test_reconnection", "Closes its SSE stream mid-call", noArgs, func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		if req.Extra != nil && req.Extra.CloseSSEStream != nil {
			req.Extra.CloseSSEStream(mcp.CloseSSEStreamArgs{RetryAfter: 100 * time.Millisecond})
		}
		pause(ctx, 200*time.Millisecond)
		return text("Reconnection test completed"), nil
	})
	f.tool("json_schema_2020_12_tool", "Tool with JSON Schema 2020-12 features", json.RawMessage(schema202012), func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return text("JSON Schema 2020-12 tool called"), nil
	})
	f.tool("test_x_mcp_header", "Mirrors a parameter into an Mcp-Param header", json.RawMessage(`{"type":"object","properties":{"region":{"type":"string","x-mcp-header":"Region"}},"required":["region"]}`),
		func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return text(fmt.Sprintf("region=%v", args(req)["region"])), nil
		})
	f.addInteractiveTools()
	f.addTestTools()
}

func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

const schema202012 = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "$defs": {"address": {"$anchor": "addressDef", "type": "object", "properties": {"street": {"type": "string"}, "city": {"type": "string"}}}},
  "properties": {
    "name": {"type": "string"},
    "address": {"$ref": "#/$defs/address"},
    "contactMethod": {"type": "string", "enum": ["phone", "email"]},
    "phone": {"type": "string"},
    "email": {"type": "string"}
  },
  "allOf": [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
  "if": {"properties": {"contactMethod": {"const": "phone"}}, "required": ["contactMethod"]},
  "then": {"required": ["phone"]},
  "else": {"required": ["email"]},
  "additionalProperties": false
}`

// state signs s so a tampered requestState is refused.
func (f *Fixture) state(s string) string {
	m := hmac.New(sha256.New, f.key)
	m.Write([]byte(s))
	return base64.RawURLEncoding.EncodeToString([]byte(s)) + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// verify returns the signed value of a requestState, or an Invalid Params error.
func (f *Fixture) verify(st string) (string, error) {
	v, sig, ok := strings.Cut(st, ".")
	raw, err1 := base64.RawURLEncoding.DecodeString(v)
	got, err2 := base64.RawURLEncoding.DecodeString(sig)
	if ok && err1 == nil && err2 == nil {
		m := hmac.New(sha256.New, f.key)
		m.Write(raw)
		if hmac.Equal(m.Sum(nil), got) {
			return string(raw), nil
		}
	}
	return "", &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: "requestState failed its integrity check"}
}

// Tools beyond the conformance suite's, for the gateway's own tests.
func (f *Fixture) addTestTools() {
	f.tool("echo", "Returns its text argument", json.RawMessage(`{"type":"object","properties":{"text":{"type":"string"}},"required":["text"]}`),
		func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			s, _ := args(req)["text"].(string)
			return text(s), nil
		})
	f.tool("big", "Returns a text of the given size", json.RawMessage(`{"type":"object","properties":{"bytes":{"type":"integer"}},"required":["bytes"]}`),
		func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			n, _ := args(req)["bytes"].(float64)
			return text(strings.Repeat("x", int(n))), nil
		})
	f.tool("slow", "Answers after the given milliseconds, or stops when cancelled", json.RawMessage(`{"type":"object","properties":{"ms":{"type":"integer"}},"required":["ms"]}`),
		func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			ms, _ := args(req)["ms"].(float64)
			f.slowStarted.Add(1)
			select {
			case <-ctx.Done():
				f.SlowCancelled.Add(1)
				return nil, ctx.Err()
			case <-time.After(time.Duration(ms) * time.Millisecond):
				return text("done"), nil
			}
		})
}
