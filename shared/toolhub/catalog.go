package toolhub

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/plinth-ai/plinth/shared/fault"
	"github.com/plinth-ai/plinth/shared/idpattern"
)

// Sentinel errors. Handlers map them to HTTP statuses with errors.Is.
var (
	// ErrNotFound means no tool server, tool or grant has the ID (404).
	ErrNotFound = fault.Sentinel("toolhub: not found", fault.ErrNotFound)
	// ErrExists means a server or grant with the ID already exists (409).
	ErrExists = fault.Sentinel("toolhub: already exists", fault.ErrExists)
	// ErrInvalid means the input failed validation (400).
	ErrInvalid = fault.Sentinel("toolhub: invalid input", fault.ErrInvalid)
	// ErrConflict means a concurrent change won, or a grant would make two tools share a name (409).
	ErrConflict = fault.Sentinel("toolhub: conflict", fault.ErrConflict)
	// ErrUpstream means the tool server failed or could not be reached (502).
	ErrUpstream = errors.New("toolhub: upstream tool server failed")
	// ErrTimeout means the tool server did not answer within the call's timeout (504).
	ErrTimeout = errors.New("toolhub: tool call timed out")
	// ErrTooLarge means arguments or a result exceed the server's size caps (413 / error result).
	ErrTooLarge = errors.New("toolhub: payload exceeds the size cap")
	// ErrRateLimited means the caller's calls per minute for the server are used up (429).
	ErrRateLimited = errors.New("toolhub: tool call rate limit reached")
	// ErrBlocked means a guardrail blocked the arguments or the result.
	ErrBlocked = errors.New("toolhub: blocked by a guardrail")
)

// Kind is how a tool server is reached.
type Kind string

const (
	// KindMCP is a remote MCP server over Streamable HTTP.
	KindMCP Kind = "mcp"
	// KindLambda is an AWS Lambda function: the tool's arguments are the event, its
	// response the result.
	KindLambda Kind = "lambda"
	// KindOpenAPI is an HTTP API described by an OpenAPI 3 document; each operation is a tool.
	KindOpenAPI Kind = "openapi"
	// KindBuiltin is a tool the platform itself provides.
	KindBuiltin Kind = "builtin"
)

// Status is a server's or a tool's place in its review lifecycle.
type Status string

const (
	StatusPendingReview Status = "pending-review"
	StatusApproved      Status = "approved"
	StatusRejected      Status = "rejected"
	StatusRetired       Status = "retired"
)

// Credential says where the secret sent to the upstream comes from. The value itself is
// write-only: accepted on create, never returned. A client's own credentials are never
// passed on.
type Credential struct {
	// Header is the HTTP header carrying the secret (default Authorization).
	Header string `json:"header,omitempty"`
	// Scheme prefixes the value in the header (default "Bearer" for Authorization, none otherwise).
	Scheme string `json:"scheme,omitempty"`
	// Value is the secret itself (stored, never returned). In AWS prefer Secret.
	Value string `json:"value,omitempty"`
	// Env names an environment variable holding the secret (local configuration).
	Env string `json:"env,omitempty"`
	// Secret names a Secrets Manager secret (ARN or name) holding it.
	Secret string `json:"secret,omitempty"`
}

// IsZero reports whether no credential is configured.
func (c *Credential) IsZero() bool {
	return c == nil || (c.Value == "" && c.Env == "" && c.Secret == "")
}

// Limits bound every call to a server's tools. Zero values take the defaults.
type Limits struct {
	// TimeoutMS bounds one call (default 30 000).
	TimeoutMS int `json:"timeout_ms,omitempty"`
	// MaxArgumentBytes caps the JSON arguments of a call (default 256 KiB).
	MaxArgumentBytes int `json:"max_argument_bytes,omitempty"`
	// MaxResultBytes caps the JSON result of a call (default 1 MiB).
	MaxResultBytes int `json:"max_result_bytes,omitempty"`
}

// Defaults for Limits.
const (
	DefaultTimeout          = 30 * time.Second
	DefaultMaxArgumentBytes = 256 << 10
	DefaultMaxResultBytes   = 1 << 20
)

// Timeout returns the call timeout.
func (l Limits) Timeout() time.Duration {
	if l.TimeoutMS > 0 {
		return time.Duration(l.TimeoutMS) * time.Millisecond
	}
	return DefaultTimeout
}

// ArgumentCap returns the argument size cap in bytes.
func (l Limits) ArgumentCap() int {
	if l.MaxArgumentBytes > 0 {
		return l.MaxArgumentBytes
	}
	return DefaultMaxArgumentBytes
}

