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
