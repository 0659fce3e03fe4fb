// Package observe is Plinth's telemetry for AWS Lambda: a slog JSON logger that stamps
// every line with the Lambda request ID, and a lean AWS X-Ray tracer that sends subsegments for
// provider and AWS calls to the Lambda X-Ray daemon.
//
// Why not the X-Ray SDK for Go: aws-xray-sdk-go v1.8.5 links the v1 AWS SDK, gRPC and
// fasthttp into every binary that imports it (a minimal arm64 handler grows from 7.8 MB
// to 21.2 MB), which breaks the gateway's 15 MB budget. The tracer here uses the SDK's
// light packages — header (the X-Amzn-Trace-Id format) and daemoncfg (the daemon address)
// — and speaks the SDK's segment-document protocol to the same daemon itself; the AWS SDK
// v2 middleware lives in the awstrace subpackage so this package stays free of AWS SDK
// imports.
//
// Everything is inert outside Lambda: the tracer only sends when the X-Ray daemon
// address is set and the invocation carries a sampled trace header, and metrics are
// plain JSON lines on stdout (gateway/emf writes the gateway's request metrics).
package observe
