package platform_test

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/aws/aws-lambda-go/events"

	"github.com/plinth-ai/plinth/shared/platform"
)

// ExampleStreamingHandler serves an http.Handler to an API Gateway REST route with
// response streaming: the response is a JSON prelude, eight NUL bytes, then the body as
// the handler writes it. In a function: lambda.Start(platform.StreamingHandler(h, flush)).
func ExampleStreamingHandler() {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprintf(w, "data: hello %s\n\n", r.URL.Query().Get("name"))
		fmt.Fprint(w, "data: [DONE]\n\n")
	})
	handler := platform.StreamingHandler(h, nil)
	resp, err := handler(context.Background(), events.APIGatewayProxyRequest{
		HTTPMethod: "GET", Path: "/v1/hello", QueryStringParameters: map[string]string{"name": "plinth"},
		RequestContext: events.APIGatewayProxyRequestContext{DomainName: "api.example.com"},
	})
	if err != nil {
		panic(err)
	}
	out, _ := io.ReadAll(resp) // what the Lambda runtime streams to API Gateway
	fmt.Printf("%q\n", out)
	// Output:
	// "{\"statusCode\":200,\"headers\":{\"Content-Type\":\"text/event-stream\"}}\x00\x00\x00\x00\x00\x00\x00\x00data: hello plinth\n\ndata: [DONE]\n\n"
}
