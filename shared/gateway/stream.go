package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/plinth-ai/plinth/shared/httpapi"
	"github.com/plinth-ai/plinth/shared/provider"
	"github.com/plinth-ai/plinth/shared/registry"
)

// sse writes server-sent events and flushes each one.
type sse struct {
	w       http.ResponseWriter
	flusher http.Flusher
	buf     []byte
	err     error
}

func newSSE(w http.ResponseWriter) *sse {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("Connection", "keep-alive")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	f, _ := w.(http.Flusher)
	return &sse{w: w, flusher: f, buf: make([]byte, 0, 512)}
}

func (s *sse) data(payload []byte) {
	if s.err != nil {
		return
	}
	s.buf = append(s.buf[:0], "data: "...)
	s.buf = append(s.buf, payload...)
	s.buf = append(s.buf, '\n', '\n')
	if _, err := s.w.Write(s.buf); err != nil {
		s.err = err
		return
	}
	if s.flusher != nil {
		s.flusher.Flush()
	}
}

func (s *sse) chunk(c *provider.ChatChunk) {
	b, err := json.Marshal(c)
	if err != nil {
		s.err = err
		return
	}
	s.data(b)
}

func (s *sse) done() { s.data([]byte("[DONE]")) }

// fail ends the stream with an explicit error event in OpenAI's error shape, which the
// OpenAI SDKs raise as an API error.
func (s *sse) fail(e *httpapi.Error) {
	typ := e.Type
	if typ == "" {
		typ = "api_error"
	}
	code := e.Code
	b, _ := json.Marshal(map[string]httpapi.ErrorBody{"error": {Message: e.Message, Type: typ, Code: &code}})
	s.data(b)
}

