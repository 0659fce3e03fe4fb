package tenantingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/plinth-ai/plinth/shared/provider"
	"github.com/plinth-ai/plinth/shared/provider/openai"
)

// Gateway is the central platform as the tenant's ingestion sees it: its OpenAI-compatible
// embeddings and who it takes the caller for. Its HTTP client authenticates the calls
// (SigV4 in AWS, see sigv4.Transport).
type Gateway struct {
	// URL is the central API's base URL, e.g. https://{id}.execute-api.{region}.amazonaws.com/{stage}/.
	URL string
	// Tenant is the tenant the caller must be; the first call checks GET /v1/session.
	Tenant string
	// Model is the embedding model.
	Model string
	// HTTP sends the (signed) requests.
	HTTP *http.Client
	// Attempts is how often one embeddings call is tried when the centre answers 429 or
	// 5xx (default 3); Backoff is the first wait, doubled each time (default 1s), or the
	// centre's Retry-After when longer; a wait longer than MaxWait (default 20s) is not
	// waited out: the call fails and the event is retried later by Lambda.
	Attempts int
	Backoff  time.Duration
	MaxWait  time.Duration
	// Sleep waits (default: a timer that honours ctx).
	Sleep func(ctx context.Context, d time.Duration) error

	once     sync.Mutex
	verified bool
	client   *openai.Client
}

// ErrWrongTenant means the central platform knows the caller as another tenant (or none).
var ErrWrongTenant = errors.New("tenantingest: the central platform does not know this principal as the stack's tenant")

var apiRegion = regexp.MustCompile(`^[a-z0-9]+\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$`)

// RegionOf returns the AWS region of an execute-api URL's host, "" for any other host.
func RegionOf(host string) string {
	if m := apiRegion.FindStringSubmatch(strings.ToLower(host)); m != nil {
		return m[1]
	}
	return ""
}

func (g *Gateway) base() string { return strings.TrimRight(g.URL, "/") }

// verify checks once that the central platform maps the caller to the stack's tenant, so
// embeddings are never charged to, nor documents embedded as, another tenant.
func (g *Gateway) verify(ctx context.Context) error {
	g.once.Lock()
	defer g.once.Unlock()
	if g.verified {
		return nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.base()+"/v1/session", nil)
	if err != nil {
		return err
	}
	resp, err := g.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("central platform: GET /v1/session: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		return fmt.Errorf("%w: GET /v1/session answered %d: %s", ErrWrongTenant, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("central platform: GET /v1/session answered %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	var s struct {
		Tenant string `json:"tenant"`
		KeyID  string `json:"key_id"`
	}
	if err := json.Unmarshal(body, &s); err != nil {
		return fmt.Errorf("central platform: GET /v1/session: %w", err)
	}
	if s.Tenant != g.Tenant {
		return fmt.Errorf("%w: %s is tenant %q's, not %q's", ErrWrongTenant, s.KeyID, s.Tenant, g.Tenant)
	}
	g.verified = true
	g.client = openai.New(g.base()+"/v1", g.Model, "", openai.WithHTTPClient(g.HTTP), openai.WithStdlibHTTP(),
		openai.WithFloatEmbeddings(), openai.WithName("central gateway"))
	return nil
}

// Embed implements rag.Embedder through POST /v1/embeddings.
func (g *Gateway) Embed(ctx context.Context, texts []string, inputType string) ([][]float32, error) {
	if err := g.verify(ctx); err != nil {
		return nil, err
	}
	attempts, backoff, maxWait := g.Attempts, g.Backoff, g.MaxWait
	if attempts <= 0 {
		attempts = 3
	}
	if backoff <= 0 {
		backoff = time.Second
	}
	if maxWait <= 0 {
		maxWait = 20 * time.Second
	}
	sleep := g.Sleep
	if sleep == nil {
		sleep = sleepCtx
	}
	for attempt := 1; ; attempt++ {
		resp, err := g.client.Embed(ctx, &provider.EmbeddingRequest{Model: g.Model, Input: texts, InputType: inputType})
		if err == nil {
			out := make([][]float32, len(resp.Data))
			for i, d := range resp.Data {
				out[i] = d.Embedding
			}
			return out, nil
		}
		pe, ok := provider.AsError(err)
		if !ok || !pe.Retryable() || attempt >= attempts {
			return nil, err
		}
		wait := max(backoff, pe.RetryAfter)
		if wait > maxWait {
			return nil, fmt.Errorf("the central platform asks to wait %s: %w", wait, err)
		}
		if err := sleep(ctx, wait); err != nil {
			return nil, err
		}
		backoff *= 2
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
