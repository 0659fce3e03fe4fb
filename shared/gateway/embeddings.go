package gateway

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"net/http"

	"github.com/plinth-ai/plinth/shared/httpapi"
	"github.com/plinth-ai/plinth/shared/provider"
	"github.com/plinth-ai/plinth/shared/registry"
)

// maxEmbeddingInputs is OpenAI's limit on inputs per request.
const maxEmbeddingInputs = 2048

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
		return nil, httpapi.BadRequest("input", "input is required")
	}
	var one string
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &one); err != nil {
			return nil, httpapi.BadRequest("input", "input is not a valid string")
		}
		if one == "" {
			return nil, httpapi.BadRequest("input", "input must not be empty")
		}
		return []string{one}, nil
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err != nil {
		return nil, httpapi.BadRequest("input", "input must be a string or an array of strings (token arrays are not supported)")
	}
	if len(many) == 0 {
		return nil, httpapi.BadRequest("input", "input must not be an empty array")
	}
	if len(many) > maxEmbeddingInputs {
		return nil, httpapi.BadRequest("input", "input may hold at most %d items", maxEmbeddingInputs)
	}
	for i, s := range many {
		if s == "" {
			return nil, httpapi.BadRequest(fmt.Sprintf("input[%d]", i), "input[%d] must not be empty", i)
		}
	}
	return many, nil
}

func (g *Gateway) handleEmbeddings(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	c, ok := CallerFrom(ctx)
	if !ok {
		httpapi.WriteError(w, errUnauthenticated)
		return
	}
	rec := g.newRecord(ctx, c, "embeddings")
	defer g.finish(ctx, rec)

	var req embeddingRequest
	if err := httpapi.DecodeJSON(w, r, &req, g.maxBody); err != nil {
		g.fail(w, rec, err)
		return
	}
	if req.Model == "" {
		g.fail(w, rec, httpapi.BadRequest("model", "you must provide a model parameter"))
		return
	}
	inputs, err := parseEmbeddingInput(req.Input)
	if err != nil {
		g.fail(w, rec, err)
		return
	}
	switch req.EncodingFormat {
	case "", "float", "base64":
	default:
		g.fail(w, rec, httpapi.BadRequest("encoding_format", "encoding_format must be \"float\" or \"base64\""))
		return
	}
	m, err := g.resolve(ctx, c, req.Model, registry.KindEmbedding)
	if err != nil {
		g.fail(w, rec, err)
		return
	}
	rec.Model = m.ID
	dims := 0
	if req.Dimensions != nil {
		dims = *req.Dimensions
		switch {
		case dims < 1:
			g.fail(w, rec, httpapi.BadRequest("dimensions", "dimensions must be at least 1"))
			return
		case !m.SupportsDimensions:
			g.fail(w, rec, httpapi.BadRequest("dimensions", "model %s does not support the dimensions parameter", m.ID))
			return
		case m.Dimensions > 0 && dims > m.Dimensions:
			g.fail(w, rec, httpapi.BadRequest("dimensions", "dimensions must be at most %d for model %s", m.Dimensions, m.ID))
			return
		}
	}

	var tokens int64
	for _, s := range inputs {
		tokens += int64(len(s)+2)/3 + 1
	}
	est := Estimate{Tokens: tokens, USD: m.Prices.Cost(tokens, 0)}
	res, err := g.reserve(ctx, c, m.ID, est)
	if err != nil {
		g.fail(w, rec, err)
		return
	}
	resp, served, err := g.invoker.Embed(ctx, m, &provider.EmbeddingRequest{Model: m.ID, Input: inputs, Dimensions: dims, InputType: req.InputType})
	rec.Deployment = served.DeploymentID
	if err != nil {
		g.settle(ctx, rec, res, 0, 0)
		g.fail(w, rec, upstreamError(err))
		return
	}
	rec.Model = served.ModelID
	if resp.Usage.PromptTokens > 0 {
		rec.InputTokens = int64(resp.Usage.PromptTokens)
	} else {
		rec.InputTokens, rec.Estimated = tokens, true
	}
	rec.CostUSD = served.Prices.Cost(rec.InputTokens, 0)
	g.settle(ctx, rec, res, rec.InputTokens, rec.CostUSD)

	out := embeddingResponse{Object: "list", Model: served.ModelID, Data: make([]embeddingObject, len(resp.Data)),
		Usage: embeddingUsage{PromptTokens: int(rec.InputTokens), TotalTokens: int(rec.InputTokens)}}
	for i, e := range resp.Data {
		var v any = e.Embedding
		if req.EncodingFormat == "base64" {
			v = encodeBase64Floats(e.Embedding)
		}
		out.Data[i] = embeddingObject{Object: "embedding", Index: e.Index, Embedding: v}
	}
	w.Header().Set(HeaderModel, served.ModelID)
	w.Header().Set(HeaderDeployment, served.DeploymentID)
	rec.Status = http.StatusOK
	httpapi.WriteJSON(w, http.StatusOK, out)
}

func (g *Gateway) settle(ctx context.Context, rec *UsageRecord, res Reservation, tokens int64, usd float64) {
	if res == nil {
		return
	}
	if err := res.Settle(context.WithoutCancel(ctx), tokens, usd); err != nil {
		g.log.ErrorContext(ctx, "quota settle failed; reservation stands", "request_id", rec.RequestID, "tenant", rec.TenantID, "error", err)
	}
}

// encodeBase64Floats encodes a vector as OpenAI does: little-endian float32s, base64.
func encodeBase64Floats(v []float32) string {
	b := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
	}
	return base64.StdEncoding.EncodeToString(b)
}
