package localtune

import (
	"context"
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/plinth-ai/plinth/shared/provider"
)

// PromptOf renders chat messages as the prompt text local-tune reads: the text of every
// message in order, one paragraph each, without role labels. Training records in the
// conversation format go through the same function, so training and serving agree.
func PromptOf(msgs []provider.Message) string {
	var b strings.Builder
	for _, m := range msgs {
		t := strings.TrimSpace(m.Content.String())
		if t == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("\n\n")
		}
		b.WriteString(t)
	}
	return b.String()
}

// chatModel serves a Model through the provider port.
type chatModel struct {
	m    *Model
	name string
	now  func() time.Time
}

// NewChat returns m as a chat model reporting name in its responses. Decoding is greedy
// and deterministic; temperature and top_p are accepted and have no effect.
func NewChat(m *Model, name string) provider.ChatModel {
	return &chatModel{m: m, name: name, now: time.Now}
}

var seq atomic.Uint64

type answer struct {
	text   string
	finish string
	usage  provider.Usage
}

func badRequest(msg string) error {
	return &provider.Error{Kind: provider.KindBadRequest, Provider: "local", Code: "invalid_request", Message: msg}
}

func (c *chatModel) answer(req *provider.ChatRequest) (*answer, error) {
	if len(req.Messages) == 0 {
		return nil, badRequest("messages must not be empty")
	}
	if req.N != nil && *req.N > 1 {
		return nil, badRequest(c.name + " supports n=1 only")
	}
	if len(req.Tools) > 0 && len(req.ToolChoice) > 0 && string(req.ToolChoice) != `"none"` && string(req.ToolChoice) != `"auto"` {
		return nil, badRequest(c.name + " cannot call tools")
	}
	max := req.MaxOutputTokens()
	if max < 0 {
		return nil, badRequest("max_tokens must not be negative")
	}
	prompt := PromptOf(req.Messages)
	text, n, cut := c.m.Generate(prompt, max)
	a := &answer{text: text, finish: "stop"}
	if cut && (req.MaxTokens != nil || req.MaxCompletionTokens != nil) {
		a.finish = "length"
	}
	for _, s := range req.Stop {
		if i := strings.Index(a.text, s); s != "" && i >= 0 {
			a.text = a.text[:i]
			a.finish = "stop"
			n = CountTokens(a.text)
		}
	}
	a.usage = provider.Usage{PromptTokens: CountTokens(prompt), CompletionTokens: n}
	a.usage.TotalTokens = a.usage.PromptTokens + a.usage.CompletionTokens
	return a, nil
}

func (c *chatModel) id() string {
	return "chatcmpl-tune-" + strconv.FormatInt(c.now().UnixNano(), 36) + "-" + strconv.FormatUint(seq.Add(1), 36)
}

func (c *chatModel) model(req *provider.ChatRequest) string {
	if req.Model != "" {
		return req.Model
	}
	return c.name
}

// Chat implements provider.ChatModel.
func (c *chatModel) Chat(ctx context.Context, req *provider.ChatRequest) (*provider.ChatResponse, error) {
	if err := ctx.Err(); err != nil {
		return nil, &provider.Error{Kind: provider.KindTimeout, Provider: "local", Message: "request cancelled", Err: err}
	}
	a, err := c.answer(req)
	if err != nil {
		return nil, err
	}
	u := a.usage
	return &provider.ChatResponse{
		ID: c.id(), Object: "chat.completion", Created: c.now().Unix(), Model: c.model(req),
		Choices: []provider.Choice{{Message: provider.Message{Role: "assistant", Content: provider.TextContent(a.text)},
			FinishReason: a.finish, Logprobs: json.RawMessage("null")}},
		Usage: &u,
	}, nil
}

// ChatStream implements provider.ChatModel: a role chunk, one chunk per word, a finish
// chunk and a usage chunk.
func (c *chatModel) ChatStream(ctx context.Context, req *provider.ChatRequest) (provider.Stream, error) {
	if err := ctx.Err(); err != nil {
		return nil, &provider.Error{Kind: provider.KindTimeout, Provider: "local", Message: "request cancelled", Err: err}
	}
	a, err := c.answer(req)
	if err != nil {
		return nil, err
	}
	base := provider.ChatChunk{ID: c.id(), Object: "chat.completion.chunk", Created: c.now().Unix(), Model: c.model(req)}
	var chunks []*provider.ChatChunk
	add := func(choices []provider.ChunkChoice, u *provider.Usage) {
		ch := base
		ch.Choices, ch.Usage = choices, u
		chunks = append(chunks, &ch)
	}
	empty := ""
	add([]provider.ChunkChoice{{Delta: provider.Delta{Role: "assistant", Content: &empty}}}, nil)
	for i, w := range strings.SplitAfter(a.text, " ") {
		if w == "" && i > 0 {
			continue
		}
		piece := w
		add([]provider.ChunkChoice{{Delta: provider.Delta{Content: &piece}}}, nil)
	}
	finish := a.finish
	add([]provider.ChunkChoice{{Delta: provider.Delta{}, FinishReason: &finish}}, nil)
	u := a.usage
	add([]provider.ChunkChoice{}, &u)
	return &stream{ctx: ctx, chunks: chunks}, nil
}

type stream struct {
	ctx    context.Context
	chunks []*provider.ChatChunk
	next   int
}

// Recv implements provider.Stream.
func (s *stream) Recv() (*provider.ChatChunk, error) {
	if err := s.ctx.Err(); err != nil {
		return nil, &provider.Error{Kind: provider.KindTimeout, Provider: "local", Message: "stream cancelled", Err: err}
	}
	if s.next >= len(s.chunks) {
		return nil, io.EOF
	}
	s.next++
	return s.chunks[s.next-1], nil
}

// Close implements provider.Stream.
func (s *stream) Close() error {
	s.next = len(s.chunks)
	return nil
}
