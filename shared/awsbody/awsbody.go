// Package awsbody keeps an AWS SDK client's connection under the answer it is reading.
//
// The SDK (smithy-go) closes a request's body as soon as the response's headers are in,
// while net/http may still be finishing that request's write: after sending
// Content-Length bytes it copies the body once more, through WriteTo, to check nothing
// is left over. The SDK's body, once closed, answers WriteTo with io.EOF as an error, so
// the write fails and net/http closes the connection under the answer still arriving.
// The answer then fails with "use of closed network connection", which the SDK's
// standard retryer retries: an SQS ReceiveMessage whose messages were already received
// (and are now invisible for the visibility timeout) is sent again, and a Bedrock answer
// that is slow or stalls fails at once as unavailable instead of arriving or timing out.
// The window is the time between the server's answer and the end of that last check: a
// busy machine widens it.
//
// Client hands net/http each body with only Read and Close; Read after the SDK's Close
// says io.EOF, the end of a body fully sent, and the write ends well.
package awsbody

import (
	"io"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
)

// Client wraps next (nil: the SDK's default HTTP client) so that request bodies reach
// net/http without WriteTo. Set it as an aws.Config's or a client's HTTPClient.
func Client(next aws.HTTPClient) aws.HTTPClient {
	if next == nil {
		next = awshttp.NewBuildableClient()
	}
	if c, ok := next.(client); ok {
		return c
	}
	return client{next}
}

type client struct{ next aws.HTTPClient }

func (c client) Do(req *http.Request) (*http.Response, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return c.next.Do(req)
	}
	r := *req
	r.Body = body{req.Body}
	return c.next.Do(&r)
}

// body is a request body with only Read and Close.
type body struct{ rc io.ReadCloser }

func (b body) Read(p []byte) (int, error) { return b.rc.Read(p) }
func (b body) Close() error               { return b.rc.Close() }
