// Package mcpclient calls remote MCP servers over Streamable HTTP on behalf of the tool
// hub, on either protocol revision: 2026-07-28 (stateless: server/discover, per-request
// _meta and Mcp-Method/Mcp-Name headers) when the server offers it, else 2025-11-25 with
// one shared session per upstream, re-initialised when the server forgets it.
//
// It works at the JSON-RPC level so that everything an upstream sends while a call runs
// reaches the one caller it belongs to: progress and log notifications, and (on
// 2025-11-25) sampling, elicitation and roots requests, are handed to that call's Relay as
// they arrive. Responses are read through a size cap, a cancelled context aborts the HTTP
// exchange and tells a session-bound upstream with notifications/cancelled, and the
// client's own credentials are never sent: only the server's configured header.
package mcpclient
