package topics

import (
	"context"
	"errors"
	"testing"

	"github.com/plinth-ai/plinth/shared/provider"
)

var medical = Topic{Name: "Medical advice", Definition: "Diagnosing illnesses or recommending medication, doses or treatments for a person's symptoms.",
	Examples: []string{"What medicine should I take for my headache?", "How many ibuprofen can I take a day?", "Do I have the flu?"}}

func TestLexicalMatch(t *testing.T) {
	m, err := New(context.Background(), []Topic{medical})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		text string
		want bool
	}{
		{"What medicine should I take for a headache?", true},
		{"I had a long week. How many ibuprofen can I take in a day? Thanks.", true},
		{"Recommend a medication dose for my symptoms please.", true},
		{"What is the best hiking trail near Zurich?", false},
		{"Explain how a transistor works.", false},
	}
	for _, tc := range tests {
		s, err := m.Match(context.Background(), tc.text)
		if err != nil {
			t.Fatal(err)
		}
		if s[0].Matched != tc.want {
			t.Errorf("%q: score %.3f matched=%v, want %v", tc.text, s[0].Score, s[0].Matched, tc.want)
		}
	}
}

// fixedEmbedder maps texts to vectors by a keyword, standing in for a semantic model.
type fixedEmbedder struct{ err error }

func (f fixedEmbedder) Embed(_ context.Context, texts []string) ([][]float32, error) {
	if f.err != nil {
		return nil, f.err
	}
	out := make([][]float32, len(texts))
	for i, t := range texts {
		out[i] = []float32{0, 1}
		for _, w := range []string{"medic", "ibuprofen", "flu", "pill", "doctor"} {
			if contains(t, w) {
				out[i] = []float32{1, 0}
			}
		}
	}
	return out, nil
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func TestEmbedderAddsSemanticMatch(t *testing.T) {
	ctx := context.Background()
	text := "Should I ask my doctor about those pills?"
	lex, _ := New(ctx, []Topic{medical})
	s, _ := lex.Match(ctx, text)
	if s[0].Matched {
		t.Fatalf("lexical alone matched (score %.3f); the test needs a paraphrase", s[0].Score)
	}
	sem, err := New(ctx, []Topic{medical}, WithEmbedder(fixedEmbedder{}))
	if err != nil {
		t.Fatal(err)
	}
	s, err = sem.Match(ctx, text)
	if err != nil || !s[0].Matched {
		t.Fatalf("with embedder: %v %+v", err, s)
	}
	boom := errors.New("boom")
	if _, err := New(ctx, []Topic{medical}, WithEmbedder(fixedEmbedder{err: boom})); !errors.Is(err, boom) {
		t.Fatalf("embedder error not returned: %v", err)
	}
}

type fakeModel struct{ dims int }

func (f fakeModel) Embed(_ context.Context, req *provider.EmbeddingRequest) (*provider.EmbeddingResponse, error) {
	resp := &provider.EmbeddingResponse{Model: req.Model}
	for i := len(req.Input) - 1; i >= 0; i-- { // out of order on purpose
		v := make([]float32, f.dims)
		v[len(req.Input[i])%f.dims] = 1
		resp.Data = append(resp.Data, provider.Embedding{Index: i, Embedding: v})
	}
	return resp, nil
}

func TestProviderEmbedder(t *testing.T) {
	e := ProviderEmbedder{Model: fakeModel{dims: 4}, Name: "local-embed"}
	vs, err := e.Embed(context.Background(), []string{"a", "bb", "ccc"})
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 3 || vs[1][2] != 1 || vs[2][3] != 1 {
		t.Fatalf("vectors = %v", vs)
	}
}

func TestSemanticMatchWithoutAModel(t *testing.T) {
	ctx := context.Background()
	m, err := New(ctx, []Topic{medical})
	if err != nil {
		t.Fatal(err)
	}
	// No word of these is in the topic's definition or examples.
	for _, text := range []string{"What dosage of paracetamol is right for my son?", "Which drug should I use against my migraine?"} {
		s, err := m.Match(ctx, text)
		if err != nil {
			t.Fatal(err)
		}
		if !s[0].Matched {
			t.Errorf("%q: score %.3f, want a match", text, s[0].Score)
		}
	}
	for _, text := range []string{"Write a short poem about autumn.", "How do I reset my router?", "Plan a three-day trip to Kyoto."} {
		s, _ := m.Match(ctx, text)
		if s[0].Matched {
			t.Errorf("%q: score %.3f, want no match", text, s[0].Score)
		}
	}
}

// offsetEmbedder is a model under which every text is fairly similar to every other
// (cosine about 0.6), and texts naming a medicine word closer still: raw cosines would
// match everything at the default threshold.
type offsetEmbedder struct{}

func (offsetEmbedder) Embed(_ context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, t := range texts {
		v := []float32{1, 0.3, 0}
		for _, w := range []string{"medic", "ibuprofen", "flu", "pill", "doctor", "dose"} {
			if contains(t, w) {
				v = []float32{1, 0.3, 1.2}
			}
		}
		out[i] = v
	}
	return out, nil
}

func TestEmbeddingScoresAreCalibratedAgainstOrdinaryRequests(t *testing.T) {
	ctx := context.Background()
	m, err := New(ctx, []Topic{medical}, WithEmbedder(offsetEmbedder{}))
	if err != nil {
		t.Fatal(err)
	}
	on, _ := m.Match(ctx, "Should I ask my doctor about those pills?")
	off, _ := m.Match(ctx, "Can you recommend a film for tonight?")
	if !on[0].Matched || off[0].Matched {
		t.Fatalf("on-topic %.3f (want match), off-topic %.3f (want none)", on[0].Score, off[0].Score)
	}
	c := calibration{floor: 0.5, ceil: 0.9}
	if c.score(0.5) >= DefaultThreshold || c.score(0.54) != DefaultThreshold || c.score(0.9) != 1 || c.score(0.7) <= DefaultThreshold {
		t.Errorf("calibration: %v %v %v %v", c.score(0.5), c.score(0.54), c.score(0.9), c.score(0.7))
	}
}
