package index

import (
	"slices"
	"testing"
)

func TestAnalyze(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"The Running of the Bulls", []string{"run", "bull"}},
		{"Café NAÏVE résumés", []string{"cafe", "naiv", "resum"}},
		{"IL-6 levels in T-cells", []string{"il", "6", "level", "t", "cell"}},
		{"the patient's proteins", []string{"patient", "protein"}},
		{"don't", []string{"dont"}},
		{"TNF-α", []string{"tnf", "α"}},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			if got := Analyze(tc.in); !slices.Equal(got, tc.want) {
				t.Errorf("Analyze(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
