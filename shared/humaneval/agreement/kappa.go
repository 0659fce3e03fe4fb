package agreement

import "sort"

// Kappa is Cohen's kappa for two reviewers who rated the same units: a[i] and b[i] are
// their values for unit i. Categories are the values that occur.
func Kappa(a, b []float64) (float64, error) {
	return kappa(a, b, false)
}

// QuadraticKappa is Cohen's kappa with quadratic weights over the ordered categories
// that occur: disagreeing by two steps costs four times one step, which suits rubric
// scores. With two categories it equals Kappa.
func QuadraticKappa(a, b []float64) (float64, error) {
	return kappa(a, b, true)
}

func kappa(a, b []float64, quadratic bool) (float64, error) {
	if len(a) != len(b) || len(a) < 2 {
		return 0, ErrUndefined
	}
	cats := distinct([][]float64{a, b})
	if len(cats) < 2 {
		return 0, ErrUndefined
	}
	pos := make(map[float64]int, len(cats))
	for i, v := range cats {
		pos[v] = i
	}
	k := len(cats)
	n := float64(len(a))
	obs := make([][]float64, k)
	for i := range obs {
		obs[i] = make([]float64, k)
	}
	ra, rb := make([]float64, k), make([]float64, k)
	for i := range a {
		x, y := pos[a[i]], pos[b[i]]
		obs[x][y] += 1 / n
		ra[x] += 1 / n
		rb[y] += 1 / n
	}
	weight := func(i, j int) float64 { // disagreement weight
		if quadratic {
			d := float64(i-j) / float64(k-1)
			return d * d
		}
		if i == j {
			return 0
		}
		return 1
	}
	var po, pe float64 // weighted observed and chance disagreement
	for i := 0; i < k; i++ {
		for j := 0; j < k; j++ {
			po += weight(i, j) * obs[i][j]
			pe += weight(i, j) * ra[i] * rb[j]
		}
	}
	if pe == 0 {
		return 0, ErrUndefined
	}
	return 1 - po/pe, nil
}

// PercentAgreement is the share of pairable rating pairs (two reviewers, same unit) whose
// values are equal, over units rated at least twice.
func PercentAgreement(ratings []Rating) (float64, error) {
	var agree, pairs float64
	for _, u := range byUnit(ratings) {
		for i := range u {
			for j := i + 1; j < len(u); j++ {
				pairs++
				if u[i] == u[j] {
					agree++
				}
			}
		}
	}
	if pairs == 0 {
		return 0, ErrUndefined
	}
	return agree / pairs, nil
}

// Pair is the agreement of two reviewers over the units both rated.
type Pair struct {
	A, B  string
	Units int
	// Kappa and QuadraticKappa are nil when undefined for this pair.
	Kappa          *float64
	QuadraticKappa *float64
}

// Pairs computes Cohen's kappa for every pair of reviewers who rated at least two units
// in common, ordered by reviewer names.
func Pairs(ratings []Rating) []Pair {
	byCoder := map[string]map[string]float64{}
	for _, r := range ratings {
		if byCoder[r.Coder] == nil {
			byCoder[r.Coder] = map[string]float64{}
		}
		byCoder[r.Coder][r.Unit] = r.Value
	}
	coders := make([]string, 0, len(byCoder))
	for c := range byCoder {
		coders = append(coders, c)
	}
	sort.Strings(coders)
	var out []Pair
	for i, x := range coders {
		for _, y := range coders[i+1:] {
			var units []string
			for u := range byCoder[x] {
				if _, ok := byCoder[y][u]; ok {
					units = append(units, u)
				}
			}
			if len(units) < 2 {
				continue
			}
			sort.Strings(units)
			a, b := make([]float64, len(units)), make([]float64, len(units))
			for k, u := range units {
				a[k], b[k] = byCoder[x][u], byCoder[y][u]
			}
			p := Pair{A: x, B: y, Units: len(units)}
			if v, err := Kappa(a, b); err == nil {
				p.Kappa = &v
			}
			if v, err := QuadraticKappa(a, b); err == nil {
				p.QuadraticKappa = &v
			}
			out = append(out, p)
		}
	}
	return out
}
