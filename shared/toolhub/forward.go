package toolhub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// forwardable are the MCP methods besides tools/call that reach an MCP server's
// resources, prompts and completions.
var forwardable = map[string]bool{
	"resources/read": true, "resources/subscribe": true, "resources/unsubscribe": true,
	"prompts/get": true, "completion/complete": true,
}

// Forward sends one of an MCP server's other methods (resources/read, prompts/get,
// completion/complete, resources/subscribe, resources/unsubscribe) for a caller whose
// grant covers the whole server, under the server's timeout and result cap, and records
// it. A JSON-RPC error the server answered with is returned as *RPCError.
func (h *Hub) Forward(ctx context.Context, c *Caller, serverID, method string, params json.RawMessage, p CallParams) (json.RawMessage, error) {
	start := h.now()
	rec := CallRecord{RequestID: c.RequestID, Tenant: c.Principal.TenantID, KeyID: c.Principal.KeyID, Server: serverID, Method: method, ArgBytes: len(params)}
	defer func() {
		rec.LatencyMS = h.now().Sub(start).Milliseconds()
		if h.rec != nil {
			h.rec.RecordCall(context.WithoutCancel(ctx), rec)
		}
	}()
	if !forwardable[method] {
		rec.Status, rec.Code = "error", "method_not_forwarded"
		return nil, fmt.Errorf("%w: %s is not forwarded to tool servers", ErrInvalid, method)
	}
	s, err := h.ServerFor(ctx, c, serverID)
	if err != nil {
		rec.Status, rec.Code = "denied", denialCode(err)
		return nil, err
	}
	b, ok := h.svc.backends[s.Kind]
	if s.Kind != KindMCP || !ok {
		rec.Status, rec.Code = "error", "no_backend"
		return nil, fmt.Errorf("%w: %s is not an MCP server", ErrInvalid, serverID)
	}
	secret, err := h.svc.secret(ctx, s)
	if err != nil {
		rec.Status, rec.Code = "error", "credential_unavailable"
		return nil, fmt.Errorf("%w: %v", ErrUpstream, err)
	}
	if len(params) > s.Limits.ArgumentCap() {
		rec.Status, rec.Code = "error", "arguments_too_large"
		return nil, fmt.Errorf("params of %s are over the %d-byte cap: %w", method, s.Limits.ArgumentCap(), ErrTooLarge)
	}
	cctx, cancel := context.WithTimeout(ctx, s.Limits.Timeout())
	defer cancel()
	res, err := b.Invoke(cctx, s, &Invocation{Method: method, Params: params, Secret: secret, MaxBytes: s.Limits.ResultCap(),
		ClientCapabilities: p.ClientCapabilities, LogLevel: p.LogLevel, Relay: p.Relay, Caller: c})
	if err != nil {
		var rpc *RPCError
		switch {
		case errors.As(err, &rpc):
			rec.Status, rec.Code = "error", "upstream_rpc_error"
		case ctx.Err() != nil:
			rec.Status, rec.Code = "cancelled", "client_cancelled"
			return nil, ctx.Err()
		case cctx.Err() != nil:
			rec.Status, rec.Code = "error", "timeout"
			return nil, fmt.Errorf("%s on %s: %w", method, serverID, ErrTimeout)
		default:
			rec.Status, rec.Code = "error", "upstream_error"
		}
		return nil, err
	}
	rec.Status, rec.ResultBytes = "ok", len(res)
	return res, nil
}
