package local

import (
	"context"
	"testing"

	"github.com/plinth-ai/plinth/shared/provider"
)

const benchAbstract = `Alterations of the architecture of cerebral white matter in the developing human brain can affect cortical development and result in functional disabilities. A line scan diffusion-weighted magnetic resonance imaging (MRI) sequence with diffusion tensor analysis was applied to measure the apparent diffusion coefficient, to calculate relative anisotropy, and to delineate three-dimensional fiber architecture in cerebral white matter in preterm (n = 17) and full-term infants (n = 7).`

func BenchmarkEmbed(b *testing.B) {
	m := NewEmbed(0)
	req := &provider.EmbeddingRequest{Input: []string{benchAbstract}}
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(int64(len(benchAbstract)))
	for b.Loop() {
		if _, err := m.Embed(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkChat(b *testing.B) {
	m := NewChat()
	req := &provider.ChatRequest{Messages: msgs("system", "Context:\n"+benchAbstract+" "+rabbitContext, "user", "What does diffusion tensor analysis measure in infants?")}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Chat(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}
