package awsbody_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go/middleware"

	"github.com/plinth-ai/plinth/shared/awsbody"
)

// heldConn holds every write but the first of a request (its body: net/http flushes the
// headers of a body it cannot see into first) until release is closed, and says when it
// is closed.
type heldConn struct {
	net.Conn
	release <-chan struct{}
	held    *atomic.Int32
	closed  func()
}

func (c *heldConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if !bytes.HasPrefix(p, []byte("POST ")) {
		c.held.Add(1)
		<-c.release
	}
	return n, err
}

func (c *heldConn) Close() error {
	c.closed()
	return c.Conn.Close()
}

// receiveAnswer is an SQS ReceiveMessage answer (AWS JSON protocol) of ten messages,
// larger than what net/http reads ahead.
func receiveAnswer() []byte {
	type message struct{ MessageId, ReceiptHandle, MD5OfBody, Body string }
	var out struct{ Messages []message }
	for i := range 10 {
		body := fmt.Sprintf(`{"request_id":"req_%04d","pad":%q}`, i, strings.Repeat("x", 2000))
		sum := md5.Sum([]byte(body))
		out.Messages = append(out.Messages, message{fmt.Sprintf("m-%d", i), fmt.Sprintf("rh-%d", i), hex.EncodeToString(sum[:]), body})
	}
	raw, _ := json.Marshal(out)
	return raw
}

// TestReceiveKeepsItsAnswer replays, with the SDK's SQS client and its standard
// retryer, the race a busy machine makes likely: the answer to ReceiveMessage is on its
// way, the SDK has closed the request's body, and net/http is still finishing the
// request's write. The answer must be read from the connection it came on: one request,
// ten messages. Without Client the write failed, net/http closed the connection, and the
// SDK sent the receive again, while the messages of the lost answer stayed invisible for
// their visibility timeout.
func TestReceiveKeepsItsAnswer(t *testing.T) {
	answer := receiveAnswer()
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Write(answer)
	}))
	defer srv.Close()

	release := make(chan struct{}) // the SDK has the answer's headers and has closed the body
	var releaseOnce, closeOnce sync.Once
	connClosed := make(chan struct{})
	var held atomic.Int32
	transport := awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		var d net.Dialer
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &heldConn{Conn: c, release: release, held: &held, closed: func() { closeOnce.Do(func() { close(connClosed) }) }}, nil
		}
	})
	wrote := make(chan error, 8)
	// Innermost in the deserialize step: next returns once the SDK's HTTP handler has
	// the answer and has closed the request's body; the answer is read after this returns,
	// here once the write has ended (and, if it failed, net/http has closed the connection).
	afterSend := middleware.DeserializeMiddlewareFunc("AfterSend", func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
		ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{WroteRequest: func(i httptrace.WroteRequestInfo) { wrote <- i.Err }})
		out, md, err := next.HandleDeserialize(ctx, in)
		releaseOnce.Do(func() { close(release) })
		select {
		case <-connClosed:
		case werr := <-wrote:
			if werr != nil {
				t.Logf("the request's write ended in %v after the answer began", werr)
				<-connClosed
			}
		}
		return out, md, err
	})
	q := sqs.New(sqs.Options{Region: "eu-west-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDLOCAL", "local-secret", ""),
		HTTPClient:  awsbody.Client(transport),
		APIOptions:  []func(*middleware.Stack) error{func(s *middleware.Stack) error { return s.Deserialize.Add(afterSend, middleware.After) }}})

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // a bound on a hang, not a measure
	defer cancel()
	out, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(srv.URL + "/000000000000/usage"), MaxNumberOfMessages: 10})
	if held.Load() == 0 {
		t.Fatal("the request's body was never written apart from its headers: the race was not replayed")
	}
	if err != nil {
		t.Fatalf("receive: %v", err)
	}
	if n := requests.Load(); n != 1 || len(out.Messages) != 10 {
		t.Fatalf("%d receive requests reached the queue, %d messages came back; want one request and its ten messages", n, len(out.Messages))
	}
}
