package mcpgw

//lint:file-ignore SA1019 MCP 2026-07-28 deprecates logging, sampling and roots (SEP-2577), but 2025-11-25 clients and servers still use them and the gateway must carry them

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// relay passes what an upstream sends during a call to the client session that made it,
// on that call's stream (the handler's context names the request).
type relay struct {
	ss  *mcp.ServerSession
	log *slog.Logger
}

func (r *relay) Notify(ctx context.Context, method string, params json.RawMessage) {
	if r.ss == nil {
		return
	}
	var err error
	switch method {
	case "notifications/progress":
		var p mcp.ProgressNotificationParams
		if err = json.Unmarshal(params, &p); err == nil {
			err = r.ss.NotifyProgress(ctx, &p)
		}
	case "notifications/message":
		var p mcp.LoggingMessageParams
		if err = json.Unmarshal(params, &p); err == nil {
			err = r.ss.Log(ctx, &p)
		}
	default:
		return
	}
	if err != nil {
		r.log.DebugContext(ctx, "could not relay an upstream notification", "method", method, "error", err)
	}
}

func (r *relay) Request(ctx context.Context, method string, params json.RawMessage) (json.RawMessage, error) {
	if r.ss == nil {
		return nil, &jsonrpc.Error{Code: jsonrpc.CodeMethodNotFound, Message: method + " needs a client session"}
	}
	var res any
	var err error
	switch method {
	case "sampling/createMessage":
		var p mcp.CreateMessageParams
		if err = json.Unmarshal(params, &p); err == nil {
			res, err = r.ss.CreateMessage(ctx, &p)
		}
	case "elicitation/create":
		var p mcp.ElicitParams
		if err = json.Unmarshal(params, &p); err == nil {
			res, err = r.ss.Elicit(ctx, &p)
		}
	case "roots/list":
		var p mcp.ListRootsParams
		if err = json.Unmarshal(params, &p); err == nil {
			res, err = r.ss.ListRoots(ctx, &p)
		}
	case "ping":
		err = r.ss.Ping(ctx, nil)
		res = struct{}{}
	default:
		return nil, &jsonrpc.Error{Code: jsonrpc.CodeMethodNotFound, Message: fmt.Sprintf("%s cannot be relayed to the client", method)}
	}
	if err != nil {
		return nil, err
	}
	return json.Marshal(res)
}
