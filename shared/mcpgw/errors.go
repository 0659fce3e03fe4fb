package mcpgw

import (
	"bytes"
	"net/http"
	"strings"

	"github.com/plinth-ai/plinth/shared/httpapi"
)

// plainErrors rewrites the SDK's plain-text HTTP errors (wrong Accept header, method not
// allowed, unknown session, ...) into the platform's error shape; JSON-RPC error bodies
// and every success pass unchanged.
func plainErrors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ew := &errorWriter{ResponseWriter: w}
		next.ServeHTTP(ew, r)
		ew.finish()
	})
}

type errorWriter struct {
	http.ResponseWriter
	status  int
	capture bool
	buf     bytes.Buffer
}

func (w *errorWriter) WriteHeader(status int) {
	if w.status != 0 {
		return
	}
	w.status = status
	if status >= 400 && strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain") {
		w.capture = true
		return
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *errorWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.capture {
		return w.buf.Write(b)
	}
	return w.ResponseWriter.Write(b)
}

// Flush lets event streams through.
func (w *errorWriter) Flush() {
	if w.capture {
		return
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap gives http.ResponseController the underlying writer.
func (w *errorWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *errorWriter) finish() {
	if !w.capture {
		return
	}
	w.Header().Del("Content-Type")
	w.Header().Del("X-Content-Type-Options")
	code := httpapi.CodeForStatus(w.status)
	httpapi.WriteError(w.ResponseWriter, &httpapi.Error{Status: w.status, Code: code, Message: strings.TrimSpace(w.buf.String())})
}
