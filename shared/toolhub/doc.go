// Package toolhub is the tool hub: a governed catalog of the tools agents and MCP clients
// may call, the one policy that decides who may list and call each of them, and the call
// pipeline every tool call goes through.
//
// A tool server is a remote MCP server (Streamable HTTP), an AWS Lambda function, an HTTP
// API described by an OpenAPI document (each operation a tool) or a built-in platform tool
// (knowledge-base retrieval, guardrail check, evaluation run). Servers are reviewed like
// models: only an approved server's approved tools are callable, and every tool keeps the
// hash of the definition that was reviewed; when a sync finds a different definition
// upstream, the tool goes back to pending-review and disappears from every caller until a
// reviewer approves it again. Upstream credentials live in secrets and are never shown.
//
// Access is deny-by-default: a tenant (or one of its keys) sees and calls only the tools a
// grant names. Decide is the single policy function; listing (Hub.Visible) and calling
// (Hub.Call) both use it, so a tool is callable exactly when it is listed.
//
// Every call passes the same pipeline whoever makes it (the MCP gateway, an agent): policy,
// rate limit, argument size cap, guardrails on arguments, the upstream call under a
// timeout with cancellation passed on, result size cap, guardrails on results, then one
// usage record and one audit event.
package toolhub
