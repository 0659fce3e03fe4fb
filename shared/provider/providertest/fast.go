package providertest

import (
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The text answers are written by hand rather than through encoding/json so that the
// fake costs little CPU when a load test drives it beside the gateway on the same
// machine. Field order and shapes follow OpenAI's own responses.

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string literal.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

func appendUsage(b []byte, prompt, completion int) []byte {
	b = append(b, `{"prompt_tokens":`...)
	b = strconv.AppendInt(b, int64(prompt), 10)
	b = append(b, `,"completion_tokens":`...)
	b = strconv.AppendInt(b, int64(completion), 10)
	b = append(b, `,"total_tokens":`...)
	b = strconv.AppendInt(b, int64(prompt+completion), 10)
	return append(b, `,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}`...)
}

func (h *Handler) appendHead(b []byte, object string, n int64, created int64, model string) []byte {
	b = append(b, `{"id":"chatcmpl-mock`...)
	b = strconv.AppendInt(b, n, 10)
	b = append(b, `","object":"`...)
	b = append(b, object...)
	b = append(b, `","created":`...)
	b = strconv.AppendInt(b, created, 10)
	b = append(b, `,"model":`...)
	return appendJSONString(b, h.modelOr(model))
}

// answer returns the reply's pieces (see Pieces), cut to max_tokens, and the finish reason.
func (h *Handler) answer(req *ChatBody) (words []string, finish string) {
	words = Pieces(h.cfg.reply(req))
	finish = "stop"
	if req.MaxTokens != nil && len(words) > *req.MaxTokens {
		words = words[:*req.MaxTokens]
		finish = "length"
	}
	return words, finish
}

// Pieces splits a reply into the chunks the fakes stream it in, one word each with a
// single space before every word but the first; a reply that starts with whitespace (a
// continuation of text already written) keeps one space before its first word too.
// Joined, the pieces are the text the fakes answer non-streamed.
func Pieces(text string) []string {
	words := strings.Fields(text)
	for i := range words {
		if i > 0 || startsWithSpace(text) {
			words[i] = " " + words[i]
		}
	}
	return words
}

func (h *Handler) completeText(w http.ResponseWriter, r *http.Request, req *ChatBody, n int64, f *Fault) {
	words, finish := h.answer(req)
	b := make([]byte, 0, 768)
	b = h.appendHead(b, "chat.completion", n, time.Now().Unix(), req.Model)
	b = append(b, `,"choices":[{"index":0,"message":{"role":"assistant","content":`...)
	b = appendJSONString(b, strings.Join(words, ""))
	b = append(b, `,"refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"`...)
	b = append(b, finish...)
	b = append(b, `"}],"usage":`...)
	b = appendUsage(b, h.promptTokens(req), len(words))
	b = append(b, `,"service_tier":"default","system_fingerprint":"`...)
	b = append(b, fingerprint...)
	b = append(b, `"}`...)
	if f != nil {
		faultBody(w, r, f, "application/json", b)
		return
	}
	hdr := w.Header()
	hdr["Content-Type"] = jsonType
	hdr["Content-Length"] = []string{strconv.Itoa(len(b))}
	w.WriteHeader(200)
	w.Write(b)
}

var (
	jsonType = []string{"application/json"}
	sseType  = []string{"text/event-stream; charset=utf-8"}
	noCache  = []string{"no-cache"}
)

func (h *Handler) streamText(w http.ResponseWriter, r *http.Request, req *ChatBody, n int64) {
	fl, _ := w.(http.Flusher)
	hdr := w.Header()
	hdr["Content-Type"] = sseType
	hdr["Cache-Control"] = noCache
	w.WriteHeader(200)
	words, finish := h.answer(req)
	includeUsage := req.StreamOptions != nil && req.StreamOptions.IncludeUsage
	created := time.Now().Unix()
	b := make([]byte, 0, 1024)
	head := func() {
		b = append(b, "data: "...)
		b = h.appendHead(b, "chat.completion.chunk", n, created, req.Model)
		b = append(b, `,"service_tier":"default","system_fingerprint":"`...)
		b = append(b, fingerprint...)
		b = append(b, `","choices":`...)
	}
	tail := func() {
		if includeUsage {
			b = append(b, `,"usage":null`...)
		}
		b = append(b, "}\n\n"...)
	}
	flush := func() bool {
		_, err := w.Write(b)
		b = b[:0]
		if err != nil {
			return false
		}
		if fl != nil && h.cfg.chunkDelay > 0 {
			fl.Flush()
		}
		return true
	}
	head()
	b = append(b, `[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}]`...)
	tail()
	if fl != nil {
		w.Write(b)
		b = b[:0]
		fl.Flush() // the first chunk goes out at once, as a real upstream's does
	}
	for _, wd := range words {
		if h.cfg.chunkDelay > 0 {
			if !flush() || !h.wait(r, h.cfg.chunkDelay) {
				return
			}
		}
		head()
		b = append(b, `[{"index":0,"delta":{"content":`...)
		b = appendJSONString(b, wd)
		b = append(b, `},"logprobs":null,"finish_reason":null}]`...)
		tail()
	}
	head()
	b = append(b, `[{"index":0,"delta":{},"logprobs":null,"finish_reason":"`...)
	b = append(b, finish...)
	b = append(b, `"}]`...)
	tail()
	if includeUsage {
		head()
		b = append(b, `[],"usage":`...)
		b = appendUsage(b, h.promptTokens(req), len(words))
		b = append(b, "}\n\n"...)
	}
	b = append(b, "data: [DONE]\n\n"...)
	flush()
}
