// Command guardtrain trains the guardrail's classifiers and writes their model files:
// the harmful-content classifier (shared/guardrail/content/model.bin) and the prompt-attack
// classifier (shared/guardrail/attack/model.bin). Each is fitted on the training split of
// its data, its LOW/MEDIUM/HIGH thresholds are chosen on the calibration split, and the
// test split is left for guardeval. The same data give the same files byte for byte.
//
//	go run ./test/cmd/guardtrain [-only content|attack]
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/plinth-ai/plinth/shared/guardrail/eval"
)

func main() {
	only := flag.String("only", "", "train just this model (content or attack)")
	contentOut := flag.String("content", "shared/guardrail/content/model.bin", "content model file to write")
	attackOut := flag.String("attack", "shared/guardrail/attack/model.bin", "prompt-attack model file to write")
	flag.Parse()
	dir, err := eval.DataDir()
	if err != nil {
		fail(err)
	}
	for _, job := range []struct {
		spec *eval.Spec
		rows func(string) ([]eval.Row, error)
		out  string
	}{{eval.ContentSpec(), eval.ContentRows, *contentOut}, {eval.AttackSpec(), eval.AttackRows, *attackOut}} {
		if *only != "" && *only != job.spec.Name {
			continue
		}
		rows, err := job.rows(dir)
		if err != nil {
			fail(err)
		}
		t0 := time.Now()
		m := job.spec.Fit(rows)
		b, err := m.MarshalBinary()
		if err != nil {
			fail(err)
		}
		if err := os.WriteFile(job.out, b, 0o644); err != nil {
			fail(err)
		}
		fmt.Printf("%s: %d rows, trained and calibrated in %v, wrote %s (%d bytes)\n", job.spec.Name, len(rows), time.Since(t0).Round(time.Millisecond), job.out, len(b))
		for l, label := range m.Labels {
			t := m.Thresholds[l]
			fmt.Printf("  %-14s thresholds LOW %.4f  MEDIUM %.4f  HIGH %.4f\n", label, t.Low, t.Medium, t.High)
		}
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
