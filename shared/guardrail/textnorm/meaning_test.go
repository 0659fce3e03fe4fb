package textnorm

import "testing"

func shares(a, b []Feature) bool {
	for _, x := range a {
		for _, y := range b {
			if x.ID == y.ID {
				return true
			}
		}
	}
	return false
}

func TestMeaningMeetsTheNeighbourhoodOfRelatedWords(t *testing.T) {
	near := func(topicWord string) []Feature {
		var out []Feature
		Neighbourhood(topicWord, func(f uint32, w float32) { out = append(out, Feature{f, w}) })
		return out
	}
	for _, p := range [][2]string{{"savings", "funds"}, {"dosage", "dose"}, {"ballot", "vote"}, {"antibiotic", "medicine"}, {"coughing", "symptoms"}} {
		if !shares(Meaning(p[0]), near(p[1])) {
			t.Errorf("%q shares nothing with the neighbourhood of %q", p[0], p[1])
		}
	}
	if Meaning("qwzxv") != nil {
		t.Error("an unknown word has a meaning")
	}
	if Meaning("guitar") == nil || shares(Meaning("guitar"), near("dose")) {
		t.Error(`"guitar" should have a meaning unrelated to "dose"`)
	}
}

func TestWordSpecificity(t *testing.T) {
	if g, d := WordSpecificity("good"), WordSpecificity("dosage"); !(g < 0.3 && d > 0.6) {
		t.Errorf("specificity good %.2f, dosage %.2f", g, d)
	}
	if WordSpecificity("qwzxv") != 1 {
		t.Error("an unknown word should count fully")
	}
	if s := Specificity(0); s < 0 || s > 1 {
		t.Errorf("specificity out of range: %v", s)
	}
}
