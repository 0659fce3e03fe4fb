package toolhub

import (
	"context"
	"encoding/json"
)

// Discovery is what a tool server offers now.
type Discovery struct {
	Tools []Tool
	// MCP servers only.
	Resources         []json.RawMessage
	ResourceTemplates []json.RawMessage
	Prompts           []json.RawMessage
	Capabilities      json.RawMessage
}

// Relay receives what a tool server sends back while one call runs: progress and log
// notifications, and requests of the client (MCP sampling, elicitation, roots).
type Relay interface {
	Notify(ctx context.Context, method string, params json.RawMessage)
	Request(ctx context.Context, method string, params json.RawMessage) (json.RawMessage, error)
}

// Invocation is one call of a tool (or, for MCP servers, of another method) at a backend.
type Invocation struct {
	// Method is the MCP method ("tools/call" for every tool call, whatever the backend).
	Method string
	// Tool is the tool's upstream definition (nil for methods other than tools/call).
	Tool *Tool
	// Params are the MCP request params with names as the upstream knows them.
	Params json.RawMessage
	// Secret is the server's resolved credential ("" when none is configured).
	Secret string
	// MaxBytes caps the result read from the backend.
	MaxBytes int
	// ClientCapabilities, LogLevel and Relay carry the calling MCP client's context, so an
	// MCP upstream can ask it for input and report progress (nil/"" for other callers).
	ClientCapabilities json.RawMessage
	LogLevel           string
	Relay              Relay
	// Caller is who calls, for built-in tools that act for the caller's tenant.
	Caller *Caller
}

// Backend reaches the tool servers of one kind.
type Backend interface {
	// Discover lists what the server offers now.
	Discover(ctx context.Context, s *Server, secret string) (*Discovery, error)
	// Invoke makes one call and returns the MCP result object (a CallToolResult for
	// tools/call). A JSON-RPC error the server answered with is returned as *RPCError.
	Invoke(ctx context.Context, s *Server, in *Invocation) (json.RawMessage, error)
}

// RPCError is an error a tool server answered with, passed on to MCP clients unchanged.
type RPCError struct {
	Code    int64           `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data,omitempty"`
}

func (e *RPCError) Error() string { return e.Message }

// Secrets resolves a server's credential to the value sent upstream.
type Secrets func(ctx context.Context, c *Credential) (string, error)

// Guard applies the caller's guardrail policy to texts: arguments leave as the model's
// OUTPUT, results enter the model's context as INPUT.
type Guard interface {
	Check(ctx context.Context, c *Caller, source GuardSource, texts []string) (GuardVerdict, error)
}

// GuardSource says which way the checked text flows.
type GuardSource string

const (
	GuardInput  GuardSource = "INPUT"
	GuardOutput GuardSource = "OUTPUT"
)

// GuardVerdict is a guardrail outcome: Texts has one entry per checked text, masked when
// Changed; Blocked texts must not pass; Findings counts findings by type.
type GuardVerdict struct {
	Blocked  bool
	Message  string
	Texts    []string
	Changed  bool
	Findings map[string]int
}

// CallRecord is one tool call's usage and audit record; it holds no arguments or results.
type CallRecord struct {
	RequestID string
	Tenant    string
	KeyID     string
	Server    string
	Tool      string
	Method    string
	// Status is "ok", "error", "blocked", "denied" or "cancelled"; Code a short reason.
	Status       string
	Code         string
	LatencyMS    int64
	ArgBytes     int
	ResultBytes  int
	Guardrail    map[string]int
	ResultIsTool bool
}

// Recorder receives one record per call (usage) and per decision (audit).
type Recorder interface {
	RecordCall(ctx context.Context, rec CallRecord)
}
