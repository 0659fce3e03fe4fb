// Package agreement measures how far independent reviewers agree: Krippendorff's alpha
// (any number of reviewers, missing ratings, nominal to ratio data), Cohen's kappa for two
// reviewers (unweighted and quadratically weighted) and raw percent agreement.
//
// Every coefficient is 1 for perfect agreement and 0 for agreement no better than chance;
// negative values mean systematic disagreement. A coefficient is undefined when the data
// cannot say anything (fewer than two paired ratings, or no variation at all): the
// functions then return ErrUndefined rather than a misleading number.
package agreement

import (
	"errors"
	"sort"
)

// ErrUndefined means the coefficient cannot be computed from the data given.
var ErrUndefined = errors.New("agreement: undefined for this data")

// Level is a level of measurement: it decides how different two values are.
type Level int

const (
	// Nominal values are labels: two values either match or differ.
	Nominal Level = iota
	// Ordinal values are ranks: the difference grows with the number of ratings between them.
	Ordinal
	// Interval values differ by their squared distance.
	Interval
	// Ratio values differ by their squared distance relative to their sum.
	Ratio
)

// String names the level as Krippendorff does.
func (l Level) String() string {
	switch l {
	case Ordinal:
		return "ordinal"
	case Interval:
		return "interval"
	case Ratio:
		return "ratio"
	default:
		return "nominal"
	}
}

// Rating is one reviewer's value for one unit (an item under review).
type Rating struct {
	Unit  string
	Coder string
	Value float64
}

// byUnit groups the values of units rated at least twice (only those are pairable).
func byUnit(ratings []Rating) [][]float64 {
	idx := map[string]int{}
	var units [][]float64
	for _, r := range ratings {
		i, ok := idx[r.Unit]
		if !ok {
			i = len(units)
			idx[r.Unit] = i
			units = append(units, nil)
		}
		units[i] = append(units[i], r.Value)
	}
	out := units[:0]
	for _, u := range units {
		if len(u) >= 2 {
			out = append(out, u)
		}
	}
	return out
}

// Alpha is Krippendorff's alpha, 1 − Do/De, computed from the coincidence matrix of the
// pairable values: every unit rated by m ≥ 2 reviewers contributes its m(m−1) ordered
// pairs of values, each weighted 1/(m−1). Units rated once are ignored, as are reviewers'
// identities, so any number of reviewers and missing ratings are fine.
func Alpha(ratings []Rating, level Level) (float64, error) {
	units := byUnit(ratings)
	values := distinct(units)
	if len(values) == 0 {
		return 0, ErrUndefined
	}
	pos := make(map[float64]int, len(values))
	for i, v := range values {
		pos[v] = i
	}
	k := len(values)
	o := make([][]float64, k) // coincidences
	for i := range o {
		o[i] = make([]float64, k)
	}
	for _, u := range units {
		w := 1 / float64(len(u)-1)
		for i, a := range u {
			for j, b := range u {
				if i != j {
					o[pos[a]][pos[b]] += w
				}
			}
		}
	}
	nc := make([]float64, k)
	n := 0.0
	for c := range o {
		for _, x := range o[c] {
			nc[c] += x
		}
		n += nc[c]
	}
	if n <= 1 {
		return 0, ErrUndefined
	}
	delta := distance(level, values, nc)
	var do, de float64
	for c := 0; c < k; c++ {
		for d := 0; d < k; d++ {
			do += o[c][d] * delta(c, d)
			de += nc[c] * nc[d] * delta(c, d)
		}
	}
	do /= n
	de /= n * (n - 1)
	if de == 0 {
		return 0, ErrUndefined
	}
	return 1 - do/de, nil
}

// distinct returns the sorted distinct values of units.
func distinct(units [][]float64) []float64 {
	seen := map[float64]bool{}
	var out []float64
	for _, u := range units {
		for _, v := range u {
			if !seen[v] {
				seen[v] = true
				out = append(out, v)
			}
		}
	}
	sort.Float64s(out)
	return out
}

// distance returns the squared difference function δ²(c, d) over value indexes for level;
// ordinal distances use the marginal frequencies nc of the sorted values.
func distance(level Level, values, nc []float64) func(c, d int) float64 {
	switch level {
	case Ordinal:
		return func(c, d int) float64 {
			if c == d {
				return 0
			}
			lo, hi := min(c, d), max(c, d)
			s := 0.0
			for g := lo; g <= hi; g++ {
				s += nc[g]
			}
			s -= (nc[c] + nc[d]) / 2
			return s * s
		}
	case Interval:
		return func(c, d int) float64 {
			x := values[c] - values[d]
			return x * x
		}
	case Ratio:
		return func(c, d int) float64 {
			sum := values[c] + values[d]
			if sum == 0 {
				return 0
			}
			x := (values[c] - values[d]) / sum
			return x * x
		}
	default:
		return func(c, d int) float64 {
			if c == d {
				return 0
			}
			return 1
		}
	}
}
