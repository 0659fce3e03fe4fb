package metrics_test

import (
	"fmt"

	"github.com/plinth-ai/plinth/shared/eval/metrics"
)

func ExampleCorpusBLEU() {
	hyps := []string{"The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."}
	refs := [][]string{
		{"The dog bit the man.", "The dog had bit the man."},
		{"It was not unexpected.", "No one was surprised."},
		{"The man bit him first.", "The man had bitten the dog."},
	}
	score, err := metrics.CorpusBLEU(hyps, refs)
	if err != nil {
		panic(err)
	}
	fmt.Println(score)
	// Output: BLEU = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)
}

func ExampleF1() {
	refs := []string{"10th and 11th centuries", "in the 10th and 11th centuries"}
	fmt.Printf("EM %.0f F1 %.1f\n", 100*metrics.ExactMatch("the 10th and 11th centuries", refs), 100*metrics.F1("10th century", refs))
	// Output: EM 100 F1 33.3
}

func ExampleROUGEScorer_ScoreMulti() {
	sc, _ := metrics.NewROUGEScorer([]string{"rouge1", "rougeL"})
	s := sc.ScoreMulti([]string{"The cat sat on the mat.", "A cat was on the mat."}, "the cat was on the mat")
	fmt.Printf("rouge1 %.4f rougeL %.4f\n", s["rouge1"].FMeasure, s["rougeL"].FMeasure)
	// Output: rouge1 0.8333 rougeL 0.8333
}
