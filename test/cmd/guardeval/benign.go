package main

import (
	"fmt"

	"github.com/plinth-ai/plinth/shared/guardrail/eval"
)

func benignReport(dir string) error {
	sq, err := eval.LoadSquad(dir)
	if err != nil {
		return err
	}
	g := eval.MeasureGrounding(sq, 1)
	fmt.Printf("\nContextual grounding on SQuAD-built pairs (%d; answer = the context sentence holding the gold answer)\n", g.Pairs)
	fmt.Printf("  grounding AUC own paragraph vs other article: %.3f; pass rate at 0.5 %.3f vs %.3f, at 0.7 %.3f vs %.3f\n",
		g.GroundingAUC, g.GroundingAt[0.5][0], g.GroundingAt[0.5][1], g.GroundingAt[0.7][0], g.GroundingAt[0.7][1])
	fmt.Printf("  grounding AUC true statement vs answer swapped for another article's answer: %.3f; swapped pass rate at 0.5 %.3f, at 0.7 %.3f\n",
		g.SubstitutedAUC, g.SubstitutedAt[0.5], g.SubstitutedAt[0.7])
	fmt.Printf("  relevance AUC own question vs other article's: %.3f; pass rate at 0.5 %.3f vs %.3f, at 0.7 %.3f vs %.3f\n",
		g.RelevanceAUC, g.RelevanceAt[0.5][0], g.RelevanceAt[0.5][1], g.RelevanceAt[0.7][0], g.RelevanceAt[0.7][1])
	return nil
}
