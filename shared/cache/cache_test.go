package cache_test

import (
	"context"
	"encoding/json"
	"hash/fnv"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/plinth-ai/plinth/shared/cache"
	"github.com/plinth-ai/plinth/shared/clocktest"
	"github.com/plinth-ai/plinth/shared/provider"
	"github.com/plinth-ai/plinth/shared/store/memstore"
	"github.com/plinth-ai/plinth/shared/tenant"
)

func f64(v float64) *float64 { return &v }

func chat(t *testing.T, body string) *provider.ChatRequest {
	t.Helper()
	var r provider.ChatRequest
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

func TestKeyFor(t *testing.T) {
	base := `{"model":"m","temperature":0,"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"number"}}}}}]}`
	same := []string{
		`{"temperature":0,"model":"m","messages":[{"content":"hi","role":"user"}],"tools":[{"function":{"parameters":{"properties":{"b":{"type":"number"},"a":{"type":"string"}},"type":"object"},"name":"f"},"type":"function"}]}`,
		strings.Replace(base, `"model":"m"`, `"model":"m","stream":true,"stream_options":{"include_usage":true},"user":"u1"`, 1),
	}
	different := []string{
		strings.Replace(base, `"hi"`, `"hi!"`, 1),
		strings.Replace(base, `"temperature":0`, `"temperature":0.5`, 1),
		strings.Replace(base, `"model":"m"`, `"model":"m2"`, 1),
		strings.Replace(base, `"model":"m"`, `"model":"m","max_tokens":5`, 1),
		strings.Replace(base, `"number"`, `"integer"`, 1),
	}
	k0, err := cache.KeyFor(chat(t, base))
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range same {
		if k, _ := cache.KeyFor(chat(t, b)); k != k0 {
			t.Errorf("same[%d] got a different key", i)
		}
	}
	for i, b := range different {
		if k, _ := cache.KeyFor(chat(t, b)); k == k0 {
			t.Errorf("different[%d] got the same key", i)
		}
	}
}

func TestCacheablePolicy(t *testing.T) {
	on := tenant.CacheSettings{Enabled: true}
	sampledOK := tenant.CacheSettings{Enabled: true, AllowSampled: true}
	tests := []struct {
		name string
		temp *float64
		s    tenant.CacheSettings
		want bool
	}{
		{"disabled", f64(0), tenant.CacheSettings{}, false},
		{"deterministic", f64(0), on, true},
		{"sampled", f64(0.7), on, false},
		{"unset temperature is sampled", nil, on, false},
		{"sampled allowed", f64(0.7), sampledOK, true},
		{"unset allowed", nil, sampledOK, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := cache.Cacheable(&provider.ChatRequest{Model: "m", Temperature: tc.temp}, tc.s); got != tc.want {
				t.Fatalf("got %v", got)
			}
		})
	}
	for h, want := range map[string]bool{"X-Plinth-Cache: bypass": true, "Cache-Control: no-cache": true, "Cache-Control: max-age=0": false} {
		k, v, _ := strings.Cut(h, ": ")
		hd := http.Header{}
		hd.Set(k, v)
		if cache.BypassRequested(hd) != want {
			t.Errorf("%s: want %v", h, want)
		}
	}
}

func answer(text string) *provider.ChatResponse {
	return &provider.ChatResponse{ID: "chatcmpl-1", Object: "chat.completion", Created: 1764064800, Model: "m",
		Choices: []provider.Choice{{Index: 0, Message: provider.Message{Role: "assistant", Content: provider.TextContent(text)}, FinishReason: "stop"}},
		Usage:   &provider.Usage{PromptTokens: 3, CompletionTokens: 2, TotalTokens: 5}}
}

func TestExactCacheIsolationAndTTL(t *testing.T) {
	ctx := context.Background()
	clk := clocktest.New(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC))
	st := memstore.New(memstore.WithClock(clk.Now))
	s := tenant.CacheSettings{Enabled: true, TTLSeconds: 60}
	req := chat(t, `{"model":"m","temperature":0,"messages":[{"role":"user","content":"hi"}]}`)
	for _, lru := range []int{0, 16} {
		name := map[int]string{0: "store only", 16: "with LRU"}[lru]
		t.Run(name, func(t *testing.T) {
			c := cache.New(st, cache.WithClock(clk.Now), cache.WithLRUSize(lru))
			if _, hit, _ := c.Lookup(ctx, "acme", req, s); hit != cache.Miss {
				t.Fatal("hit on empty cache")
			}
			if err := c.Store(ctx, "acme", req, s, &cache.Entry{Response: answer("hello " + name)}); err != nil {
				t.Fatal(err)
			}
			// A second instance sharing the store sees it too.
			for _, inst := range []*cache.Cache{c, cache.New(st, cache.WithClock(clk.Now))} {
				e, hit, err := inst.Lookup(ctx, "acme", req, s)
				if err != nil || hit != cache.Exact || e.Response.Choices[0].Message.Content.String() != "hello "+name {
					t.Fatalf("lookup: %v %q %v", e, hit, err)
				}
			}
			if _, hit, _ := c.Lookup(ctx, "globex", req, s); hit != cache.Miss {
				t.Fatal("another tenant was served acme's entry")
			}
			sampled := *req
			sampled.Temperature = f64(1)
			if _, hit, _ := c.Lookup(ctx, "acme", &sampled, s); hit != cache.Miss {
				t.Fatal("sampled request served from cache")
			}
			clk.Advance(61 * time.Second)
			if _, hit, _ := c.Lookup(ctx, "acme", req, s); hit != cache.Miss {
				t.Fatal("expired entry served")
			}
		})
	}
}

