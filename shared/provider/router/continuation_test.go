package router

import (
	"strings"
	"testing"

	"github.com/plinth-ai/plinth/shared/provider"
)

func TestContinuation(t *testing.T) {
	t.Parallel()
	max := 100
	req := &provider.ChatRequest{MaxTokens: &max, Messages: []provider.Message{{Role: "user", Content: provider.TextContent("Count to five.")}}}
	if got := continuation(req, " \n", 0, true); got != req {
		t.Error("nothing sent: the request should go as it is")
	}

	pre := continuation(req, "One, two, ", 4, true)
	last := pre.Messages[len(pre.Messages)-1]
	if len(pre.Messages) != 2 || last.Role != "assistant" || last.Content.String() != "One, two," {
		t.Errorf("prefill messages %+v", pre.Messages)
	}
	if *pre.MaxTokens != 96 || *req.MaxTokens != 100 || len(req.Messages) != 1 {
		t.Errorf("max_tokens %d (original %d, %d messages): the original must not change", *pre.MaxTokens, *req.MaxTokens, len(req.Messages))
	}

	ins := continuation(req, "One, two, ", 200, false)
	if len(ins.Messages) != 3 || ins.Messages[1].Role != "assistant" || ins.Messages[1].Content.String() != "One, two, " ||
		ins.Messages[2].Role != "user" || ins.Messages[2].Content.String() != continueInstruction || *ins.MaxTokens != 1 {
		t.Errorf("instruction messages %+v max_tokens %d", ins.Messages, *ins.MaxTokens)
	}
}

func TestSeam(t *testing.T) {
	t.Parallel()
	const sent = "The quick brown fox jumps over the lazy dog. It was "
	tests := []struct {
		name    string
		sent    string
		repeats bool
		pieces  []string
		want    string
	}{
		{"prefill continues after a space", sent, false, []string{" not", " amused."}, "not amused."},
		{"prefill continues mid-word", "The quick bro", false, []string{"wn", " fox"}, "wn fox"},
		{"whitespace only waits", sent, false, []string{" ", "\n", "Then"}, "Then"},
		{"a plain continuation passes", sent, true, []string{"not", " amused", "."}, "not amused."},
		{"a full repeat is dropped", sent, true, []string{"The quick ", "brown fox jumps over the lazy dog. It was", " not amused."}, "not amused."},
		{"a repeated tail is dropped", sent, true, []string{"the lazy dog.", " It was not", " amused."}, "not amused."},
		{"a short coincidence is kept", "He said yes. ", true, []string{"yes", " again."}, "yes again."},
		{"a repeat cut by the end is dropped", sent, true, []string{"The quick brown fox jumps over the lazy dog. It was"}, ""},
		{"a partial repeat at the end is kept", sent, true, []string{"The quick"}, "The quick"},
		{"nothing sent", "", true, []string{"Hello", " there"}, "Hello there"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSeam(tt.sent, tt.repeats)
			var out strings.Builder
			for _, p := range tt.pieces {
				out.WriteString(s.feed(p))
			}
			out.WriteString(s.flush())
			if out.String() != tt.want {
				t.Errorf("got %q, want %q", out.String(), tt.want)
			}
		})
	}
}
