package gateway_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/plinth-ai/plinth/shared/gateway"
	"github.com/plinth-ai/plinth/shared/provider"
)

// wordGuard blocks input containing "attack", masks "secret" in output, and blocks a
// stream once "forbidden" appears, holding back a few bytes like a real window.
type wordGuard struct{}

func (wordGuard) Input(_ context.Context, _ *gateway.Caller, msgs []provider.Message) (gateway.GuardVerdict, error) {
	v := gateway.GuardVerdict{Message: "input blocked"}
	for _, m := range msgs {
		t := m.Content.String()
		v.Texts = append(v.Texts, t)
		if strings.Contains(t, "attack") {
			v.Blocked = true
			v.Findings = map[string]int{"PROMPT_ATTACK": 1}
			v.Filters = []string{"content.PROMPT_ATTACK"}
		}
	}
	return v, nil
}

func (wordGuard) Output(_ context.Context, _ *gateway.Caller, texts []string) (gateway.GuardVerdict, error) {
	v := gateway.GuardVerdict{Message: "output blocked"}
	for _, t := range texts {
		masked := strings.ReplaceAll(t, "secret", "{SECRET}")
		v.Changed = v.Changed || masked != t
		v.Texts = append(v.Texts, masked)
	}
	if v.Changed {
		v.Findings = map[string]int{"SECRET": 1}
		v.Filters = []string{"regex.secret"}
	}
	return v, nil
}

func (wordGuard) OutputStream(context.Context, *gateway.Caller) gateway.StreamGuard {
	return &holdBack{}
}

type holdBack struct {
	pending string
	blocked bool
}

func (h *holdBack) Write(d string) (string, bool) {
	h.pending += d
	if strings.Contains(h.pending, "forbidden") {
		h.blocked = true
		return "", true
	}
	if len(h.pending) <= 9 {
		return "", false
	}
	cut := len(h.pending) - 9
	out := h.pending[:cut]
	h.pending = h.pending[cut:]
	return out, false
}

func (h *holdBack) Flush() (string, bool) {
	out := h.pending
	h.pending = ""
	return out, h.blocked
}

func (h *holdBack) Findings() map[string]int {
	if h.blocked {
		return map[string]int{"WORD": 1}
	}
	return nil
}

func (h *holdBack) Message() string { return "stream blocked" }

func (h *holdBack) Filters() []string {
	if h.blocked {
		return []string{"word.custom"}
	}
	return nil
}

