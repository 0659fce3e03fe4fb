package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/plinth-ai/plinth/shared/provider/providertest"
	"github.com/plinth-ai/plinth/test/e2e/platformtest"
)

func stopOK(t *testing.T, p *platformtest.Platform) {
	t.Helper()
	if err := p.Stop(20 * time.Second); err != nil {
		t.Errorf("stop with SIGTERM: %v", err)
	}
}

// TestRestartKeepsData stops the platform and starts it again on the same PLINTH_DATA:
// tenants, keys (and revocations), allowed models and registered models survive.
func TestRestartKeepsData(t *testing.T) {
	dataDir := t.TempDir()
	ctx := ctxFor(t)
	p := startPlatform(t, dataDir)
	if err := p.CreateTenant(ctx, map[string]any{"id": "persist", "name": "Persisted", "allowed_models": []string{"local-chat"},
		"limits": map[string]any{"requests_per_minute": 1000}}); err != nil {
		stopOK(t, p)
		t.Fatal(err)
	}
	live, err := p.CreateKey(ctx, "persist")
	if err != nil {
		stopOK(t, p)
		t.Fatal(err)
	}
	gone, err := p.CreateKey(ctx, "persist")
	if err != nil {
		stopOK(t, p)
		t.Fatal(err)
	}
	if r, err := p.Admin(ctx, http.MethodDelete, "/admin/keys/"+gone.ID, nil); err != nil || r.Status >= 300 {
		t.Errorf("revoke: %v %v", err, r)
	}
	up := newUpstream(t)
	registerApproved(t, p, platformtest.OpenAIModel("persist-model", "chat", up.BaseURL(), "m"))
	chatBody := `{"model":"local-chat","messages":[{"role":"user","content":"Context: Data lives in bbolt. Question: Where does data live?"}]}`
	before, err := p.Do(ctx, http.MethodPost, "/v1/chat/completions", live.Key, chatBody)
	if err != nil || before.Status != http.StatusOK {
		t.Fatalf("chat before the restart: %v %v", err, before)
	}
	if err := p.Stop(20 * time.Second); err != nil {
		t.Fatalf("first stop: %v", err)
	}

	p2 := startPlatform(t, dataDir)
	defer stopOK(t, p2)
	after, err := p2.Do(ctx, http.MethodPost, "/v1/chat/completions", live.Key, chatBody)
	if err != nil || after.Status != http.StatusOK {
		t.Fatalf("chat with the same key after the restart: %v %v", err, after)
	}
	c, _ := newClient(p2, live.Key)
	if ids := listIDs(t, c); !slices.Equal(ids, []string{"local-chat"}) {
		t.Errorf("after the restart the tenant lists %v, want its allowed [local-chat]", ids)
	}
	if r, err := p2.Do(ctx, http.MethodGet, "/v1/models", gone.Key, nil); err != nil || r.Status != http.StatusUnauthorized {
		t.Errorf("a key revoked before the restart: %v %v, want 401", err, r)
	}
	var tenant struct {
		Name string `json:"name"`
	}
	if r, err := p2.Admin(ctx, http.MethodGet, "/admin/tenants/persist", nil); err != nil || r.Status != http.StatusOK || r.JSON(&tenant) != nil || tenant.Name != "Persisted" {
		t.Errorf("GET /admin/tenants/persist after the restart: %v %v", err, r)
	}
	var model struct {
		Status string `json:"status"`
	}
	if r, err := p2.Admin(ctx, http.MethodGet, "/admin/models/persist-model", nil); err != nil || r.Status != http.StatusOK || r.JSON(&model) != nil || model.Status != "approved" {
		t.Errorf("GET /admin/models/persist-model after the restart: %v %v", err, r)
	}
}

// TestSigtermDrainsInFlightStream sends SIGTERM while a slow stream is in flight: the
// stream still completes with [DONE] and the process then exits 0.
func TestSigtermDrainsInFlightStream(t *testing.T) {
	p := startPlatform(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const reply = "one two three four five six seven eight"
	up := newUpstream(t, providertest.WithReply(reply), providertest.WithChunkDelay(80*time.Millisecond))
	registerApproved(t, p, platformtest.OpenAIModel("slow", "chat", up.BaseURL(), "slow"))
	if err := p.CreateTenant(ctx, map[string]any{"id": "drain", "name": "Drain"}); err != nil {
		stopOK(t, p)
		t.Fatal(err)
	}
	k, err := p.CreateKey(ctx, "drain")
	if err != nil {
		stopOK(t, p)
		t.Fatal(err)
	}

	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, p.URL+"/v1/chat/completions",
		strings.NewReader(`{"model":"slow","stream":true,"messages":[{"role":"user","content":"go"}]}`))
	req.Header.Set("Authorization", "Bearer "+k.Key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		stopOK(t, p)
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		stopOK(t, p)
		t.Fatalf("stream status %d", resp.StatusCode)
	}
	rd := bufio.NewReader(resp.Body)
	// Wait for the first event so the request is surely in flight, then ask the
	// platform to stop.
	var body strings.Builder
	for {
		line, err := rd.ReadString('\n')
		body.WriteString(line)
		if err != nil {
			stopOK(t, p)
			t.Fatalf("reading the first event: %v", err)
		}
		if strings.HasPrefix(line, "data: ") {
			break
		}
	}
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for {
		line, err := rd.ReadString('\n')
		body.WriteString(line)
		if err != nil {
			break
		}
	}
	events, done := sseData([]byte(body.String()))
	if !done {
		t.Errorf("the in-flight stream did not finish with [DONE] after SIGTERM: %q", body.String())
	}
	var content strings.Builder
	for _, ev := range events {
		var chunk struct {
			Choices []struct {
				Delta struct {
					Content string `json:"content"`
				} `json:"delta"`
			} `json:"choices"`
		}
		if err := json.Unmarshal(ev, &chunk); err != nil {
			t.Errorf("event %q is not JSON: %v", ev, err)
		}
		for _, c := range chunk.Choices {
			content.WriteString(c.Delta.Content)
		}
	}
	if content.String() != reply {
		t.Errorf("drained stream content %q, want %q", content.String(), reply)
	}
	code, err := p.Wait(20 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if code != 0 {
		t.Errorf("exit status %d after SIGTERM, want 0; output:\n%s", code, p.Logs())
	}
}
