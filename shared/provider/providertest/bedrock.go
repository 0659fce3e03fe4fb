package providertest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
)

// BedrockFailure is an error answer in Bedrock Runtime's REST-JSON shape: the status,
// the X-Amzn-ErrorType header and {"message": …}.
type BedrockFailure struct {
	Status  int
	Type    string // ThrottlingException, ValidationException, …
	Message string
}

// Common Bedrock failures, as the service words them.
var (
	BedrockThrottling   = BedrockFailure{429, "ThrottlingException", "Too many requests, please wait before trying again."}
	BedrockUnavailable  = BedrockFailure{503, "ServiceUnavailableException", "Bedrock is unable to process your request."}
	BedrockInternal     = BedrockFailure{500, "InternalServerException", "The server encountered an error processing your request."}
	BedrockModelTimeout = BedrockFailure{408, "ModelTimeoutException", "The request took too long to process."}
	BedrockTooLong      = BedrockFailure{400, "ValidationException", "Input is too long for requested model."}
	BedrockInvalid      = BedrockFailure{400, "ValidationException", "The provided request is not valid"}
	BedrockDenied       = BedrockFailure{403, "AccessDeniedException", "You don't have access to the model with the specified model ID."}
	BedrockNotFound     = BedrockFailure{404, "ResourceNotFoundException", "Could not resolve the foundation model from the provided model identifier."}
	BedrockNoPrefill    = BedrockFailure{400, "ValidationException", "This model does not support assistant message prefill. The conversation must end with a user message."}
)

// BedrockServer is a fake Bedrock Runtime endpoint: POST /model/{modelId}/converse,
// /converse-stream (AWS event-stream framing) and /invoke (Titan Text Embeddings v2,
// Cohere Embed). Point an SDK client's BaseEndpoint at its URL.
type BedrockServer struct {
	*httptest.Server
	reply      string
	failures   []BedrockFailure
	streamFail *streamFailure
	streamCut  int
	replyFunc  func(prefill string) string
	reasoning  string
	noPrefill  bool
	faults     []Fault
	standing   atomic.Pointer[Fault]
	requests   atomic.Int64
	mu         sync.Mutex
	last       BedrockRequest
}

type streamFailure struct {
	after         int
	exceptionType string
	message       string
}

// BedrockRequest is what the fake last received.
type BedrockRequest struct {
	Operation string // converse, converse-stream, invoke
	ModelID   string
	Header    http.Header
	Body      []byte
}

// BedrockOption configures the fake Bedrock.
type BedrockOption func(*BedrockServer)

// WithBedrockReply sets the assistant's text (default "Hello from Bedrock.").
func WithBedrockReply(text string) BedrockOption { return func(s *BedrockServer) { s.reply = text } }

// BedrockFailFirst answers the first requests with these failures, then succeeds.
func BedrockFailFirst(f ...BedrockFailure) BedrockOption {
	return func(s *BedrockServer) { s.failures = append(s.failures, f...) }
}

// WithStreamException sends a modelled exception (e.g. "modelStreamErrorException")
// after n events of a ConverseStream instead of the rest.
func WithStreamException(n int, exceptionType, message string) BedrockOption {
	return func(s *BedrockServer) { s.streamFail = &streamFailure{n, exceptionType, message} }
}

// WithBedrockStreamCut ends ConverseStream responses after n events, before
// messageStop, as a dropped connection would.
func WithBedrockStreamCut(n int) BedrockOption { return func(s *BedrockServer) { s.streamCut = n } }

// WithBedrockReplyFunc computes the assistant's text from the final assistant message
// of the conversation ("" when it ends with the user's turn), so the fake can continue
// a prefilled answer as Claude models do.
func WithBedrockReplyFunc(f func(prefill string) string) BedrockOption {
	return func(s *BedrockServer) { s.replyFunc = f }
}

// WithBedrockReasoning makes ConverseStream think aloud first: one reasoningContent delta
// per word of text, in a content block of its own, before the answer.
func WithBedrockReasoning(text string) BedrockOption {
	return func(s *BedrockServer) { s.reasoning = text }
}

// WithBedrockNoPrefill makes the fake refuse a conversation that ends with an assistant
// message, as models that take no prefill do.
func WithBedrockNoPrefill() BedrockOption { return func(s *BedrockServer) { s.noPrefill = true } }

