package bedrock

import (
	"context"
	"encoding/json"
	"io"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/plinth-ai/plinth/shared/provider"
)

// Chat serves one Bedrock model (a model ID, inference-profile ID or ARN) through
// Converse and ConverseStream.
type Chat struct {
	api     ChatAPI
	modelID string
	now     func() time.Time
}

var _ provider.ChatModel = (*Chat)(nil)

// NewChat returns a chat adapter for modelID. api is usually a *bedrockruntime.Client
// from NewClient. It panics on a nil api: that is a wiring bug.
func NewChat(api ChatAPI, modelID string) *Chat {
	if api == nil {
		panic("bedrock.NewChat: nil client")
	}
	return &Chat{api: api, modelID: modelID, now: time.Now}
}

var idSeq atomic.Uint64

// responseID names a completion after Bedrock's request ID when there is one.
func responseID(md middleware.Metadata) string {
	if id, ok := awsmiddleware.GetRequestIDMetadata(md); ok && id != "" {
		return "chatcmpl-" + id
	}
	return "chatcmpl-bedrock-" + strconv.FormatUint(idSeq.Add(1), 36)
}

// Chat implements provider.ChatModel.
func (c *Chat) Chat(ctx context.Context, req *provider.ChatRequest) (*provider.ChatResponse, error) {
	p, err := toConverse(req)
	if err != nil {
		return nil, err
	}
	out, err := c.api.Converse(ctx, &bedrockruntime.ConverseInput{
		ModelId: aws.String(c.modelID), Messages: p.messages, System: p.system, InferenceConfig: p.infer, ToolConfig: p.tools,
	})
	if err != nil {
		return nil, classify(ctx, err)
	}
	mo, ok := out.Output.(*types.ConverseOutputMemberMessage)
	if !ok {
		return nil, &provider.Error{Kind: provider.KindUnavailable, Provider: providerName, Message: "Converse returned no message"}
	}
	msg, err := fromConverse(&mo.Value)
	if err != nil {
		return nil, &provider.Error{Kind: provider.KindUnavailable, Provider: providerName, Message: "decode tool input", Err: err}
	}
	return &provider.ChatResponse{
		ID:      responseID(out.ResultMetadata),
		Object:  "chat.completion",
		Created: c.now().Unix(),
		Model:   c.modelID,
		Choices: []provider.Choice{{Index: 0, Message: msg, FinishReason: stopReason(out.StopReason), Logprobs: json.RawMessage("null")}},
		Usage:   usageOf(out.Usage),
	}, nil
}

// ChatStream implements provider.ChatModel over ConverseStream. Converse always reports
// usage, in its final metadata event, which becomes a usage chunk with no choices.
func (c *Chat) ChatStream(ctx context.Context, req *provider.ChatRequest) (provider.Stream, error) {
	p, err := toConverse(req)
	if err != nil {
		return nil, err
	}
	out, err := c.api.ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{
		ModelId: aws.String(c.modelID), Messages: p.messages, System: p.system, InferenceConfig: p.infer, ToolConfig: p.tools,
	})
	if err != nil {
		return nil, classify(ctx, err)
	}
	es := out.GetStream()
	return &stream{ctx: ctx, es: es, events: es.Events(), id: responseID(out.ResultMetadata), created: c.now().Unix(), model: c.modelID, toolIndex: map[int32]int{}}, nil
}

// eventStream is the part of the SDK's ConverseStreamEventStream the stream uses.
type eventStream interface {
	Close() error
	Err() error
}

type stream struct {
	ctx       context.Context
	es        eventStream
	events    <-chan types.ConverseStreamOutput
	id        string
	created   int64
	model     string
	toolIndex map[int32]int // content block index → OpenAI tool-call index
	stopped   bool          // messageStop seen
	done      bool
	err       error
}

