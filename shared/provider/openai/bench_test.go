package openai

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/plinth-ai/plinth/shared/provider"
	"github.com/plinth-ai/plinth/shared/provider/providertest"
)

// BenchmarkChatRoundTrip measures a chat completion against a loopback fake upstream;
// the fake's own cost is included, so allocs/op is the figure to watch.
func BenchmarkChatRoundTrip(b *testing.B) {
	srv := providertest.NewOpenAIServer()
	defer srv.Close()
	c := New(srv.BaseURL(), "gpt-4o-mini", "k")
	req := chatReq("Say hello")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Chat(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkChatStreamRoundTrip(b *testing.B) {
	srv := providertest.NewOpenAIServer()
	defer srv.Close()
	c := New(srv.BaseURL(), "gpt-4o-mini", "k")
	req := chatReq("Say hello")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		s, err := c.ChatStream(ctx, req)
		if err != nil {
			b.Fatal(err)
		}
		for {
			_, err := s.Recv()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		s.Close()
	}
}

var sink *provider.ChatResponse

// BenchmarkChatEncodeDecode isolates the adapter's own work: encoding the request and
// decoding a typical response, without the network.
func BenchmarkChatEncodeDecode(b *testing.B) {
	c := New("http://127.0.0.1:1/v1", "gpt-4o-mini", "k")
	req := chatReq("Say hello")
	resp := []byte(`{"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"Hello from the mock upstream.","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":5,"total_tokens":17,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}},"service_tier":"default","system_fingerprint":"fp_1"}`)
	b.ReportAllocs()
	for b.Loop() {
		buf, err := c.encodeChat(req, false)
		if err != nil {
			b.Fatal(err)
		}
		putBuf(buf)
		out, err := decodeResponse(resp)
		if err != nil {
			b.Fatal(err)
		}
		sink = out
	}
}

var chunkSink *provider.ChatChunk

func BenchmarkDecodeChunk(b *testing.B) {
	for _, tt := range []struct {
		name   string
		decode func([]byte) (*provider.ChatChunk, error)
	}{
		{"fast", func(p []byte) (*provider.ChatChunk, error) { c, _, err := decodeChunk(p); return c, err }},
		{"encoding-json", func(p []byte) (*provider.ChatChunk, error) { c, _, err := slowChunk(p); return c, err }},
	} {
		b.Run(tt.name, func(b *testing.B) {
			p := []byte(`{"id":"chatcmpl-mock1","object":"chat.completion.chunk","created":1795595445,"model":"gpt-4o-mini","service_tier":"default","system_fingerprint":"fp_mock0001","choices":[{"index":0,"delta":{"content":" upstream."},"logprobs":null,"finish_reason":null}],"usage":null}`)
			b.ReportAllocs()
			for b.Loop() {
				c, err := tt.decode(p)
				if err != nil {
					b.Fatal(err)
				}
				chunkSink = c
			}
		})
	}
}

func BenchmarkEncodeRequest(b *testing.B) {
	c := New("http://127.0.0.1:1/v1", "gpt-4o-mini", "k")
	req := chatReq("Say hello, and mention \"quotes\" and <tags>.")
	b.ReportAllocs()
	for b.Loop() {
		buf, err := c.encodeChat(req, true)
		if err != nil {
			b.Fatal(err)
		}
		putBuf(buf)
	}
}