// WithBedrockFaults makes the first requests misbehave, in order (see Fault; a zero
// Fault serves normally). For Bedrock, FaultMalformed sends a frame whose checksum is
// wrong and FaultNoDone ends the stream after messageStop without its metadata (usage)
// event.
func WithBedrockFaults(faults ...Fault) BedrockOption {
	return func(s *BedrockServer) { s.faults = append(s.faults, faults...) }
}

// SetFault makes every request from now on misbehave as f (an outage), until ClearFault.
func (s *BedrockServer) SetFault(f Fault) { s.standing.Store(&f) }

// ClearFault ends the standing fault: the service recovers.
func (s *BedrockServer) ClearFault() { s.standing.Store(nil) }

func (s *BedrockServer) faultFor(n int) *Fault {
	if f := s.standing.Load(); f != nil {
		return f
	}
	if n <= len(s.faults) && s.faults[n-1].Kind != FaultNone {
		f := s.faults[n-1]
		return &f
	}
	return nil
}

// NewBedrockServer starts the fake on a free loopback port.
func NewBedrockServer(opts ...BedrockOption) *BedrockServer {
	s := &BedrockServer{reply: "Hello from Bedrock."}
	for _, o := range opts {
		o(s)
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// LastRequest returns the last request received.
func (s *BedrockServer) LastRequest() BedrockRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// Requests returns how many requests arrived.
func (s *BedrockServer) Requests() int { return int(s.requests.Load()) }

func (s *BedrockServer) fail(w http.ResponseWriter, f BedrockFailure) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", f.Type+":http://internal.amazon.com/coral/com.amazon.bedrock/")
	w.Header().Set("X-Amzn-RequestId", "req-fail")
	w.WriteHeader(f.Status)
	io.WriteString(w, `{"message":`+quote(f.Message)+`}`)
}

func (s *BedrockServer) serve(w http.ResponseWriter, r *http.Request) {
	n := int(s.requests.Add(1))
	// The model ID is one escaped path segment: /model/anthropic.claude-3-haiku-20240307-v1%3A0/converse
	parts := strings.Split(strings.TrimPrefix(r.URL.EscapedPath(), "/"), "/")
	if r.Method != http.MethodPost || len(parts) != 3 || parts[0] != "model" {
		s.fail(w, BedrockFailure{404, "UnknownOperationException", "unknown operation " + r.URL.Path})
		return
	}
	modelID, _ := url.PathUnescape(parts[1])
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.last = BedrockRequest{Operation: parts[2], ModelID: modelID, Header: r.Header.Clone(), Body: body}
	s.mu.Unlock()
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential=") {
		s.fail(w, BedrockFailure{403, "UnrecognizedClientException", "The security token included in the request is invalid."})
		return
	}
	if n <= len(s.failures) && s.failures[n-1].Status != 0 {
		s.fail(w, s.failures[n-1])
		return
	}
	fault := s.faultFor(n)
	mid, ok := preamble(w, r, fault, func(w http.ResponseWriter) { s.fail(w, fault.Bedrock) })
	if !ok {
		return
	}
	switch parts[2] {
	case "converse":
		s.converse(w, r, body, mid)
	case "converse-stream":
		s.converseStream(w, r, body, mid)
	case "invoke":
		s.invoke(w, modelID, body)
	default:
		s.fail(w, BedrockFailure{404, "UnknownOperationException", "unknown operation " + parts[2]})
	}
}

// converseBody is the part of a Converse request the fake reads.
type converseBody struct {
	Messages []struct {
		Role    string           `json:"role"`
		Content []map[string]any `json:"content"`
	} `json:"messages"`
	System          []map[string]any `json:"system"`
	InferenceConfig *struct {
		MaxTokens *int `json:"maxTokens"`
	} `json:"inferenceConfig"`
	ToolConfig *struct {
		Tools []struct {
			ToolSpec struct {
				Name string `json:"name"`
			} `json:"toolSpec"`
		} `json:"tools"`
		ToolChoice map[string]json.RawMessage `json:"toolChoice"`
	} `json:"toolConfig"`
}

