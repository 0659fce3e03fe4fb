package openai

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"

	"github.com/plinth-ai/plinth/shared/provider"
)

type embedRequest struct {
	Model          string   `json:"model"`
	Input          []string `json:"input"`
	Dimensions     int      `json:"dimensions,omitempty"`
	EncodingFormat string   `json:"encoding_format,omitempty"`
}

// vector decodes an embedding given as a float array or a base64 string of
// little-endian float32s.
type vector []float32

func (v *vector) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		raw, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return err
		}
		out := make([]float32, len(raw)/4)
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[i*4:]))
		}
		*v = out
		return nil
	}
	return json.Unmarshal(b, (*[]float32)(v))
}

type embedDatum struct {
	Index     int    `json:"index"`
	Embedding vector `json:"embedding"`
}

type embedResponse struct {
	Model string       `json:"model"`
	Data  []embedDatum `json:"data"`
	Usage struct {
		PromptTokens int `json:"prompt_tokens"`
		TotalTokens  int `json:"total_tokens"`
	} `json:"usage"`
}

// Embed implements provider.EmbeddingModel. Vectors come back in input order.
func (c *Client) Embed(ctx context.Context, req *provider.EmbeddingRequest) (*provider.EmbeddingResponse, error) {
	model := c.model
	if model == "" {
		model = req.Model
	}
	w := embedRequest{Model: model, Input: req.Input, Dimensions: req.Dimensions, EncodingFormat: "float"}
	if c.base64 {
		w.EncodingFormat = "base64"
	}
	body, err := encode(&w)
	if err != nil {
		return nil, &provider.Error{Kind: provider.KindBadRequest, Provider: c.name, Message: "encode request", Err: err}
	}
	defer putBuf(body)
	resp, err := c.post(ctx, c.embedURL, body.Bytes(), false)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	buf := getBuf()
	defer putBuf(buf)
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		return nil, c.transportError(ctx, err)
	}
	er, err := decodeEmbeddings(buf.Bytes())
	if err != nil {
		return nil, &provider.Error{Kind: provider.KindUnavailable, Provider: c.name, Status: resp.StatusCode, Message: "malformed embeddings response", Err: err}
	}
	if len(er.Data) != len(req.Input) {
		return nil, &provider.Error{Kind: provider.KindUnavailable, Provider: c.name, Status: resp.StatusCode, Message: "embeddings response has the wrong number of vectors"}
	}
	out := &provider.EmbeddingResponse{Model: er.Model, Data: make([]provider.Embedding, len(er.Data)),
		Usage: provider.Usage{PromptTokens: er.Usage.PromptTokens, TotalTokens: er.Usage.TotalTokens}}
	if out.Usage.TotalTokens == 0 {
		out.Usage.TotalTokens = out.Usage.PromptTokens
	}
	for _, d := range er.Data {
		if d.Index < 0 || d.Index >= len(out.Data) || out.Data[d.Index].Embedding != nil {
			return nil, &provider.Error{Kind: provider.KindUnavailable, Provider: c.name, Message: "embeddings response has a bad index"}
		}
		out.Data[d.Index] = provider.Embedding{Index: d.Index, Embedding: d.Embedding}
	}
	return out, nil
}
