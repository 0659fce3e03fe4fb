package router

import (
	"context"
	"testing"

	"github.com/plinth-ai/plinth/shared/provider"
)

// BenchmarkRouterChat measures the router's own cost per request (balancing, breaker
// bookkeeping) over an in-memory deployment.
func BenchmarkRouterChat(b *testing.B) {
	tg := target("m", &fake{name: "a"}, &fake{name: "b"})
	r := New()
	req := &provider.ChatRequest{}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := r.Chat(ctx, tg, nil, req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRouterChatStream(b *testing.B) {
	tg := target("m", &fake{name: "a", chunks: 3})
	tg.Timeouts = Timeouts{FirstToken: 1e9, Idle: 1e9}
	r := New()
	req := &provider.ChatRequest{}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		s, _, err := r.ChatStream(ctx, tg, nil, req)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := collect(s); err != nil {
			b.Fatal(err)
		}
	}
}
