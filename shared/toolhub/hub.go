package toolhub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/plinth-ai/plinth/shared/store"
	"github.com/plinth-ai/plinth/shared/tenant"
)

// Hub lists and calls tools for callers, through the catalog's policy and the call
// pipeline. It is safe for concurrent use.
type Hub struct {
	svc     *Service
	tenants func(ctx context.Context, id string) (*tenant.Tenant, error)
	guard   Guard
	rec     Recorder
	st      store.Store
	now     func() time.Time
	log     *slog.Logger
}

// HubOption configures a Hub.
type HubOption func(*Hub)

// WithGuard applies guardrails to arguments and results.
func WithGuard(g Guard) HubOption { return func(h *Hub) { h.guard = g } }

// WithRecorder receives one usage and audit record per call.
func WithRecorder(r Recorder) HubOption { return func(h *Hub) { h.rec = r } }

// WithRateLimitStore counts grants' calls per minute in st (in QUOTA# partitions).
func WithRateLimitStore(st store.Store) HubOption { return func(h *Hub) { h.st = st } }

// WithTenants makes every decision read the caller's tenant afresh (through lookup's own
// cache), so a suspension or a new guardrail policy applies to sessions already open.
func WithTenants(lookup func(ctx context.Context, id string) (*tenant.Tenant, error)) HubOption {
	return func(h *Hub) { h.tenants = lookup }
}

// WithHubLogger sets the logger.
func WithHubLogger(l *slog.Logger) HubOption { return func(h *Hub) { h.log = l } }

// NewHub returns a hub over the catalog.
func NewHub(svc *Service, opts ...HubOption) *Hub {
	if svc == nil {
		panic("toolhub.NewHub: nil service")
	}
	h := &Hub{svc: svc, now: time.Now}
	for _, o := range opts {
		o(h)
	}
	if h.log == nil {
		h.log = svc.log
	}
	return h
}

// Catalog returns the hub's catalog.
func (h *Hub) Catalog() *Service { return h.svc }

// Exposed is one tool as a caller sees it.
type Exposed struct {
	// Name is the caller-visible name (the server's prefix and the tool's name).
	Name   string
	Server *Server
	Tool   *Tool
	Grant  *Grant
}

// View is what one caller may list and call.
type View struct {
	// Tools are sorted by Name.
	Tools []Exposed
	// Servers are the servers whose resources and prompts the caller may use (whole-server
	// grants), sorted by ID.
	Servers []*Server
	byName  map[string]int
}

// Lookup returns the exposed tool with the name.
func (v *View) Lookup(name string) (*Exposed, bool) {
	i, ok := v.byName[name]
	if !ok {
		return nil, false
	}
	return &v.Tools[i], true
}

// fresh returns the caller with its tenant read afresh.
func (h *Hub) fresh(ctx context.Context, c *Caller) (*Caller, error) {
	if h.tenants == nil || c.Principal.Admin || c.Principal.TenantID == "" {
		return c, nil
	}
	t, err := h.tenants(ctx, c.Principal.TenantID)
	if err != nil {
		return nil, fmt.Errorf("tenant %s: %w", c.Principal.TenantID, err)
	}
	cc := *c
	cc.Tenant = t
	return &cc, nil
}

func (h *Hub) load(ctx context.Context, c *Caller) ([]*Server, []Grant, error) {
	servers, err := h.svc.Servers(ctx)
	if err != nil {
		return nil, nil, err
	}
	var grants []Grant
	if !c.Principal.Admin {
		if grants, err = h.svc.Grants(ctx, c.Principal.TenantID); err != nil {
			return nil, nil, err
		}
	}
	sorted := make([]*Server, 0, len(servers))
	for _, s := range servers {
		sorted = append(sorted, s)
	}
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].ID < sorted[j].ID })
	return sorted, grants, nil
}

