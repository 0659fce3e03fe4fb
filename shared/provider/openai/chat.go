package openai

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sync"

	"github.com/plinth-ai/plinth/shared/provider"
)

// encode marshals v as compact JSON without HTML escaping into a pooled buffer.
func encode(v any) (*bytes.Buffer, error) {
	buf := getBuf()
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		putBuf(buf)
		return nil, err
	}
	return buf, nil
}

// encodeChat writes the upstream request body into a pooled buffer.
func (c *Client) encodeChat(req *provider.ChatRequest, stream bool) (*bytes.Buffer, error) {
	model := c.model
	if model == "" {
		model = req.Model
	}
	buf := getBuf()
	b, err := appendChatRequest(buf.AvailableBuffer(), req, model, stream)
	if err != nil {
		putBuf(buf)
		return nil, &provider.Error{Kind: provider.KindBadRequest, Provider: c.name, Message: "encode request: " + err.Error(), Err: err}
	}
	buf.Write(b)
	return buf, nil
}

// Chat implements provider.ChatModel.
func (c *Client) Chat(ctx context.Context, req *provider.ChatRequest) (*provider.ChatResponse, error) {
	body, err := c.encodeChat(req, false)
	if err != nil {
		return nil, err
	}
	defer putBuf(body)
	resp, err := c.post(ctx, c.chatURL, body.Bytes(), false)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	buf := getBuf()
	defer putBuf(buf)
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		return nil, c.transportError(ctx, err)
	}
	out, err := decodeResponse(buf.Bytes())
	if err != nil {
		return nil, &provider.Error{Kind: provider.KindUnavailable, Provider: c.name, Status: resp.StatusCode, Message: "malformed chat completion", Err: err}
	}
	return out, nil
}

// ChatStream implements provider.ChatModel. It always asks for the usage chunk. The
// stream ends with io.EOF after "data: [DONE]"; a body that ends without it is an
// *provider.Error of kind unavailable.
func (c *Client) ChatStream(ctx context.Context, req *provider.ChatRequest) (provider.Stream, error) {
	body, err := c.encodeChat(req, true)
	if err != nil {
		return nil, err
	}
	defer putBuf(body)
	resp, err := c.post(ctx, c.chatURL, body.Bytes(), true)
	if err != nil {
		return nil, err
	}
	rd := readerPool.Get().(*bufio.Reader)
	rd.Reset(resp.Body)
	return &stream{c: c, ctx: ctx, resp: resp, rd: rd}, nil
}

// readerPool recycles the line readers of finished streams.
var readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 16<<10) }}

type stream struct {
	c    *Client
	ctx  context.Context
	resp *http.Response
	rd   *bufio.Reader
	data []byte // the current event's data, across data: lines
	raw  []byte // the last chunk's JSON
	done bool
	err  error
}

// chunkOrError decodes either a chunk or an error event.
type chunkOrError struct {
	provider.ChatChunk
	Error *apiError `json:"error"`
}

var (
	dataPrefix = []byte("data:")
	doneMarker = []byte("[DONE]")
)

// Recv implements provider.Stream.
func (s *stream) Recv() (*provider.ChatChunk, error) {
	if s.done {
		return nil, io.EOF
	}
	if s.err != nil {
		return nil, s.err
	}
	for {
		payload, err := s.nextEvent()
		if err != nil {
			s.err = err
			s.resp.Body.Close()
			return nil, err
		}
		if len(payload) == 0 {
			continue // an empty data line is a keep-alive
		}
		if bytes.Equal(payload, doneMarker) {
			s.done = true
			s.resp.Body.Close()
			return nil, io.EOF
		}
		chunk, apiErr, err := decodeChunk(payload)
		if err != nil {
			s.err = &provider.Error{Kind: provider.KindUnavailable, Provider: s.c.name, Message: "malformed stream chunk", Err: err}
			s.resp.Body.Close()
			return nil, s.err
		}
		if apiErr != nil {
			e := classify(0, apiErr)
			if e.Kind == provider.KindBadRequest {
				// An error after the stream began is the upstream failing, not the request.
				e.Kind = provider.KindUnavailable
			}
			e.Provider = s.c.name
			s.err = e
			s.resp.Body.Close()
			return nil, e
		}
		s.raw = payload
		return chunk, nil
	}
}

// RawJSON returns the JSON of the chunk Recv last returned, valid until the next Recv.
// A relay that forwards chunks unchanged may write it instead of re-encoding.
func (s *stream) RawJSON() []byte { return s.raw }

// nextEvent returns the data of the next SSE event, skipping comments and other fields.
func (s *stream) nextEvent() ([]byte, error) {
	s.data = s.data[:0]
	have := false
	for {
		line, err := s.rd.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A line longer than the buffer: gather it whole.
			full := append([]byte(nil), line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = s.rd.ReadSlice('\n')
				full = append(full, line...)
			}
			line = full
		}
		if err != nil && len(line) == 0 || err != nil && !errors.Is(err, io.EOF) {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				if have {
					return s.data, nil
				}
				return nil, &provider.Error{Kind: provider.KindUnavailable, Provider: s.c.name, Message: "stream ended before [DONE]", Err: io.ErrUnexpectedEOF}
			}
			if s.ctx.Err() != nil {
				return nil, &provider.Error{Kind: provider.KindTimeout, Provider: s.c.name, Message: "stream cancelled or timed out: " + s.ctx.Err().Error(), Err: err}
			}
			return nil, &provider.Error{Kind: provider.KindUnavailable, Provider: s.c.name, Message: "stream interrupted", Err: err}
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			if have {
				return s.data, nil
			}
			continue
		}
		if bytes.HasPrefix(line, dataPrefix) {
			v := line[len(dataPrefix):]
			if len(v) > 0 && v[0] == ' ' {
				v = v[1:]
			}
			if have {
				s.data = append(s.data, '\n')
			}
			s.data = append(s.data, v...)
			have = true
		}
		if err != nil { // io.EOF with a final unterminated line
			if have {
				return s.data, nil
			}
			return nil, &provider.Error{Kind: provider.KindUnavailable, Provider: s.c.name, Message: "stream ended before [DONE]", Err: io.ErrUnexpectedEOF}
		}
	}
}

// Close implements provider.Stream: it closes the body, which cancels the upstream
// request if it is still running.
func (s *stream) Close() error {
	s.done = true
	err := s.resp.Body.Close()
	s.release()
	return err
}

// release returns the line reader to the pool once the stream is over.
func (s *stream) release() {
	if s.rd != nil {
		s.rd.Reset(nil)
		readerPool.Put(s.rd)
		s.rd = nil
	}
}
