package main

import (
	"fmt"

	"github.com/plinth-ai/plinth/shared/guardrail/eval"
)

func attackReport(dir string) error {
	ex, err := eval.LoadInjection(dir)
	if err != nil {
		return err
	}
	sq, err := eval.LoadSquad(dir)
	if err != nil {
		return err
	}
	r, err := eval.MeasureAttack(ex, sq.Questions(), 5)
	if err != nil {
		return err
	}
	fmt.Printf("\nPrompt attacks (deepset, %d rows, %d-fold stratified CV, out-of-fold scores)\n", len(ex), r.Folds)
	fmt.Printf("  TPR @ FPR≤10%%: %.3f   TPR @ FPR≤5%%: %.3f (FPR %.3f)   TPR @ FPR≤1%%: %.3f\n", r.TPRAtFPR10, r.TPRAtFPR5, r.FPRAtFPR5, r.TPRAtFPR1)
	fmt.Printf("  embedded thresholds low/medium/high = %.3f/%.3f/%.3f; CV TPR %.3f, FPR %.3f at the MEDIUM threshold\n",
		r.Thresholds.Low, r.Thresholds.Medium, r.Thresholds.High, r.CVTPRAtEmbeddedMedium, r.CVFPRAtEmbeddedMedium)
	fmt.Printf("  SQuAD questions (%d), false-positive rate by filter strength: LOW %.4f  MEDIUM %.4f  HIGH %.4f\n",
		r.SquadQuestions, r.SquadFPR["LOW"], r.SquadFPR["MEDIUM"], r.SquadFPR["HIGH"])
	return nil
}

func benignReport(dir string) error {
	sq, err := eval.LoadSquad(dir)
	if err != nil {
		return err
	}
	texts := append(sq.Contexts(), sq.Questions()...)
	c := eval.MeasureContentOnBenign(texts)
	fmt.Printf("\nHarmful-content filters on benign text (%d SQuAD paragraphs and questions): any category at LOW+ %.4f, MEDIUM+ %.4f, HIGH %.4f; MEDIUM+ by category %v\n",
		c.Texts, c.AtLeastLow, c.AtLeastMedium, c.High, c.ByCategory)
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