// Visible returns the caller's view: every tool for which Decide admits the caller. When
// two granted servers offer one name, the server with the smaller ID provides it (grants
// that would cause this are refused, but a later sync can still introduce it).
func (h *Hub) Visible(ctx context.Context, c *Caller) (*View, error) {
	c, err := h.fresh(ctx, c)
	if err != nil {
		return nil, err
	}
	servers, grants, err := h.load(ctx, c)
	if err != nil {
		return nil, err
	}
	v := &View{byName: map[string]int{}}
	for _, s := range servers {
		if _, err := Decide(c.Principal, c.Tenant, grants, s, Item{Kind: ItemResource}); err == nil {
			v.Servers = append(v.Servers, s)
		}
		for i := range s.Tools {
			t := &s.Tools[i]
			g, err := Decide(c.Principal, c.Tenant, grants, s, Item{Kind: ItemTool, Name: t.Name})
			if err != nil {
				continue
			}
			name := s.Prefix + t.Name
			if _, taken := v.byName[name]; taken {
				h.log.WarnContext(ctx, "two granted tool servers offer one tool name; the first server's is used",
					"tenant", c.Principal.TenantID, "tool", name, "shadowed_server", s.ID)
				continue
			}
			v.byName[name] = len(v.Tools)
			v.Tools = append(v.Tools, Exposed{Name: name, Server: s, Tool: t, Grant: g})
		}
	}
	sort.Slice(v.Tools, func(i, j int) bool { return v.Tools[i].Name < v.Tools[j].Name })
	for i, e := range v.Tools {
		v.byName[e.Name] = i
	}
	return v, nil
}

// resolve finds the tool a caller names, deciding with the same policy and the same
// server order as Visible.
func (h *Hub) resolve(ctx context.Context, c *Caller, name string) (*Exposed, error) {
	servers, grants, err := h.load(ctx, c)
	if err != nil {
		return nil, err
	}
	var refusal error
	for _, s := range servers {
		if !strings.HasPrefix(name, s.Prefix) {
			continue
		}
		t, ok := s.Tool(strings.TrimPrefix(name, s.Prefix))
		if !ok {
			continue
		}
		g, err := Decide(c.Principal, c.Tenant, grants, s, Item{Kind: ItemTool, Name: t.Name})
		if err != nil {
			if refusal == nil {
				refusal = err
			}
			continue
		}
		return &Exposed{Name: name, Server: s, Tool: t, Grant: g}, nil
	}
	if refusal != nil {
		return nil, refusal
	}
	return nil, fmt.Errorf("tool %s: %w", name, ErrNotGranted)
}

// ServerFor returns a server whose resources and prompts the caller may use.
func (h *Hub) ServerFor(ctx context.Context, c *Caller, id string) (*Server, error) {
	c, err := h.fresh(ctx, c)
	if err != nil {
		return nil, err
	}
	servers, grants, err := h.load(ctx, c)
	if err != nil {
		return nil, err
	}
	for _, s := range servers {
		if s.ID == id {
			if _, err := Decide(c.Principal, c.Tenant, grants, s, Item{Kind: ItemResource}); err != nil {
				return nil, err
			}
			return s, nil
		}
	}
	return nil, fmt.Errorf("server %s: %w", id, ErrNotGranted)
}

// CallParams are one tools/call's parameters (MCP's CallToolParams) and the calling
// client's context.
type CallParams struct {
	Arguments json.RawMessage
	// Meta is the request's _meta (progress token and the like), passed on.
	Meta json.RawMessage
	// InputResponses and RequestState continue a call that needed the client's input.
	InputResponses     json.RawMessage
	RequestState       string
	ClientCapabilities json.RawMessage
	LogLevel           string
	Relay              Relay
}

