package platform

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/awslabs/aws-lambda-go-api-proxy/core"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/plinth-ai/plinth/shared/flow"
	"github.com/plinth-ai/plinth/shared/httpapi"
)

// StreamingHandler is a Lambda handler for API Gateway REST routes integrated with
// response streaming (InvokeWithResponseStream): the proxy event becomes an
// *http.Request (the api-proxy's RequestAccessor, so the API Gateway request context
// is in its context), h serves it into a pipe, and the runtime streams the pipe to API
// Gateway as h writes: a JSON prelude with status and headers, eight NUL bytes, then
// the body, so server-sent events reach the client as they are produced.
//
// done, when not nil, runs after h returns and before the stream ends (flushing usage
// records: Lambda may freeze the process once the invocation completes).
func StreamingHandler(h http.Handler, done func(context.Context)) func(context.Context, events.APIGatewayProxyRequest) (*events.APIGatewayProxyStreamingResponse, error) {
	var ra core.RequestAccessor
	return func(ctx context.Context, ev events.APIGatewayProxyRequest) (*events.APIGatewayProxyStreamingResponse, error) {
		req, err := ra.EventToRequestWithContext(ctx, ev)
		if err != nil {
			body := `{"error":{"message":"the request could not be read","type":"invalid_request_error","code":"bad_request","param":null}}`
			return &events.APIGatewayProxyStreamingResponse{
				StatusCode: http.StatusBadRequest,
				Headers:    map[string]string{"Content-Type": "application/json"},
				Body:       strings.NewReader(body),
			}, nil
		}
		rctx, cancel := context.WithCancel(req.Context())
		req = req.WithContext(rctx)
		pr, pw := io.Pipe()
		w := &streamWriter{header: http.Header{}, pipe: pw, ready: make(chan struct{}), cancel: cancel}
		go func() {
			defer cancel()
			defer func() {
				if v := recover(); v != nil {
					w.commit(http.StatusInternalServerError)
					pw.CloseWithError(fmt.Errorf("handler panic: %v", v))
				}
			}()
			h.ServeHTTP(w, req)
			w.commit(http.StatusOK)
			if done != nil {
				done(ctx)
			}
			_ = pw.Close()
		}()
		<-w.ready
		resp := &events.APIGatewayProxyStreamingResponse{StatusCode: w.status, Body: pr}
		resp.Headers, resp.MultiValueHeaders, resp.Cookies = splitHeaders(w.snapshot)
		return resp, nil
	}
}

// splitHeaders maps an http.Header onto the proxy response's single- and multi-value
// header maps and cookies.
func splitHeaders(h http.Header) (single map[string]string, multi map[string][]string, cookies []string) {
	for k, vs := range h {
		switch {
		case k == "Set-Cookie":
			cookies = append(cookies, vs...)
		case len(vs) == 1:
			if single == nil {
				single = map[string]string{}
			}
			single[k] = vs[0]
		case len(vs) > 1:
			if multi == nil {
				multi = map[string][]string{}
			}
			multi[k] = vs
		}
	}
	return single, multi, cookies
}

// streamWriter is the http.ResponseWriter of a streamed invocation. The status and
// headers are committed on the first WriteHeader or Write; writes go straight into the
// pipe the runtime reads, so Flush has nothing to do. A failed write (the stream was
// cut) cancels the request context, which stops the upstream call.
type streamWriter struct {
	header   http.Header
	pipe     *io.PipeWriter
	cancel   context.CancelFunc
	once     sync.Once
	ready    chan struct{}
	status   int
	snapshot http.Header
}

func (w *streamWriter) Header() http.Header { return w.header }

func (w *streamWriter) commit(status int) {
	w.once.Do(func() {
		w.status = status
		w.snapshot = w.header.Clone()
		close(w.ready)
	})
}

func (w *streamWriter) WriteHeader(status int) {
	if status >= 100 && status < 200 {
		return
	}
	w.commit(status)
}

