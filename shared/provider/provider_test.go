package provider_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/plinth-ai/plinth/shared/provider"
)

func TestContentForms(t *testing.T) {
	cases := map[string]struct {
		in   string
		text string
		null bool
	}{
		"string": {`"hello"`, "hello", false},
		"parts":  {`[{"type":"text","text":"a"},{"type":"image_url","image_url":{"url":"x"}},{"type":"text","text":"b"}]`, "a\nb", false},
		"null":   {`null`, "", true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var c provider.Content
			if err := json.Unmarshal([]byte(tc.in), &c); err != nil {
				t.Fatal(err)
			}
			if c.String() != tc.text || c.Null != tc.null {
				t.Fatalf("got %q null=%v", c.String(), c.Null)
			}
			out, _ := json.Marshal(c)
			if string(out) != strings.ReplaceAll(tc.in, " ", "") {
				t.Fatalf("round trip %s, want %s", out, tc.in)
			}
		})
	}
	var c provider.Content
	if err := json.Unmarshal([]byte(`42`), &c); err == nil {
		t.Fatal("a number must not be accepted as content")
	}
}

func TestStopForms(t *testing.T) {
	var r provider.ChatRequest
	if err := json.Unmarshal([]byte(`{"stop":"END"}`), &r); err != nil || len(r.Stop) != 1 || r.Stop[0] != "END" {
		t.Fatalf("string stop: %v %v", r.Stop, err)
	}
	if err := json.Unmarshal([]byte(`{"stop":["a","b"]}`), &r); err != nil || len(r.Stop) != 2 {
		t.Fatalf("array stop: %v %v", r.Stop, err)
	}
	if err := json.Unmarshal([]byte(`{"stop":3}`), &r); err == nil {
		t.Fatal("a number must not be accepted as stop")
	}
}

func TestResponseMessagesCarryRefusal(t *testing.T) {
	b, err := json.Marshal(provider.ChatResponse{Choices: []provider.Choice{{Message: provider.Message{Role: "assistant", Content: provider.TextContent("hi")}, FinishReason: "stop"}}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"refusal":null`) || !strings.Contains(string(b), `"content":"hi"`) || !strings.Contains(string(b), `"finish_reason":"stop"`) {
		t.Fatalf("response %s lacks refusal:null or lost fields", b)
	}
	refused := "no"
	b, _ = json.Marshal(provider.Choice{Message: provider.Message{Role: "assistant", Refusal: &refused}})
	if !strings.Contains(string(b), `"refusal":"no"`) || strings.Count(string(b), "refusal") != 1 {
		t.Fatalf("refusal not carried once: %s", b)
	}
	// Requests do not grow a refusal field.
	b, _ = json.Marshal(provider.Message{Role: "user", Content: provider.TextContent("q")})
	if strings.Contains(string(b), "refusal") {
		t.Fatalf("request message %s must not carry refusal", b)
	}
}

func TestErrorClassification(t *testing.T) {
	for kind, want := range map[provider.ErrorKind][2]bool{
		provider.KindRateLimited:   {true, true},
		provider.KindUnavailable:   {true, true},
		provider.KindTimeout:       {true, true},
		provider.KindContextLength: {false, true},
		provider.KindContentFilter: {false, false},
		provider.KindBadRequest:    {false, false},
	} {
		e := &provider.Error{Kind: kind}
		if e.Retryable() != want[0] || e.Fallbackable() != want[1] {
			t.Errorf("%s: retryable=%v fallbackable=%v, want %v", kind, e.Retryable(), e.Fallbackable(), want)
		}
	}
}
