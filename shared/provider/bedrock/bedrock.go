// Package bedrock adapts Amazon Bedrock Runtime to the provider port: chat through
// Converse and ConverseStream (system prompts, multi-turn, tool use both ways, stop
// sequences, inference parameters, usage) and embeddings through InvokeModel for Titan
// Text Embeddings v2 and Cohere Embed. Failures are classified for routing.
package bedrock

import (
	"context"
	"errors"
	"net"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go"

	"github.com/plinth-ai/plinth/shared/awsbody"
	"github.com/plinth-ai/plinth/shared/provider"
)

// ConverseAPI is the Bedrock Runtime operation chat needs.
type ConverseAPI interface {
	Converse(ctx context.Context, in *bedrockruntime.ConverseInput, optFns ...func(*bedrockruntime.Options)) (*bedrockruntime.ConverseOutput, error)
}

// ConverseStreamAPI is the Bedrock Runtime operation streamed chat needs.
type ConverseStreamAPI interface {
	ConverseStream(ctx context.Context, in *bedrockruntime.ConverseStreamInput, optFns ...func(*bedrockruntime.Options)) (*bedrockruntime.ConverseStreamOutput, error)
}

// InvokeModelAPI is the Bedrock Runtime operation embeddings need.
type InvokeModelAPI interface {
	InvokeModel(ctx context.Context, in *bedrockruntime.InvokeModelInput, optFns ...func(*bedrockruntime.Options)) (*bedrockruntime.InvokeModelOutput, error)
}

// ChatAPI is what a Chat needs: Converse and ConverseStream.
type ChatAPI interface {
	ConverseAPI
	ConverseStreamAPI
}

var _ ChatAPI = (*bedrockruntime.Client)(nil)
var _ InvokeModelAPI = (*bedrockruntime.Client)(nil)

// NewClient builds a Bedrock Runtime client from cfg with the SDK's own retries turned
// off: the router retries, backs off and falls back, and two layers of retries would
// multiply the wait. optFns may set BaseEndpoint and the like; whatever HTTP client they
// choose is wrapped by awsbody.Client, so an answer outlives the end of its request's write.
func NewClient(cfg aws.Config, optFns ...func(*bedrockruntime.Options)) *bedrockruntime.Client {
	opts := append([]func(*bedrockruntime.Options){func(o *bedrockruntime.Options) {
		o.Retryer = aws.NopRetryer{}
	}}, optFns...)
	opts = append(opts, func(o *bedrockruntime.Options) { o.HTTPClient = awsbody.Client(o.HTTPClient) })
	return bedrockruntime.NewFromConfig(cfg, opts...)
}

const providerName = "bedrock"

// classify turns an SDK error into a *provider.Error.
func classify(ctx context.Context, err error) *provider.Error {
	if pe, ok := provider.AsError(err); ok {
		return pe
	}
	e := &provider.Error{Provider: providerName, Err: err, Message: err.Error()}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		e.Status = re.HTTPStatusCode()
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		e.Code, e.Message = api.ErrorCode(), api.ErrorMessage()
		e.Kind = kindOf(e.Code, e.Message, e.Status)
		return e
	}
	var ne net.Error
	switch {
	case ctx.Err() != nil:
		e.Kind = provider.KindTimeout
		e.Message = "request cancelled or timed out: " + ctx.Err().Error()
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		e.Kind = provider.KindTimeout
	default:
		// Connection refused or reset, a stream that broke: the service is not serving.
		e.Kind = provider.KindUnavailable
	}
	return e
}

// kindOf maps a Bedrock error code (REST or a stream exception type) to a kind.
func kindOf(code, message string, status int) provider.ErrorKind {
	switch strings.ToLower(code) {
	case "throttlingexception", "servicequotaexceededexception", "toomanyrequestsexception":
		return provider.KindRateLimited
	case "modeltimeoutexception":
		return provider.KindTimeout
	case "serviceunavailableexception", "internalserverexception", "modelnotreadyexception",
		"modelerrorexception", "modelstreamerrorexception":
		return provider.KindUnavailable
	case "accessdeniedexception", "unrecognizedclientexception", "invalidsignatureexception", "expiredtokenexception":
		return provider.KindAuth
	case "resourcenotfoundexception":
		return provider.KindNotFound
	case "validationexception":
		m := strings.ToLower(message)
		if strings.Contains(m, "too long") || strings.Contains(m, "input length") || strings.Contains(m, "context length") ||
			strings.Contains(m, "context window") || strings.Contains(m, "too many input tokens") || strings.Contains(m, "prompt is too long") {
			return provider.KindContextLength
		}
		return provider.KindBadRequest
	}
	switch {
	case status == 429:
		return provider.KindRateLimited
	case status == 408 || status == 504:
		return provider.KindTimeout
	case status >= 500:
		return provider.KindUnavailable
	case status == 401 || status == 403:
		return provider.KindAuth
	case status == 404:
		return provider.KindNotFound
	}
	return provider.KindBadRequest
}

func badRequest(msg string) *provider.Error {
	return &provider.Error{Kind: provider.KindBadRequest, Provider: providerName, Message: msg}
}

// stopReason maps Converse's stopReason to OpenAI's finish_reason.
func stopReason(r types.StopReason) string {
	switch r {
	case types.StopReasonMaxTokens, types.StopReasonModelContextWindowExceeded:
		return "length"
	case types.StopReasonToolUse:
		return "tool_calls"
	case types.StopReasonGuardrailIntervened, types.StopReasonContentFiltered:
		return "content_filter"
	}
	return "stop" // end_turn, stop_sequence
}
