package eval

import (
	_ "embed"
	"strings"

	"github.com/plinth-ai/plinth/shared/guardrail/textclass"
)

//go:embed prompts/instructions_heldout.txt
var instructionsHeldout string

//go:embed prompts/hate_heldout.txt
var hateHeldout string

// HeldoutInstructions are benign instruction-like prompts (system prompts, role and "act
// as" requests, translation, summarisation and format tasks, in seven languages) that no
// classifier trains, calibrates or is tuned on: they were written before the training
// data they test was extended. Over-refusal on them is reported, never fitted.
func HeldoutInstructions() []string {
	var out []string
	for _, r := range lines(instructionsHeldout, "instructions_heldout") {
		out = append(out, r.Text)
	}
	return out
}

// HeldoutHate are statements about groups of people that no classifier trains or is
// tuned on: category HATE for slur-free hate (generalisation, dehumanisation, exclusion),
// "" for benign mentions of the same groups (news, history, everyday, counter-speech).
func HeldoutHate() []Row {
	var out []Row
	for _, l := range strings.Split(hateHeldout, "\n") {
		label, text, ok := strings.Cut(l, "\t")
		if !ok || strings.HasPrefix(l, "#") {
			continue
		}
		r := Row{Text: strings.TrimSpace(text), Source: "hate_heldout"}
		if label == "HATE" {
			r.Category = "HATE"
		}
		out = append(out, r)
	}
	return out
}

// HateCounts measures the HATE label of a content model on rows labelled HATE or benign,
// per filter strength.
func HateCounts(m *textclass.Model, rows []Row) map[string]*Counts {
	l := m.Label("HATE")
	out := map[string]*Counts{}
	scores := Scores(m, rows)
	for _, st := range Strengths {
		c := &Counts{}
		for i, r := range rows {
			var t int8
			if r.Category == "HATE" {
				t = 1
			}
			c.add(t, blockedAt(m.Thresholds[l], st, scores[i][l]))
		}
		out[st] = c
	}
	return out
}
