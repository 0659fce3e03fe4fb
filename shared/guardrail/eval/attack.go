package eval

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/plinth-ai/plinth/shared/guardrail/attack"
)

// LoadInjection reads injection/deepset_prompt_injections_train.jsonl.
func LoadInjection(dataDir string) ([]attack.Example, error) {
	path := filepath.Join(dataDir, "injection", "deepset_prompt_injections_train.jsonl")
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

// SquadDoc is the subset of SQuAD v2 used here.
type SquadDoc struct {
	Data []struct {
		Title      string `json:"title"`
		Paragraphs []struct {
			Context string `json:"context"`
			QAs     []struct {
				Question string `json:"question"`
				Answers  []struct {
					Text string `json:"text"`
				} `json:"answers"`
				Impossible bool `json:"is_impossible"`
			} `json:"qas"`
		} `json:"paragraphs"`
	} `json:"data"`
}

// LoadSquad reads squad/dev-v2.0-first5articles.json.
func LoadSquad(dataDir string) (*SquadDoc, error) {
	var d SquadDoc
	return &d, readJSON(filepath.Join(dataDir, "squad", "dev-v2.0-first5articles.json"), &d)
}

// Questions lists every question.
func (d *SquadDoc) Questions() []string {
	var out []string
	for _, a := range d.Data {
		for _, p := range a.Paragraphs {
			for _, q := range p.QAs {
				out = append(out, q.Question)
			}
		}
	}
	return out
}

// AttackReport holds the prompt-attack measurements.
type AttackReport struct {
	Folds                 int
	TPRAtFPR5, FPRAtFPR5  float64
	TPRAtFPR1, TPRAtFPR10 float64
	Thresholds            attack.Thresholds
	SquadQuestions        int
	SquadFPR              map[string]float64 // by strength LOW/MEDIUM/HIGH, embedded model
	CVTPRAtEmbeddedMedium float64
	CVFPRAtEmbeddedMedium float64
}

// MeasureAttack cross-validates the classifier on the injection data (k folds, same
// training options and heuristic weight as the embedded model) and measures the embedded
// model's false-positive rate on SQuAD questions per filter strength.
func MeasureAttack(examples []attack.Example, questions []string, k int) (AttackReport, error) {
	m, err := attack.Default()
	if err != nil {
		return AttackReport{}, err
	}
	cv := attack.CrossValidate(examples, k, m.HeuristicWeight, attack.TrainOptions{Seed: 1}, attack.BenignExtra()...)
	rep := AttackReport{Folds: k, Thresholds: m.Thresholds, SquadQuestions: len(questions), SquadFPR: map[string]float64{}}
	_, rep.TPRAtFPR5, rep.FPRAtFPR5 = attack.ThresholdAtFPR(cv.Scores, cv.Labels, 0.05)
	_, rep.TPRAtFPR1, _ = attack.ThresholdAtFPR(cv.Scores, cv.Labels, 0.01)
	_, rep.TPRAtFPR10, _ = attack.ThresholdAtFPR(cv.Scores, cv.Labels, 0.10)
	var tp, fp, pos, neg int
	for i, s := range cv.Scores {
		if cv.Labels[i] == 1 {
			pos++
			if s >= m.Thresholds.Medium {
				tp++
			}
		} else {
			neg++
			if s >= m.Thresholds.Medium {
				fp++
			}
		}
	}
	rep.CVTPRAtEmbeddedMedium = float64(tp) / float64(max(1, pos))
	rep.CVFPRAtEmbeddedMedium = float64(fp) / float64(max(1, neg))
	sc := attack.Scorer{M: m}
	counts := map[string]int{}
	for _, q := range questions {
		p, _ := sc.Score(q)
		// Bedrock semantics: strength HIGH blocks LOW+ confidence, MEDIUM blocks MEDIUM+,
		// LOW blocks HIGH only.
		if p >= m.Thresholds.Low {
			counts["HIGH"]++
		}
		if p >= m.Thresholds.Medium {
			counts["MEDIUM"]++
		}
		if p >= m.Thresholds.High {
			counts["LOW"]++
		}
	}
	for _, s := range []string{"LOW", "MEDIUM", "HIGH"} {
		rep.SquadFPR[s] = float64(counts[s]) / float64(max(1, len(questions)))
	}
	return rep, nil
}
