package eval

import (
	_ "embed"
	"strings"

	"github.com/plinth-ai/plinth/shared/guardrail/textclass"
)

// ContentCategories are the harmful-content labels, in Bedrock's order.
var ContentCategories = []string{"HATE", "INSULTS", "SEXUAL", "VIOLENCE", "MISCONDUCT"}

// ContentSpec is the harmful-content classifier: trained on harmful/*.jsonl and the
// generated rows; thresholds capped at 2%, 0.75% and 0.2% false positives on every benign
// source's calibration rows.
// HATE has an embedding of its own: trained in the shared one, the generated statements
// about groups moved SEXUAL and VIOLENCE below their floors.
func ContentSpec() *Spec {
	return &Spec{Name: "content", FPR: [3]float64{0.02, 0.0075, 0.002},
		Options: textclass.Options{Labels: ContentCategories, Buckets: 1 << 17, Dim: 16, Epochs: 5, LR: 0.5, Seed: 1, Balance: true, Concepts: true,
			Separate: []string{"HATE"}, Auxiliary: true},
		Only: map[string][]string{SyntheticHateSource: {"HATE"}}}
}

// AttackSpec is the prompt-attack classifier: injections from the deepset data against
// its benign rows and the instruction-like benign sources of AttackRows; thresholds capped
// at 3%, 1.5% and 0.3% false positives on every benign source's calibration rows. The
// over-refusal budget on benign text no classifier has seen is 10% at strength HIGH:
// sources held out of training were flagged two to three times as often as the cap, so
// the cap leaves that margin. Five epochs, not eight: with eight, the model fitted the
// wording of the training prompts more closely and flagged more held-out system and role
// prompts (cross-source: 6.2% / 9.4% of system prompts at MEDIUM / HIGH against 0% / 4.7%).
func AttackSpec() *Spec {
	return &Spec{Name: "attack", FPR: [3]float64{0.03, 0.015, 0.003},
		Options: textclass.Options{Labels: []string{"PROMPT_ATTACK"}, Buckets: 1 << 17, Dim: 16, Epochs: 5, LR: 0.5, Seed: 1, Balance: true, Concepts: true, CharGrams: 4}}
}

//go:embed prompts/system_prompts.txt
var systemPrompts string

//go:embed prompts/benign_questions.txt
var benignQuestions string

//go:embed prompts/role_prompts.txt
var rolePrompts string

//go:embed prompts/fabric_patterns.txt
var fabricPatterns string

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

// ContentRows are the harmful-content classifier's data: harmful/*.jsonl and the
// generated rows of SyntheticContentRows.
func ContentRows(dataDir string) ([]Row, error) {
	rows, err := LoadHarmful(dataDir)
	if err != nil {
		return nil, err
	}
	rows = append(rows, SyntheticContentRows(syntheticContentCount, 1)...)
	return append(rows, SyntheticHateRows(syntheticHateCount, 1)...), nil
}

// syntheticContentCount is the number of generated content rows.
const syntheticContentCount = 3000

// syntheticHateCount is the number of generated rows about groups (hate and benign).
const syntheticHateCount = 2000

// syntheticAttackCount is the number of generated rows (half attacks, half look-alikes).
const syntheticAttackCount = 6000

// AttackRows are the prompt-attack classifier's data: the deepset injections and benign
// prompts, and as further benign prompts (none is an attack): the Alpaca instructions,
// the harmful requests and moderation texts of harmful/ (harmful, but no attack on the
// model's instructions), the project's own system/role prompts and questions, and the
// system prompts of fabric's patterns.
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
	rows = append(rows, lines(rolePrompts, "role_prompts")...)
	rows = append(rows, lines(fabricPatterns, "fabric_patterns")...)
	rows = append(rows, SyntheticAttackRows(syntheticAttackCount, 1)...)
	return rows, nil
}
