package eval

import (
	"context"
	_ "embed"
	"encoding/json"

	"github.com/plinth-ai/plinth/shared/guardrail/topics"
)

var (
	//go:embed prompts/topics.json
	topicsJSON []byte
	//go:embed prompts/topics_heldout.json
	topicsHeldoutJSON []byte
)

// TopicsSet is the denied-topic paraphrase set: topics with definitions and examples,
// texts that ask for each topic in other words, and off-topic texts.
type TopicsSet struct {
	Topics []struct {
		Name        string   `json:"name"`
		Definition  string   `json:"definition"`
		Examples    []string `json:"examples"`
		Paraphrases []string `json:"paraphrases"`
	} `json:"topics"`
	OffTopic []string `json:"off_topic"`
}

// LoadTopicsSet decodes the embedded paraphrase set the topic matcher was developed on.
func LoadTopicsSet() (TopicsSet, error) {
	var s TopicsSet
	return s, json.Unmarshal(topicsJSON, &s)
}

// LoadHeldoutTopicsSet decodes the second paraphrase set, written before the matcher was
// changed and never used to choose its features, weights or thresholds.
func LoadHeldoutTopicsSet() (TopicsSet, error) {
	var s TopicsSet
	return s, json.Unmarshal(topicsHeldoutJSON, &s)
}

// TopicsReport is the share of paraphrases matched to their own topic (recall) and of
// off-topic texts matched to any topic (false positives), at the topics' threshold.
type TopicsReport struct {
	Paraphrases, Matched int
	OffTopic, FalseHits  int
	Threshold            float64
}

// MeasureTopics scores the set with a matcher built with opts (for example an embedder).
func MeasureTopics(ctx context.Context, set TopicsSet, threshold float64, opts ...topics.Option) (TopicsReport, error) {
	var ts []topics.Topic
	for _, t := range set.Topics {
		ts = append(ts, topics.Topic{Name: t.Name, Definition: t.Definition, Examples: t.Examples, Threshold: threshold})
	}
	m, err := topics.New(ctx, ts, opts...)
	if err != nil {
		return TopicsReport{}, err
	}
	rep := TopicsReport{Threshold: threshold}
	for i, t := range set.Topics {
		for _, p := range t.Paraphrases {
			sc, err := m.Match(ctx, p)
			if err != nil {
				return rep, err
			}
			rep.Paraphrases++
			if sc[i].Matched {
				rep.Matched++
			}
		}
	}
	for _, o := range set.OffTopic {
		sc, err := m.Match(ctx, o)
		if err != nil {
			return rep, err
		}
		rep.OffTopic++
		for _, s := range sc {
			if s.Matched {
				rep.FalseHits++
				break
			}
		}
	}
	return rep, nil
}
