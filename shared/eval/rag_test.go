package eval

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/plinth-ai/plinth/shared/eval/metrics"
	"github.com/plinth-ai/plinth/shared/flow"
	"github.com/plinth-ai/plinth/shared/provider"
)

type fakeRetriever struct{ calls []string }

func (f *fakeRetriever) Retrieve(_ context.Context, tenant, kb, query string, topK int) ([]string, error) {
	f.calls = append(f.calls, tenant+"/"+kb)
	if topK != 2 {
		return nil, errors.New("unexpected top_k")
	}
	return []string{"Bananas are rich in potassium.", "Rollo was a Viking leader who became the first ruler of Normandy."}, nil
}

// wordEmbedder maps texts to bag-of-known-words vectors.
type wordEmbedder struct{}

func (wordEmbedder) Embed(_ context.Context, texts []string) ([][]float32, error) {
	vocab := []string{"rollo", "normandy", "ruler", "viking"}
	out := make([][]float32, len(texts))
	for i, t := range texts {
		v := make([]float32, len(vocab))
		for j, w := range vocab {
			if strings.Contains(strings.ToLower(t), w) {
				v[j] = 1
			}
		}
		out[i] = v
	}
	return out, nil
}

func TestRAGTargetMetrics(t *testing.T) {
	t.Parallel()
	var prompts []string
	target := TargetFunc(func(_ context.Context, _ string, req *provider.ChatRequest) (*provider.ChatResponse, error) {
		prompts = append(prompts, req.Messages[len(req.Messages)-1].Content.String())
		return reply(req.Model, "Rollo was the first ruler of Normandy [2]. He liked bananas [1].", 10, 10), nil
	})
	ret := &fakeRetriever{}
	svc, h, _, _ := newTestService(t, target, WithRetriever(ret), WithEmbedder(wordEmbedder{}))
	ctx := context.Background()
	su := Suite{
		Tenant: "acme", ID: "rag",
		Dataset: Dataset{Items: []Item{{ID: "r1", Input: "Who was the first ruler of Normandy?", References: []string{"Rollo, a Viking leader"},
			Contexts: []string{"Rollo was a Viking leader who became the first ruler of Normandy.", "Normandy is a region in France."}}}},
		Target:     TargetSpec{Model: "m", KnowledgeBase: "docs", TopK: 2},
		Metrics:    []string{"f1", "embedding_similarity", "context_precision", "context_recall", "faithfulness", "citation_precision"},
		Thresholds: map[string]float64{"faithfulness": 0.9, "f1": 10},
	}
	if _, err := svc.CreateSuite(ctx, su); err != nil {
		t.Fatal(err)
	}
	run, err := svc.StartRun(ctx, "", "rag", 0)
	if err != nil {
		t.Fatal(err)
	}
	if e := h.wait(t, run.ExecutionID); e.Status != flow.StatusSucceeded {
		t.Fatalf("execution %s %s", e.Status, e.Cause)
	}
	got, _ := svc.GetRun(ctx, run.ID)
	if len(ret.calls) != 1 || ret.calls[0] != "acme/docs" {
		t.Fatalf("retriever calls %v", ret.calls)
	}
	if !strings.Contains(prompts[0], "[2] Rollo was a Viking leader") {
		t.Fatalf("prompt lacks retrieved contexts: %q", prompts[0])
	}
	retrieved := []string{"Bananas are rich in potassium.", "Rollo was a Viking leader who became the first ruler of Normandy."}
	answer := "Rollo was the first ruler of Normandy [2]. He liked bananas [1]."
	cp, _ := metrics.ContextPrecision(retrieved, su.Dataset.Items[0].Contexts, metrics.RAGOptions{})
	cr, _ := metrics.ContextRecall(retrieved, su.Dataset.Items[0].Contexts, metrics.RAGOptions{})
	fa, _ := metrics.Faithfulness(answer, retrieved, metrics.RAGOptions{})
	ci, _ := metrics.CitationPrecision(answer, retrieved, metrics.RAGOptions{})
	es, _ := metrics.EmbeddingSimilarity(ctx, wordEmbedder{}, answer, su.Dataset.Items[0].References)
	want := map[string]float64{"context_precision": cp, "context_recall": cr, "faithfulness": fa, "citation_precision": ci, "embedding_similarity": es}
	for k, w := range want {
		if v, ok := got.Metrics[k]; !ok || math.Abs(v-w) > 1e-12 {
			t.Errorf("%s = %v (%v), want %v", k, v, ok, w)
		}
	}
	// The fixture is chosen so every RAG metric is strictly between 0 and 1.
	if cp != 0.5 || cr != 0.5 || fa != 0.5 || ci != 0.5 || es <= 0 || es >= 1 {
		t.Fatalf("fixture drifted: cp %v cr %v fa %v ci %v es %v", cp, cr, fa, ci, es)
	}
	if got.Passed == nil || *got.Passed || len(got.ThresholdFailures) != 1 || got.ThresholdFailures[0].Metric != "faithfulness" {
		t.Fatalf("thresholds: passed %v failures %+v", got.Passed, got.ThresholdFailures)
	}
	items, _ := svc.RunItems(ctx, run.ID)
	if len(items[0].Retrieved) != 2 {
		t.Fatalf("retrieved contexts not stored: %+v", items[0])
	}
}

func TestSuiteNeedsConfiguredPorts(t *testing.T) {
	t.Parallel()
	svc, _, _, _ := newTestService(t, newFakeTarget(nil))
	ctx := context.Background()
	base := Suite{Tenant: "acme", ID: "x", Dataset: Dataset{URI: "blob://d.jsonl"}, Target: TargetSpec{Model: "m"}}
	kb := base
	kb.Target.KnowledgeBase = "docs"
	emb := base
	emb.Metrics = []string{"embedding_similarity"}
	for _, su := range []Suite{kb, emb} {
		if _, err := svc.CreateSuite(ctx, su); !errors.Is(err, ErrInvalid) {
			t.Fatalf("suite %+v accepted without the port: %v", su.Target, err)
		}
	}
}
