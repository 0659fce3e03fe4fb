package platform

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/plinth-ai/plinth/shared/provider"
	"github.com/plinth-ai/plinth/shared/quota"
)

// TestIngestionHasItsOwnBudget: ingestion embeddings are counted under the tenant's
// ingestion budget, never its own requests' limits. A large document does not take the
// tenant's tokens per minute, and a spent ingestion budget refuses only ingestion, as
// pacing (a rate limit to wait out), while the tenant's requests go on.
func TestIngestionHasItsOwnBudget(t *testing.T) {
	p := newLocalPlatform(t)
	p.json("POST", "/admin/tenants", "adm", map[string]any{"id": "tight", "name": "Tight",
		"limits": map[string]any{"tokens_per_minute": 300}}, 201)
	ctx := context.Background()
	zero, maxTokens := 0.0, 20
	ask := func() error {
		_, err := evalTarget(p.Gateway)(ctx, "tight", &provider.ChatRequest{Model: "local-chat", Temperature: &zero, MaxTokens: &maxTokens,
			Messages: []provider.Message{{Role: "user", Content: provider.TextContent("Paris is the capital of France. What is the capital of France?")}}})
		return err
	}
	emb, err := ragEmbedders(p.Gateway)(ctx, "tight", "local-embed")
	if err != nil {
		t.Fatal(err)
	}
	// About 2,000 tokens: far over the tenant's 300 a minute, within its ingestion budget.
	doc := make([]string, 40)
	for i := range doc {
		doc[i] = strings.Repeat("The handbook explains parental leave and holidays in detail. ", 5)
	}
	if _, err := emb.Embed(ctx, doc, "search_document"); err != nil {
		t.Fatalf("ingestion under its own budget: %v", err)
	}
	if err := ask(); err != nil {
		t.Fatalf("the tenant's own request after a large ingestion: %v", err)
	}

	// A small ingestion budget paces ingestion alone.
	p.json("PATCH", "/admin/tenants/tight", "adm", map[string]any{"ingestion_limits": map[string]any{"tokens_per_minute": 100}}, 200)
	small := []string{"Parental leave lasts twenty weeks at full pay for every parent."}
	var refused error
	for range 20 {
		if _, err := emb.Embed(ctx, small, "search_document"); err != nil {
			refused = err
			break
		}
	}
	var le *quota.LimitError
	if !errors.As(refused, &le) || le.TooLarge || !errors.Is(refused, quota.ErrRateLimited) || le.RetryAfter <= 0 {
		t.Fatalf("a spent ingestion budget answered %v, want a rate limit with Retry-After", refused)
	}
	if err := ask(); err != nil {
		t.Fatalf("the tenant's own request while ingestion is paced: %v", err)
	}
}
