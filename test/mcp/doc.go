// Package mcp tests the MCP gateway end to end: the whole platform in process, real MCP
// servers built with the Go SDK as upstreams, the Go SDK's client and the MCP
// conformance suite as clients.
package mcp
