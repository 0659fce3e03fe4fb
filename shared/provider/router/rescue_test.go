package router

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plinth-ai/plinth/shared/provider"
)

// writer is a scripted deployment that writes answer word by word. Call i of ChatStream
// follows plans[i] (the last plan repeats): it fails after cutAfter words (0: never),
// with err, or refuses at once with refuse. A prefilled request is continued from its
// prefill; with repeat, an instructed one starts over from the beginning.
type writer struct {
	answer string
	plans  []plan
	repeat bool
	usage  bool // report usage in a closing chunk

	mu   sync.Mutex
	reqs []*provider.ChatRequest
}

type plan struct {
	refuse   error
	cutAfter int
	err      error
	tools    bool // answer with a tool call split over two chunks
}

func (w *writer) Chat(context.Context, *provider.ChatRequest) (*provider.ChatResponse, error) {
	return nil, errors.New("not used")
}

func (w *writer) requests() []*provider.ChatRequest {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]*provider.ChatRequest(nil), w.reqs...)
}

func (w *writer) ChatStream(ctx context.Context, req *provider.ChatRequest) (provider.Stream, error) {
	w.mu.Lock()
	n := len(w.reqs)
	w.reqs = append(w.reqs, req)
	w.mu.Unlock()
	p := w.plans[min(n, len(w.plans)-1)]
	if p.refuse != nil {
		return nil, p.refuse
	}
	text := w.answer
	if last := req.Messages[len(req.Messages)-1]; last.Role == "assistant" {
		text = strings.TrimPrefix(text, last.Content.String())
	} else if last.Role == "user" && last.Content.String() == continueInstruction && !w.repeat {
		text = strings.TrimPrefix(text, req.Messages[len(req.Messages)-2].Content.String())
	}
	var chunks []provider.ChatChunk
	empty := ""
	chunks = append(chunks, provider.ChatChunk{ID: "up" + string(rune('a'+n)), Created: int64(n), Choices: []provider.ChunkChoice{{Delta: provider.Delta{Role: "assistant", Content: &empty}}}})
	for _, piece := range splitWords(text) {
		piece := piece
		chunks = append(chunks, provider.ChatChunk{ID: "up", Choices: []provider.ChunkChoice{{Delta: provider.Delta{Content: &piece}}}})
	}
	finish := "stop"
	if p.tools {
		zero := 0
		chunks = append(chunks,
			provider.ChatChunk{Choices: []provider.ChunkChoice{{Delta: provider.Delta{ToolCalls: []provider.ToolCall{{Index: &zero, ID: "call_1", Type: "function", Function: provider.FunctionCall{Name: "lookup"}}}}}}},
			provider.ChatChunk{Choices: []provider.ChunkChoice{{Delta: provider.Delta{ToolCalls: []provider.ToolCall{{Index: &zero, Function: provider.FunctionCall{Arguments: `{"q":1}`}}}}}}})
		finish = "tool_calls"
	}
	chunks = append(chunks, provider.ChatChunk{Choices: []provider.ChunkChoice{{Delta: provider.Delta{}, FinishReason: &finish}}})
	if w.usage {
		chunks = append(chunks, provider.ChatChunk{Choices: []provider.ChunkChoice{}, Usage: &provider.Usage{PromptTokens: 10, CompletionTokens: 5, TotalTokens: 15}})
	}
	if p.cutAfter > 0 && p.cutAfter < len(chunks) {
		chunks = chunks[:p.cutAfter]
	} else {
		p.err = nil
	}
	return &script{chunks: chunks, err: p.err}, nil
}

func splitWords(s string) []string {
	var out []string
	for i := 0; i < len(s); {
		j := i
		for j < len(s) && s[j] == ' ' {
			j++
		}
		for j < len(s) && s[j] != ' ' {
			j++
		}
		out = append(out, s[i:j])
		i = j
	}
	return out
}

type script struct {
	chunks []provider.ChatChunk
	err    error
}

