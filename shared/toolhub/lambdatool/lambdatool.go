// Package lambdatool serves the tool hub's AWS Lambda tool servers. A server's tools are
// declared when it is registered; a call invokes the function synchronously with the
// event {"tool","arguments","tenant","request_id"}. A function that answers a
// CallToolResult (an object with "content") is passed on as it is; any other JSON answer
// becomes the result's text and, for objects, its structured content; a function error
// becomes an error result.
package lambdatool

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/plinth-ai/plinth/shared/toolhub"
)

// InvokeAPI is the part of the Lambda client the backend uses.
type InvokeAPI interface {
	Invoke(ctx context.Context, in *lambda.InvokeInput, optFns ...func(*lambda.Options)) (*lambda.InvokeOutput, error)
}

// Backend invokes Lambda functions.
type Backend struct {
	newClient func(ctx context.Context) (InvokeAPI, error)

	once   sync.Once
	client InvokeAPI
	err    error
}

// New returns the backend; newClient is called once, at the first call, so platforms
// that never register a Lambda tool never load AWS configuration.
func New(newClient func(ctx context.Context) (InvokeAPI, error)) *Backend {
	if newClient == nil {
		panic("lambdatool.New: nil client constructor")
	}
	return &Backend{newClient: newClient}
}

var _ toolhub.Backend = (*Backend)(nil)

// Event is what a tool function receives.
type Event struct {
	Tool      string          `json:"tool"`
	Arguments json.RawMessage `json:"arguments"`
	Tenant    string          `json:"tenant,omitempty"`
	RequestID string          `json:"request_id,omitempty"`
}

// Discover implements toolhub.Backend: a function cannot list its tools, so the
// registered declarations stand.
func (b *Backend) Discover(context.Context, *toolhub.Server, string) (*toolhub.Discovery, error) {
	return nil, nil
}

// Invoke implements toolhub.Backend.
func (b *Backend) Invoke(ctx context.Context, s *toolhub.Server, in *toolhub.Invocation) (json.RawMessage, error) {
	if in.Method != "tools/call" || in.Tool == nil {
		return nil, &toolhub.RPCError{Code: -32601, Message: in.Method + " is not available on a Lambda tool server"}
	}
	b.once.Do(func() { b.client, b.err = b.newClient(ctx) })
	if b.err != nil {
		return nil, fmt.Errorf("%w: Lambda client: %v", toolhub.ErrUpstream, b.err)
	}
	var p struct {
		Arguments json.RawMessage `json:"arguments"`
	}
	if err := json.Unmarshal(in.Params, &p); err != nil {
		return nil, fmt.Errorf("%w: arguments: %v", toolhub.ErrInvalid, err)
	}
	ev := Event{Tool: in.Tool.Name, Arguments: p.Arguments}
	if in.Caller != nil {
		ev.Tenant, ev.RequestID = in.Caller.Principal.TenantID, in.Caller.RequestID
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		return nil, err
	}
	out, err := b.client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(s.Function), Payload: payload,
		InvocationType: types.InvocationTypeRequestResponse})
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w: invoke %s: %v", toolhub.ErrUpstream, s.Function, err)
	}
	if in.MaxBytes > 0 && len(out.Payload) > in.MaxBytes {
		return nil, fmt.Errorf("%w: the function answered %d bytes", toolhub.ErrTooLarge, len(out.Payload))
	}
	if msg, failed := functionError(out); failed {
		return errorResult("The function failed: " + msg), nil
	}
	var probe struct {
		Content json.RawMessage `json:"content"`
	}
	if json.Unmarshal(out.Payload, &probe) == nil && len(probe.Content) > 0 && probe.Content[0] == '[' {
		return out.Payload, nil
	}
	res := map[string]any{"content": []map[string]string{{"type": "text", "text": string(out.Payload)}}}
	var obj map[string]any
	if json.Unmarshal(out.Payload, &obj) == nil {
		res["structuredContent"] = obj
	}
	return json.Marshal(res)
}

func errorResult(msg string) json.RawMessage {
	b, _ := json.Marshal(map[string]any{"content": []map[string]string{{"type": "text", "text": msg}}, "isError": true})
	return b
}

// functionError reports a function's error: the X-Amz-Function-Error answer, or (as the
// Runtime Interface Emulator answers without that header) a payload that is exactly
// Lambda's error object.
func functionError(out *lambda.InvokeOutput) (string, bool) {
	var fe map[string]json.RawMessage
	_ = json.Unmarshal(out.Payload, &fe)
	var msg, typ string
	_ = json.Unmarshal(fe["errorMessage"], &msg)
	_ = json.Unmarshal(fe["errorType"], &typ)
	shaped := msg != "" && typ != "" && len(fe) <= 3 && (len(fe) == 2 || fe["stackTrace"] != nil)
	if out.FunctionError == nil && !shaped {
		return "", false
	}
	if msg == "" {
		return string(out.Payload), true
	}
	return typ + ": " + msg, true
}
