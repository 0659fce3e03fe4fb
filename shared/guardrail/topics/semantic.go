package topics

import (
	"math"
	"sync"

	"github.com/plinth-ai/plinth/shared/guardrail/textnorm"
)

// The semantic score reads meaning through WordNet (textnorm.Meaning, Neighbourhood): each
// topic's words (name, definition, examples) are expanded once into a neighbourhood of
// senses and words (synonyms, narrower and broader senses, topic domains and their
// members, derivations, definition words), and each word of a text is matched by its own
// meaning (senses, broader senses, domains, definition words) against it. A window's
// score is a noisy-OR over its words: a word adds evidence in proportion to how strongly
// its meaning meets the topic and to how much the word says about a topic at all
// (textnorm.WordSpecificity: "year" or "good" little, "dosage" much).
const (
	// semFloor is the match strength below which a word adds no evidence: most words
	// meet a broad neighbourhood weakly somewhere.
	semFloor = 0.3
	// semGain scales each word's evidence, so that one word alone cannot reach the
	// default threshold with certainty and two on-topic words can.
	semGain = 0.7
	// noAsk scales the score of a window that does not ask anything for the asker
	// (no "should", "which", "best", "my", ...): denied topics are usually requests for
	// advice or opinions, and a neutral mention of the subject is weaker evidence.
	noAsk = 0.6
	// maxWordCache bounds the per-matcher cache of word scores.
	maxWordCache = 50000
)

// askWords mark a request for advice, a judgement or a personal answer. They say what
// kind of answer is wanted, not what it is about, so they are no evidence of a topic's
// subject on either side (a definition's "recommending" does not make "recommend a film"
// medical).
var askWords = map[string]bool{}

func init() {
	for _, w := range []string{"should", "would", "which", "best", "better", "worth", "recommend",
		"good", "right", "advise", "advice", "suggest", "pick", "choose", "deserve", "deserves",
		"convince", "tell", "me", "my", "i", "wrong", "smart"} {
		askWords[w] = true
	}
}

// semantic is the compiled semantic side of a Matcher.
type semantic struct {
	// index maps a feature to the topics whose neighbourhood holds it, with the weight.
	index map[uint32][]topicWeight
	n     int

	mu    sync.RWMutex
	cache map[string][]topicWeight // word → its evidence per topic (only topics > 0)
}

type topicWeight struct {
	topic int32
	w     float32
}

func newSemantic(ts []Topic) *semantic {
	s := &semantic{index: map[uint32][]topicWeight{}, n: len(ts), cache: map[string][]topicWeight{}}
	var z textnorm.Tokenizer
	for i, t := range ts {
		sig := map[uint32]float32{}
		add := func(f uint32, x float32) {
			if x > sig[f] {
				sig[f] = x
			}
		}
		texts := append([]string{t.Name, t.Definition}, t.Examples...)
		for _, text := range texts {
			for _, tok := range z.Reset(text) {
				if !textnorm.IsStop(tok.Norm) && !askWords[tok.Norm] {
					textnorm.Neighbourhood(tok.Norm, add)
				}
			}
		}
		for f, x := range sig {
			s.index[f] = append(s.index[f], topicWeight{int32(i), x * textnorm.Specificity(f)})
		}
	}
	return s
}

// word returns a normalised word's evidence for each topic.
func (s *semantic) word(w string) []topicWeight {
	s.mu.RLock()
	ev, ok := s.cache[w]
	s.mu.RUnlock()
	if ok {
		return ev
	}
	best := make([]float32, s.n)
	for _, f := range textnorm.Meaning(w) {
		for _, tw := range s.index[f.ID] {
			if x := f.W * tw.w; x > best[tw.topic] {
				best[tw.topic] = x
			}
		}
	}
	spec := textnorm.WordSpecificity(w)
	for i, b := range best {
		if m := (float64(b) - semFloor) / (1 - semFloor); m > 0 {
			ev = append(ev, topicWeight{int32(i), float32(semGain * float64(spec) * m)})
		}
	}
	s.mu.Lock()
	if len(s.cache) < maxWordCache {
		s.cache[string([]byte(w))] = ev // w may alias the tokenizer's buffer
	}
	s.mu.Unlock()
	return ev
}

// score adds, for every topic, the best semantic score over the text's sentence windows
// into best (one entry per topic).
func (s *semantic) score(text string, toks []textnorm.Token, best []float64) {
	miss := make([]float64, s.n) // per topic: Π(1 - evidence) over the current window
	for i := range miss {
		miss[i] = 1
	}
	ask := false
	flush := func() {
		for i, m := range miss {
			sc := 1 - m
			if !ask {
				sc *= noAsk
			}
			best[i] = math.Max(best[i], sc)
			miss[i] = 1
		}
		ask = false
	}
	prevEnd := 0
	for i, t := range toks {
		if i > 0 && isSentenceBreak(text[prevEnd:t.Start]) {
			flush()
		}
		prevEnd = t.End
		if askWords[t.Norm] {
			ask = true // a cue of intent, not of subject: no evidence either way
			continue
		}
		if textnorm.IsStop(t.Norm) {
			continue
		}
		for _, ev := range s.word(t.Norm) {
			miss[ev.topic] *= 1 - float64(ev.w)
		}
	}
	flush()
}

func isSentenceBreak(gap string) bool {
	for i := 0; i < len(gap); i++ {
		switch gap[i] {
		case '.', '!', '?', '\n':
			return true
		}
	}
	return false
}
