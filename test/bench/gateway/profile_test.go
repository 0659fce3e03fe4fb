package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/plinth-ai/plinth/shared/platform"
	"github.com/plinth-ai/plinth/shared/provider/providertest"
	"github.com/plinth-ai/plinth/test/e2e/platformtest"
)

// BenchmarkGatewayChat serves the local platform's handler in this process, so its CPU
// profile shows where a gateway request spends its time (the bench command measures
// the real process from outside and cannot profile it):
//
//	go test -run '^$' -bench GatewayChat -benchtime 3s -o /tmp/gateway.test -cpuprofile /tmp/gateway.cpu ./test/bench/gateway
//	go tool pprof -top -cum -focus 'plinth/shared' /tmp/gateway.test /tmp/gateway.cpu
//
// The mock upstream and the client run in the same process and appear in the profile.
func BenchmarkGatewayChat(b *testing.B) {
	for _, cached := range []bool{false, true} {
		name := "upstream"
		if cached {
			name = "cache-hit"
		}
		b.Run(name, func(b *testing.B) { benchmarkChat(b, cached) })
	}
}

func benchmarkChat(b *testing.B, cached bool) {
	ctx := context.Background()
	mock := httptest.NewServer(providertest.NewOpenAIHandler(providertest.WithReply("Hello! How can I help you today?")))
	defer mock.Close()
	l, err := platform.NewLocal(ctx, platform.Config{
		DataDir: b.TempDir(), AdminKey: "adm-bench-profile",
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
	})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close(ctx)
	srv := httptest.NewServer(l.Handler)
	defer srv.Close()
	p := platformtest.Attach(srv.URL, l.AdminKey)
	if _, err := p.RegisterModel(ctx, platformtest.OpenAIModel("bench-mock", "chat", mock.URL+"/v1", "mock-upstream")); err != nil {
		b.Fatal(err)
	}
	if _, err := p.Review(ctx, "bench-mock", "approve"); err != nil {
		b.Fatal(err)
	}
	tenant := map[string]any{"id": "bench", "name": "Benchmark",
		"limits": map[string]any{"requests_per_minute": 100_000_000, "tokens_per_minute": 10_000_000_000, "daily_tokens": 1_000_000_000_000, "monthly_usd": 1e9}}
	if cached {
		tenant["cache"] = map[string]any{"enabled": true, "allow_sampled": true}
	}
	if err := p.CreateTenant(ctx, tenant); err != nil {
		b.Fatal(err)
	}
	k, err := p.CreateKey(ctx, "bench")
	if err != nil {
		b.Fatal(err)
	}
	body := []byte(`{"model":"bench-mock","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Say hello to the benchmark."}],"max_tokens":16,"temperature":0}`)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}}
	do := func() error {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/chat/completions", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+k.Key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return &statusError{resp.StatusCode}
		}
		return nil
	}
	if err := do(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := do(); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

type statusError struct{ status int }

func (e *statusError) Error() string { return http.StatusText(e.status) }
