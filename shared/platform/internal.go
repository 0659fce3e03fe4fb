package platform

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/plinth-ai/plinth/shared/auth"
	"github.com/plinth-ai/plinth/shared/gateway"
	"github.com/plinth-ai/plinth/shared/httpapi"
	"github.com/plinth-ai/plinth/shared/provider"
	"github.com/plinth-ai/plinth/shared/tenant"
)

// InternalClient calls the gateway in-process on a tenant's behalf, so platform features
// (evaluation targets and judges, RAG answers, ingestion embeddings) take the same path
// as any application: model access policy, quotas, guardrails, caching and usage, charged
// to the owning tenant.
type InternalClient struct {
	gw      http.Handler
	tenants *tenant.Service
	keyID   string
}

// NewInternalClient returns a client over the gateway's routes (without the
// authentication middleware) acting as keyID (e.g. "platform:evaluation").
func NewInternalClient(gw http.Handler, tenants *tenant.Service, keyID string) *InternalClient {
	if gw == nil || tenants == nil {
		panic("platform: nil gateway or tenants")
	}
	return &InternalClient{gw: gw, tenants: tenants, keyID: keyID}
}

// bufferedResponse is a minimal http.ResponseWriter that keeps the response in memory.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }
func (b *bufferedResponse) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}
func (b *bufferedResponse) WriteHeader(s int) {
	if b.status == 0 {
		b.status = s
	}
}

func (c *InternalClient) call(ctx context.Context, tenantID, path string, in, out any) error {
	t, err := c.tenants.CachedTenant(ctx, tenantID)
	if err != nil {
		return fmt.Errorf("tenant %s: %w", tenantID, err)
	}
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	caller := &gateway.Caller{
		Principal: auth.Principal{TenantID: tenantID, KeyID: c.keyID, Scopes: []auth.Scope{auth.ScopeInference, auth.ScopeRetrieval}},
		Tenant:    t,
	}
	rctx := gateway.WithCaller(ctx, caller)
	if httpapi.RequestID(rctx) == "" {
		rctx = httpapi.WithRequestID(rctx, newRequestID())
	}
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	w := &bufferedResponse{header: http.Header{}}
	c.gw.ServeHTTP(w, req)
	if w.status != http.StatusOK {
		return responseError(w)
	}
	return json.Unmarshal(w.body.Bytes(), out)
}

// responseError turns a gateway error response back into a classified error, so callers
// (the flow's Retry, the router of a caller) can tell transient failures from bad input.
func responseError(w *bufferedResponse) error {
	var env struct {
		Error httpapi.ErrorBody `json:"error"`
	}
	_ = json.Unmarshal(w.body.Bytes(), &env)
	code := ""
	if env.Error.Code != nil {
		code = *env.Error.Code
	}
	kind := provider.KindBadRequest
	switch {
	case w.status == http.StatusTooManyRequests:
		kind = provider.KindRateLimited
	case w.status == http.StatusGatewayTimeout:
		kind = provider.KindTimeout
	case w.status >= 500:
		kind = provider.KindUnavailable
	case w.status == http.StatusUnauthorized || w.status == http.StatusForbidden:
		kind = provider.KindAuth
	case w.status == http.StatusNotFound:
		kind = provider.KindNotFound
	case code == "context_length_exceeded":
		kind = provider.KindContextLength
	}
	return &provider.Error{Kind: kind, Status: w.status, Code: code, Message: env.Error.Message, Provider: "gateway"}
}

// Chat runs a chat completion for the tenant through the gateway.
func (c *InternalClient) Chat(ctx context.Context, tenantID string, req *provider.ChatRequest) (*provider.ChatResponse, error) {
	r := *req
	r.Stream, r.StreamOptions = false, nil
	var out provider.ChatResponse
	if err := c.call(ctx, tenantID, "/v1/chat/completions", &r, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Embed embeds texts for the tenant with model through the gateway.
func (c *InternalClient) Embed(ctx context.Context, tenantID, model string, texts []string, inputType string) ([][]float32, error) {
	in := map[string]any{"model": model, "input": texts}
	if inputType != "" {
		in["input_type"] = inputType
	}
	var out struct {
		Data []struct {
			Index     int       `json:"index"`
			Embedding []float32 `json:"embedding"`
		} `json:"data"`
	}
	if err := c.call(ctx, tenantID, "/v1/embeddings", in, &out); err != nil {
		return nil, err
	}
	vecs := make([][]float32, len(texts))
	for _, d := range out.Data {
		if d.Index < 0 || d.Index >= len(vecs) {
			return nil, fmt.Errorf("embeddings: index %d out of range", d.Index)
		}
		vecs[d.Index] = d.Embedding
	}
	for i, v := range vecs {
		if v == nil {
			return nil, fmt.Errorf("embeddings: no vector for input %d", i)
		}
	}
	return vecs, nil
}
