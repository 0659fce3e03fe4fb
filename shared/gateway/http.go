package gateway

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"time"

	"github.com/plinth-ai/plinth/shared/httpapi"
	"github.com/plinth-ai/plinth/shared/provider"
)

// Headers the HTTP adapter reads or writes besides OpenAI's.
const (
	HeaderRequestID       = "X-Request-Id"
	HeaderCache           = "X-Plinth-Cache"            // request: "bypass"; response: "hit" or "miss"
	HeaderGuardrail       = "X-Plinth-Guardrail"        // response: "intervened" when a policy acted
	HeaderGuardrailPolicy = "X-Plinth-Guardrail-Policy" // response: the policy that acted
	HeaderModel           = "X-Plinth-Model"            // response: the model that answered
	HeaderDeployment      = "X-Plinth-Deployment"
)

// Authenticator turns an HTTP request's credentials into a Caller. It returns an
// *httpapi.Error (401/403) when the caller is not admitted; any other error means the
// credentials could not be checked (answered 503).
type Authenticator interface {
	Authenticate(r *http.Request) (*Caller, error)
}

// Authenticate is middleware admitting only requests with valid credentials; it answers
// 401/403 in OpenAI's error shape otherwise.
func Authenticate(a Authenticator, next http.Handler) http.Handler {
	if a == nil {
		panic("gateway: nil authenticator")
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := a.Authenticate(r)
		if err != nil {
			var he *httpapi.Error
			if !errors.As(err, &he) {
				// Not a verdict on the credentials: the tenant store (or another
				// dependency) failed. Say so, and log it, rather than a bare 500.
				slog.ErrorContext(r.Context(), "authentication unavailable", "request_id", httpapi.RequestID(r.Context()), "error", err)
				err = &httpapi.Error{Status: http.StatusServiceUnavailable, Code: httpapi.CodeServiceUnavailable,
					Message: "credentials cannot be checked right now; retry shortly", RetryAfter: time.Second}
			}
			httpapi.WriteError(w, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(WithCaller(r.Context(), c)))
	})
}

// Routes registers the OpenAI-compatible endpoints on mux: chat completions (whole and
// streamed), embeddings and the model list. Requests must pass through Authenticate.
func (g *Gateway) Routes(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/chat/completions", g.handleChat)
	mux.HandleFunc("POST /v1/embeddings", g.handleEmbeddings)
	mux.HandleFunc("GET /v1/models", g.handleListModels)
	mux.HandleFunc("GET /v1/models/{id...}", g.handleGetModel)
}

var errUnauthenticated = &httpapi.Error{Status: http.StatusUnauthorized, Code: httpapi.CodeInvalidAPIKey, Message: "no valid credentials were supplied"}

// refuse records a request refused before it reached the service (a body that is not
// JSON, an input of the wrong shape).
func (g *Gateway) refuse(r *http.Request, c *Caller, endpoint string, err error) {
	g.begin(r.Context(), c, endpoint).finish(err)
}

func (g *Gateway) handleChat(w http.ResponseWriter, r *http.Request) {
	c, ok := CallerFrom(r.Context())
	if !ok {
		httpapi.WriteError(w, errUnauthenticated)
		return
	}
	var req ChatRequest
	if err := httpapi.DecodeJSON(w, r, &req.ChatRequest, g.maxBody); err != nil {
		g.refuse(r, c, "chat.completions", err)
		writeError(w, err)
		return
	}
	req.NoCache = r.Header.Get(HeaderCache) == "bypass" || r.Header.Get("Cache-Control") == "no-cache"
	if req.Stream {
		g.serveStream(w, r, c, &req)
		return
	}
	sent := false
	_, err := g.chat(r.Context(), c, &req, func(res *ChatResult) {
		sent = true
		g.resultHeaders(w.Header(), c, &req, res.Served, res.CacheHit, res.Deprecated, res.Guardrail)
		writeCompletion(w, Completion{ChatResponse: res.Response, Guardrail: res.Guardrail})
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
	})
	if err != nil && !sent {
		writeError(w, err)
	}
}

// Completion is a chat completion as the HTTP adapter answers it: OpenAI's
// chat.completion object with Plinth's guardrail extension.
type Completion struct {
	*provider.ChatResponse
	Guardrail *Guardrail `json:"guardrail,omitempty"`
}

// resultHeaders sets the response headers that describe how a completion was served.
func (g *Gateway) resultHeaders(h http.Header, c *Caller, req *ChatRequest, served Served, hit, deprecated bool, gr *Guardrail) {
	if served.ModelID != "" {
		h.Set(HeaderModel, served.ModelID)
	}
	if served.DeploymentID != "" {
		h.Set(HeaderDeployment, served.DeploymentID)
	}
	switch {
	case hit:
		h.Set(HeaderCache, "hit")
	case g.cache != nil && c.cacheEnabled() && !req.NoCache:
		h.Set(HeaderCache, "miss")
	}
	if deprecated {
		h.Set("Warning", fmt.Sprintf(`299 plinth "model %s is deprecated"`, req.Model))
	}
	if gr != nil {
		h.Set(HeaderGuardrail, "intervened")
		h.Set(HeaderGuardrailPolicy, gr.Policy)
	}
}

