package topics

import (
	"context"
	_ "embed"
	"fmt"
	"math"
	"strings"
)

// DefaultThreshold is the score at or above which a topic matches when the topic sets none.
const DefaultThreshold = 0.35

//go:embed background.txt
var backgroundText string

// background returns the ordinary requests embedding similarities are calibrated against.
func background() []string {
	var out []string
	for _, l := range strings.Split(backgroundText, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// calibration maps an embedding cosine to a topic score. Cosines mean different things
// for different embedding models (unrelated texts sit near 0.1 for some, 0.5 for others),
// so each topic is measured against ordinary requests: a text reaches DefaultThreshold
// when it is more similar to the topic than the most similar of them (floor) by a tenth of
// the way to the topic's own references' mutual similarity (ceil), and 1 at ceil; the
// score is linear between those points and from 0 up to the first.
type calibration struct {
	floor, ceil float64
}

func (c calibration) score(cos float64) float64 {
	if c.ceil == 0 { // not calibrated
		return cos
	}
	at := c.floor + (c.ceil-c.floor)/10
	if cos < at {
		return DefaultThreshold * math.Max(0, cos) / at
	}
	return DefaultThreshold + (1-DefaultThreshold)*math.Min(1, (cos-at)/(c.ceil-at))
}

// calibrate embeds the background requests once and sets every topic's calibration.
func (m *Matcher) calibrate(ctx context.Context) error {
	bg, err := m.emb.Embed(ctx, background())
	if err != nil {
		return fmt.Errorf("embed topic calibration texts: %w", err)
	}
	for i := range m.topics {
		t := &m.topics[i]
		floor := 0.0
		for _, b := range bg {
			for _, r := range t.refEmb {
				floor = math.Max(floor, cosF(b, r))
			}
		}
		// The references' mutual similarity: how alike two ways of asking for this
		// topic are under this model.
		var sum float64
		n := 0
		for a := range t.refEmb {
			for b := a + 1; b < len(t.refEmb); b++ {
				sum += cosF(t.refEmb[a], t.refEmb[b])
				n++
			}
		}
		ceil := 1.0
		if n > 0 {
			ceil = sum / float64(n)
		}
		t.cal = calibration{floor: floor, ceil: math.Max(ceil, floor+0.05)}
	}
	return nil
}