// forcedTool returns the tool a request obliges the model to use.
func (b *converseBody) forcedTool() string {
	tc := b.ToolConfig
	if tc == nil || len(tc.Tools) == 0 {
		return ""
	}
	if raw, ok := tc.ToolChoice["tool"]; ok {
		var t struct{ Name string }
		json.Unmarshal(raw, &t)
		return t.Name
	}
	if _, ok := tc.ToolChoice["any"]; ok {
		return tc.Tools[0].ToolSpec.Name
	}
	return ""
}

// prefill returns the text of the final message when it is the assistant's.
func (b *converseBody) prefill() string {
	if len(b.Messages) == 0 || b.Messages[len(b.Messages)-1].Role != "assistant" {
		return ""
	}
	var text string
	for _, c := range b.Messages[len(b.Messages)-1].Content {
		if t, ok := c["text"].(string); ok {
			text += t
		}
	}
	return text
}

func (s *BedrockServer) plan(b *converseBody) (text string, stop string, out int) {
	reply := s.reply
	if s.replyFunc != nil {
		reply = s.replyFunc(b.prefill())
	}
	words := Pieces(reply)
	stop = "end_turn"
	if b.InferenceConfig != nil && b.InferenceConfig.MaxTokens != nil && len(words) > *b.InferenceConfig.MaxTokens {
		words = words[:*b.InferenceConfig.MaxTokens]
		stop = "max_tokens"
	}
	return strings.Join(words, ""), stop, len(words)
}

func (b *converseBody) inputTokens() int {
	n := 0
	for _, m := range b.Messages {
		raw, _ := json.Marshal(m.Content)
		n += len(strings.Fields(string(raw)))
	}
	return n
}

const bedrockToolInput = `{"location":"Paris"}`

func (s *BedrockServer) converse(w http.ResponseWriter, r *http.Request, raw []byte, f *Fault) {
	var b converseBody
	if err := json.Unmarshal(raw, &b); err != nil || len(b.Messages) == 0 {
		s.fail(w, BedrockInvalid)
		return
	}
	if s.noPrefill && b.prefill() != "" {
		s.fail(w, BedrockNoPrefill)
		return
	}
	var content []any
	stop, out := "", 0
	if name := b.forcedTool(); name != "" {
		content = append(content, map[string]any{"toolUse": map[string]any{"toolUseId": "tooluse_mock1", "name": name, "input": json.RawMessage(bedrockToolInput)}})
		stop, out = "tool_use", 9
	} else {
		var text string
		text, stop, out = s.plan(&b)
		content = append(content, map[string]any{"text": text})
	}
	in := b.inputTokens()
	w.Header().Set("X-Amzn-RequestId", "req-converse")
	body, _ := json.Marshal(map[string]any{
		"output":     map[string]any{"message": map[string]any{"role": "assistant", "content": content}},
		"stopReason": stop,
		"usage":      map[string]int{"inputTokens": in, "outputTokens": out, "totalTokens": in + out},
		"metrics":    map[string]int{"latencyMs": 42},
	})
	if f == nil {
		f = &Fault{}
	}
	faultBody(w, r, f, "application/json", body)
}

