package judge

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/plinth-ai/plinth/shared/provider"
)

func TestParseVerdict(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		reply     string
		score     int
		rationale string
		err       error
	}{
		{"bare json", `{"score": 4, "rationale": "Mostly right."}`, 4, "Mostly right.", nil},
		{"code fence", "```json\n{\"score\": 5, \"rationale\": \"Exact.\"}\n```", 5, "Exact.", nil},
		{"prose around", "Here is my verdict:\n{\"rationale\": \"Misses {x}.\", \"score\": 2}\nThanks!", 2, "Misses {x}.", nil},
		{"score as string", `{"score": "3", "rationale": "ok"}`, 3, "ok", nil},
		{"score as fraction string", `{"score": "4/5", "rationale": "ok"}`, 4, "ok", nil},
		{"float whole number", `{"score": 5.0, "rationale": "ok"}`, 5, "ok", nil},
		{"capitalised keys", `{"Score": 1, "Rationale": "wrong"}`, 1, "wrong", nil},
		{"malformed json fallback", `{"score": 4, "rationale": "trailing comma",}`, 4, "trailing comma", nil},
		{"out of range high", `{"score": 7, "rationale": "x"}`, 0, "", ErrScoreOutOfRange},
		{"out of range zero", `{"score": 0}`, 0, "", ErrScoreOutOfRange},
		{"fractional", `{"score": 3.5}`, 0, "", ErrUnparseable},
		{"no verdict", "I think it is fine.", 0, "", ErrUnparseable},
		{"non-numeric string", `{"score": "high"}`, 0, "", ErrUnparseable},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			score, rationale, err := ParseVerdict(c.reply)
			if c.err != nil {
				if !errors.Is(err, c.err) {
					t.Fatalf("err = %v, want %v", err, c.err)
				}
				return
			}
			if err != nil || score != c.score || rationale != c.rationale {
				t.Fatalf("got (%d, %q, %v), want (%d, %q)", score, rationale, err, c.score, c.rationale)
			}
		})
	}
}

// scripted replies in order and records every request.
type scripted struct {
	replies []any // string reply or error
	reqs    []*provider.ChatRequest
}

func (s *scripted) chat(_ context.Context, req *provider.ChatRequest) (*provider.ChatResponse, error) {
	s.reqs = append(s.reqs, req)
	r := s.replies[len(s.reqs)-1]
	if err, ok := r.(error); ok {
		return nil, err
	}
	return &provider.ChatResponse{
		Model:   req.Model,
		Choices: []provider.Choice{{Message: provider.Message{Role: "assistant", Content: provider.TextContent(r.(string))}}},
		Usage:   &provider.Usage{PromptTokens: 100, CompletionTokens: 20, TotalTokens: 120},
	}, nil
}

func TestEvaluateRetriesAndRecordsCost(t *testing.T) {
	t.Parallel()
	s := &scripted{replies: []any{
		"not json at all",
		&provider.Error{Kind: provider.KindRateLimited, Message: "slow down"},
		`{"score": 9}`,
		`{"score": 4, "rationale": "good"}`,
	}}
	j, err := New(s.chat, "judge-model", WithMaxAttempts(4), WithPrices(Prices{InputPerMillion: 1, OutputPerMillion: 10}))
	if err != nil {
		t.Fatal(err)
	}
	v, err := j.Evaluate(context.Background(), Correctness, Input{Question: "Q?", Answer: "A", References: []string{"A"}})
	if err != nil {
		t.Fatal(err)
	}
	if v.Score != 4 || v.Rationale != "good" || v.Attempts != 4 {
		t.Fatalf("verdict = %+v", v)
	}
	// Three replies carried usage (the rate-limited attempt did not).
	if v.Usage.PromptTokens != 300 || v.Usage.CompletionTokens != 60 {
		t.Fatalf("usage = %+v", v.Usage)
	}
	if want := (300*1.0 + 60*10.0) / 1e6; v.CostUSD != want {
		t.Fatalf("cost = %v, want %v", v.CostUSD, want)
	}
	if s.reqs[0].Model != "judge-model" || s.reqs[0].Temperature == nil || *s.reqs[0].Temperature != 0 {
		t.Fatalf("request = %+v", s.reqs[0])
	}
}

func TestEvaluateGivesUpAfterBound(t *testing.T) {
	t.Parallel()
	s := &scripted{replies: []any{"nope", `{"score": 6}`, "nope", "never asked"}}
	j, _ := New(s.chat, "m", WithMaxAttempts(3))
	v, err := j.Evaluate(context.Background(), Helpfulness, Input{Question: "q", Answer: "a"})
	if !errors.Is(err, ErrUnparseable) || v.Attempts != 3 || len(s.reqs) != 3 {
		t.Fatalf("err = %v, attempts = %d, calls = %d", err, v.Attempts, len(s.reqs))
	}
}

func TestEvaluateDoesNotRetryBadRequest(t *testing.T) {
	t.Parallel()
	bad := &provider.Error{Kind: provider.KindBadRequest, Message: "no"}
	s := &scripted{replies: []any{bad, `{"score": 5}`}}
	j, _ := New(s.chat, "m")
	if _, err := j.Evaluate(context.Background(), Correctness, Input{}); !errors.Is(err, bad) || len(s.reqs) != 1 {
		t.Fatalf("err = %v, calls = %d", err, len(s.reqs))
	}
}

func TestPromptPerRubric(t *testing.T) {
	t.Parallel()
	in := Input{Question: "Where?", Answer: "Paris [1]", References: []string{"Paris"}, Contexts: []string{"Paris is in France."}}
	for _, r := range Rubrics {
		t.Run(string(r), func(t *testing.T) {
			msgs, err := Prompt(r, in)
			if err != nil {
				t.Fatal(err)
			}
			user := msgs[len(msgs)-1].Content.String()
			for _, want := range []string{string(r), "Where?", "Paris [1]", "Paris is in France.", `"score"`, `"rationale"`} {
				if !strings.Contains(user, want) {
					t.Errorf("prompt lacks %q", want)
				}
			}
		})
	}
	if _, err := Prompt("style", in); !errors.Is(err, ErrUnknownRubric) {
		t.Fatalf("unknown rubric err = %v", err)
	}
}

func TestSummarize(t *testing.T) {
	t.Parallel()
	got := Summarize([]Verdict{
		{Rubric: Correctness, Score: 5, CostUSD: 0.1},
		{Rubric: Correctness, Score: 2, CostUSD: 0.1},
		{Rubric: Correctness, Score: 0, CostUSD: 0.1},
		{Rubric: Harmfulness, Score: 1},
	})
	c := got[Correctness]
	if c.Mean != 3.5 || c.Count != 2 || c.Failures != 1 || c.Distribution != [5]int{0, 1, 0, 0, 1} {
		t.Fatalf("summary = %+v", c)
	}
	if got[Harmfulness].Mean != 1 {
		t.Fatalf("harmfulness = %+v", got[Harmfulness])
	}
}