func (s *script) Recv() (*provider.ChatChunk, error) {
	if len(s.chunks) == 0 {
		if s.err != nil {
			return nil, s.err
		}
		return nil, io.EOF
	}
	c := s.chunks[0]
	s.chunks = s.chunks[1:]
	return &c, nil
}

func (s *script) Close() error { return nil }

// answerOf reads a whole stream as a client would.
type answerOf struct {
	text      string
	roles     int
	ids       map[string]bool
	models    []string
	finish    string
	toolArgs  string
	toolNames string
	usage     *provider.Usage
	err       error
}

func read(s provider.Stream) answerOf {
	a := answerOf{ids: map[string]bool{}}
	defer s.Close()
	for {
		c, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return a
		}
		if err != nil {
			a.err = err
			return a
		}
		a.ids[c.ID] = true
		if c.Usage != nil {
			a.usage = c.Usage
		}
		for _, ch := range c.Choices {
			a.models = append(a.models, c.Model)
			if ch.Delta.Role != "" {
				a.roles++
			}
			if ch.Delta.Content != nil {
				a.text += *ch.Delta.Content
			}
			for _, tc := range ch.Delta.ToolCalls {
				a.toolNames += tc.Function.Name
				a.toolArgs += tc.Function.Arguments
			}
			if ch.FinishReason != nil {
				a.finish = *ch.FinishReason
			}
		}
	}
}

const fox = "The quick brown fox jumps over the lazy dog and runs far away."

func resetErr() error {
	return &provider.Error{Kind: provider.KindUnavailable, Message: "connection reset by peer"}
}

// pair routes model "primary" (deployment p) with fallback "backup" (deployment b).
func pair(p, b *writer, prefill bool) (Target, Resolver) {
	t := Target{ModelID: "primary", Deployments: []Deployment{{ID: "p", Chat: p}}, Fallbacks: []string{"backup"}}
	resolve := func(_ context.Context, id string) (Target, error) {
		return Target{ModelID: "backup", Deployments: []Deployment{{ID: "b", Chat: b, Prefill: prefill}}}, nil
	}
	return t, resolve
}

