package eval

import (
	"context"
	"testing"

	"github.com/plinth-ai/plinth/shared/guardrail/topics"
)

// TestTopicFloors holds the denied-topic matcher (no embedding model) to its measured
// figures at the default threshold on both paraphrase sets: at least this many
// paraphrases found and at most this many off-topic texts matched.
func TestTopicFloors(t *testing.T) {
	for _, c := range []struct {
		name               string
		load               func() (TopicsSet, error)
		minFound, maxFalse int
	}{
		{"development set", LoadTopicsSet, 9, 0},
		{"held-out set", LoadHeldoutTopicsSet, 18, 3},
	} {
		set, err := c.load()
		if err != nil {
			t.Fatal(err)
		}
		r, err := MeasureTopics(context.Background(), set, topics.DefaultThreshold)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d/%d paraphrases, %d/%d off-topic", c.name, r.Matched, r.Paraphrases, r.FalseHits, r.OffTopic)
		if r.Matched < c.minFound || r.FalseHits > c.maxFalse {
			t.Errorf("%s: found %d/%d paraphrases (floor %d), %d/%d off-topic texts matched (at most %d)",
				c.name, r.Matched, r.Paraphrases, c.minFound, r.FalseHits, r.OffTopic, c.maxFalse)
		}
	}
}
