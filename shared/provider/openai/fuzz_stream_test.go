package openai

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/plinth-ai/plinth/shared/provider"
)

// FuzzStream feeds arbitrary bytes to the client as an upstream's SSE stream: reading it
// ends (with chunks, io.EOF or an error), never with a panic or a hang.
func FuzzStream(f *testing.F) {
	for _, s := range []string{
		"data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}\n\ndata: [DONE]\n\n",
		"data: {\"choices\":[]}\r\n\r\n: comment\n\nevent: x\ndata: [DONE]\n\n",
		"data: {\"error\":{\"message\":\"boom\",\"type\":\"server_error\"}}\n\n",
		"data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"t\",\"function\":{\"name\":\"f\",\"arguments\":\"{\"}}]}}]}\n\n",
		"data: {broken\n\n", "data:", "\n\n\n", "data: [DONE]",
	} {
		f.Add([]byte(s))
	}
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = w.Write(body)
	}))
	f.Cleanup(srv.Close)
	c := New(srv.URL+"/v1", "m", "sk-test")
	f.Fuzz(func(t *testing.T, b []byte) {
		body = b
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s, err := c.ChatStream(ctx, &provider.ChatRequest{Model: "m", Stream: true, Messages: []provider.Message{{Role: "user", Content: provider.TextContent("hi")}}})
		if err != nil {
			return
		}
		defer s.Close()
		for range 10000 {
			if _, err := s.Recv(); err != nil {
				if ctx.Err() != nil && !errors.Is(err, io.EOF) {
					t.Fatalf("stream did not end within 10s: %v", err)
				}
				return
			}
		}
		t.Fatal("10000 chunks from a body of at most a few kilobytes")
	})
}
