package humaneval

import (
	"context"
	"sort"

	"github.com/plinth-ai/plinth/shared/humaneval/agreement"
)

// PreferenceMeasure names the agreement measure of pairwise queues.
const PreferenceMeasure = "preference"

// Agreement is how far a queue's reviewers agree, per rubric criterion (or on the
// preference, for pairwise queues). Coefficients are omitted when the reviews cannot
// define them (fewer than two reviews per item, or no variation).
type Agreement struct {
	QueueID string `json:"queue_id"`
	Kind    Kind   `json:"kind"`
	Items   int    `json:"items"`
	// Reviewed counts items with at least one review; MultiplyReviewed those with two or
	// more, the only ones agreement is measured on.
	Reviewed         int       `json:"reviewed"`
	MultiplyReviewed int       `json:"multiply_reviewed"`
	Reviews          int       `json:"reviews"`
	Reviewers        []string  `json:"reviewers"`
	Measures         []Measure `json:"measures"`
}

// Measure is the agreement on one criterion.
type Measure struct {
	Name string `json:"name"`
	// Level is the level of measurement alpha was computed at: ordinal for rubric
	// scores, nominal for preferences.
	Level            string   `json:"level"`
	Units            int      `json:"units"`
	Alpha            *float64 `json:"alpha,omitempty"`
	PercentAgreement *float64 `json:"percent_agreement,omitempty"`
	// MeanKappa is Cohen's kappa averaged over reviewer pairs; MeanQuadraticKappa the
	// same with quadratic weights (rubric scores only).
	MeanKappa          *float64        `json:"mean_kappa,omitempty"`
	MeanQuadraticKappa *float64        `json:"mean_quadratic_kappa,omitempty"`
	Pairs              []PairAgreement `json:"pairs"`
}

// PairAgreement is Cohen's kappa for two reviewers over the items both reviewed.
type PairAgreement struct {
	A              string   `json:"a"`
	B              string   `json:"b"`
	Items          int      `json:"items"`
	Kappa          *float64 `json:"kappa,omitempty"`
	QuadraticKappa *float64 `json:"quadratic_kappa,omitempty"`
}

// preferenceValue codes a pairwise verdict as a nominal value.
var preferenceValue = map[string]float64{"a": 1, "b": 2, ChoiceTie: 3}

// Agreement measures a queue's inter-reviewer agreement.
func (s *Service) Agreement(ctx context.Context, tenant, queueID string) (*Agreement, error) {
	q, err := s.GetQueue(ctx, tenant, queueID)
	if err != nil {
		return nil, err
	}
	reviews, err := s.reviews(ctx, queueID)
	if err != nil {
		return nil, err
	}
	return measure(q, reviews), nil
}

func measure(q *Queue, reviews []Review) *Agreement {
	a := &Agreement{QueueID: q.ID, Kind: q.Kind, Items: q.ItemCount, Reviews: len(reviews), Reviewers: []string{}, Measures: []Measure{}}
	per := map[string]int{}
	seen := map[string]bool{}
	for _, r := range reviews {
		per[r.ItemID]++
		if !seen[r.Reviewer] {
			seen[r.Reviewer] = true
			a.Reviewers = append(a.Reviewers, r.Reviewer)
		}
	}
	sort.Strings(a.Reviewers)
	for _, n := range per {
		a.Reviewed++
		if n >= 2 {
			a.MultiplyReviewed++
		}
	}
	if q.Kind == KindPairwise {
		var rs []agreement.Rating
		for _, r := range reviews {
			rs = append(rs, agreement.Rating{Unit: r.ItemID, Coder: r.Reviewer, Value: preferenceValue[r.Preferred]})
		}
		a.Measures = append(a.Measures, measureOf(PreferenceMeasure, agreement.Nominal, rs, a.MultiplyReviewed, false))
		return a
	}
	for _, c := range q.Criteria {
		var rs []agreement.Rating
		for _, r := range reviews {
			if v, ok := r.Scores[c.Name]; ok {
				rs = append(rs, agreement.Rating{Unit: r.ItemID, Coder: r.Reviewer, Value: float64(v)})
			}
		}
		a.Measures = append(a.Measures, measureOf(c.Name, agreement.Ordinal, rs, a.MultiplyReviewed, true))
	}
	return a
}

func measureOf(name string, level agreement.Level, rs []agreement.Rating, units int, quadratic bool) Measure {
	m := Measure{Name: name, Level: level.String(), Units: units, Pairs: []PairAgreement{}}
	m.Alpha = defined(agreement.Alpha(rs, level))
	m.PercentAgreement = defined(agreement.PercentAgreement(rs))
	var ks, qs []float64
	for _, p := range agreement.Pairs(rs) {
		pa := PairAgreement{A: p.A, B: p.B, Items: p.Units, Kappa: p.Kappa}
		if p.Kappa != nil {
			ks = append(ks, *p.Kappa)
		}
		if quadratic {
			pa.QuadraticKappa = p.QuadraticKappa
			if p.QuadraticKappa != nil {
				qs = append(qs, *p.QuadraticKappa)
			}
		}
		m.Pairs = append(m.Pairs, pa)
	}
	m.MeanKappa = mean(ks)
	m.MeanQuadraticKappa = mean(qs)
	return m
}

func defined(v float64, err error) *float64 {
	if err != nil { // agreement.ErrUndefined: the data cannot define it
		return nil
	}
	return &v
}

func mean(xs []float64) *float64 {
	if len(xs) == 0 {
		return nil
	}
	s := 0.0
	for _, x := range xs {
		s += x
	}
	s /= float64(len(xs))
	return &s
}
