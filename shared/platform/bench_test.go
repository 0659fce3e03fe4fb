package platform

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/plinth-ai/plinth/shared/provider/providertest"
)

// BenchmarkGatewayRequest measures one chat completion through the whole local platform
// (auth, policy, quota reserve and reconcile, PII guardrail on input and output, usage
// record, log line) against a loopback OpenAI-compatible upstream, in process so a CPU
// profile shows where the gateway spends its time.
func BenchmarkGatewayRequest(b *testing.B) {
	ctx := context.Background()
	up := providertest.NewOpenAIServer(providertest.WithReply("Hello there."))
	defer up.Close()
	p, err := NewLocal(ctx, Config{DataDir: b.TempDir(), AdminKey: "adm", Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close(ctx)
	srv := httptest.NewServer(p.Handler)
	defer srv.Close()
	admin := func(path string, body any) []byte {
		raw, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", srv.URL+path, bytes.NewReader(raw))
		req.Header.Set("Authorization", "Bearer adm")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		if resp.StatusCode >= 300 {
			b.Fatalf("%s: %d %s", path, resp.StatusCode, out)
		}
		return out
	}
	admin("/admin/models", map[string]any{"id": "bench", "kind": "chat", "deployments": []map[string]any{{"provider": "openai", "base_url": up.BaseURL(), "model": "m"}},
		"prices": map[string]float64{"input_per_million": 1, "output_per_million": 2}})
	admin("/admin/models/bench/review", map[string]string{"decision": "approve", "reviewer": "b"})
	var pol struct{ ID string }
	_ = json.Unmarshal(admin("/admin/guardrail-policies", map[string]any{"name": "pii", "sensitiveInformationPolicyConfig": map[string]any{
		"piiEntitiesConfig": []map[string]string{{"type": "EMAIL", "action": "ANONYMIZE"}, {"type": "PHONE", "action": "ANONYMIZE"}}}}), &pol)
	admin("/admin/tenants", map[string]any{"id": "bench", "guardrail_policy": pol.ID, "limits": map[string]any{"requests_per_minute": 1 << 40, "monthly_usd": 1e9}})
	var key struct{ Key string }
	_ = json.Unmarshal(admin("/admin/tenants/bench/keys", map[string]any{}), &key)
	body := []byte(`{"model":"bench","max_tokens":64,"messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Write to jane@example.com about the quarterly report, please."}]}`)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("POST", srv.URL+"/v1/chat/completions", bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+key.Key)
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}
	})
}
