// Command train fits the prompt-attack classifier on a JSONL file of {"text","label"} rows
// (label 1 = injection), chooses the LOW/MEDIUM/HIGH thresholds from 5-fold cross-validated
// scores (FPR ≤ 10%, 5% and 1%), and writes the model file that package attack embeds.
//
//	go run ./shared/guardrail/attack/train [-data FILE] -out shared/guardrail/attack/model.json
//
// -data defaults to injection/deepset_prompt_injections_train.jsonl in the third-party
// datasets directory (PLINTH_DATASETS, see docs/datasets.md).
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/plinth-ai/plinth/shared/guardrail/attack"
	"github.com/plinth-ai/plinth/test/datasets"
)

func main() {
	data := flag.String("data", "", "training JSONL (default: injection/deepset_prompt_injections_train.jsonl in $PLINTH_DATASETS)")
	out := flag.String("out", "shared/guardrail/attack/model.json", "model file to write")
	hw := flag.Float64("heuristic-weight", 0.7, "blend weight of the cue heuristics")
	folds := flag.Int("folds", 5, "cross-validation folds")
	epochs := flag.Int("epochs", 10, "training epochs")
	l2 := flag.Float64("l2", 1e-4, "L2 regularisation")
	lr := flag.Float64("lr", 0.1, "Adagrad learning rate")
	flag.Parse()
	if *data == "" {
		p, err := datasets.Path("injection", "deepset_prompt_injections_train.jsonl")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		*data = p
	}
	ex, err := load(*data)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	opt := attack.TrainOptions{Seed: 1, Epochs: *epochs, L2: *l2, LR: *lr}
	extra := attack.BenignExtra()
	cv := attack.CrossValidate(ex, *folds, *hw, opt, extra...)
	tLow, tprLow, _ := attack.ThresholdAtFPR(cv.Scores, cv.Labels, 0.10)
	tMed, tprMed, fprMed := attack.ThresholdAtFPR(cv.Scores, cv.Labels, 0.05)
	tHigh, tprHigh, _ := attack.ThresholdAtFPR(cv.Scores, cv.Labels, 0.01)
	m := attack.Train(append(append([]attack.Example(nil), ex...), extra...), opt)
	m.HeuristicWeight = *hw
	m.Thresholds = attack.Thresholds{Low: tLow, Medium: tMed, High: tHigh}
	m.Meta = map[string]any{
		"data": "deepset/prompt-injections train split", "examples": len(ex), "extra_negatives": len(extra), "folds": *folds,
		"cv_tpr_at_fpr_10": tprLow, "cv_tpr_at_fpr_5": tprMed, "cv_fpr_medium": fprMed, "cv_tpr_at_fpr_1": tprHigh,
	}
	b, err := json.Marshal(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := os.WriteFile(*out, append(b, '\n'), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("examples %d; %d-fold CV: TPR %.3f @FPR≤10%% (thr %.3f), TPR %.3f @FPR≤5%% (thr %.3f), TPR %.3f @FPR≤1%% (thr %.3f)\nwrote %s\n",
		len(ex), *folds, tprLow, tLow, tprMed, tMed, tprHigh, tHigh, *out)
}

func load(path string) ([]attack.Example, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []attack.Example
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var row struct {
			Text  string `json:"text"`
			Label int    `json:"label"`
		}
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, attack.Example{Text: row.Text, Label: row.Label})
	}
	return out, sc.Err()
}
