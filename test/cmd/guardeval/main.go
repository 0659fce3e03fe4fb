// Command guardeval prints the guardrail detectors' measured quality on the third-party
// development data: PII span P/R/F1 per type and Presidio's recognizer cases; for the
// harmful-content and prompt-attack classifiers, precision and recall per category and
// filter strength on the held-back test split of every source, cross-source figures
// (a model fitted without a source, measured on it) and over-refusal on a benign set no
// classifier was trained on; denied topics on paraphrases; grounding and relevance.
//
//	go run ./test/cmd/guardeval [-data DIR] [-v] [-cross=true]
package main

import (
	"flag"
	"fmt"
	"os"
	"sort"

	"github.com/plinth-ai/plinth/shared/guardrail/eval"
	"github.com/plinth-ai/plinth/shared/guardrail/pii"
)

func main() {
	dataFlag := flag.String("data", "", "third-party datasets directory (default: $PLINTH_DATASETS, else ../shared/data beside the repository)")
	verbose := flag.Bool("v", false, "list failing cases")
	cross := flag.Bool("cross", true, "also fit the cross-source models (about a minute)")
	flag.Parse()
	dir := *dataFlag
	if dir == "" {
		d, err := eval.DataDir()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		dir = d
	}
	if err := run(dir, *verbose, *cross); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(dir string, verbose, cross bool) error {
	synth, err := eval.LoadSynth(dir)
	if err != nil {
		return err
	}
	rep := eval.EvaluateSynth(synth, pii.All)
	fmt.Println("PII on presidio_synth_dev.json (span P/R/F1; exact boundaries | overlapping)")
	fmt.Printf("%-42s %5s %5s %5s  %6s %6s %6s | %6s %6s %6s\n", "type", "TP", "FP", "FN", "P", "R", "F1", "P", "R", "F1")
	var types []string
	for t := range rep.Exact {
		types = append(types, t)
	}
	sort.Strings(types)
	for _, t := range types {
		e, o := rep.Exact[t], rep.Overlap[t]
		if o == nil {
			o = &eval.PRF{}
		}
		fmt.Printf("%-42s %5d %5d %5d  %6.3f %6.3f %6.3f | %6.3f %6.3f %6.3f\n", t, e.TP, e.FP, e.FN,
			e.Precision(), e.Recall(), e.F1(), o.Precision(), o.Recall(), o.F1())
	}
	if verbose {
		for _, e := range rep.Errors {
			fmt.Println("   ", e)
		}
	}
	cases, err := eval.LoadRecognizerCases(dir)
	if err != nil {
		return err
	}
	res := eval.EvaluateCases(cases, pii.All)
	fmt.Println("\nPresidio recognizer cases (positives found exactly; negatives where the type fired / any type fired)")
	types = types[:0]
	for t := range res {
		types = append(types, t)
	}
	sort.Strings(types)
	for _, t := range types {
		r := res[t]
		fmt.Printf("%-42s positives %3d/%3d  negatives fired %d/%d (any type %d)\n", t, r.PositivesFound, r.Positives, len(r.NegativeFired), r.Negatives, len(r.NegativeAnyFired))
		if verbose {
			for _, s := range r.NegativeFired {
				fmt.Printf("    NEG FIRED: %s\n", s)
			}
			for _, s := range r.NegativeAnyFired {
				fmt.Printf("    neg any:   %s\n", s)
			}
			for _, s := range r.Missed {
				fmt.Printf("    missed:    %s\n", s)
			}
		}
	}
	if err := classifierReport(dir, cross); err != nil {
		return err
	}
	return benignReport(dir)
}
