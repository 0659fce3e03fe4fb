package router

import (
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/plinth-ai/plinth/shared/provider"
	"github.com/plinth-ai/plinth/shared/provider/openai"
	"github.com/plinth-ai/plinth/shared/provider/providertest"
)

// fake is a scripted deployment: call i fails with errs[i] (nil or past the end: success).
type fake struct {
	name string
	mu   sync.Mutex
	errs []error
	n    int
	// stream behaviour
	chunks     int  // chunks before the end
	blockFirst bool // ChatStream's first Recv waits for cancellation
	blockAfter int  // >0: Recv blocks after this many chunks
	cancelled  chan struct{}
}

func (f *fake) next() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	if f.n-1 < len(f.errs) {
		return f.errs[f.n-1]
	}
	return nil
}

func (f *fake) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}

func (f *fake) Chat(ctx context.Context, req *provider.ChatRequest) (*provider.ChatResponse, error) {
	if err := f.next(); err != nil {
		return nil, err
	}
	return &provider.ChatResponse{ID: f.name, Model: f.name}, nil
}

func (f *fake) Embed(ctx context.Context, req *provider.EmbeddingRequest) (*provider.EmbeddingResponse, error) {
	if err := f.next(); err != nil {
		return nil, err
	}
	return &provider.EmbeddingResponse{Model: f.name}, nil
}

func (f *fake) ChatStream(ctx context.Context, req *provider.ChatRequest) (provider.Stream, error) {
	if err := f.next(); err != nil {
		return nil, err
	}
	return &fakeStream{f: f, ctx: ctx}, nil
}

type fakeStream struct {
	f    *fake
	ctx  context.Context
	sent int
}

func (s *fakeStream) Recv() (*provider.ChatChunk, error) {
	if (s.f.blockFirst && s.sent == 0) || (s.f.blockAfter > 0 && s.sent == s.f.blockAfter) {
		<-s.ctx.Done()
		if s.f.cancelled != nil {
			close(s.f.cancelled)
		}
		return nil, &provider.Error{Kind: provider.KindUnavailable, Provider: "fake", Message: "read interrupted", Err: s.ctx.Err()}
	}
	if s.sent >= s.f.chunks {
		return nil, io.EOF
	}
	s.sent++
	text := s.f.name
	return &provider.ChatChunk{ID: s.f.name, Choices: []provider.ChunkChoice{{Delta: provider.Delta{Content: &text}}}}, nil
}

func (s *fakeStream) Close() error { return nil }

func unavailable() error {
	return &provider.Error{Kind: provider.KindUnavailable, Status: 503, Message: "overloaded"}
}
func limited(d time.Duration) error {
	return &provider.Error{Kind: provider.KindRateLimited, Status: 429, RetryAfter: d, Message: "slow down"}
}
func kindErr(k provider.ErrorKind) error { return &provider.Error{Kind: k, Message: string(k)} }

// recorder is an injected sleep that records waits and returns at once.
type recorder struct {
	mu     sync.Mutex
	sleeps []time.Duration
}

func (r *recorder) sleep(ctx context.Context, d time.Duration) error {
	r.mu.Lock()
	r.sleeps = append(r.sleeps, d)
	r.mu.Unlock()
	return ctx.Err()
}

func fixedRand(v float64) Option { return WithRand(func() float64 { return v }) }

func target(id string, fakes ...*fake) Target {
	t := Target{ModelID: id}
	for _, f := range fakes {
		t.Deployments = append(t.Deployments, Deployment{ID: f.name, Chat: f, Embed: f})
	}
	return t
}

func TestWeightedBalancing(t *testing.T) {
	t.Parallel()
	a, b := &fake{name: "a"}, &fake{name: "b"}
	tg := target("m", a, b)
	tg.Deployments[0].Weight = 3
	tg.Deployments[1].Weight = 1
	k := 0
	r := New(WithRand(func() float64 { k++; return float64(k%1000) / 1000 }))
	for i := 0; i < 1000; i++ {
		if _, _, err := r.Chat(context.Background(), tg, nil, &provider.ChatRequest{}); err != nil {
			t.Fatal(err)
		}
	}
	if a.calls() != 750 || b.calls() != 250 {
		t.Errorf("a=%d b=%d, want 750/250", a.calls(), b.calls())
	}
}

