package metrics

import (
	"encoding/json"
	"math"
	"os"
	"testing"
)

// testdata/reference_scores.json holds 300 (prediction, references) pairs built from
// real SQuAD v2 text (gold answers perturbed: words dropped, added, swapped, upper-cased,
// punctuated, emptied, or a context sentence instead) and 40 corpora drawn from them,
// scored by CPython running the reference logic: the official SQuAD v2.0
// evaluate-v2.0.py functions, rouge-score's tokenizer, n-gram and LCS scoring with
// score_multi, and sacreBLEU 2.x's 13a tokenizer, segment statistics and compute_bleu.
func TestMetricsMatchReferenceScores(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("testdata/reference_scores.json")
	if err != nil {
		t.Fatal(err)
	}
	var golden struct {
		Items []struct {
			Pred         string     `json:"pred"`
			Answers      []string   `json:"answers"`
			EM           float64    `json:"em"`
			F1           float64    `json:"f1"`
			RefsROUGE    []string   `json:"rouge_refs"`
			ROUGE1       [3]float64 `json:"rouge1"`
			ROUGE2       [3]float64 `json:"rouge2"`
			ROUGEL       [3]float64 `json:"rougeL"`
			SentenceBLEU *float64   `json:"sentence_bleu"`
		} `json:"items"`
		Corpora []struct {
			Hyps []string   `json:"hyps"`
			Refs [][]string `json:"refs"`
			BLEU float64    `json:"bleu"`
		} `json:"corpora"`
	}
	if err := json.Unmarshal(b, &golden); err != nil {
		t.Fatal(err)
	}
	if len(golden.Items) != 300 || len(golden.Corpora) < 30 {
		t.Fatalf("golden file has %d items and %d corpora", len(golden.Items), len(golden.Corpora))
	}
	sc, _ := NewROUGEScorer([]string{"rouge1", "rouge2", "rougeL"})
	close := func(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }
	for i, c := range golden.Items {
		if got := ExactMatch(c.Pred, c.Answers); got != c.EM {
			t.Errorf("item %d EM(%q, %q) = %v, reference %v", i, c.Pred, c.Answers, got, c.EM)
		}
		if got := F1(c.Pred, c.Answers); !close(got, c.F1) {
			t.Errorf("item %d F1(%q, %q) = %v, reference %v", i, c.Pred, c.Answers, got, c.F1)
		}
		r := sc.ScoreMulti(c.RefsROUGE, c.Pred)
		for name, want := range map[string][3]float64{"rouge1": c.ROUGE1, "rouge2": c.ROUGE2, "rougeL": c.ROUGEL} {
			g := r[name]
			if !close(g.Precision, want[0]) || !close(g.Recall, want[1]) || !close(g.FMeasure, want[2]) {
				t.Errorf("item %d %s(%q, %q) = %+v, reference %v", i, name, c.Pred, c.RefsROUGE, g, want)
			}
		}
		if c.SentenceBLEU != nil {
			got, err := SentenceBLEU(c.Pred, c.RefsROUGE)
			if err != nil || !close(got.Score, *c.SentenceBLEU) {
				t.Errorf("item %d sentence BLEU(%q, %q) = %v (%v), reference %v", i, c.Pred, c.RefsROUGE, got.Score, err, *c.SentenceBLEU)
			}
		}
	}
	for i, c := range golden.Corpora {
		got, err := CorpusBLEU(c.Hyps, c.Refs)
		if err != nil || !close(got.Score, c.BLEU) {
			t.Errorf("corpus %d BLEU = %v (%v), reference %v", i, got.Score, err, c.BLEU)
		}
	}
}