func (w *streamWriter) Write(p []byte) (int, error) {
	w.commit(http.StatusOK)
	n, err := w.pipe.Write(p)
	if err != nil {
		w.cancel()
	}
	return n, err
}

// Flush implements http.Flusher: every Write already reaches the runtime.
func (w *streamWriter) Flush() { w.commit(http.StatusOK) }

// BufferedHandler is a Lambda handler for buffered API Gateway REST proxy integrations
// (the api-proxy's httpadapter); done, when not nil, runs before the response returns.
func BufferedHandler(h http.Handler, done func(context.Context)) func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
	adapter := httpadapter.New(h)
	return func(ctx context.Context, ev events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		resp, err := adapter.ProxyWithContext(ctx, ev)
		if done != nil {
			done(ctx)
		}
		return resp, err
	}
}

// apiGatewayRequestIDs uses API Gateway's request ID as the platform's request ID when
// the caller sent none, so access logs, function logs, usage and the response's
// X-Request-Id share one ID.
func apiGatewayRequestIDs(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Request-Id") == "" {
			if rc, ok := core.GetAPIGatewayContextFromContext(r.Context()); ok && validRequestID(rc.RequestID) {
				r.Header.Set("X-Request-Id", rc.RequestID)
			}
		}
		next.ServeHTTP(w, r)
	})
}

// authorizerContext finds the Lambda authorizer's context (requestContext.authorizer)
// of the API Gateway request, for tenantauth.WithAuthorizerContext.
func authorizerContext(r *http.Request) (map[string]any, bool) {
	rc, ok := core.GetAPIGatewayContextFromContext(r.Context())
	if !ok || len(rc.Authorizer) == 0 {
		return nil, false
	}
	return rc.Authorizer, true
}

// iamIdentity finds the IAM principal API Gateway verified (AWS_IAM authorization), for
// tenantauth.WithIAMIdentity.
func iamIdentity(r *http.Request) (string, bool) {
	rc, ok := core.GetAPIGatewayContextFromContext(r.Context())
	if !ok || rc.Identity.UserArn == "" {
		return "", false
	}
	return rc.Identity.UserArn, true
}

// ErrUnknownTask means PLINTH_TASK names no task of the function's flow.
var ErrUnknownTask = errors.New("unknown task")

// errorTaskFailed names failures a task did not classify.
const errorTaskFailed = "TaskFailed"

// TaskHandler is a Lambda handler running the task named name from tasks (the
// placeholder in PLINTH_TASK, e.g. "ExtractFunctionArn"). A failure classified as a
// *flow.TaskError is reported with its Type as the Lambda errorType, which Step
// Functions uses as the error name its Retry and Catch match (TransientError,
// DocumentError, …); other failures are reported as "TaskFailed". done, when not nil,
// runs before the invocation returns.
func TaskHandler(tasks map[string]TaskFunc, name string, done func(context.Context)) (func(context.Context, json.RawMessage) (json.RawMessage, error), error) {
	fn, ok := tasks[name]
	if !ok || fn == nil {
		known := make([]string, 0, len(tasks))
		for k := range tasks {
			known = append(known, k)
		}
		return nil, fmt.Errorf("%s=%q (this function runs %s): %w", EnvTask, name, strings.Join(known, ", "), ErrUnknownTask)
	}
	return func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
		out, err := fn(ctx, in)
		if done != nil {
			done(ctx)
		}
		if err != nil {
			return nil, taskError(err)
		}
		return out, nil
	}, nil
}

// taskError turns a task failure into the runtime's error shape with a stable name.
func taskError(err error) error {
	var te *flow.TaskError
	if errors.As(err, &te) && te.Type != "" {
		return messages.InvokeResponse_Error{Type: te.Type, Message: te.Cause}
	}
	return messages.InvokeResponse_Error{Type: errorTaskFailed, Message: err.Error()}
}

// healthz answers GET /healthz.
func healthz(w http.ResponseWriter, _ *http.Request) {
	httpapi.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}
