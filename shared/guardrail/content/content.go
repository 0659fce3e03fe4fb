// Package content scores text for harmful-content categories (HATE, INSULTS, SEXUAL,
// VIOLENCE, MISCONDUCT) with a weighted lexicon of words and phrases matched through the
// same folding as the word filters (case, diacritics, spacing, character swaps). It is a
// lexical scorer: it sees words, not meaning, so it misses paraphrased harm and can flag
// benign uses of charged words (quotes, news, medicine); the weights keep a single
// ambiguous word at LOW confidence and need a targeted phrase for HIGH.
package content

import (
	_ "embed"
	"fmt"
	"strconv"
	"strings"

	"github.com/plinth-ai/plinth/shared/guardrail/words"
)

//go:embed lexicon.txt
var lexicon string

// Categories in output order.
var Categories = []string{"HATE", "INSULTS", "SEXUAL", "VIOLENCE", "MISCONDUCT"}

// Result is one category's score in [0,1] and the matched byte spans.
type Result struct {
	Category string
	Score    float64
	Spans    [][2]int
}

// Scorer holds the compiled lexicon.
type Scorer struct {
	filters []*words.Filter
	weights [][]float64
}

var def = mustParse(lexicon)

// Default returns the scorer over the embedded lexicon.
func Default() *Scorer { return def }

func mustParse(src string) *Scorer {
	s, err := Parse(src)
	if err != nil {
		panic(err)
	}
	return s
}

// Parse builds a scorer from lexicon lines "CATEGORY<TAB>weight<TAB>phrase".
func Parse(src string) (*Scorer, error) {
	phrases := make([][]string, len(Categories))
	weights := make([][]float64, len(Categories))
	for n, line := range strings.Split(src, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 3 {
			return nil, fmt.Errorf("content lexicon line %d: want 3 tab-separated fields", n+1)
		}
		ci := -1
		for i, c := range Categories {
			if c == f[0] {
				ci = i
			}
		}
		w, err := strconv.ParseFloat(f[1], 64)
		if ci < 0 || err != nil || w <= 0 || w >= 1 {
			return nil, fmt.Errorf("content lexicon line %d: bad category or weight", n+1)
		}
		phrases[ci] = append(phrases[ci], f[2])
		weights[ci] = append(weights[ci], w)
	}
	s := &Scorer{}
	for i := range Categories {
		s.filters = append(s.filters, words.New(phrases[i]))
		s.weights = append(s.weights, weights[i])
	}
	return s, nil
}

// Score scores text for every category using ws's buffers.
func (s *Scorer) Score(ws *words.Scanner, text string, out []Result) []Result {
	ws.Load(text)
	return s.ScoreLoaded(ws, out)
}

// ScoreLoaded scores the text already loaded into ws.
func (s *Scorer) ScoreLoaded(ws *words.Scanner, out []Result) []Result {
	var buf [8][]words.Match
	matches := ws.MatchAll(s.filters, buf[:len(s.filters)])
	out = out[:0]
	for ci, ms := range matches {
		r := Result{Category: Categories[ci]}
		miss := 1.0
		seen := map[int]bool{}
		for _, m := range ms {
			if seen[m.Entry] {
				// Repeats add a little, not a full weight again.
				miss *= 1 - s.weights[ci][m.Entry]*0.25
			} else {
				miss *= 1 - s.weights[ci][m.Entry]
				seen[m.Entry] = true
			}
			r.Spans = append(r.Spans, [2]int{m.Start, m.End})
		}
		r.Score = 1 - miss
		out = append(out, r)
	}
	return out
}

// Confidence maps a score to Bedrock's confidence levels.
func Confidence(score float64) string {
	switch {
	case score >= 0.75:
		return "HIGH"
	case score >= 0.5:
		return "MEDIUM"
	case score >= 0.25:
		return "LOW"
	}
	return "NONE"
}
