package platform

import (
	"io"
	"log/slog"
	"net/http"
	"time"
)

// Server deadlines. A request body must arrive within BodyTimeout of the request's start
// (a trickling client cannot hold a connection); a response write that cannot make
// progress for WriteIdleTimeout fails (a client that stops reading cannot either), while a
// response that keeps writing, such as a long stream, may last as long as it needs.
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultBodyTimeout       = 60 * time.Second
	DefaultWriteIdleTimeout  = 60 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
)

type serverOptions struct {
	readHeader, body, writeIdle, idle time.Duration
	log                               *slog.Logger
}

// ServerOption configures NewHTTPServer.
type ServerOption func(*serverOptions)

// WithBodyTimeout sets how long a request body may take to arrive (default 60 s).
func WithBodyTimeout(d time.Duration) ServerOption { return func(o *serverOptions) { o.body = d } }

// WithWriteIdleTimeout sets how long one response write may block (default 60 s).
func WithWriteIdleTimeout(d time.Duration) ServerOption {
	return func(o *serverOptions) { o.writeIdle = d }
}

// WithReadHeaderTimeout sets how long request headers may take (default 10 s).
func WithReadHeaderTimeout(d time.Duration) ServerOption {
	return func(o *serverOptions) { o.readHeader = d }
}

// WithIdleTimeout sets how long a keep-alive connection may wait for its next request
// (default 120 s).
func WithIdleTimeout(d time.Duration) ServerOption { return func(o *serverOptions) { o.idle = d } }

// WithServerLogger sets the logger for the server's own errors.
func WithServerLogger(l *slog.Logger) ServerOption { return func(o *serverOptions) { o.log = l } }

// NewHTTPServer returns the http.Server the local platform serves h with: header, body,
// write-progress and idle deadlines, and none on a response's total length, so streamed
// completions last as long as they keep producing.
func NewHTTPServer(h http.Handler, opts ...ServerOption) *http.Server {
	o := serverOptions{readHeader: DefaultReadHeaderTimeout, body: DefaultBodyTimeout, writeIdle: DefaultWriteIdleTimeout, idle: DefaultIdleTimeout}
	for _, f := range opts {
		f(&o)
	}
	srv := &http.Server{
		Handler:           withDeadlines(h, o.body, o.writeIdle),
		ReadHeaderTimeout: o.readHeader,
		IdleTimeout:       o.idle,
	}
	if o.log != nil {
		srv.ErrorLog = slog.NewLogLogger(o.log.Handler(), slog.LevelWarn)
	}
	return srv
}

// withDeadlines sets a read deadline covering the request body (lifted once the body is
// read, so the connection's close detection keeps working during a long response) and
// moves the write deadline forward before every write.
func withDeadlines(next http.Handler, body, writeIdle time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if body > 0 && r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 {
			if rc.SetReadDeadline(time.Now().Add(body)) == nil {
				r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc}
			}
		}
		if writeIdle > 0 {
			w = &progressWriter{ResponseWriter: w, rc: rc, idle: writeIdle}
		}
		next.ServeHTTP(w, r)
	})
}

// deadlineBody lifts the body's read deadline once the body has been read.
type deadlineBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	done bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && !b.done {
		b.done = true
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

// progressWriter gives every write its own deadline.
type progressWriter struct {
	http.ResponseWriter
	rc   *http.ResponseController
	idle time.Duration
}

func (w *progressWriter) Write(p []byte) (int, error) {
	_ = w.rc.SetWriteDeadline(time.Now().Add(w.idle))
	return w.ResponseWriter.Write(p)
}

func (w *progressWriter) WriteHeader(status int) {
	_ = w.rc.SetWriteDeadline(time.Now().Add(w.idle))
	w.ResponseWriter.WriteHeader(status)
}

// Flush implements http.Flusher for streamed responses.
func (w *progressWriter) Flush() {
	_ = w.rc.SetWriteDeadline(time.Now().Add(w.idle))
	_ = w.rc.Flush()
}

// Unwrap lets http.ResponseController reach the connection.
func (w *progressWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
