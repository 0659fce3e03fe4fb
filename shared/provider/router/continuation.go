package router

import (
	"strings"

	"github.com/plinth-ai/plinth/shared/provider"
)

// continueInstruction asks a model that takes no assistant prefill to go on with an
// answer another model began.
const continueInstruction = "Your previous reply was interrupted. Continue it from exactly where it stopped. " +
	"Do not repeat any of it and do not mention the interruption: write only the rest."

const spaces = " \t\r\n"

// continuation returns the request that continues req's answer after sent, the text
// already delivered: with sent as an assistant prefill, or, without prefill, as an
// assistant turn followed by an instruction to continue. produced is the output already
// spent, taken off the request's output cap. With nothing sent it is req itself.
func continuation(req *provider.ChatRequest, sent string, produced int, prefill bool) *provider.ChatRequest {
	text := strings.TrimRight(sent, spaces)
	if text == "" {
		return req
	}
	out := *req
	out.Messages = make([]provider.Message, len(req.Messages), len(req.Messages)+2)
	copy(out.Messages, req.Messages)
	if prefill {
		// Providers refuse a prefill that ends in whitespace (Anthropic's models do).
		out.Messages = append(out.Messages, provider.Message{Role: "assistant", Content: provider.TextContent(text)})
	} else {
		out.Messages = append(out.Messages,
			provider.Message{Role: "assistant", Content: provider.TextContent(sent)},
			provider.Message{Role: "user", Content: provider.TextContent(continueInstruction)})
	}
	out.MaxTokens = reduced(req.MaxTokens, produced)
	out.MaxCompletionTokens = reduced(req.MaxCompletionTokens, produced)
	return &out
}

func reduced(limit *int, by int) *int {
	if limit == nil {
		return nil
	}
	n := max(*limit-by, 1)
	return &n
}

// Bounds of the repeats a seam looks for.
const (
	// minRepeat is the shortest repeated tail taken as a repeat rather than a coincidence
	// (a repeat of the whole sent text counts at any length).
	minRepeat = 12
	// maxTail is how far back from the end a repeated tail may start.
	maxTail = 512
)

// seam joins a continuation to the text already sent. It drops the continuation's
// leading whitespace when the sent text already ends with some and, when repeats is set
// (a model asked to continue in words rather than by prefill), a start that repeats the
// sent text, in full or its last words, as such models often do. It holds the
// continuation back only while a repeat is still possible.
type seam struct {
	sent    string // the text already sent, trailing whitespace removed
	spaced  bool   // the sent text ended with whitespace
	cands   []int  // offsets in sent where a repeat may start, ascending
	buf     []byte // the continuation held back so far
	settled bool
}

func newSeam(sent string, repeats bool) *seam {
	t := strings.TrimRight(sent, spaces)
	s := &seam{sent: t, spaced: len(t) < len(sent)}
	if repeats && t != "" {
		s.cands = append(s.cands, 0)
		for i := max(1, len(t)-maxTail); i <= len(t)-minRepeat; i++ {
			s.cands = append(s.cands, i)
		}
	}
	return s
}

// feed takes the next piece of the continuation and returns what may be sent now.
func (s *seam) feed(p string) string {
	if s.settled {
		return s.space(p)
	}
	old := len(s.buf)
	s.buf = append(s.buf, p...)
	pending := false
	keep := s.cands[:0]
	for _, i := range s.cands {
		tail := s.sent[i:]
		if old < len(tail) {
			n := min(len(tail)-old, len(p))
			if tail[old:old+n] != p[:n] {
				continue
			}
			pending = pending || len(s.buf) < len(tail)
		}
		keep = append(keep, i)
	}
	s.cands = keep
	if pending || len(s.cands) == 0 && s.spaced && strings.TrimLeft(string(s.buf), spaces) == "" {
		return ""
	}
	return s.settle()
}

// flush returns what is still held when the continuation ends.
func (s *seam) flush() string {
	if s.settled {
		return ""
	}
	keep := s.cands[:0]
	for _, i := range s.cands {
		if len(s.buf) >= len(s.sent)-i {
			keep = append(keep, i)
		}
	}
	s.cands = keep
	return s.settle()
}

// settle drops the longest complete repeat and the leading whitespace, and releases the rest.
func (s *seam) settle() string {
	s.settled = true
	out := string(s.buf)
	s.buf = nil
	if len(s.cands) > 0 {
		out = out[len(s.sent)-s.cands[0]:]
	}
	return s.space(out)
}

// space drops leading whitespace until the first other character when the sent text
// ended with whitespace.
func (s *seam) space(p string) string {
	if !s.spaced {
		return p
	}
	p = strings.TrimLeft(p, spaces)
	s.spaced = p == ""
	return p
}