func TestRetries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		errs       []error
		wantSleeps []time.Duration
		wantCalls  int
		wantErr    provider.ErrorKind
	}{
		{"backoff with full jitter", []error{unavailable(), unavailable()}, []time.Duration{100 * time.Millisecond, 200 * time.Millisecond}, 3, ""},
		{"retry-after honoured", []error{limited(time.Second)}, []time.Duration{time.Second}, 2, ""},
		{"retry-after shorter than jitter", []error{limited(time.Millisecond)}, []time.Duration{100 * time.Millisecond}, 2, ""},
		{"exhausted", []error{unavailable(), limited(0), unavailable()}, []time.Duration{100 * time.Millisecond, 200 * time.Millisecond}, 3, provider.KindUnavailable},
		{"a timed-out deployment is not waited for again", []error{unavailable(), kindErr(provider.KindTimeout)}, []time.Duration{100 * time.Millisecond}, 2, provider.KindTimeout},
		{"retry-after too long goes straight on", []error{limited(time.Minute)}, nil, 1, provider.KindRateLimited},
		{"bad request not retried", []error{kindErr(provider.KindBadRequest)}, nil, 1, provider.KindBadRequest},
		{"auth not retried", []error{kindErr(provider.KindAuth)}, nil, 1, provider.KindAuth},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := &fake{name: "a", errs: tt.errs}
			rec := &recorder{}
			r := New(WithSleep(rec.sleep), fixedRand(0.5))
			_, served, err := r.Chat(context.Background(), target("m", f), nil, &provider.ChatRequest{})
			if tt.wantErr == "" && err != nil {
				t.Fatal(err)
			}
			if tt.wantErr != "" {
				if pe, ok := provider.AsError(err); !ok || pe.Kind != tt.wantErr {
					t.Fatalf("err = %v, want %s", err, tt.wantErr)
				}
			}
			if f.calls() != tt.wantCalls || served.Attempts != tt.wantCalls {
				t.Errorf("calls %d attempts %d, want %d", f.calls(), served.Attempts, tt.wantCalls)
			}
			if len(rec.sleeps) != len(tt.wantSleeps) {
				t.Fatalf("sleeps %v, want %v", rec.sleeps, tt.wantSleeps)
			}
			for i := range rec.sleeps {
				if rec.sleeps[i] != tt.wantSleeps[i] {
					t.Errorf("sleeps %v, want %v", rec.sleeps, tt.wantSleeps)
				}
			}
		})
	}
}

func TestRetryMovesToAnotherDeploymentAtOnce(t *testing.T) {
	t.Parallel()
	a := &fake{name: "a", errs: []error{unavailable()}}
	b := &fake{name: "b"}
	rec := &recorder{}
	r := New(WithSleep(rec.sleep), fixedRand(0)) // rand 0 always picks the first candidate
	resp, served, err := r.Chat(context.Background(), target("m", a, b), nil, &provider.ChatRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if resp.ID != "b" || served.DeploymentID != "b" || served.Attempts != 2 || len(rec.sleeps) != 0 {
		t.Errorf("resp %s served %+v sleeps %v", resp.ID, served, rec.sleeps)
	}
}

func TestFallbacks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		primaryErrs  []error
		wantModel    string
		wantAttempts int
		wantErr      provider.ErrorKind
	}{
		{"after retries", []error{unavailable(), unavailable(), unavailable()}, "backup", 4, ""},
		{"on context length without retrying", []error{kindErr(provider.KindContextLength)}, "backup", 2, ""},
		{"on long rate limit", []error{limited(time.Hour)}, "backup", 2, ""},
		{"never on content filter", []error{kindErr(provider.KindContentFilter)}, "primary", 1, provider.KindContentFilter},
		{"never on bad request", []error{kindErr(provider.KindBadRequest)}, "primary", 1, provider.KindBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := &fake{name: "p", errs: tt.primaryErrs}
			b := &fake{name: "b"}
			tg := target("primary", p)
			tg.Fallbacks = []string{"missing", "backup"}
			resolve := func(ctx context.Context, id string) (Target, error) {
				if id == "backup" {
					return target("backup", b), nil
				}
				return Target{}, errors.New("unknown model")
			}
			r := New(WithSleep((&recorder{}).sleep))
			_, served, err := r.Chat(context.Background(), tg, resolve, &provider.ChatRequest{})
			if tt.wantErr != "" {
				if pe, ok := provider.AsError(err); !ok || pe.Kind != tt.wantErr {
					t.Fatalf("err = %v, want %s", err, tt.wantErr)
				}
				if b.calls() != 0 {
					t.Error("fallback was called")
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if served.ModelID != tt.wantModel || served.Attempts != tt.wantAttempts {
				t.Errorf("served %+v, want model %s attempts %d", served, tt.wantModel, tt.wantAttempts)
			}
		})
	}
}