// Call calls a tool the caller names and returns its MCP CallToolResult. Failures of the
// tool itself (timeout, upstream error, oversized result, a guardrail block, the rate
// limit) come back as results with isError set, which a model can read and act on;
// policy refusals and malformed input are errors (ErrNotGranted, ErrNotApproved,
// ErrInvalid, ErrTooLarge for arguments), as is a JSON-RPC error the tool server
// answered with (*RPCError).
func (h *Hub) Call(ctx context.Context, c *Caller, name string, p CallParams) (json.RawMessage, error) {
	start := h.now()
	rec := CallRecord{RequestID: c.RequestID, Tenant: c.Principal.TenantID, KeyID: c.Principal.KeyID, Tool: name, Method: "tools/call", ArgBytes: len(p.Arguments)}
	defer func() {
		rec.LatencyMS = h.now().Sub(start).Milliseconds()
		if h.rec != nil {
			h.rec.RecordCall(context.WithoutCancel(ctx), rec)
		}
	}()
	c, err := h.fresh(ctx, c)
	if err != nil {
		rec.Status, rec.Code = "error", "tenant_unavailable"
		return nil, err
	}
	e, err := h.resolve(ctx, c, name)
	if err != nil {
		rec.Status, rec.Code = "denied", denialCode(err)
		return nil, err
	}
	s := e.Server
	rec.Server, rec.Tool = s.ID, e.Tool.Name
	if len(p.Arguments) > s.Limits.ArgumentCap() {
		rec.Status, rec.Code = "error", "arguments_too_large"
		return nil, fmt.Errorf("arguments of %s are %d bytes, over the %d-byte cap: %w", name, len(p.Arguments), s.Limits.ArgumentCap(), ErrTooLarge)
	}
	if e.Grant != nil && e.Grant.CallsPerMinute > 0 {
		if wait, err := h.allow(ctx, c, e.Grant); err != nil {
			rec.Status, rec.Code = "error", "rate_limited"
			if errors.Is(err, ErrRateLimited) {
				return errorResult(fmt.Sprintf("Rate limit reached for %s: at most %d calls per minute. Retry in %d s.", name, e.Grant.CallsPerMinute, int(wait.Seconds())+1)), nil
			}
			return nil, err
		}
	}
	args := p.Arguments
	if len(args) == 0 || string(args) == "null" {
		args = json.RawMessage(`{}`)
	}
	if h.guard != nil {
		v, masked, err := h.guardJSON(ctx, c, GuardOutput, args)
		if err != nil {
			rec.Status, rec.Code = "error", "guardrail_unavailable"
			return errorResult("The tool call was not made: its guardrail policy could not be applied."), nil
		}
		rec.Guardrail = mergeCounts(rec.Guardrail, v.Findings)
		if v.Blocked {
			rec.Status, rec.Code = "blocked", "guardrail_arguments_blocked"
			return errorResult(orDefault(v.Message, "The tool call was blocked by a guardrail.")), nil
		}
		args = masked
	}

	params, err := callParams(e.Tool.Name, args, p)
	if err != nil {
		rec.Status, rec.Code = "error", "invalid_arguments"
		return nil, err
	}
	secret, err := h.svc.secret(ctx, s)
	if err != nil {
		rec.Status, rec.Code = "error", "credential_unavailable"
		h.log.ErrorContext(ctx, "tool credential unavailable", "server", s.ID, "error", err)
		return errorResult("The tool is unavailable: its credential could not be read."), nil
	}
	b, ok := h.svc.backends[s.Kind]
	if !ok {
		rec.Status, rec.Code = "error", "no_backend"
		return errorResult("The tool is unavailable on this platform."), nil
	}
	cctx, cancel := context.WithTimeout(ctx, s.Limits.Timeout())
	defer cancel()
	res, err := b.Invoke(cctx, s, &Invocation{Method: "tools/call", Tool: e.Tool, Params: params, Secret: secret,
		MaxBytes: s.Limits.ResultCap(), ClientCapabilities: p.ClientCapabilities, LogLevel: p.LogLevel, Relay: p.Relay, Caller: c})
	if err != nil {
		var rpc *RPCError
		switch {
		case errors.As(err, &rpc):
			rec.Status, rec.Code = "error", "upstream_rpc_error"
			return nil, rpc
		case ctx.Err() != nil:
			rec.Status, rec.Code = "cancelled", "client_cancelled"
			return nil, ctx.Err()
		case errors.Is(err, context.DeadlineExceeded) || cctx.Err() != nil:
			rec.Status, rec.Code = "error", "timeout"
			return errorResult(fmt.Sprintf("The tool %s did not answer within %s.", name, s.Limits.Timeout())), nil
		case errors.Is(err, ErrTooLarge):
			rec.Status, rec.Code = "error", "result_too_large"
			return errorResult(fmt.Sprintf("The result of %s exceeded the %d-byte cap and was withheld.", name, s.Limits.ResultCap())), nil
		default:
			rec.Status, rec.Code = "error", "upstream_error"
			h.log.WarnContext(ctx, "tool call failed", "server", s.ID, "tool", e.Tool.Name, "error", err)
			return errorResult(fmt.Sprintf("The tool %s failed: %s", name, err.Error())), nil
		}
	}
	rec.ResultBytes = len(res)
	if len(res) > s.Limits.ResultCap() {
		rec.Status, rec.Code = "error", "result_too_large"
		return errorResult(fmt.Sprintf("The result of %s exceeded the %d-byte cap and was withheld.", name, s.Limits.ResultCap())), nil
	}
	if h.guard != nil {
		out, v, err := h.guardResult(ctx, c, res)
		if err != nil {
			rec.Status, rec.Code = "error", "guardrail_unavailable"
			return errorResult("The tool's result was withheld: its guardrail policy could not be applied."), nil
		}
		rec.Guardrail = mergeCounts(rec.Guardrail, v.Findings)
		if v.Blocked {
			rec.Status, rec.Code = "blocked", "guardrail_result_blocked"
			return errorResult(orDefault(v.Message, "The tool's result was blocked by a guardrail.")), nil
		}
		res = out
	}
	rec.Status = "ok"
	if isErrorResult(res) {
		rec.Code = "tool_error"
	}
	return res, nil
}

