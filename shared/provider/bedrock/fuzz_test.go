package bedrock

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"

	"github.com/plinth-ai/plinth/shared/provider"
	"github.com/plinth-ai/plinth/shared/provider/providertest"
)

// FuzzConverseStream feeds arbitrary bytes to the Bedrock adapter as a ConverseStream
// response body (AWS event-stream frames): reading the stream ends, with chunks, EOF or
// an error, never with a panic or a hang.
func FuzzConverseStream(f *testing.F) {
	f.Add(append(append(providertest.EventMessage("messageStart", []byte(`{"role":"assistant"}`)),
		providertest.EventMessage("contentBlockDelta", []byte(`{"contentBlockIndex":0,"delta":{"text":"hi"}}`))...),
		providertest.EventMessage("messageStop", []byte(`{"stopReason":"end_turn"}`))...))
	f.Add(providertest.EventMessage("metadata", []byte(`{"usage":{"inputTokens":3,"outputTokens":1,"totalTokens":4}}`)))
	f.Add(providertest.ExceptionMessage("throttlingException", "slow down"))
	f.Add(providertest.EventMessage("contentBlockStart", []byte(`{"contentBlockIndex":0,"start":{"toolUse":{"toolUseId":"t","name":"f"}}}`)))
	f.Add([]byte{0, 0, 0, 16, 0, 0, 0, 0, 1, 2, 3, 4})
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
		_, _ = w.Write(body)
	}))
	f.Cleanup(srv.Close)
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""), RetryMaxAttempts: 1}
	chat := NewChat(NewClient(cfg, func(o *bedrockruntime.Options) { o.BaseEndpoint = aws.String(srv.URL) }), claude)
	f.Fuzz(func(t *testing.T, b []byte) {
		body = b
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s, err := chat.ChatStream(ctx, &provider.ChatRequest{Model: "m", Stream: true, Messages: []provider.Message{{Role: "user", Content: provider.TextContent("hi")}}})
		if err != nil {
			return
		}
		defer s.Close()
		for range 10000 {
			if _, err := s.Recv(); err != nil {
				if ctx.Err() != nil {
					t.Fatalf("stream did not end within 10s: %v", err)
				}
				return
			}
		}
		t.Fatal("10000 chunks from a body of a few kilobytes")
	})
}
