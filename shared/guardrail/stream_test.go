package guardrail

import (
	"context"
	"strings"
	"testing"
)

func streamAll(t *testing.T, s *StreamScanner, text string, chunk int) (string, bool) {
	t.Helper()
	var out strings.Builder
	for i := 0; i < len(text); i += chunk {
		safe, stop := s.Write(text[i:min(len(text), i+chunk)])
		out.WriteString(safe)
		if stop {
			return out.String(), true
		}
	}
	rest, stop := s.Flush()
	out.WriteString(rest)
	return out.String(), stop
}

func TestStreamCatchesSplitEntities(t *testing.T) {
	e := newEngine(t)
	p := &Policy{Name: "mask", SensitiveInformationPolicyConfig: &SensitiveInformationPolicyConfig{PiiEntitiesConfig: []PiiEntityConfig{
		{Type: "EMAIL", Action: ActionAnonymize}, {Type: "PHONE", Action: ActionAnonymize}, {Type: "URL", Action: ActionAnonymize}}}}
	filler := strings.Repeat("The quarterly report covers revenue, costs and outlook for every region. ", 6)
	text := filler + "Reach our desk at +1 415-555-0132 or write to jane.doe@example.com, docs at https://example.com/a/b. " + filler
	for _, chunk := range []int{1, 3, 7, 16, 64} {
		s, err := e.NewStreamScanner(context.Background(), p, SourceOutput)
		if err != nil {
			t.Fatal(err)
		}
		out, stopped := streamAll(t, s, text, chunk)
		if stopped {
			t.Fatalf("chunk %d: stream stopped", chunk)
		}
		for _, secret := range []string{"jane.doe", "example.com", "555-0132"} {
			if strings.Contains(out, secret) {
				t.Fatalf("chunk %d: %q leaked: %s", chunk, secret, out)
			}
		}
		want := filler + "Reach our desk at {PHONE} or write to {EMAIL}, docs at {URL}. " + filler
		if out != want {
			t.Fatalf("chunk %d:\n got %q\nwant %q", chunk, out, want)
		}
		if sum := s.Summary(); sum.Counts["pii.EMAIL"] != 1 || sum.Counts["pii.PHONE"] != 1 || sum.Action != ActionIntervened {
			t.Fatalf("chunk %d: summary %+v", chunk, sum)
		}
	}
}

func TestStreamBlocksBeforeRelease(t *testing.T) {
	e := newEngine(t)
	p := &Policy{Name: "block", BlockedOutputsMessaging: "blocked",
		SensitiveInformationPolicyConfig: &SensitiveInformationPolicyConfig{PiiEntitiesConfig: []PiiEntityConfig{
			{Type: "CREDIT_DEBIT_CARD_NUMBER", Action: ActionBlock}}},
		WordPolicyConfig: &WordPolicyConfig{WordsConfig: []WordConfig{{Text: "project nightingale"}}}}
	tests := []struct{ name, text, secret string }{
		{"card", "Here is the card you asked for: 4012 8888 8888 1881 and its expiry.", "4012 8888"},
		{"phrase", "The internal name is Project Nightingale, do not share it.", "Nightingale"},
	}
	for _, tc := range tests {
		for _, chunk := range []int{2, 5, 11} {
			s, err := e.NewStreamScanner(context.Background(), p, SourceOutput, WithHoldBack(32))
			if err != nil {
				t.Fatal(err)
			}
			out, stopped := streamAll(t, s, tc.text, chunk)
			if !stopped || !s.Blocked() {
				t.Fatalf("%s/%d: not blocked, out %q", tc.name, chunk, out)
			}
			if strings.Contains(out, tc.secret) {
				t.Fatalf("%s/%d: leaked %q", tc.name, chunk, out)
			}
			if s.BlockedMessage() != "blocked" {
				t.Fatalf("message = %q", s.BlockedMessage())
			}
			if safe, stop := s.Write("more"); safe != "" || !stop {
				t.Fatalf("write after block = %q, %v", safe, stop)
			}
		}
	}
}

func TestStreamPassesCleanTextUnchanged(t *testing.T) {
	e := newEngine(t)
	p := loadPolicy(t, "policy_full.json")
	text := strings.Repeat("Rivers carry sediment to the sea, building deltas over centuries. ", 20)
	s, err := e.NewStreamScanner(context.Background(), p, SourceOutput)
	if err != nil {
		t.Fatal(err)
	}
	out, stopped := streamAll(t, s, text, 9)
	if stopped || out != text {
		t.Fatalf("stopped=%v out=%q", stopped, out)
	}
}