func TestCircuitBreaker(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	f := &fake{name: "a", errs: []error{unavailable(), unavailable(), nil, unavailable(), unavailable(), unavailable()}}
	r := New(WithMaxAttempts(1), WithBreaker(2, 10*time.Second), WithClock(clock))
	tg := target("m", f)
	call := func() error {
		_, _, err := r.Chat(context.Background(), tg, nil, &provider.ChatRequest{})
		return err
	}
	steps := []struct {
		advance   time.Duration
		wantErr   bool
		wantCalls int
		wantState string
	}{
		{0, true, 1, "closed"},
		{0, true, 2, "open"},                   // second consecutive failure opens
		{time.Second, true, 2, "open"},         // open: the upstream is not called
		{10 * time.Second, false, 3, "closed"}, // half-open probe succeeds
		{0, true, 4, "closed"},
		{0, true, 5, "open"},
		{10 * time.Second, true, 6, "open"}, // probe fails: open again
	}
	for i, s := range steps {
		now = now.Add(s.advance)
		err := call()
		if (err != nil) != s.wantErr || f.calls() != s.wantCalls || r.BreakerState("m", "a") != s.wantState {
			t.Fatalf("step %d: err %v calls %d state %s", i, err, f.calls(), r.BreakerState("m", "a"))
		}
		if i == 2 && !errors.Is(err, ErrNoDeployment) {
			t.Fatalf("step %d: err %v, want ErrNoDeployment", i, err)
		}
	}
}

func TestEmbedRouting(t *testing.T) {
	t.Parallel()
	f := &fake{name: "emb", errs: []error{unavailable()}}
	chatOnly := Deployment{ID: "chat", Chat: &fake{name: "chat"}}
	tg := Target{ModelID: "e", Deployments: []Deployment{chatOnly, {ID: "emb", Embed: f}}}
	r := New(WithSleep((&recorder{}).sleep))
	resp, served, err := r.Embed(context.Background(), tg, nil, &provider.EmbeddingRequest{Input: []string{"x"}})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Model != "emb" || served.DeploymentID != "emb" || served.Attempts != 2 {
		t.Errorf("resp %+v served %+v", resp, served)
	}
}

func collect(s provider.Stream) (string, error) {
	defer s.Close()
	var out string
	for {
		c, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		for _, ch := range c.Choices {
			if ch.Delta.Content != nil {
				out += *ch.Delta.Content
			}
		}
	}
}