// ResultCap returns the result size cap in bytes.
func (l Limits) ResultCap() int {
	if l.MaxResultBytes > 0 {
		return l.MaxResultBytes
	}
	return DefaultMaxResultBytes
}

// Review records a review decision.
type Review struct {
	Decision string    `json:"decision"`
	Reviewer string    `json:"reviewer"`
	Comment  string    `json:"comment,omitempty"`
	Tools    []string  `json:"tools,omitempty"`
	At       time.Time `json:"at"`
}

// Operation is the HTTP operation behind an OpenAPI tool.
type Operation struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	// In maps each argument to where it goes: "path", "query", "header" or "body".
	In map[string]string `json:"in,omitempty"`
}

// Tool is one catalogued tool definition.
type Tool struct {
	// Name is the tool's name upstream; callers see Server.Prefix + Name.
	Name         string          `json:"name"`
	Title        string          `json:"title,omitempty"`
	Description  string          `json:"description,omitempty"`
	InputSchema  json.RawMessage `json:"input_schema"`
	OutputSchema json.RawMessage `json:"output_schema,omitempty"`
	Annotations  json.RawMessage `json:"annotations,omitempty"`
	// Hash is the SHA-256 of the current definition; ApprovedHash the one a reviewer
	// approved. The tool is callable only while they are equal and Status is approved.
	Hash         string     `json:"hash"`
	ApprovedHash string     `json:"approved_hash,omitempty"`
	Status       Status     `json:"status"`
	Operation    *Operation `json:"operation,omitempty"`
	// Removed is set when the last sync no longer found the tool upstream.
	Removed bool `json:"removed,omitempty"`
}

// Approved reports whether the tool may be listed and called.
func (t *Tool) Approved() bool {
	return t.Status == StatusApproved && !t.Removed && t.Hash != "" && t.Hash == t.ApprovedHash
}

