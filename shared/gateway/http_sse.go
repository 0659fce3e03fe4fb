package gateway

import (
	"encoding/json"
	"net/http"

	"github.com/plinth-ai/plinth/shared/httpapi"
)

// sse writes server-sent events and flushes each one.
type sse struct {
	w       http.ResponseWriter
	flusher http.Flusher
	buf     []byte
	err     error
}

func newSSE(w http.ResponseWriter) *sse {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("Connection", "keep-alive")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	f, _ := w.(http.Flusher)
	return &sse{w: w, flusher: f, buf: make([]byte, 0, 512)}
}

func (s *sse) data(payload []byte) {
	if s.err != nil {
		return
	}
	s.buf = append(s.buf[:0], "data: "...)
	s.buf = append(s.buf, payload...)
	s.buf = append(s.buf, '\n', '\n')
	if _, err := s.w.Write(s.buf); err != nil {
		s.err = err
		return
	}
	if s.flusher != nil {
		s.flusher.Flush()
	}
}

func (s *sse) chunk(c *Chunk) {
	b, err := json.Marshal(c)
	if err != nil {
		s.err = err
		return
	}
	s.data(b)
}

func (s *sse) done() { s.data([]byte("[DONE]")) }

// fail ends the stream with an explicit error event in OpenAI's error shape, which the
// OpenAI SDKs raise as an API error.
func (s *sse) fail(err error) {
	e := apiError(err)
	typ := e.Type
	if typ == "" {
		typ = "api_error"
	}
	code := e.Code
	b, _ := json.Marshal(map[string]httpapi.ErrorBody{"error": {Message: e.Message, Type: typ, Code: &code}})
	s.data(b)
}
