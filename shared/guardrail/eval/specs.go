package eval

import (
	_ "embed"
	"strings"

	"github.com/plinth-ai/plinth/shared/guardrail/textclass"
)

// ContentCategories are the harmful-content labels, in Bedrock's order.
var ContentCategories = []string{"HATE", "INSULTS", "SEXUAL", "VIOLENCE", "MISCONDUCT"}

// ContentSpec is the harmful-content classifier: trained on harmful/*.jsonl; thresholds
// capped at 2%, 0.75% and 0.2% false positives on every benign source's calibration rows.
func ContentSpec() *Spec {
	return &Spec{Name: "content", FPR: [3]float64{0.02, 0.0075, 0.002},
		Options: textclass.Options{Labels: ContentCategories, Buckets: 1 << 17, Dim: 16, Epochs: 5, LR: 0.5, Seed: 1, Balance: true, Concepts: true}}
}

// AttackSpec is the prompt-attack classifier: injections from the deepset data against
// its benign rows and the instruction-like benign sources of AttackRows; thresholds capped
// at 4%, 1.5% and 0.3% false positives on every benign source's calibration rows.
func AttackSpec() *Spec {
	return &Spec{Name: "attack", FPR: [3]float64{0.04, 0.015, 0.003},
		Options: textclass.Options{Labels: []string{"PROMPT_ATTACK"}, Buckets: 1 << 17, Dim: 16, Epochs: 8, LR: 0.5, Seed: 1, Balance: true, Concepts: true}}
}

//go:embed prompts/system_prompts.txt
var systemPrompts string

//go:embed prompts/benign_questions.txt
var benignQuestions string

func lines(src, source string) []Row {
	var out []Row
	for _, l := range strings.Split(src, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		out = append(out, Row{Text: l, Source: source})
	}
	return out
}

// ContentRows are the harmful-content classifier's data: harmful/*.jsonl.
func ContentRows(dataDir string) ([]Row, error) { return LoadHarmful(dataDir) }

// AttackRows are the prompt-attack classifier's data: the deepset injections and benign
// prompts, and as further benign prompts (none is an attack): the Alpaca instructions,
// the harmful requests and moderation texts of harmful/ (harmful, but no attack on the
// model's instructions), and the project's own system/role prompts and questions.
func AttackRows(dataDir string) ([]Row, error) {
	rows, err := LoadInjectionRows(dataDir)
	if err != nil {
		return nil, err
	}
	harm, err := LoadHarmful(dataDir)
	if err != nil {
		return nil, err
	}
	for _, r := range harm {
		if r.Source == "davidson_hate_offensive" {
			continue // tweets add little about instructions and would triple the training time
		}
		rows = append(rows, r)
	}
	rows = append(rows, lines(systemPrompts, "system_prompts")...)
	rows = append(rows, lines(benignQuestions, "benign_questions")...)
	return rows, nil
}