// DefinitionHash is the SHA-256 of a tool definition's canonical JSON (keys sorted,
// insignificant whitespace dropped), so a reformatted but equal definition keeps its hash.
func DefinitionHash(t *Tool) string {
	canon := map[string]any{"name": t.Name}
	put := func(k string, v json.RawMessage) {
		if len(v) == 0 {
			return
		}
		var x any
		if json.Unmarshal(v, &x) == nil && x != nil {
			canon[k] = x
		}
	}
	if t.Title != "" {
		canon["title"] = t.Title
	}
	if t.Description != "" {
		canon["description"] = t.Description
	}
	put("inputSchema", t.InputSchema)
	put("outputSchema", t.OutputSchema)
	put("annotations", t.Annotations)
	if t.Operation != nil {
		canon["operation"] = t.Operation
	}
	b, _ := json.Marshal(canon)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Server is one catalogued tool server.
type Server struct {
	ID          string            `json:"id"`
	Kind        Kind              `json:"kind"`
	Description string            `json:"description,omitempty"`
	Owner       string            `json:"owner,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
	// Prefix is prepended to the server's tool and prompt names as callers see them
	// (e.g. "github."), so servers with equal tool names can be granted together.
	Prefix string `json:"prefix,omitempty"`
	// URL is an MCP server's endpoint, or an OpenAPI API's base URL (default: the
	// document's first server).
	URL string `json:"url,omitempty"`
	// Function is a Lambda function's name or ARN.
	Function string `json:"function,omitempty"`
	// OpenAPI is the API's OpenAPI 3 document.
	OpenAPI json.RawMessage `json:"openapi,omitempty"`
	// Builtin names a built-in tool set: "knowledge-base", "guardrail" or "evaluation".
	Builtin    string      `json:"builtin,omitempty"`
	Credential *Credential `json:"credential,omitempty"`
	Limits     Limits      `json:"limits"`
	Status     Status      `json:"status"`
	Reviews    []Review    `json:"reviews,omitempty"`
	Tools      []Tool      `json:"tools"`
	// Resources, ResourceTemplates and Prompts are an MCP server's other features as its
	// last sync listed them, served to callers whose grant covers the whole server.
	Resources         []json.RawMessage `json:"resources,omitempty"`
	ResourceTemplates []json.RawMessage `json:"resource_templates,omitempty"`
	Prompts           []json.RawMessage `json:"prompts,omitempty"`
	// Capabilities are an MCP server's advertised capabilities at the last sync.
	Capabilities json.RawMessage `json:"capabilities,omitempty"`
	SyncedAt     *time.Time      `json:"synced_at,omitempty"`
	SyncError    string          `json:"sync_error,omitempty"`
	CreatedAt    time.Time       `json:"created_at"`
	CreatedBy    string          `json:"created_by,omitempty"`
	UpdatedAt    time.Time       `json:"updated_at"`
	// Version increments with every change (optimistic concurrency).
	Version int64 `json:"version"`
}

// Tool returns the server's tool with the upstream name.
func (s *Server) Tool(name string) (*Tool, bool) {
	for i := range s.Tools {
		if s.Tools[i].Name == name {
			return &s.Tools[i], true
		}
	}
	return nil, false
}

// Redacted returns a copy safe to show: the credential's value removed.
func (s Server) Redacted() Server {
	if s.Credential != nil {
		c := *s.Credential
		c.Value = ""
		s.Credential = &c
	}
	return s
}

var (
	idPattern     = idpattern.MustCompile(`^[a-z0-9][a-z0-9-]{1,62}$`)
	prefixPattern = idpattern.MustCompile(`^[A-Za-z0-9_./-]{0,32}$`)
	// ToolNamePattern is the MCP tool-name syntax callers' names must follow.
	ToolNamePattern = idpattern.MustCompile(`^[A-Za-z0-9_./-]{1,64}$`)
)

// Builtin tool sets.
const (
	BuiltinKnowledgeBase = "knowledge-base"
	BuiltinGuardrail     = "guardrail"
	BuiltinEvaluation    = "evaluation"
)

// Validate checks a server definition before it is stored.
func (s *Server) Validate() error {
	if !idPattern.MatchString(s.ID) {
		return fmt.Errorf("%w: id %q must be 2-63 lowercase letters, digits and hyphens", ErrInvalid, s.ID)
	}
	if !prefixPattern.MatchString(s.Prefix) {
		return fmt.Errorf("%w: prefix %q must be at most 32 of A-Z a-z 0-9 _ . / -", ErrInvalid, s.Prefix)
	}
	switch s.Kind {
	case KindMCP:
		if err := httpURL(s.URL); err != nil {
			return fmt.Errorf("%w: url: %v", ErrInvalid, err)
		}
	case KindLambda:
		if s.Function == "" {
			return fmt.Errorf("%w: function is required for kind lambda", ErrInvalid)
		}
	case KindOpenAPI:
		if len(s.OpenAPI) == 0 {
			return fmt.Errorf("%w: openapi (the API's OpenAPI document) is required for kind openapi", ErrInvalid)
		}
		if s.URL != "" {
			if err := httpURL(s.URL); err != nil {
				return fmt.Errorf("%w: url: %v", ErrInvalid, err)
			}
		}
	case KindBuiltin:
		switch s.Builtin {
		case BuiltinKnowledgeBase, BuiltinGuardrail, BuiltinEvaluation:
		default:
			return fmt.Errorf("%w: builtin %q must be knowledge-base, guardrail or evaluation", ErrInvalid, s.Builtin)
		}
	default:
		return fmt.Errorf("%w: kind %q must be mcp, lambda, openapi or builtin", ErrInvalid, s.Kind)
	}
	if s.Limits.TimeoutMS < 0 || s.Limits.MaxArgumentBytes < 0 || s.Limits.MaxResultBytes < 0 {
		return fmt.Errorf("%w: limits must not be negative", ErrInvalid)
	}
	if s.Limits.TimeoutMS > 15*60*1000 {
		return fmt.Errorf("%w: limits.timeout_ms must be at most 900000 (15 minutes)", ErrInvalid)
	}
	for i := range s.Tools {
		if err := validTool(&s.Tools[i], s.Prefix); err != nil {
			return err
		}
	}
	return nil
}

func httpURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q must be an absolute http(s) URL", raw)
	}
	return nil
}

// validTool checks a tool definition an upstream gave: a caller-visible name in MCP's
// syntax and an object input schema (what MCP clients and the SDK require).
func validTool(t *Tool, prefix string) error {
	if !ToolNamePattern.MatchString(prefix + t.Name) {
		return fmt.Errorf("%w: tool name %q must match %s", ErrInvalid, prefix+t.Name, ToolNamePattern)
	}
	var schema map[string]any
	if err := json.Unmarshal(t.InputSchema, &schema); err != nil || schema == nil {
		return fmt.Errorf("%w: tool %s: input_schema must be a JSON object", ErrInvalid, t.Name)
	}
	if schema["type"] != "object" {
		return fmt.Errorf("%w: tool %s: input_schema must have type \"object\"", ErrInvalid, t.Name)
	}
	if len(t.OutputSchema) > 0 {
		var out map[string]any
		if err := json.Unmarshal(t.OutputSchema, &out); err != nil {
			return fmt.Errorf("%w: tool %s: output_schema must be a JSON object", ErrInvalid, t.Name)
		}
	}
	return nil
}
