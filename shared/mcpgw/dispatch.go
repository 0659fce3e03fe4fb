package mcpgw

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
)

// HeaderSessionID and HeaderProtocolVersion are the Streamable HTTP transport's headers.
const (
	firstStateless        = "2026-07-28"
	HeaderSessionID       = "Mcp-Session-Id"
	HeaderProtocolVersion = "Mcp-Protocol-Version"
)

// Dispatch serves both MCP revisions from one URL. Requests that belong to a session
// (they carry Mcp-Session-Id, or open one with initialize) go to stateful, which serves
// 2025-11-25 with its optional sessions; every other request (server/discover and the
// sessionless requests of 2026-07-28, or a 2025-11-25 client that never initializes) goes
// to stateless. The body is peeked at most maxBody bytes and handed on unchanged.
//
// Routing discover and sessionless requests away from the stateful handler also keeps
// them from creating server sessions nobody can close.
func Dispatch(stateful, stateless http.Handler, maxBody int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(HeaderSessionID) != "" {
			stateful.ServeHTTP(w, r)
			return
		}
		if r.Method != http.MethodPost {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, r.Method+" needs the Mcp-Session-Id header of a session opened with initialize (2025-11-25); the 2026-07-28 revision has no sessions")
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, "cannot read request body", http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		if v := r.Header.Get(HeaderProtocolVersion); v < firstStateless && isInitialize(body) {
			stateful.ServeHTTP(w, r)
			return
		}
		stateless.ServeHTTP(w, r)
	})
}

// isInitialize reports whether a JSON-RPC body is (or, in a batch, holds) an initialize
// request.
func isInitialize(body []byte) bool {
	body = bytes.TrimSpace(body)
	var one struct {
		Method string `json:"method"`
	}
	if len(body) > 0 && body[0] == '[' {
		var batch []json.RawMessage
		if json.Unmarshal(body, &batch) != nil {
			return false
		}
		for _, m := range batch {
			if json.Unmarshal(m, &one) == nil && one.Method == "initialize" {
				return true
			}
		}
		return false
	}
	return json.Unmarshal(body, &one) == nil && one.Method == "initialize"
}
