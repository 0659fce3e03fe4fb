package eval

import (
	"fmt"
	"sort"
	"unicode/utf8"

	"github.com/plinth-ai/plinth/shared/guardrail/pii"
)

// PRF holds counts and derived precision, recall and F1.
type PRF struct {
	TP, FP, FN int
}

// Precision is TP/(TP+FP) (1 when nothing was predicted).
func (m PRF) Precision() float64 {
	if m.TP+m.FP == 0 {
		return 1
	}
	return float64(m.TP) / float64(m.TP+m.FP)
}

// Recall is TP/(TP+FN) (1 when nothing was expected).
func (m PRF) Recall() float64 {
	if m.TP+m.FN == 0 {
		return 1
	}
	return float64(m.TP) / float64(m.TP+m.FN)
}

// F1 is the harmonic mean of precision and recall.
func (m PRF) F1() float64 {
	p, r := m.Precision(), m.Recall()
	if p+r == 0 {
		return 0
	}
	return 2 * p * r / (p + r)
}

// PIIReport holds per-type span metrics: Exact requires identical boundaries, Overlap
// counts a prediction as correct when it overlaps a gold span of the same type (each gold
// span matched at most once).
type PIIReport struct {
	Exact   map[string]*PRF
	Overlap map[string]*PRF
	// Errors lists exact-boundary misses and false positives, for inspection.
	Errors []string
}

// Span is a typed span in code points.
type Span struct {
	Type       string
	Start, End int
}

// runeOffsets converts byte offsets in text to code-point offsets.
func runeOffset(text string, b int) int { return utf8.RuneCountInString(text[:b]) }

// DetectSpans runs the PII detector on text and returns spans in code points.
func DetectSpans(text string, set pii.Set) []Span {
	ents := pii.Detect(text, set, nil)
	out := make([]Span, 0, len(ents))
	for _, e := range ents {
		out = append(out, Span{Type: e.Type.String(), Start: runeOffset(text, e.Start), End: runeOffset(text, e.End)})
	}
	return out
}

// EvaluateSynth measures the detector on the synthetic set for the Bedrock types in set.
func EvaluateSynth(examples []SynthExample, set pii.Set) PIIReport {
	rep := PIIReport{Exact: map[string]*PRF{}, Overlap: map[string]*PRF{}}
	get := func(m map[string]*PRF, t string) *PRF {
		if m[t] == nil {
			m[t] = &PRF{}
		}
		return m[t]
	}
	for _, ex := range examples {
		var gold []Span
		for _, s := range ex.Spans {
			bt, ok := PresidioToBedrock[s.EntityType]
			if !ok {
				continue
			}
			if pt, ok := pii.ParseType(bt); !ok || !set.Has(pt) {
				continue
			}
			gold = append(gold, Span{Type: bt, Start: s.Start, End: s.End})
		}
		pred := DetectSpans(ex.Text, set)
		sort.Slice(gold, func(i, j int) bool { return gold[i].Start < gold[j].Start })
		// Exact.
		used := make([]bool, len(gold))
		for _, p := range pred {
			hit := false
			for gi, g := range gold {
				if !used[gi] && g.Type == p.Type && g.Start == p.Start && g.End == p.End {
					used[gi], hit = true, true
					break
				}
			}
			if hit {
				get(rep.Exact, p.Type).TP++
			} else {
				get(rep.Exact, p.Type).FP++
				rep.Errors = append(rep.Errors, fmt.Sprintf("FP %s %q in %q", p.Type, sub(ex.Text, p.Start, p.End), ex.Text))
			}
		}
		for gi, g := range gold {
			if !used[gi] {
				get(rep.Exact, g.Type).FN++
				rep.Errors = append(rep.Errors, fmt.Sprintf("FN %s %q in %q", g.Type, sub(ex.Text, g.Start, g.End), ex.Text))
			}
		}
		// Overlap.
		used = make([]bool, len(gold))
		for _, p := range pred {
			hit := false
			for gi, g := range gold {
				if g.Type == p.Type && p.Start < g.End && g.Start < p.End {
					if !used[gi] {
						used[gi] = true
					}
					hit = true
				}
			}
			if hit {
				get(rep.Overlap, p.Type).TP++
			} else {
				get(rep.Overlap, p.Type).FP++
				rep.Errors = append(rep.Errors, fmt.Sprintf("OVERLAP-FP %s %q in %q", p.Type, sub(ex.Text, p.Start, p.End), ex.Text))
			}
		}
		for gi, g := range gold {
			if !used[gi] {
				get(rep.Overlap, g.Type).FN++
				rep.Errors = append(rep.Errors, fmt.Sprintf("OVERLAP-FN %s %q in %q", g.Type, sub(ex.Text, g.Start, g.End), ex.Text))
			}
		}
	}
	return rep
}

// CaseResult summarises Presidio's recognizer cases for the mapped types.
type CaseResult struct {
	Type string
	// Positives and PositivesFound count positive cases and those whose every expected
	// span was found exactly.
	Positives, PositivesFound int
	// Negatives counts negative cases; NegativeFired lists those where the type fired.
	Negatives     int
	Missed        []string
	NegativeFired []string
	// NegativeAnyFired lists negatives where any type fired.
	NegativeAnyFired []string
}

// EvaluateCases runs the recognizer cases for types in set.
func EvaluateCases(cases []RecognizerCase, set pii.Set) map[string]*CaseResult {
	out := map[string]*CaseResult{}
	for _, c := range cases {
		bt, ok := PresidioToBedrock[c.Entity]
		if !ok {
			continue
		}
		pt, ok := pii.ParseType(bt)
		if !ok || !set.Has(pt) {
			continue
		}
		r := out[bt]
		if r == nil {
			r = &CaseResult{Type: bt}
			out[bt] = r
		}
		pred := DetectSpans(c.Text, set)
		if c.ExpectedLen == 0 {
			r.Negatives++
			for _, p := range pred {
				if p.Type == bt {
					r.NegativeFired = append(r.NegativeFired, fmt.Sprintf("%q got %v", c.Text, pred))
					break
				}
			}
			if len(pred) > 0 {
				r.NegativeAnyFired = append(r.NegativeAnyFired, fmt.Sprintf("%q got %v", c.Text, pred))
			}
			continue
		}
		r.Positives++
		all := true
		for _, es := range c.ExpectedSpans {
			found := false
			for _, p := range pred {
				if p.Type == bt && p.Start == es[0] && p.End == es[1] {
					found = true
				}
			}
			all = all && found
		}
		if all {
			r.PositivesFound++
		} else {
			r.Missed = append(r.Missed, fmt.Sprintf("%q got %v", c.Text, pred))
		}
	}
	return out
}

func sub(text string, start, end int) string {
	r := []rune(text)
	if start < 0 || end > len(r) || start > end {
		return ""
	}
	return string(r[start:end])
}
