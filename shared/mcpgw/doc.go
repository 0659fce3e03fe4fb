// Package mcpgw is the MCP gateway at /mcp: one virtual MCP server per caller that
// aggregates exactly the tools (and, for whole-server grants, the resources and prompts)
// the caller is granted in the tool hub, on both MCP revisions: 2025-11-25 over
// Streamable HTTP with optional sessions, and the stateless 2026-07-28 (server/discover,
// Mcp-Method/Mcp-Name headers, deterministic tools/list with ttlMs).
//
// It is built on the MCP Go SDK's server and Streamable HTTP handler, and guards against
// the SDK's known weak spots: idle sessions are closed after SessionTimeout (SDK issue
// #499), discover and sessionless requests never reach the stateful handler where they
// would create sessions nobody can close (#1136), every handler recovers from panics (the
// SDK's do not), and the tests count goroutines after clients leave (#1073).
//
// Callers authenticate as on /v1 (API keys, SigV4) or with an OAuth 2.1 access token
// whose audience is this resource (RFC 9728 metadata at
// /.well-known/oauth-protected-resource/mcp). A client's credentials never reach an
// upstream: the hub sends each server only its own configured credential. Sessions are
// bound to the principal that opened them.
//
// Every tools/call goes through toolhub.Hub.Call: policy, rate limit, timeout, argument
// and result caps, guardrails, usage and audit records; cancelling the request cancels
// the upstream call.
package mcpgw