func TestStreamReplay(t *testing.T) {
	text := func(s string) *string { return &s }
	stop := "stop"
	recorded := []provider.ChatChunk{
		{ID: "c1", Object: "chat.completion.chunk", Created: 1, Model: "m", Choices: []provider.ChunkChoice{{Delta: provider.Delta{Role: "assistant", Content: text("Hel")}}}},
		{ID: "c1", Object: "chat.completion.chunk", Created: 1, Model: "m", Choices: []provider.ChunkChoice{{Delta: provider.Delta{Content: text("lo")}}}},
		{ID: "c1", Object: "chat.completion.chunk", Created: 1, Model: "m", Choices: []provider.ChunkChoice{{FinishReason: &stop}}},
		{ID: "c1", Object: "chat.completion.chunk", Created: 1, Model: "m", Choices: []provider.ChunkChoice{}, Usage: &provider.Usage{PromptTokens: 3, CompletionTokens: 2, TotalTokens: 5}},
	}
	whole := cache.Assemble(recorded)
	if whole.Choices[0].Message.Content.String() != "Hello" || whole.Choices[0].FinishReason != "stop" || whole.Usage.TotalTokens != 5 {
		t.Fatalf("assembled %+v", whole)
	}
	ctx := context.Background()
	c := cache.New(memstore.New(), cache.WithLRUSize(0))
	req := chat(t, `{"model":"m","temperature":0,"stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	s := tenant.CacheSettings{Enabled: true}
	if err := c.Store(ctx, "acme", req, s, &cache.Entry{Response: whole, Chunks: recorded}); err != nil {
		t.Fatal(err)
	}
	e, hit, err := c.Lookup(ctx, "acme", req, s)
	if err != nil || hit != cache.Exact {
		t.Fatal(hit, err)
	}
	if got := cache.ReplayChunks(e); !reflect.DeepEqual(got, recorded) {
		t.Fatalf("replay differs:\n%+v\n%+v", got, recorded)
	}
	// A non-streamed answer replays as chunks that assemble back to the same answer.
	synth := cache.ReplayChunks(&cache.Entry{Response: answer("hi there")})
	back := cache.Assemble(synth)
	if back.Choices[0].Message.Content.String() != "hi there" || back.Choices[0].FinishReason != "stop" || back.Usage.TotalTokens != 5 || synth[len(synth)-1].Choices == nil {
		t.Fatalf("synthesised replay %+v", back)
	}
}

// bagEmbed is a bag-of-words hashing embedder: texts sharing most words are similar.
func bagEmbed(_ context.Context, text string) ([]float32, error) {
	v := make([]float32, 64)
	for _, w := range strings.Fields(strings.ToLower(text)) {
		h := fnv.New32a()
		h.Write([]byte(strings.Trim(w, "?.!,")))
		v[h.Sum32()%64]++
	}
	return v, nil
}

func TestSemanticCache(t *testing.T) {
	ctx := context.Background()
	c := cache.New(memstore.New(), cache.WithEmbedder(bagEmbed))
	s := tenant.CacheSettings{Enabled: true, Semantic: true, SemanticThreshold: 0.85}
	q := func(text string) *provider.ChatRequest {
		return &provider.ChatRequest{Model: "m", Temperature: f64(0), Messages: []provider.Message{{Role: "user", Content: provider.TextContent(text)}}}
	}
	if err := c.Store(ctx, "acme", q("what is the capital city of france"), s, &cache.Entry{Response: answer("Paris")}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, tenant, text string
		settings           tenant.CacheSettings
		want               cache.Hit
	}{
		{"exact", "acme", "what is the capital city of france", s, cache.Exact},
		{"similar", "acme", "What is the capital city of France?", s, cache.Semantic},
		{"unrelated", "acme", "how do I bake bread at home", s, cache.Miss},
		{"other tenant", "globex", "What is the capital city of France?", s, cache.Miss},
		{"not opted in", "acme", "What is the capital city of France?", tenant.CacheSettings{Enabled: true}, cache.Miss},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, hit, err := c.Lookup(ctx, tc.tenant, q(tc.text), tc.settings)
			if err != nil || hit != tc.want {
				t.Fatalf("hit %q err %v", hit, err)
			}
			if hit != cache.Miss && e.Response.Choices[0].Message.Content.String() != "Paris" {
				t.Fatalf("entry %+v", e)
			}
		})
	}
	other := q("What is the capital city of France?")
	other.Model = "m2"
	if _, hit, _ := c.Lookup(ctx, "acme", other, s); hit != cache.Miss {
		t.Fatal("semantic hit across models")
	}
}

func benchLookup(b *testing.B, c *cache.Cache) {
	ctx := context.Background()
	s := tenant.CacheSettings{Enabled: true}
	req := &provider.ChatRequest{Model: "m", Temperature: f64(0), Messages: []provider.Message{
		{Role: "system", Content: provider.TextContent("You are a helpful assistant.")},
		{Role: "user", Content: provider.TextContent(strings.Repeat("Summarise the quarterly report for the board. ", 20))}}}
	if err := c.Store(ctx, "acme", req, s, &cache.Entry{Response: answer(strings.Repeat("word ", 200))}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, hit, err := c.Lookup(ctx, "acme", req, s); err != nil || hit != cache.Exact {
			b.Fatal(hit, err)
		}
	}
}

// BenchmarkLookupHit measures an exact hit (canonicalise + hash + fetch) from the LRU
// front and from the store behind it.
func BenchmarkLookupHit(b *testing.B) {
	b.Run("lru", func(b *testing.B) { benchLookup(b, cache.New(memstore.New())) })
	b.Run("memstore", func(b *testing.B) { benchLookup(b, cache.New(memstore.New(), cache.WithLRUSize(0))) })
}
