package faults

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	pt "github.com/plinth-ai/plinth/shared/provider/providertest"
)

// TestOutageThatRecovers: while the primary is down the backup answers and, once the
// primary's circuit opens, the primary is left alone; when it is back, the first request
// after the cooldown probes it and it answers again, streamed and not.
func TestOutageThatRecovers(t *testing.T) {
	for _, prov := range []string{"openai", "bedrock"} {
		t.Run(prov, func(t *testing.T) {
			t.Parallel()
			r := newRig(t)
			up, down := openaiUpstream(t), openaiUpstream(t)
			outage := pt.Fault{Kind: pt.FaultStatus, Failure: pt.Overloaded}
			if prov == "bedrock" {
				up, down = bedrockUpstream(t), bedrockUpstream(t)
				outage = pt.Fault{Kind: pt.FaultStatus, Bedrock: pt.BedrockUnavailable}
			}
			backup := r.register("backup", down.deployment)
			primary := r.register("primary", up.deployment, backup)
			models := map[string]string{"primary": primary, "backup": backup}

			up.setFault(outage)
			r.check(r.chat(primary), false, byBackup, models)
			if up.requests() != breakerThreshold {
				t.Fatalf("the primary got %d requests, want %d before its circuit opens", up.requests(), breakerThreshold)
			}
			r.check(r.stream(primary), true, byBackup, models)
			up.clearFault()
			r.check(r.chat(primary), false, byBackup, models)
			if up.requests() != breakerThreshold {
				t.Errorf("the primary got %d requests while its circuit was open, want none", up.requests()-breakerThreshold)
			}

			r.clock.Advance(breakerCooldown)
			r.check(r.chat(primary), false, byPrimary, models) // the half-open probe succeeds
			r.check(r.stream(primary), true, byPrimary, models)
			r.check(r.chat(primary), false, byPrimary, models)
			if got := up.requests() - breakerThreshold; got != 3 {
				t.Errorf("the recovered primary got %d requests, want 3", got)
			}
		})
	}
}

// TestFallbackThatRefusesPrefill: a fallback registered as taking prefill refuses it;
// the stream is still continued (in words), the refusal never reaches the client, and
// the fallback is not sent a prefill again.
func TestFallbackThatRefusesPrefill(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	var mu sync.Mutex
	var requests []string
	down := openaiUpstream(t, pt.WithoutPrefill(), pt.WithReplyFunc(func(b *pt.ChatBody) string {
		mu.Lock()
		requests = append(requests, b.Messages[len(b.Messages)-1].Role)
		mu.Unlock()
		return continuing(b.Prefill())
	}))
	down.deployment["assistant_prefill"] = true
	backup := r.register("backup", down.deployment)
	for i := 0; i < 2; i++ {
		up := openaiUpstream(t)
		up.setFault(pt.Fault{Kind: pt.FaultCut, After: 4})
		primary := r.register("primary", up.deployment, backup)
		ex := r.stream(primary)
		r.check(ex, true, byBackup, map[string]string{"primary": primary, "backup": backup})
		if ex.models[0] != primary {
			t.Errorf("chunk models %v: want the primary's answer continued", ex.models)
		}
	}
	// The refused prefill never reached the reply function (the fake refused it first):
	// the fallback answered twice, in words both times.
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(requests, ",") != "user,user" || down.requests() != 3 {
		t.Errorf("fallback answered %v of %d requests, want two instructed answers after one refused prefill", requests, down.requests())
	}
}

// TestMisconfiguredPrimary: a deployment whose key cannot be found does not stop its
// model's fallbacks from answering, and a model that nothing can serve is not offered.
func TestMisconfiguredPrimary(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	broken := map[string]any{"provider": "openai", "base_url": "http://127.0.0.1:9/v1", "model": "gpt-x", "api_key_env": "PLINTH_FAULTS_TEST_KEY_THAT_IS_NOT_SET"}
	backup := r.register("backup", openaiUpstream(t).deployment)
	primary := r.register("primary", broken, backup)
	orphan := r.register("orphan", broken)
	models := map[string]string{"primary": primary, "backup": backup}

	r.check(r.chat(primary), false, byBackup, models)
	r.check(r.stream(primary), true, byBackup, models)

	ex := r.chat(orphan)
	if ex.status != http.StatusServiceUnavailable || ex.errCode != "upstream_unavailable" || strings.Contains(ex.err.Error(), "PLINTH_FAULTS_TEST_KEY") {
		t.Errorf("a model nothing can serve: status %d code %q err %v", ex.status, ex.errCode, ex.err)
	}

	req, _ := http.NewRequest(http.MethodGet, r.url+"/v1/models", nil)
	req.Header.Set("Authorization", "Bearer "+r.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var list struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, m := range list.Data {
		listed[m.ID] = true
	}
	if !listed[primary] || !listed[backup] || listed[orphan] {
		t.Errorf("/v1/models lists %v: want %s (its fallback answers) and %s, not %s", listed, primary, backup, orphan)
	}
}