// serveStream relays a streamed completion as server-sent events, ending with [DONE] or
// an error event.
func (g *Gateway) serveStream(w http.ResponseWriter, r *http.Request, c *Caller, req *ChatRequest) {
	st, err := g.ChatStream(r.Context(), c, req)
	if err != nil {
		writeError(w, err)
		return
	}
	defer st.Close() // records a client that went away midway
	g.resultHeaders(w.Header(), c, req, Served{ModelID: st.Model, DeploymentID: st.Deployment}, st.CacheHit, st.Deprecated, st.Guardrail)
	out := newSSE(w)
	for {
		ch, err := st.Recv()
		if errors.Is(err, io.EOF) {
			out.done()
			return
		}
		if err != nil {
			if !errors.Is(err, ErrCanceled) {
				out.fail(err)
			}
			return
		}
		out.chunk(ch)
		if out.err != nil {
			return
		}
	}
}

type embeddingRequest struct {
	Model          string          `json:"model"`
	Input          json.RawMessage `json:"input"`
	EncodingFormat string          `json:"encoding_format"`
	Dimensions     *int            `json:"dimensions"`
	User           string          `json:"user"`
	InputType      string          `json:"input_type"`
}

type embeddingObject struct {
	Object    string `json:"object"`
	Index     int    `json:"index"`
	Embedding any    `json:"embedding"`
}

type embeddingUsage struct {
	PromptTokens int `json:"prompt_tokens"`
	TotalTokens  int `json:"total_tokens"`
}

type embeddingResponse struct {
	Object string            `json:"object"`
	Data   []embeddingObject `json:"data"`
	Model  string            `json:"model"`
	Usage  embeddingUsage    `json:"usage"`
}

// parseEmbeddingInput accepts a string or an array of strings. Token-array inputs are
// refused: the gateway cannot know every provider's tokenizer.
func parseEmbeddingInput(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, invalid("input", "input is required")
	}
	if raw[0] == '"' {
		var one string
		if err := json.Unmarshal(raw, &one); err != nil {
			return nil, invalid("input", "input is not a valid string")
		}
		return []string{one}, nil
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err != nil {
		return nil, invalid("input", "input must be a string or an array of strings (token arrays are not supported)")
	}
	if len(many) == 0 {
		return nil, invalid("input", "input must not be an empty array")
	}
	return many, nil
}

func (g *Gateway) handleEmbeddings(w http.ResponseWriter, r *http.Request) {
	c, ok := CallerFrom(r.Context())
	if !ok {
		httpapi.WriteError(w, errUnauthenticated)
		return
	}
	var req embeddingRequest
	err := httpapi.DecodeJSON(w, r, &req, g.maxBody)
	var inputs []string
	if err == nil {
		inputs, err = parseEmbeddingInput(req.Input)
	}
	if err == nil && req.EncodingFormat != "" && req.EncodingFormat != "float" && req.EncodingFormat != "base64" {
		err = invalid("encoding_format", "encoding_format must be \"float\" or \"base64\"")
	}
	dims := 0
	if err == nil && req.Dimensions != nil {
		if dims = *req.Dimensions; dims < 1 {
			err = invalid("dimensions", "dimensions must be at least 1")
		}
	}
	if err != nil {
		g.refuse(r, c, "embeddings", err)
		writeError(w, err)
		return
	}
	res, err := g.Embed(r.Context(), c, &EmbedRequest{Model: req.Model, Input: inputs, Dimensions: dims, InputType: req.InputType})
	if err != nil {
		writeError(w, err)
		return
	}
	out := embeddingResponse{Object: "list", Model: res.Model, Data: make([]embeddingObject, len(res.Vectors)),
		Usage: embeddingUsage{PromptTokens: int(res.InputTokens), TotalTokens: int(res.InputTokens)}}
	for i, v := range res.Vectors {
		var e any = v
		if req.EncodingFormat == "base64" {
			e = encodeBase64Floats(v)
		}
		out.Data[i] = embeddingObject{Object: "embedding", Index: i, Embedding: e}
	}
	w.Header().Set(HeaderModel, res.Served.ModelID)
	w.Header().Set(HeaderDeployment, res.Served.DeploymentID)
	httpapi.WriteJSON(w, http.StatusOK, out)
}

// encodeBase64Floats encodes a vector as OpenAI does: little-endian float32s, base64.
func encodeBase64Floats(v []float32) string {
	b := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
	}
	return base64.StdEncoding.EncodeToString(b)
}

// modelObject is OpenAI's model object.
type modelObject struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

type modelList struct {
	Object string        `json:"object"`
	Data   []modelObject `json:"data"`
}

func modelObjectOf(m ModelInfo) modelObject {
	return modelObject{ID: m.ID, Object: "model", Created: m.Created, OwnedBy: m.OwnedBy}
}

func (g *Gateway) handleListModels(w http.ResponseWriter, r *http.Request) {
	c, ok := CallerFrom(r.Context())
	if !ok {
		httpapi.WriteError(w, errUnauthenticated)
		return
	}
	list, err := g.Models(r.Context(), c)
	if err != nil {
		writeError(w, err)
		return
	}
	out := modelList{Object: "list", Data: make([]modelObject, len(list))}
	for i, m := range list {
		out.Data[i] = modelObjectOf(m)
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
}

func (g *Gateway) handleGetModel(w http.ResponseWriter, r *http.Request) {
	c, ok := CallerFrom(r.Context())
	if !ok {
		httpapi.WriteError(w, errUnauthenticated)
		return
	}
	m, err := g.Model(r.Context(), c, r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, modelObjectOf(m))
}
