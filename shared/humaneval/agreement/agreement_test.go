package agreement

import (
	"errors"
	"math"
	"strconv"
	"testing"
)

// ratingsOf turns a reviewers × units table into ratings; NaN is a missing rating.
func ratingsOf(table [][]float64) []Rating {
	var out []Rating
	for c, row := range table {
		for u, v := range row {
			if !math.IsNaN(v) {
				out = append(out, Rating{Unit: strconv.Itoa(u), Coder: string(rune('A' + c)), Value: v})
			}
		}
	}
	return out
}

var nan = math.NaN()

// Worked examples from K. Krippendorff, "Computing Krippendorff's Alpha-Reliability"
// (2011), whose published values are given to three decimals.
func TestAlphaWorkedExamples(t *testing.T) {
	// Section A: two observers, binary data, no missing values.
	binary := [][]float64{
		{0, 1, 0, 0, 0, 0, 0, 0, 1, 0},
		{1, 1, 1, 0, 0, 1, 0, 0, 0, 0},
	}
	// Section C: four observers, twelve units, missing values (unit 12 is rated once and
	// so not pairable).
	four := [][]float64{
		{1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan},
		{1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3},
		{nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan},
		{1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan},
	}
	cases := []struct {
		name  string
		table [][]float64
		level Level
		want  float64
	}{
		{"binary nominal", binary, Nominal, 0.095},
		{"four observers nominal", four, Nominal, 0.743},
		{"four observers ordinal", four, Ordinal, 0.815},
		{"four observers interval", four, Interval, 0.849},
		{"four observers ratio", four, Ratio, 0.797},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Alpha(ratingsOf(c.table), c.level)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(got-c.want) > 0.0005 {
				t.Errorf("alpha = %.4f, want %.3f", got, c.want)
			}
		})
	}
}

func TestAlphaLimits(t *testing.T) {
	perfect := ratingsOf([][]float64{{1, 2, 3, 4}, {1, 2, 3, 4}, {1, 2, 3, nan}})
	if a, err := Alpha(perfect, Ordinal); err != nil || a != 1 {
		t.Errorf("perfect agreement: alpha = %v, %v; want 1", a, err)
	}
	// Everyone gives the same value: nothing to tell apart, so alpha is undefined.
	same := ratingsOf([][]float64{{3, 3, 3}, {3, 3, 3}})
	if _, err := Alpha(same, Nominal); !errors.Is(err, ErrUndefined) {
		t.Errorf("no variation: err = %v, want ErrUndefined", err)
	}
	// Only one rating per unit: no pairable values.
	single := ratingsOf([][]float64{{1, 2, nan}, {nan, nan, 3}})
	if _, err := Alpha(single, Nominal); !errors.Is(err, ErrUndefined) {
		t.Errorf("unpaired: err = %v, want ErrUndefined", err)
	}
	// Systematic disagreement is negative.
	opposed := ratingsOf([][]float64{{1, 2, 1, 2}, {2, 1, 2, 1}})
	if a, err := Alpha(opposed, Nominal); err != nil || a >= 0 {
		t.Errorf("opposed: alpha = %v, %v; want < 0", a, err)
	}
}

// Worked examples from Cohen's kappa's textbook presentation: 2×2 tables of yes/no
// ratings with known kappas.
func TestKappaWorkedExamples(t *testing.T) {
	table := func(yy, yn, ny, nn int) (a, b []float64) {
		add := func(n int, x, y float64) {
			for i := 0; i < n; i++ {
				a, b = append(a, x), append(b, y)
			}
		}
		add(yy, 1, 1)
		add(yn, 1, 0)
		add(ny, 0, 1)
		add(nn, 0, 0)
		return a, b
	}
	cases := []struct {
		name           string
		yy, yn, ny, nn int
		want           float64
	}{
		{"50 applications", 20, 5, 10, 15, 0.4},
		{"same agreement, balanced", 45, 15, 25, 15, 0.1304},
		{"same agreement, unbalanced", 25, 35, 5, 35, 0.2593},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, b := table(c.yy, c.yn, c.ny, c.nn)
			got, err := Kappa(a, b)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(got-c.want) > 0.00005 {
				t.Errorf("kappa = %.5f, want %.4f", got, c.want)
			}
			// With two categories the quadratic weights are the unweighted ones.
			q, err := QuadraticKappa(a, b)
			if err != nil || math.Abs(q-got) > 1e-12 {
				t.Errorf("quadratic kappa = %v, %v; want %v", q, err, got)
			}
		})
	}
}

// A three-category example worked by hand: observed disagreement 0.15 against 0.25 by
// chance with weights 0, 1/4, 1, so the quadratic kappa is 0.4; unweighted, 0.4 observed
// agreement against 0.36 by chance gives 0.0625.
func TestQuadraticKappaByHand(t *testing.T) {
	a := []float64{1, 2, 3, 1, 2}
	b := []float64{1, 2, 2, 2, 3}
	if q, err := QuadraticKappa(a, b); err != nil || math.Abs(q-0.4) > 1e-12 {
		t.Errorf("quadratic kappa = %v, %v; want 0.4", q, err)
	}
	if k, err := Kappa(a, b); err != nil || math.Abs(k-0.0625) > 1e-12 {
		t.Errorf("kappa = %v, %v; want 0.0625", k, err)
	}
}

func TestKappaUndefined(t *testing.T) {
	if _, err := Kappa([]float64{1, 1}, []float64{1, 1}); !errors.Is(err, ErrUndefined) {
		t.Errorf("one category: %v", err)
	}
	if _, err := Kappa([]float64{1}, []float64{2}); !errors.Is(err, ErrUndefined) {
		t.Errorf("one unit: %v", err)
	}
	if _, err := Kappa([]float64{1, 2}, []float64{1}); !errors.Is(err, ErrUndefined) {
		t.Errorf("unequal lengths: %v", err)
	}
}

func TestPairsAndPercentAgreement(t *testing.T) {
	// Three reviewers; C rated only u3 in common with A, so A–C is not a pair.
	r := []Rating{
		{"u1", "A", 1}, {"u1", "B", 1},
		{"u2", "A", 0}, {"u2", "B", 1},
		{"u3", "A", 0}, {"u3", "B", 0}, {"u3", "C", 0},
		{"u4", "B", 1}, {"u4", "C", 1},
	}
	pairs := Pairs(r)
	if len(pairs) != 2 || pairs[0].A != "A" || pairs[0].B != "B" || pairs[1].A != "B" || pairs[1].B != "C" {
		t.Fatalf("pairs = %+v, want A–B and B–C", pairs)
	}
	// A–B on u1..u3: A = 1,0,0 and B = 1,1,0 agree on 2/3 against 4/9 by chance: 0.4.
	if ab := pairs[0]; ab.Units != 3 || ab.Kappa == nil || math.Abs(*ab.Kappa-0.4) > 1e-12 {
		t.Errorf("A–B = %+v, want 3 units, kappa 0.4", ab)
	}
	if bc := pairs[1]; bc.Units != 2 || bc.Kappa == nil || *bc.Kappa != 1 {
		t.Errorf("B–C = %+v, want 2 units, kappa 1", bc)
	}
	p, err := PercentAgreement(r)
	if err != nil {
		t.Fatal(err)
	}
	// Pairs: u1 agree, u2 disagree, u3 three pairs agree, u4 agree → 5 of 6.
	if math.Abs(p-5.0/6) > 1e-12 {
		t.Errorf("percent agreement = %v, want 5/6", p)
	}
}
