package bedrock

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/smithy-go/middleware"

	"github.com/plinth-ai/plinth/shared/provider"
)

// heldConn holds every write after the first (the request's body: net/http flushes the
// headers of a body it cannot see into before copying it) until release is closed.
type heldConn struct {
	net.Conn
	release <-chan struct{}
	held    *atomic.Int32
}

func (c *heldConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if !bytes.HasPrefix(p, []byte("POST ")) {
		c.held.Add(1)
		<-c.release
	}
	return n, err
}

// TestAnswerOutlivesTheRequestWrite replays a race a busy machine makes likely: the
// request's body is on the wire and Bedrock has begun its answer, but net/http has not
// yet finished writing the request (its last check that the body has nothing left over),
// and the SDK has already closed the body. The answer must still arrive whole, and the
// write must end without error: an error there made net/http close the connection under
// the answer, which then failed as "unavailable" at once instead of arriving, or, when
// Bedrock stalled, ending in a timeout.
func TestAnswerOutlivesTheRequestWrite(t *testing.T) {
	t.Parallel()
	const answer = `{"output":{"message":{"role":"assistant","content":[{"text":"It is sunny."}]}},"stopReason":"end_turn",` +
		`"usage":{"inputTokens":9,"outputTokens":4,"totalTokens":13},"metrics":{"latencyMs":42}}`
	rest := make(chan struct{}) // the rest of the answer may go out
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(answer)))
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, answer[:len(answer)/2])
		w.(http.Flusher).Flush()
		select {
		case <-rest:
			io.WriteString(w, answer[len(answer)/2:])
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()

	var held atomic.Int32
	sent := make(chan struct{}) // the SDK has the response and has closed the request's body
	var sentOnce sync.Once
	httpClient := awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		var d net.Dialer
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &heldConn{Conn: c, release: sent, held: &held}, nil
		}
	})
	writeErr := make(chan error, 1)
	wrote := func(i httptrace.WroteRequestInfo) {
		writeErr <- i.Err
		close(rest)
	}
	// Innermost in the deserialize step: next returns once the SDK's HTTP handler has the
	// response and has closed the request's body, before the answer is read.
	afterSend := middleware.DeserializeMiddlewareFunc("AfterSend", func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
		ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{WroteRequest: wrote})
		out, md, err := next.HandleDeserialize(ctx, in)
		sentOnce.Do(func() { close(sent) })
		return out, md, err
	})
	cfg := aws.Config{Region: "us-east-1", HTTPClient: httpClient, Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")}
	c := NewClient(cfg, func(o *bedrockruntime.Options) {
		o.BaseEndpoint = aws.String(srv.URL)
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error { return s.Deserialize.Add(afterSend, middleware.After) })
	})

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // a bound on a hang, not a measure
	defer cancel()
	resp, err := NewChat(c, claude).Chat(ctx, &provider.ChatRequest{Messages: []provider.Message{{Role: "user", Content: provider.TextContent("Weather?")}}})
	if held.Load() == 0 {
		t.Fatal("the request's body was never written apart from its headers: the race was not replayed")
	}
	if err := <-writeErr; err != nil {
		t.Errorf("writing the request ended in %v after the response began: net/http closes the connection under the answer", err)
	}
	if err != nil {
		t.Fatalf("the answer was lost: %v", err)
	}
	if got := resp.Choices[0].Message.Content.String(); got != "It is sunny." {
		t.Errorf("answer %q", got)
	}
}
