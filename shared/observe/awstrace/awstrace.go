// Package awstrace records AWS SDK for Go v2 calls as X-Ray subsegments through an
// observe.Tracer: add Middleware to an aws.Config's APIOptions and every client built
// from it traces its operations (service, operation, region, request ID, status).
package awstrace

import (
	"context"
	"errors"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/plinth-ai/plinth/shared/observe"
)

// Instrument adds the tracing middleware to apiOptions (an aws.Config's APIOptions)
// when t is enabled; it does nothing otherwise, keeping untraced clients untouched.
func Instrument(apiOptions *[]func(*middleware.Stack) error, t *observe.Tracer) {
	if !t.Enabled() {
		return
	}
	*apiOptions = append(*apiOptions, Middleware(t))
}

// Middleware returns a stack option tracing each operation as an "aws" subsegment named
// after the service (DynamoDB, S3, …).
func Middleware(t *observe.Tracer) func(*middleware.Stack) error {
	return func(s *middleware.Stack) error {
		return s.Initialize.Add(middleware.InitializeMiddlewareFunc("PlinthXRay",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				ctx, seg := t.Begin(ctx, awsmiddleware.GetServiceID(ctx), observe.NamespaceAWS)
				if seg == nil {
					return next.HandleInitialize(ctx, in)
				}
				out, md, err := next.HandleInitialize(ctx, in)
				attrs := map[string]any{"operation": awsmiddleware.GetOperationName(ctx)}
				if r := awsmiddleware.GetRegion(ctx); r != "" {
					attrs["region"] = r
				}
				if id, ok := awsmiddleware.GetRequestIDMetadata(md); ok {
					attrs["request_id"] = id
				}
				if n := retries(md); n > 0 {
					attrs["retries"] = n
				}
				seg.SetAWS(attrs)
				status := 0
				if raw, ok := awsmiddleware.GetRawResponse(md).(*smithyhttp.Response); ok && raw != nil {
					status = raw.StatusCode
				}
				var re *smithyhttp.ResponseError
				if errors.As(err, &re) {
					status = re.HTTPStatusCode()
				}
				seg.SetHTTPStatus(status, 0)
				seg.Close(err)
				return out, md, err
			}), middleware.After)
	}
}

// retries reads the attempt count the SDK's retry middleware records.
func retries(md middleware.Metadata) int {
	if r, ok := retry.GetAttemptResults(md); ok && len(r.Results) > 1 {
		return len(r.Results) - 1
	}
	return 0
}