// callParams builds the upstream tools/call params.
func callParams(tool string, args json.RawMessage, p CallParams) (json.RawMessage, error) {
	m := map[string]json.RawMessage{"arguments": args}
	name, _ := json.Marshal(tool)
	m["name"] = name
	if len(p.Meta) > 0 && string(p.Meta) != "null" {
		m["_meta"] = p.Meta
	}
	if len(p.InputResponses) > 0 && string(p.InputResponses) != "null" {
		m["inputResponses"] = p.InputResponses
	}
	if p.RequestState != "" {
		st, _ := json.Marshal(p.RequestState)
		m["requestState"] = st
	}
	var probe map[string]any
	if err := json.Unmarshal(args, &probe); err != nil {
		return nil, fmt.Errorf("%w: arguments must be a JSON object", ErrInvalid)
	}
	return json.Marshal(m)
}

func denialCode(err error) string {
	switch {
	case errors.Is(err, ErrNotApproved):
		return "not_approved"
	case errors.Is(err, tenant.ErrScope):
		return "insufficient_scope"
	case errors.Is(err, tenant.ErrTenantSuspended):
		return "tenant_suspended"
	default:
		return "not_granted"
	}
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func mergeCounts(dst, src map[string]int) map[string]int {
	if len(src) == 0 {
		return dst
	}
	if dst == nil {
		dst = map[string]int{}
	}
	for k, v := range src {
		dst[k] += v
	}
	return dst
}

// errorResult is a CallToolResult reporting a failure the model should see.
func errorResult(msg string) json.RawMessage {
	b, _ := json.Marshal(map[string]any{"content": []map[string]string{{"type": "text", "text": msg}}, "isError": true})
	return b
}

func isErrorResult(res json.RawMessage) bool {
	var r struct {
		IsError bool `json:"isError"`
	}
	return json.Unmarshal(res, &r) == nil && r.IsError
}
