package bedrock

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"

	"github.com/plinth-ai/plinth/shared/provider"
	"github.com/plinth-ai/plinth/shared/tokens"
)

// Embed serves a Bedrock embedding model through InvokeModel: Titan Text Embeddings v2
// (amazon.titan-embed-text-v2:0, one text per call, 256/512/1024 dimensions) or Cohere
// Embed (cohere.embed-english-v3, cohere.embed-multilingual-v3; up to 96 texts per call).
type Embed struct {
	api         InvokeModelAPI
	modelID     string
	cohere      bool
	concurrency int
}

var _ provider.EmbeddingModel = (*Embed)(nil)

// NewEmbed returns an embeddings adapter for modelID, chosen by its family ("cohere."
// in the ID selects Cohere's body, anything else Titan's). It panics on a nil api.
func NewEmbed(api InvokeModelAPI, modelID string) *Embed {
	if api == nil {
		panic("bedrock.NewEmbed: nil client")
	}
	return &Embed{api: api, modelID: modelID, cohere: strings.Contains(modelID, "cohere."), concurrency: 4}
}

// Embed implements provider.EmbeddingModel.
func (e *Embed) Embed(ctx context.Context, req *provider.EmbeddingRequest) (*provider.EmbeddingResponse, error) {
	if e.cohere {
		return e.embedCohere(ctx, req)
	}
	return e.embedTitan(ctx, req)
}

func (e *Embed) invoke(ctx context.Context, body any, out any) error {
	raw, err := json.Marshal(body)
	if err != nil {
		return badRequest("encode embedding request: " + err.Error())
	}
	resp, err := e.api.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{
		ModelId: aws.String(e.modelID), Body: raw, ContentType: aws.String("application/json"), Accept: aws.String("application/json"),
	})
	if err != nil {
		return classify(ctx, err)
	}
	if err := json.Unmarshal(resp.Body, out); err != nil {
		return &provider.Error{Kind: provider.KindUnavailable, Provider: providerName, Message: "malformed embedding response", Err: err}
	}
	return nil
}

type titanRequest struct {
	InputText  string `json:"inputText"`
	Dimensions int    `json:"dimensions,omitempty"`
	Normalize  bool   `json:"normalize"`
}

type titanResponse struct {
	Embedding           []float32 `json:"embedding"`
	InputTextTokenCount int       `json:"inputTextTokenCount"`
}

func (e *Embed) embedTitan(ctx context.Context, req *provider.EmbeddingRequest) (*provider.EmbeddingResponse, error) {
	switch req.Dimensions {
	case 0, 256, 512, 1024:
	default:
		return nil, badRequest("Titan Text Embeddings v2 supports dimensions 256, 512 or 1024")
	}
	out := &provider.EmbeddingResponse{Model: e.modelID, Data: make([]provider.Embedding, len(req.Input))}
	tokens := make([]int, len(req.Input))
	// Titan embeds one text per call: a few calls in flight keep batches quick without
	// tripping the account's request rate.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	sem := make(chan struct{}, e.concurrency)
	for i, text := range req.Input {
		sem <- struct{}{}
		mu.Lock()
		failed := firstErr != nil
		mu.Unlock()
		if failed {
			<-sem
			break
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			var r titanResponse
			err := e.invoke(ctx, titanRequest{InputText: text, Dimensions: req.Dimensions, Normalize: true}, &r)
			if err == nil && len(r.Embedding) == 0 {
				err = &provider.Error{Kind: provider.KindUnavailable, Provider: providerName, Message: "Titan returned no embedding"}
			}
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
					cancel()
				}
				mu.Unlock()
				return
			}
			out.Data[i] = provider.Embedding{Index: i, Embedding: r.Embedding}
			tokens[i] = r.InputTextTokenCount
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	for _, n := range tokens {
		out.Usage.PromptTokens += n
	}
	out.Usage.TotalTokens = out.Usage.PromptTokens
	return out, nil
}

type cohereRequest struct {
	Texts          []string `json:"texts"`
	InputType      string   `json:"input_type"`
	Truncate       string   `json:"truncate,omitempty"`
	EmbeddingTypes []string `json:"embedding_types,omitempty"`
}

type cohereResponse struct {
	ID           string          `json:"id"`
	Embeddings   json.RawMessage `json:"embeddings"`
	ResponseType string          `json:"response_type"`
}

// cohereBatch is Cohere Embed's limit of texts per call.
const cohereBatch = 96

func (e *Embed) embedCohere(ctx context.Context, req *provider.EmbeddingRequest) (*provider.EmbeddingResponse, error) {
	if req.Dimensions != 0 && req.Dimensions != 1024 {
		return nil, badRequest("Cohere Embed v3 returns 1024 dimensions only")
	}
	inputType := "search_document"
	switch req.InputType {
	case "search_query", "query":
		inputType = "search_query"
	case "classification", "clustering":
		inputType = req.InputType
	}
	out := &provider.EmbeddingResponse{Model: e.modelID, Data: make([]provider.Embedding, 0, len(req.Input))}
	for start := 0; start < len(req.Input); start += cohereBatch {
		batch := req.Input[start:min(start+cohereBatch, len(req.Input))]
		var r cohereResponse
		if err := e.invoke(ctx, cohereRequest{Texts: batch, InputType: inputType, Truncate: "NONE", EmbeddingTypes: []string{"float"}}, &r); err != nil {
			return nil, err
		}
		vecs, err := cohereVectors(r.Embeddings)
		if err != nil || len(vecs) != len(batch) {
			return nil, &provider.Error{Kind: provider.KindUnavailable, Provider: providerName, Message: fmt.Sprintf("Cohere returned %d vectors for %d texts", len(vecs), len(batch)), Err: err}
		}
		for i, v := range vecs {
			out.Data = append(out.Data, provider.Embedding{Index: start + i, Embedding: v})
		}
	}
	// Cohere on Bedrock does not report tokens: estimate them as the local models count.
	for _, t := range req.Input {
		out.Usage.PromptTokens += tokens.Count(t)
	}
	out.Usage.TotalTokens = out.Usage.PromptTokens
	return out, nil
}

// cohereVectors reads "embeddings" as [[…]] (embeddings_floats) or {"float": [[…]]}
// (embeddings_by_type).
func cohereVectors(raw json.RawMessage) ([][]float32, error) {
	var vecs [][]float32
	if len(raw) > 0 && raw[0] == '{' {
		var byType struct {
			Float [][]float32 `json:"float"`
		}
		err := json.Unmarshal(raw, &byType)
		return byType.Float, err
	}
	err := json.Unmarshal(raw, &vecs)
	return vecs, err
}