func TestStreamRescue(t *testing.T) {
	t.Parallel()
	r := New(WithSleep((&recorder{}).sleep), WithMaxAttempts(1))
	req := &provider.ChatRequest{Messages: []provider.Message{{Role: "user", Content: provider.TextContent("Tell me about the fox.")}}}

	t.Run("continued on the fallback by prefill", func(t *testing.T) {
		t.Parallel()
		p := &writer{answer: fox, plans: []plan{{cutAfter: 5, err: resetErr()}}}
		b := &writer{answer: fox, plans: []plan{{}}, usage: true}
		tg, resolve := pair(p, b, true)
		s, served, err := r.ChatStream(context.Background(), tg, resolve, req)
		if err != nil || served.ModelID != "primary" {
			t.Fatalf("open: %v served %+v", err, served)
		}
		a := read(s)
		if a.err != nil || a.text != fox || a.roles != 1 || len(a.ids) != 1 || a.finish != "stop" {
			t.Fatalf("answer %+v", a)
		}
		if a.models[0] != "primary" || a.models[len(a.models)-1] != "backup" {
			t.Errorf("chunk models %v, want primary first and backup last", a.models)
		}
		got := b.requests()[0].Messages
		if last := got[len(got)-1]; len(got) != 2 || last.Role != "assistant" || last.Content.String() != "The quick brown fox" {
			t.Errorf("fallback asked %+v, want the sent text as a prefill", got)
		}
		spends := s.(provider.RoutedStream).Spend()
		if len(spends) != 2 || !spends[0].Estimated || spends[0].ModelID != "primary" || spends[1].Estimated || spends[1].Usage.TotalTokens != 15 {
			t.Errorf("spends %+v", spends)
		}
		if a.usage == nil || a.usage.TotalTokens != spends[0].Usage.TotalTokens+15 {
			t.Errorf("usage chunk %+v, want the sum of %+v", a.usage, spends)
		}
	})

	t.Run("continued by instruction, a repeat dropped", func(t *testing.T) {
		t.Parallel()
		p := &writer{answer: fox, plans: []plan{{cutAfter: 7, err: resetErr()}}}
		b := &writer{answer: fox, plans: []plan{{}}, repeat: true}
		tg, resolve := pair(p, b, false)
		s, _, err := r.ChatStream(context.Background(), tg, resolve, req)
		if err != nil {
			t.Fatal(err)
		}
		if a := read(s); a.err != nil || a.text != fox || a.roles != 1 {
			t.Fatalf("answer %+v", a)
		}
		got := b.requests()[0].Messages
		if len(got) != 3 || got[2].Content.String() != continueInstruction || got[1].Content.String() != "The quick brown fox jumps over" {
			t.Errorf("fallback asked %+v", got)
		}
	})

	t.Run("a refused prefill is asked in words, and remembered", func(t *testing.T) {
		t.Parallel()
		refusal := &provider.Error{Kind: provider.KindBadRequest, Status: 400, Message: "This model does not support assistant message prefill."}
		r := New(WithSleep((&recorder{}).sleep), WithMaxAttempts(1))
		b := &writer{answer: fox, plans: []plan{{refuse: refusal}, {}}}
		for i := 0; i < 2; i++ {
			p := &writer{answer: fox, plans: []plan{{cutAfter: 3, err: resetErr()}}}
			tg, resolve := pair(p, b, true)
			s, _, err := r.ChatStream(context.Background(), tg, resolve, req)
			if err != nil {
				t.Fatal(err)
			}
			if a := read(s); a.err != nil || a.text != fox {
				t.Fatalf("request %d: answer %+v", i, a)
			}
		}
		reqs := b.requests()
		if len(reqs) != 3 || reqs[0].Messages[len(reqs[0].Messages)-1].Role != "assistant" {
			t.Fatalf("fallback got %d requests", len(reqs))
		}
		for _, q := range reqs[1:] {
			if q.Messages[len(q.Messages)-1].Content.String() != continueInstruction {
				t.Errorf("after a refused prefill the fallback was asked %+v", q.Messages)
			}
		}
	})

	t.Run("tool calls are held until the attempt that makes them finishes", func(t *testing.T) {
		t.Parallel()
		p := &writer{answer: "Looking it up.", plans: []plan{{tools: true, cutAfter: 5, err: resetErr()}}}
		b := &writer{answer: "Looking it up.", plans: []plan{{tools: true}}}
		tg, resolve := pair(p, b, true)
		s, _, err := r.ChatStream(context.Background(), tg, resolve, req)
		if err != nil {
			t.Fatal(err)
		}
		a := read(s)
		if a.err != nil || a.text != "Looking it up." || a.toolNames != "lookup" || a.toolArgs != `{"q":1}` || a.finish != "tool_calls" {
			t.Errorf("answer %+v: want one whole tool call", a)
		}
	})

	t.Run("a failure after the finish ends the stream normally", func(t *testing.T) {
		t.Parallel()
		p := &writer{answer: fox, plans: []plan{{cutAfter: len(splitWords(fox)) + 2, err: resetErr()}}, usage: true}
		b := &writer{answer: fox, plans: []plan{{}}}
		tg, resolve := pair(p, b, true)
		s, _, err := r.ChatStream(context.Background(), tg, resolve, req)
		if err != nil {
			t.Fatal(err)
		}
		if a := read(s); a.err != nil || a.text != fox || a.finish != "stop" || len(b.requests()) != 0 {
			t.Errorf("answer %+v, fallback calls %d", a, len(b.requests()))
		}
		if sp := s.(provider.RoutedStream).Spend(); len(sp) != 1 || !sp[0].Estimated {
			t.Errorf("spends %+v: the cut attempt's usage never came", sp)
		}
	})

	t.Run("an error when nothing can go on", func(t *testing.T) {
		t.Parallel()
		p := &writer{answer: fox, plans: []plan{{cutAfter: 4, err: resetErr()}}}
		b := &writer{answer: fox, plans: []plan{{cutAfter: 2, err: resetErr()}}}
		tg, resolve := pair(p, b, true)
		s, _, err := r.ChatStream(context.Background(), tg, resolve, req)
		if err != nil {
			t.Fatal(err)
		}
		a := read(s)
		if pe, ok := provider.AsError(a.err); !ok || pe.Kind != provider.KindUnavailable || a.finish != "" || a.text != "The quick brown fox" {
			t.Errorf("answer %+v", a)
		}
		if sp := s.(provider.RoutedStream).Spend(); len(sp) != 2 {
			t.Errorf("spends %+v, want both attempts", sp)
		}
	})

	t.Run("retried on the same model without a fallback", func(t *testing.T) {
		t.Parallel()
		r := New(WithSleep((&recorder{}).sleep))
		p := &writer{answer: fox, plans: []plan{{cutAfter: 4, err: resetErr()}, {}}}
		tg := Target{ModelID: "solo", Deployments: []Deployment{{ID: "p", Chat: p, Prefill: true}}}
		s, _, err := r.ChatStream(context.Background(), tg, nil, req)
		if err != nil {
			t.Fatal(err)
		}
		if a := read(s); a.err != nil || a.text != fox || len(p.requests()) != 2 {
			t.Errorf("answer %+v after %d requests", a, len(p.requests()))
		}
	})

	t.Run("several choices are not continued", func(t *testing.T) {
		t.Parallel()
		two := 2
		p := &writer{answer: fox, plans: []plan{{cutAfter: 4, err: resetErr()}}}
		b := &writer{answer: fox, plans: []plan{{}}}
		tg, resolve := pair(p, b, true)
		s, _, err := r.ChatStream(context.Background(), tg, resolve, &provider.ChatRequest{N: &two, Messages: req.Messages})
		if err != nil {
			t.Fatal(err)
		}
		if a := read(s); a.err == nil || len(b.requests()) != 0 {
			t.Errorf("answer %+v, fallback calls %d", a, len(b.requests()))
		}
	})
}