func (s *stream) chunk(d provider.Delta, finish *string) *provider.ChatChunk {
	return &provider.ChatChunk{ID: s.id, Object: "chat.completion.chunk", Created: s.created, Model: s.model,
		Choices: []provider.ChunkChoice{{Index: 0, Delta: d, FinishReason: finish}}}
}

// Recv implements provider.Stream.
func (s *stream) Recv() (*provider.ChatChunk, error) {
	if s.err != nil {
		return nil, s.err
	}
	if s.done {
		return nil, io.EOF
	}
	for {
		ev, ok := <-s.events
		if !ok {
			return nil, s.end()
		}
		switch v := ev.(type) {
		case *types.ConverseStreamOutputMemberMessageStart:
			empty := ""
			return s.chunk(provider.Delta{Role: "assistant", Content: &empty}, nil), nil
		case *types.ConverseStreamOutputMemberContentBlockStart:
			tu, ok := v.Value.Start.(*types.ContentBlockStartMemberToolUse)
			if !ok {
				continue
			}
			idx := len(s.toolIndex)
			s.toolIndex[aws.ToInt32(v.Value.ContentBlockIndex)] = idx
			return s.chunk(provider.Delta{ToolCalls: []provider.ToolCall{{Index: &idx, ID: aws.ToString(tu.Value.ToolUseId), Type: "function",
				Function: provider.FunctionCall{Name: aws.ToString(tu.Value.Name)}}}}, nil), nil
		case *types.ConverseStreamOutputMemberContentBlockDelta:
			switch d := v.Value.Delta.(type) {
			case *types.ContentBlockDeltaMemberText:
				text := d.Value
				return s.chunk(provider.Delta{Content: &text}, nil), nil
			case *types.ContentBlockDeltaMemberToolUse:
				idx, ok := s.toolIndex[aws.ToInt32(v.Value.ContentBlockIndex)]
				if !ok {
					continue
				}
				return s.chunk(provider.Delta{ToolCalls: []provider.ToolCall{{Index: &idx, Function: provider.FunctionCall{Arguments: aws.ToString(d.Value.Input)}}}}, nil), nil
			}
			// Reasoning and other deltas are not part of OpenAI's chunk, but the model is
			// producing: a chunk with no choices says so to a caller timing the stream.
			return &provider.ChatChunk{ID: s.id, Object: "chat.completion.chunk", Created: s.created, Model: s.model, Choices: []provider.ChunkChoice{}}, nil
		case *types.ConverseStreamOutputMemberMessageStop:
			s.stopped = true
			fr := stopReason(v.Value.StopReason)
			return s.chunk(provider.Delta{}, &fr), nil
		case *types.ConverseStreamOutputMemberMetadata:
			ch := &provider.ChatChunk{ID: s.id, Object: "chat.completion.chunk", Created: s.created, Model: s.model,
				Choices: []provider.ChunkChoice{}, Usage: usageOf(v.Value.Usage)}
			if ch.Usage == nil {
				continue
			}
			return ch, nil
		}
	}
}

// end decides how a closed event channel ends the stream: an exception or a broken
// connection is an error, a stream without messageStop was cut short.
func (s *stream) end() error {
	s.done = true
	if err := s.es.Err(); err != nil {
		s.err = classify(s.ctx, err)
		if s.err.(*provider.Error).Kind == provider.KindBadRequest {
			s.err.(*provider.Error).Kind = provider.KindUnavailable
		}
		return s.err
	}
	if !s.stopped {
		s.err = &provider.Error{Kind: provider.KindUnavailable, Provider: providerName, Message: "stream ended before messageStop"}
		if s.ctx.Err() != nil {
			s.err = &provider.Error{Kind: provider.KindTimeout, Provider: providerName, Message: "stream cancelled or timed out", Err: s.ctx.Err()}
		}
		return s.err
	}
	return io.EOF
}

// Close implements provider.Stream: it closes the event stream and its connection.
func (s *stream) Close() error {
	s.done = true
	return s.es.Close()
}
