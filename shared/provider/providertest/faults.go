package providertest

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
)

// FaultKind names a way an upstream misbehaves.
type FaultKind int

// The faults the fakes inject. Mid-stream faults (cut, stall, malformed, no [DONE])
// strike after Fault.After chunks of a stream (the role chunk counts); on a non-streamed
// answer they strike half-way through its body.
const (
	// FaultNone serves the request normally.
	FaultNone FaultKind = iota
	// FaultStatus answers Fault.Failure (or Fault.Bedrock) instead: 429, 5xx, 400, ...
	FaultStatus
	// FaultReset resets the connection (TCP RST) before any response byte.
	FaultReset
	// FaultSilent accepts the request and never answers, until the client gives up.
	FaultSilent
	// FaultSlowStart waits Fault.Delay before the first response byte, then answers.
	FaultSlowStart
	// FaultCut drops the connection mid-answer; with Fault.Usage a usage chunk goes out
	// first, as servers that report usage as they go do.
	FaultCut
	// FaultStall stops sending mid-answer and keeps the connection open.
	FaultStall
	// FaultMalformed sends an event (or body) that is not valid JSON mid-answer.
	FaultMalformed
	// FaultNoDone ends a whole stream (finish reason and usage included) without its
	// terminator: "data: [DONE]" for OpenAI, the metadata event for Bedrock.
	FaultNoDone
)

// Fault is one misbehaviour of a fake upstream.
type Fault struct {
	Kind FaultKind
	// Failure is the OpenAI-compatible error of FaultStatus.
	Failure Failure
	// Bedrock is the Bedrock error of FaultStatus.
	Bedrock BedrockFailure
	// After is how many chunks (events, for Bedrock) go out before a mid-stream fault.
	After int
	// Delay is FaultSlowStart's wait.
	Delay time.Duration
	// Usage sends a usage chunk before FaultCut (OpenAI-compatible only).
	Usage bool
}

// FaultNames are the names ParseFault knows, one per fault class.
var FaultNames = []string{"429", "429-retry-after", "500", "503", "reset", "silent", "slow-start", "cut", "cut-after-usage",
	"stall", "malformed", "no-done", "context-length", "content-filter"}

// ParseFault returns the OpenAI-compatible fault named name (see FaultNames); after and
// delay set Fault.After and Fault.Delay where they apply.
func ParseFault(name string, after int, delay time.Duration) (Fault, error) {
	f := Fault{After: after, Delay: delay}
	switch name {
	case "429":
		f.Kind, f.Failure = FaultStatus, RateLimited(0)
	case "429-retry-after":
		f.Kind, f.Failure = FaultStatus, RateLimited(max(delay, time.Second))
	case "500":
		f.Kind, f.Failure = FaultStatus, ServerError
	case "503":
		f.Kind, f.Failure = FaultStatus, Overloaded
	case "context-length":
		f.Kind, f.Failure = FaultStatus, ContextLength
	case "content-filter":
		f.Kind, f.Failure = FaultStatus, ContentFiltered
	case "reset":
		f.Kind = FaultReset
	case "silent":
		f.Kind = FaultSilent
	case "slow-start":
		f.Kind = FaultSlowStart
	case "cut":
		f.Kind = FaultCut
	case "cut-after-usage":
		f.Kind, f.Usage = FaultCut, true
	case "stall":
		f.Kind = FaultStall
	case "malformed":
		f.Kind = FaultMalformed
	case "no-done":
		f.Kind = FaultNoDone
	default:
		return Fault{}, fmt.Errorf("unknown fault %q (one of %s)", name, strings.Join(FaultNames, ", "))
	}
	return f, nil
}

// WithFaults makes the first requests misbehave, in order: request i gets faults[i-1]
// (a zero Fault serves normally); later requests are served normally.
func WithFaults(faults ...Fault) Option {
	return func(c *config) { c.faults = append(c.faults, faults...) }
}

// WithoutPrefill makes the fake refuse, with a 400, a conversation that ends with an
// assistant message, as models that take no assistant prefill do.
func WithoutPrefill() Option { return func(c *config) { c.noPrefill = true } }

// NoPrefill is the refusal WithoutPrefill answers, in Anthropic's words.
var NoPrefill = Failure{Status: 400, Type: "invalid_request_error",
	Message: "This model does not support assistant message prefill. The conversation must end with a user message."}

// SetFault makes every request from now on misbehave as f (an outage), until ClearFault.
func (h *Handler) SetFault(f Fault) { h.standing.Store(&f) }

// ClearFault ends the standing fault SetFault began: the upstream recovers.
func (h *Handler) ClearFault() { h.standing.Store(nil) }

// SetFault makes every request from now on misbehave as f (an outage), until ClearFault.
func (s *OpenAIServer) SetFault(f Fault) { s.h.SetFault(f) }

// ClearFault ends the standing fault: the upstream recovers.
func (s *OpenAIServer) ClearFault() { s.h.ClearFault() }

// faultFor returns the fault request n meets (nil: none).
func (h *Handler) faultFor(n int64) *Fault {
	if f := h.standing.Load(); f != nil {
		return f
	}
	if int(n) <= len(h.cfg.faults) {
		if f := h.cfg.faults[n-1]; f.Kind != FaultNone {
			return &f
		}
	}
	return nil
}

// Prefill returns the text of the final message when it is the assistant's (a prefill
// the model should continue), else "".
func (b *ChatBody) Prefill() string {
	if len(b.Messages) == 0 || b.Messages[len(b.Messages)-1].Role != "assistant" {
		return ""
	}
	raw := b.Messages[len(b.Messages)-1].Content
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

// preamble applies the faults that strike before an answer begins. It reports whether
// the request is still to be answered, and with which mid-answer fault.
func preamble(w http.ResponseWriter, r *http.Request, f *Fault, status func(http.ResponseWriter)) (*Fault, bool) {
	if f == nil {
		return nil, true
	}
	switch f.Kind {
	case FaultStatus:
		status(w)
		return nil, false
	case FaultReset:
		reset(w)
		return nil, false
	case FaultSilent:
		<-r.Context().Done()
		return nil, false
	case FaultSlowStart:
		t := time.NewTimer(f.Delay)
		defer t.Stop()
		select {
		case <-t.C:
			return nil, true
		case <-r.Context().Done():
			return nil, false
		}
	}
	return f, true
}

// reset drops the connection with a TCP RST, as a crashed upstream or proxy does.
func reset(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("providertest: the response writer cannot be hijacked to reset the connection")
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		return
	}
	buf.Flush()
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}

// faultBody serves a non-streamed answer body under a mid-answer fault.
func faultBody(w http.ResponseWriter, r *http.Request, f *Fault, contentType string, body []byte) {
	switch f.Kind {
	case FaultMalformed:
		body = body[:len(body)/2]
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("Content-Length", itoa(len(body)))
		w.WriteHeader(200)
		w.Write(body)
	case FaultCut, FaultStall:
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("Content-Length", itoa(len(body)))
		w.WriteHeader(200)
		w.Write(body[:len(body)/2])
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush()
		}
		if f.Kind == FaultStall {
			<-r.Context().Done()
			return
		}
		reset(w)
	default:
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("Content-Length", itoa(len(body)))
		w.WriteHeader(200)
		w.Write(body)
	}
}

// malformedEvent is an SSE event whose data is cut off mid-JSON.
const malformedEvent = "data: {\"id\":\"chatcmpl-broken\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"tru\n\n"

// startsWithSpace reports whether s starts with whitespace.
func startsWithSpace(s string) bool { return s != "" && strings.ContainsRune(" \t\r\n", rune(s[0])) }