// guardrailOf decodes the guardrail extension of a completion or chunk.
func guardrailOf(t *testing.T, body []byte) *gateway.Guardrail {
	t.Helper()
	var out struct {
		Guardrail *gateway.Guardrail `json:"guardrail"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	return out.Guardrail
}

func TestInputBlockAnswersWithPolicyMessage(t *testing.T) {
	f := newFixture(t, gateway.WithGuard(wordGuard{}))
	f.tenant.GuardrailPolicy = "p1"
	called := false
	f.inv.chat = func(*provider.ChatRequest) (*provider.ChatResponse, error) { called = true; return nil, nil }
	resp, body := f.post(t, "/v1/chat/completions", `{"model":"chat-a","messages":[{"role":"user","content":"an attack"}]}`)
	var out provider.ChatResponse
	_ = json.Unmarshal(body, &out)
	if resp.StatusCode != 200 || out.Choices[0].FinishReason != "content_filter" || out.Choices[0].Message.Content.String() != "input blocked" {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if called {
		t.Fatal("a blocked input reached the model")
	}
	if resp.Header.Get(gateway.HeaderGuardrail) != "intervened" || f.usage.recs[0].Guardrail["PROMPT_ATTACK"] != 1 {
		t.Fatalf("header %q usage %+v", resp.Header.Get(gateway.HeaderGuardrail), f.usage.recs[0])
	}
	// The refusal says which policy and which of its filters intervened.
	if resp.Header.Get(gateway.HeaderGuardrailPolicy) != "p1" {
		t.Fatalf("policy header %q", resp.Header.Get(gateway.HeaderGuardrailPolicy))
	}
	gr := guardrailOf(t, body)
	want := gateway.Intervention{Source: "INPUT", Action: "BLOCKED", Filters: []gateway.Filter{{Policy: "contentPolicy", Type: "PROMPT_ATTACK"}}}
	if gr == nil || gr.Policy != "p1" || len(gr.Interventions) != 1 || !sameIntervention(gr.Interventions[0], want) {
		t.Fatalf("guardrail extension %+v, want policy p1 and %+v", gr, want)
	}
}

func sameIntervention(a, b gateway.Intervention) bool {
	if a.Source != b.Source || a.Action != b.Action || len(a.Filters) != len(b.Filters) {
		return false
	}
	for i := range a.Filters {
		if a.Filters[i] != b.Filters[i] {
			return false
		}
	}
	return true
}

func TestOutputMasked(t *testing.T) {
	f := newFixture(t, gateway.WithGuard(wordGuard{}))
	f.tenant.GuardrailPolicy = "p1"
	f.inv.chat = func(*provider.ChatRequest) (*provider.ChatResponse, error) {
		return &provider.ChatResponse{Choices: []provider.Choice{{Message: provider.Message{Role: "assistant", Content: provider.TextContent("the secret is out")}, FinishReason: "stop"}}}, nil
	}
	_, body := f.post(t, "/v1/chat/completions", `{"model":"chat-a","messages":[{"role":"user","content":"tell me"}]}`)
	if !strings.Contains(string(body), "the {SECRET} is out") || strings.Contains(string(body), "secret is") {
		t.Fatalf("output not masked: %s", body)
	}
	gr := guardrailOf(t, body)
	want := gateway.Intervention{Source: "OUTPUT", Action: "ANONYMIZED", Filters: []gateway.Filter{{Policy: "sensitiveInformationPolicy", Type: "REGEX", Name: "secret"}}}
	if gr == nil || len(gr.Interventions) != 1 || !sameIntervention(gr.Interventions[0], want) {
		t.Fatalf("guardrail extension %+v, want %+v", gr, want)
	}
}

func TestStreamReleasesHeldBackTextAndBlocksMidStream(t *testing.T) {
	t.Run("clean stream is complete", func(t *testing.T) {
		f := newFixture(t, gateway.WithGuard(wordGuard{}))
		f.tenant.GuardrailPolicy = "p1"
		f.inv.chunks = []provider.ChatChunk{
			{ID: "c", Choices: []provider.ChunkChoice{{Delta: provider.Delta{Role: "assistant", Content: ptr("all of this ")}}}},
			{ID: "c", Choices: []provider.ChunkChoice{{Delta: provider.Delta{Content: ptr("text arrives")}, FinishReason: ptr("stop")}}},
		}
		_, body := f.post(t, "/v1/chat/completions", `{"model":"chat-a","stream":true,"messages":[{"role":"user","content":"go"}]}`)
		var text strings.Builder
		for _, ev := range readSSE(t, strings.NewReader(string(body))) {
			var c provider.ChatChunk
			if json.Unmarshal([]byte(ev), &c) == nil && len(c.Choices) > 0 && c.Choices[0].Delta.Content != nil {
				text.WriteString(*c.Choices[0].Delta.Content)
			}
		}
		if text.String() != "all of this text arrives" {
			t.Fatalf("streamed %q", text.String())
		}
	})
	t.Run("blocked stream stops before the forbidden text", func(t *testing.T) {
		f := newFixture(t, gateway.WithGuard(wordGuard{}))
		f.tenant.GuardrailPolicy = "p1"
		f.inv.chunks = []provider.ChatChunk{
			{ID: "c", Choices: []provider.ChunkChoice{{Delta: provider.Delta{Role: "assistant", Content: ptr("harmless start, ")}}}},
			{ID: "c", Choices: []provider.ChunkChoice{{Delta: provider.Delta{Content: ptr("forbi")}}}},
			{ID: "c", Choices: []provider.ChunkChoice{{Delta: provider.Delta{Content: ptr("dden words")}, FinishReason: ptr("stop")}}},
		}
		_, body := f.post(t, "/v1/chat/completions", `{"model":"chat-a","stream":true,"messages":[{"role":"user","content":"go"}]}`)
		events := readSSE(t, strings.NewReader(string(body)))
		all := strings.Join(events, "\n")
		if strings.Contains(all, "forbi") || !strings.Contains(all, "stream blocked") || !strings.Contains(all, `"finish_reason":"content_filter"`) || events[len(events)-1] != "[DONE]" {
			t.Fatalf("events %q", events)
		}
		if !f.inv.closed {
			t.Fatal("the upstream stream was not closed after the block")
		}
		// The blocking chunk names the policy and the filter that stopped the stream.
		gr := guardrailOf(t, []byte(events[len(events)-2]))
		want := gateway.Intervention{Source: "OUTPUT", Action: "BLOCKED", Filters: []gateway.Filter{{Policy: "wordPolicy", Type: "CUSTOM_WORD"}}}
		if gr == nil || gr.Policy != "p1" || len(gr.Interventions) != 1 || !sameIntervention(gr.Interventions[0], want) {
			t.Fatalf("blocking chunk %s, want %+v", events[len(events)-2], want)
		}
	})
}
