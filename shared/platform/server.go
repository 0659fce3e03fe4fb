package platform

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"

	"github.com/plinth-ai/plinth/shared/httpapi"
)

// requestIDs assigns every request an ID (or keeps a well-formed one the caller sent),
// returns it in X-Request-Id and puts it in the context for logs and usage records.
func requestIDs(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !validRequestID(id) {
			id = newRequestID()
		}
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(httpapi.WithRequestID(r.Context(), id)))
	})
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "req_" + hex.EncodeToString(b[:])
}

// recoverer turns a handler panic into a 500 in the API's error shape and logs the stack.
func recoverer(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.Error("handler panic", "request_id", httpapi.RequestID(r.Context()), "panic", v, "stack", string(debug.Stack()))
				httpapi.WriteError(w, &httpapi.Error{Status: http.StatusInternalServerError, Code: httpapi.CodeInternal, Message: "internal error"})
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// notFound answers routes mux does not know in the API's error shape instead of
// net/http's text, and passes the rest to next.
func notFound(mux *http.ServeMux, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if httpapi.Pattern(mux, r) == "" {
			h, _ := mux.Handler(r)
			writeNoRoute(w, r, h)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// serveMux is notFound(mux, mux) with one route lookup instead of two: a route without
// wildcards is served with the handler the lookup found, as mux would serve it (the
// request's Pattern set); mux serves the others itself, setting their path values.
func serveMux(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		switch {
		case pattern == "":
			writeNoRoute(w, r, h)
		case strings.Contains(pattern, "{") || r.RequestURI == "*":
			mux.ServeHTTP(w, r)
		default:
			r.Pattern = pattern
			h.ServeHTTP(w, r)
		}
	})
}

// writeNoRoute answers a request no route matched, h being the handler the mux had for
// it: 405 for a wrong method, as net/http distinguishes it from an unknown path, else 404.
func writeNoRoute(w http.ResponseWriter, r *http.Request, h http.Handler) {
	rec := &statusProbe{header: http.Header{}}
	h.ServeHTTP(rec, r)
	if rec.status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", rec.header.Get("Allow"))
		httpapi.WriteError(w, httpapi.Errorf(http.StatusMethodNotAllowed, httpapi.CodeMethodNotAllowed, "%s is not allowed on %s", r.Method, r.URL.Path))
		return
	}
	httpapi.WriteError(w, httpapi.Errorf(http.StatusNotFound, httpapi.CodeNotFound, "no such route: %s %s", r.Method, strings.SplitN(r.URL.Path, "?", 2)[0]))
}

type statusProbe struct {
	header http.Header
	status int
}

func (p *statusProbe) Header() http.Header         { return p.header }
func (p *statusProbe) Write(b []byte) (int, error) { return len(b), nil }
func (p *statusProbe) WriteHeader(s int)           { p.status = s }