// streamChat relays a streamed completion, applying output guardrails by windows and
// recording usage however the stream ends.
func (g *Gateway) streamChat(w http.ResponseWriter, r *http.Request, c *Caller, rec *UsageRecord, m *registry.Model,
	req *provider.ChatRequest, est Estimate, settle func(int64, float64), bypass bool) {
	ctx := r.Context()
	stream, served, err := g.invoker.ChatStream(ctx, m, req)
	rec.Deployment = served.DeploymentID
	if err != nil {
		settle(0, 0)
		g.fail(w, rec, upstreamError(err))
		return
	}
	defer stream.Close()
	rec.Model = served.ModelID
	w.Header().Set(HeaderModel, served.ModelID)
	w.Header().Set(HeaderDeployment, served.DeploymentID)

	var guard StreamGuard
	if g.guard != nil && c.guardrailPolicy() != "" {
		guard = g.guard.OutputStream(ctx, c)
	}
	includeUsage := req.StreamOptions != nil && req.StreamOptions.IncludeUsage
	out := newSSE(w)
	rec.Status = http.StatusOK

	var (
		usage   *provider.Usage
		last    provider.ChatChunk // identity of the stream for synthesised chunks
		text    strings.Builder    // the answer, for the cache
		finish  string
		tools   bool
		blocked bool
		failure *httpapi.Error
	)
	emitText := func(s string) {
		if s == "" {
			return
		}
		content := s
		out.chunk(&provider.ChatChunk{ID: last.ID, Object: "chat.completion.chunk", Created: last.Created, Model: served.ModelID,
			Choices: []provider.ChunkChoice{{Delta: provider.Delta{Content: &content}}}})
	}
	for {
		ch, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if ctx.Err() != nil {
				failure = &httpapi.Error{Status: 499, Code: "client_closed_request", Message: "the client closed the request"}
				break
			}
			he, _ := upstreamError(err).(*httpapi.Error)
			if he == nil {
				he = &httpapi.Error{Status: http.StatusBadGateway, Code: "upstream_error", Message: err.Error()}
			}
			failure = he
			break
		}
		ch.Model = served.ModelID
		if ch.Object == "" {
			ch.Object = "chat.completion.chunk"
		}
		last.ID, last.Created = ch.ID, ch.Created
		if ch.Usage != nil {
			usage = ch.Usage
			ch.Usage = nil
			if len(ch.Choices) == 0 {
				continue // re-emitted at the end if the client asked for usage
			}
		}
		if len(ch.Choices) == 0 {
			continue
		}
		choice := &ch.Choices[0]
		if len(choice.Delta.ToolCalls) > 0 {
			tools = true
		}
		if choice.Delta.Content != nil {
			text.WriteString(*choice.Delta.Content)
			if guard != nil {
				emit, stop := guard.Write(*choice.Delta.Content)
				if stop {
					blocked = true
					break
				}
				if emit == "" && choice.FinishReason == nil && choice.Delta.Role == "" && len(choice.Delta.ToolCalls) == 0 {
					continue
				}
				choice.Delta.Content = &emit
			}
		}
		if choice.FinishReason != nil {
			finish = *choice.FinishReason
			if guard != nil {
				rest, stop := guard.Flush()
				if stop {
					blocked = true
					break
				}
				if choice.Delta.Content != nil {
					joined := *choice.Delta.Content + rest
					choice.Delta.Content = &joined
				} else {
					emitText(rest)
				}
			}
		}
		out.chunk(ch)
		if out.err != nil {
			failure = &httpapi.Error{Status: 499, Code: "client_closed_request", Message: "the client went away"}
			break
		}
	}
	if guard != nil {
		rec.Guardrail = mergeCounts(rec.Guardrail, guard.Findings())
		if !blocked && failure == nil && finish == "" {
			// The upstream ended without a finish reason: release what was held back.
			if rest, stop := guard.Flush(); stop {
				blocked = true
			} else {
				emitText(rest)
			}
		}
	}
	if blocked {
		w.Header().Set(HeaderGuardrail, "intervened")
		msg := guard.Message()
		reason := "content_filter"
		out.chunk(&provider.ChatChunk{ID: last.ID, Object: "chat.completion.chunk", Created: last.Created, Model: served.ModelID,
			Choices: []provider.ChunkChoice{{Delta: provider.Delta{Content: &msg}, FinishReason: &reason}}})
		stream.Close() // stop the upstream generating what nobody will see
	}

	// Charge what the provider reported; if it reported nothing (the stream was cut or the
	// provider does not report usage), charge the whole reservation and flag the record.
	if usage != nil {
		rec.InputTokens, rec.OutputTokens = int64(usage.PromptTokens), int64(usage.CompletionTokens)
		rec.CostUSD = served.Prices.Cost(rec.InputTokens, rec.OutputTokens)
		settle(rec.InputTokens+rec.OutputTokens, rec.CostUSD)
	} else {
		rec.Estimated = true
		rec.InputTokens, rec.CostUSD = est.Tokens, est.USD
		settle(est.Tokens, est.USD)
	}

	if failure != nil {
		rec.Status, rec.ErrorCode = failure.Status, failure.Code
		if failure.Status != 499 {
			out.fail(failure)
		}
		return
	}
	if includeUsage {
		u := usage
		if u == nil {
			u = &provider.Usage{}
		}
		out.chunk(&provider.ChatChunk{ID: last.ID, Object: "chat.completion.chunk", Created: last.Created, Model: served.ModelID, Choices: []provider.ChunkChoice{}, Usage: u})
	}
	out.done()
	if !blocked && !tools && finish != "" && g.cache != nil && c.cacheEnabled() && !bypass {
		resp := &provider.ChatResponse{ID: last.ID, Object: "chat.completion", Created: last.Created, Model: served.ModelID,
			Choices: []provider.Choice{{Message: provider.Message{Role: "assistant", Content: provider.TextContent(text.String())}, FinishReason: finish, Logprobs: nullJSON}},
			Usage:   usage}
		g.cache.Store(context.WithoutCancel(ctx), c, req, resp)
	}
}

// replayStream sends a cached completion as a stream.
func (g *Gateway) replayStream(w http.ResponseWriter, req *provider.ChatRequest, resp *provider.ChatResponse) {
	out := newSSE(w)
	for _, choice := range resp.Choices {
		content := choice.Message.Content.String()
		finish := choice.FinishReason
		out.chunk(&provider.ChatChunk{ID: resp.ID, Object: "chat.completion.chunk", Created: resp.Created, Model: resp.Model,
			Choices: []provider.ChunkChoice{{Index: choice.Index, Delta: provider.Delta{Role: "assistant", Content: &content}}}})
		out.chunk(&provider.ChatChunk{ID: resp.ID, Object: "chat.completion.chunk", Created: resp.Created, Model: resp.Model,
			Choices: []provider.ChunkChoice{{Index: choice.Index, Delta: provider.Delta{}, FinishReason: &finish}}})
	}
	if req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
		u := resp.Usage
		if u == nil {
			u = &provider.Usage{}
		}
		out.chunk(&provider.ChatChunk{ID: resp.ID, Object: "chat.completion.chunk", Created: resp.Created, Model: resp.Model, Choices: []provider.ChunkChoice{}, Usage: u})
	}
	out.done()
}