func TestMisconfiguredDeploymentFallsBack(t *testing.T) {
	t.Parallel()
	b := &fake{name: "b", chunks: 1}
	tg := Target{ModelID: "primary", Fallbacks: []string{"backup"},
		Deployments: []Deployment{{ID: "p", Err: errors.New("environment variable OPENAI_API_KEY is not set")}}}
	resolve := func(context.Context, string) (Target, error) { return target("backup", b), nil }
	r := New()
	resp, served, err := r.Chat(context.Background(), tg, resolve, &provider.ChatRequest{})
	if err != nil || resp.ID != "b" || served.ModelID != "backup" || served.Attempts != 1 {
		t.Fatalf("resp %+v served %+v err %v", resp, served, err)
	}
	_, _, err = r.Chat(context.Background(), tg, nil, &provider.ChatRequest{})
	pe, ok := provider.AsError(err)
	if !ok || pe.Kind != provider.KindUnavailable || !errors.Is(err, ErrNoDeployment) || strings.Contains(pe.Message, "OPENAI_API_KEY") {
		t.Errorf("without a fallback: %v (the client's message must not carry the configuration)", err)
	}
}

// TestBudgetLeavesTimeForTheFallback: with a deadline 2 s away, a silent primary is
// given up after about half of it, and the fallback answers in time.
func TestBudgetLeavesTimeForTheFallback(t *testing.T) {
	t.Parallel()
	slow := &fake{name: "slow", blockFirst: true}
	quick := &fake{name: "quick", chunks: 1}
	tg := target("m", slow)
	tg.Fallbacks = []string{"other"}
	resolve := func(context.Context, string) (Target, error) { return target("other", quick), nil }
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s, served, err := New().ChatStream(ctx, tg, resolve, &provider.ChatRequest{})
	if err != nil {
		t.Fatalf("the fallback did not answer within the request's deadline: %v", err)
	}
	if text, err := collect(s); err != nil || text != "quick" || served.ModelID != "other" {
		t.Errorf("text %q err %v served %+v", text, err, served)
	}
}
