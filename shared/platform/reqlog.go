package platform

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/plinth-ai/plinth/shared/auth"
	"github.com/plinth-ai/plinth/shared/httpapi"
)

// requestLine is what a request's log line says beyond its status and latency; the
// inner middleware (logRoute) fills it once authentication has run.
type requestLine struct {
	route, tenant, key string
}

type requestLineKey struct{}

// gatewayLogged are the routes whose every request the gateway logs itself, with tokens
// and cost; they get no second line.
var gatewayLogged = map[string]bool{"/v1/chat/completions": true, "/v1/embeddings": true, "/healthz": true}

// requestLog writes one "request" line per request (request ID, method, route, tenant,
// key ID, status, latency), at WARN for 4xx and ERROR for 5xx, for every route but those
// the gateway logs itself.
func requestLog(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if gatewayLogged[r.URL.Path] {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		line := &requestLine{}
		sw := &loggedWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), requestLineKey{}, line)))
		status := sw.status
		if status == 0 {
			status = http.StatusOK
		}
		level := slog.LevelInfo
		switch {
		case status >= 500:
			level = slog.LevelError
		case status >= 400:
			level = slog.LevelWarn
		}
		if line.route == "" {
			line.route = r.Method + " " + r.URL.Path
		}
		log.LogAttrs(r.Context(), level, "request",
			slog.String("request_id", httpapi.RequestID(r.Context())), slog.String("method", r.Method),
			slog.String("route", line.route), slog.String("tenant", line.tenant), slog.String("key", line.key),
			slog.Int("status", status), slog.Int64("bytes", sw.bytes),
			slog.Float64("latency_ms", float64(time.Since(start).Microseconds())/1000))
	})
}

// logRoute tells the request's log line its route (mux's pattern) and, once
// authenticated, its tenant and key ID.
func logRoute(mux *http.ServeMux, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if line, ok := r.Context().Value(requestLineKey{}).(*requestLine); ok {
			if pattern := httpapi.Pattern(mux, r); pattern != "" {
				line.route = pattern
			}
			if p, ok := auth.FromContext(r.Context()); ok {
				line.tenant, line.key = p.TenantID, p.KeyID
			}
		}
		next.ServeHTTP(w, r)
	})
}

// loggedWriter notes the status and size of a response.
type loggedWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *loggedWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *loggedWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

// Flush implements http.Flusher for streamed responses.
func (w *loggedWriter) Flush() {
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the connection.
func (w *loggedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
