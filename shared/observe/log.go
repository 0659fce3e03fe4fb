package observe

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// NewLogger returns a JSON slog logger on w (os.Stdout when nil) for Lambda: every line
// logged with an invocation's context carries "aws_request_id" (the Lambda request ID)
// and, when the invocation is traced, "xray_trace_id", so CloudWatch Logs Insights can
// join log lines, EMF records and traces. The level comes from AWS_LAMBDA_LOG_LEVEL
// (Lambda's advanced logging controls) or PLINTH_LOG_LEVEL, default INFO.
func NewLogger(w io.Writer) *slog.Logger {
	if w == nil {
		w = os.Stdout
	}
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: levelFromEnv()})
	return slog.New(lambdaHandler{h})
}

func levelFromEnv() slog.Level {
	v := os.Getenv("AWS_LAMBDA_LOG_LEVEL")
	if v == "" {
		v = os.Getenv("PLINTH_LOG_LEVEL")
	}
	switch strings.ToUpper(v) {
	case "TRACE", "DEBUG":
		return slog.LevelDebug
	case "WARN":
		return slog.LevelWarn
	case "ERROR", "FATAL":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// lambdaHandler adds the invocation's identifiers from the context to each record.
type lambdaHandler struct{ slog.Handler }

func (h lambdaHandler) Handle(ctx context.Context, r slog.Record) error {
	if ctx != nil {
		if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
			r.AddAttrs(slog.String("aws_request_id", lc.AwsRequestID))
		}
		if th, ok := traceHeaderFrom(ctx); ok {
			r.AddAttrs(slog.String("xray_trace_id", th.Root))
		}
	}
	return h.Handler.Handle(ctx, r)
}

func (h lambdaHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return lambdaHandler{h.Handler.WithAttrs(as)}
}

func (h lambdaHandler) WithGroup(name string) slog.Handler {
	return lambdaHandler{h.Handler.WithGroup(name)}
}