func TestChatStream(t *testing.T) {
	t.Parallel()
	t.Run("retries before the first chunk", func(t *testing.T) {
		t.Parallel()
		a := &fake{name: "a", errs: []error{unavailable()}, chunks: 2}
		r := New(WithSleep((&recorder{}).sleep))
		s, served, err := r.ChatStream(context.Background(), target("m", a), nil, &provider.ChatRequest{})
		if err != nil {
			t.Fatal(err)
		}
		text, err := collect(s)
		if err != nil || text != "aa" || served.Attempts != 2 {
			t.Errorf("text %q err %v served %+v", text, err, served)
		}
	})
	t.Run("first-token timeout falls back at once", func(t *testing.T) {
		t.Parallel()
		slow := &fake{name: "slow", blockFirst: true}
		quick := &fake{name: "quick", chunks: 1}
		tg := target("m", slow)
		tg.Timeouts.FirstToken = 20 * time.Millisecond
		tg.Fallbacks = []string{"other"}
		resolve := func(context.Context, string) (Target, error) { return target("other", quick), nil }
		r := New(WithSleep((&recorder{}).sleep), WithMaxAttempts(2))
		s, served, err := r.ChatStream(context.Background(), tg, resolve, &provider.ChatRequest{})
		if err != nil {
			t.Fatal(err)
		}
		text, err := collect(s)
		if err != nil || text != "quick" || served.ModelID != "other" || served.Attempts != 2 || slow.calls() != 1 {
			t.Errorf("text %q err %v served %+v slow calls %d", text, err, served, slow.calls())
		}
	})
	t.Run("idle timeout mid-stream", func(t *testing.T) {
		t.Parallel()
		f := &fake{name: "a", chunks: 5, blockAfter: 2}
		tg := target("m", f)
		tg.Timeouts.Idle = 20 * time.Millisecond
		s, _, err := New().ChatStream(context.Background(), tg, nil, &provider.ChatRequest{})
		if err != nil {
			t.Fatal(err)
		}
		text, err := collect(s)
		pe, ok := provider.AsError(err)
		if text != "aa" || !ok || pe.Kind != provider.KindTimeout {
			t.Errorf("text %q err %v", text, err)
		}
	})
	t.Run("client cancel reaches the upstream", func(t *testing.T) {
		t.Parallel()
		f := &fake{name: "a", chunks: 5, blockAfter: 1, cancelled: make(chan struct{})}
		ctx, cancel := context.WithCancel(context.Background())
		s, _, err := New().ChatStream(ctx, target("m", f), nil, &provider.ChatRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Recv(); err != nil {
			t.Fatal(err)
		}
		errc := make(chan error, 1)
		go func() { _, err := s.Recv(); errc <- err }()
		cancel()
		<-f.cancelled
		if err := <-errc; err == nil {
			t.Error("Recv after cancel succeeded")
		}
		s.Close()
	})
	t.Run("empty stream is a failure", func(t *testing.T) {
		t.Parallel()
		f := &fake{name: "a", chunks: 0}
		_, _, err := New(WithMaxAttempts(1)).ChatStream(context.Background(), target("m", f), nil, &provider.ChatRequest{})
		if pe, ok := provider.AsError(err); !ok || pe.Kind != provider.KindUnavailable {
			t.Errorf("err = %v", err)
		}
	})
}

func TestTotalTimeout(t *testing.T) {
	t.Parallel()
	srv := providertest.NewOpenAIServer(providertest.WithLatency(2 * time.Second))
	defer srv.Close()
	tg := Target{ModelID: "m", Deployments: []Deployment{{ID: "slow", Chat: openai.New(srv.BaseURL(), "m", "")}}, Timeouts: Timeouts{Total: 30 * time.Millisecond}}
	_, served, err := New(WithMaxAttempts(2), WithSleep((&recorder{}).sleep)).Chat(context.Background(), tg, nil, &provider.ChatRequest{Messages: []provider.Message{{Role: "user", Content: provider.TextContent("hi")}}})
	// The only deployment timed out: it is not called again for this request.
	if pe, ok := provider.AsError(err); !ok || pe.Kind != provider.KindTimeout || served.Attempts != 1 || srv.Requests() != 1 {
		t.Errorf("err = %v served %+v upstream requests %d", err, served, srv.Requests())
	}
}

// TestOverOpenAIUpstream drives the router over the real HTTP adapter and the fake
// upstream: a 429 with retry-after-ms, then success.
func TestOverOpenAIUpstream(t *testing.T) {
	t.Parallel()
	srv := providertest.NewOpenAIServer(providertest.FailFirst(providertest.RateLimited(700*time.Millisecond)), providertest.WithReply("ok then"))
	defer srv.Close()
	rec := &recorder{}
	r := New(WithSleep(rec.sleep), fixedRand(0.5))
	tg := Target{ModelID: "gpt", Deployments: []Deployment{{ID: "openai", Chat: openai.New(srv.BaseURL(), "gpt-4o-mini", "k")}}}
	s, served, err := r.ChatStream(context.Background(), tg, nil, &provider.ChatRequest{Messages: []provider.Message{{Role: "user", Content: provider.TextContent("hi")}}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var text string
	for {
		c, err := s.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, ch := range c.Choices {
			if ch.Delta.Content != nil {
				text += *ch.Delta.Content
			}
		}
	}
	if text != "ok then" || served.Attempts != 2 || len(rec.sleeps) != 1 || rec.sleeps[0] != 700*time.Millisecond {
		t.Errorf("text %q served %+v sleeps %v", text, served, rec.sleeps)
	}
}

func TestTimeoutDefaults(t *testing.T) {
	t.Parallel()
	r := New(WithDefaultTimeouts(Timeouts{FirstToken: time.Second, Idle: -1, Total: time.Minute}))
	tests := []struct {
		name string
		in   Timeouts
		want Timeouts
	}{
		{"all defaulted", Timeouts{}, Timeouts{FirstToken: time.Second, Total: time.Minute}},
		{"target wins", TimeoutsFromMillis(50, 20, 1000), Timeouts{FirstToken: 50 * time.Millisecond, Idle: 20 * time.Millisecond, Total: time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := r.withDefaults(tt.in); got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestObserver(t *testing.T) {
	t.Parallel()
	var seen []Attempt
	r := New(WithSleep((&recorder{}).sleep), WithObserver(func(a Attempt) { seen = append(seen, a) }))
	f := &fake{name: "a", errs: []error{unavailable()}}
	if _, _, err := r.Chat(context.Background(), target("m", f), nil, &provider.ChatRequest{}); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 2 || seen[0].Err == nil || seen[1].Err != nil || seen[0].ModelID != "m" || seen[1].DeploymentID != "a" {
		t.Errorf("attempts %+v", seen)
	}
}