func (s *BedrockServer) converseStream(w http.ResponseWriter, r *http.Request, raw []byte, f *Fault) {
	var b converseBody
	if err := json.Unmarshal(raw, &b); err != nil || len(b.Messages) == 0 {
		s.fail(w, BedrockInvalid)
		return
	}
	if s.noPrefill && b.prefill() != "" {
		s.fail(w, BedrockNoPrefill)
		return
	}
	type event struct {
		typ     string
		payload string
	}
	events := []event{{"messageStart", `{"role":"assistant"}`}}
	stop, out := "", 0
	if name := b.forcedTool(); name != "" {
		events = append(events,
			event{"contentBlockStart", `{"contentBlockIndex":0,"start":{"toolUse":{"toolUseId":"tooluse_mock1","name":` + quote(name) + `}}}`},
			event{"contentBlockDelta", `{"contentBlockIndex":0,"delta":{"toolUse":{"input":` + quote(bedrockToolInput[:9]) + `}}}`},
			event{"contentBlockDelta", `{"contentBlockIndex":0,"delta":{"toolUse":{"input":` + quote(bedrockToolInput[9:]) + `}}}`},
			event{"contentBlockStop", `{"contentBlockIndex":0}`})
		stop, out = "tool_use", 9
	} else {
		if s.reasoning != "" {
			for _, wd := range Pieces(s.reasoning) {
				events = append(events, event{"contentBlockDelta", `{"contentBlockIndex":0,"delta":{"reasoningContent":{"text":` + quote(wd) + `}}}`})
			}
			events = append(events, event{"contentBlockStop", `{"contentBlockIndex":0}`})
		}
		var text string
		text, stop, out = s.plan(&b)
		for _, wd := range Pieces(text) {
			events = append(events, event{"contentBlockDelta", `{"contentBlockIndex":0,"delta":{"text":` + quote(wd) + `}}`})
		}
		events = append(events, event{"contentBlockStop", `{"contentBlockIndex":0}`})
	}
	in := b.inputTokens()
	events = append(events,
		event{"messageStop", `{"stopReason":"` + stop + `"}`},
		event{"metadata", `{"usage":{"inputTokens":` + itoa(in) + `,"outputTokens":` + itoa(out) + `,"totalTokens":` + itoa(in+out) + `},"metrics":{"latencyMs":42}}`})
	w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
	w.Header().Set("X-Amzn-RequestId", "req-stream")
	w.WriteHeader(200)
	fl, _ := w.(http.Flusher)
	if f != nil && f.Kind == FaultNoDone {
		events = events[:len(events)-1]
		f = nil
	}
	for i, e := range events {
		if s.streamCut > 0 && i == s.streamCut {
			return
		}
		if f != nil && i == f.After {
			switch f.Kind {
			case FaultCut:
				reset(w)
			case FaultStall:
				<-r.Context().Done()
			case FaultMalformed:
				frame := EventMessage(e.typ, []byte(e.payload))
				frame[len(frame)-1] ^= 0xff // a wrong message checksum
				w.Write(frame)
			}
			return
		}
		if s.streamFail != nil && i == s.streamFail.after {
			w.Write(ExceptionMessage(s.streamFail.exceptionType, s.streamFail.message))
			return
		}
		w.Write(EventMessage(e.typ, []byte(e.payload)))
		if fl != nil {
			fl.Flush()
		}
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func (s *BedrockServer) invoke(w http.ResponseWriter, modelID string, raw []byte) {
	w.Header().Set("Content-Type", "application/json")
	switch {
	case strings.Contains(modelID, "titan-embed"):
		var req struct {
			InputText  *string `json:"inputText"`
			Dimensions int     `json:"dimensions"`
			Normalize  *bool   `json:"normalize"`
		}
		if json.Unmarshal(raw, &req) != nil || req.InputText == nil {
			s.fail(w, BedrockFailure{400, "ValidationException", "Malformed input request: required key [inputText] not found"})
			return
		}
		dims := req.Dimensions
		if dims == 0 {
			dims = 1024
		}
		if dims != 256 && dims != 512 && dims != 1024 {
			s.fail(w, BedrockFailure{400, "ValidationException", "Malformed input request: dimensions must be 256, 512 or 1024"})
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"embedding": Vector(*req.InputText, dims), "inputTextTokenCount": len(strings.Fields(*req.InputText)),
			"embeddingsByType": map[string]any{"float": Vector(*req.InputText, dims)}})
	case strings.Contains(modelID, "cohere.embed"):
		var req struct {
			Texts          []string `json:"texts"`
			InputType      string   `json:"input_type"`
			EmbeddingTypes []string `json:"embedding_types"`
		}
		if json.Unmarshal(raw, &req) != nil || len(req.Texts) == 0 || req.InputType == "" {
			s.fail(w, BedrockFailure{400, "ValidationException", "Malformed input request: texts and input_type are required"})
			return
		}
		if len(req.Texts) > 96 {
			s.fail(w, BedrockFailure{400, "ValidationException", "Malformed input request: texts must have at most 96 items"})
			return
		}
		vecs := make([][]float32, len(req.Texts))
		for i, t := range req.Texts {
			vecs[i] = Vector(req.InputType+":"+t, 1024)
		}
		resp := map[string]any{"id": "emb-1", "texts": req.Texts, "response_type": "embeddings_floats", "embeddings": vecs}
		if len(req.EmbeddingTypes) > 0 {
			resp["response_type"] = "embeddings_by_type"
			resp["embeddings"] = map[string]any{"float": vecs}
		}
		json.NewEncoder(w).Encode(resp)
	default:
		s.fail(w, BedrockFailure{400, "ValidationException", "The provided model identifier is invalid."})
	}
}
