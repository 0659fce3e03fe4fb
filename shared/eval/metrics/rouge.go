package metrics

import (
	"fmt"
	"strings"
)

// Stemmer reduces a word to its stem (rouge-score applies it to tokens longer than
// three characters).
type Stemmer interface {
	Stem(word string) string
}

// ROUGEScore is one ROUGE measurement, as rouge-score's Score tuple.
type ROUGEScore struct {
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	FMeasure  float64 `json:"fmeasure"`
}

// ROUGETokenize is rouge-score's default tokenizer: lower-case, replace every run of
// characters other than [a-z0-9] with a space, split on whitespace, stem tokens longer
// than three characters when stemmer is non-nil, and drop empty tokens.
func ROUGETokenize(text string, stemmer Stemmer) []string {
	text = pyLower(text)
	var b strings.Builder
	b.Grow(len(text))
	for i := 0; i < len(text); i++ {
		c := text[i]
		if (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') {
			b.WriteByte(c)
		} else {
			b.WriteByte(' ')
		}
	}
	toks := strings.Fields(b.String())
	if stemmer != nil {
		for i, t := range toks {
			if len(t) > 3 {
				toks[i] = stemmer.Stem(t)
			}
		}
		out := toks[:0]
		for _, t := range toks {
			if validROUGEToken(t) {
				out = append(out, t)
			}
		}
		toks = out
	}
	return toks
}

func validROUGEToken(t string) bool {
	if t == "" {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
			return false
		}
	}
	return true
}

func fmeasure(p, r float64) float64 {
	if p+r > 0 {
		return 2 * p * r / (p + r)
	}
	return 0
}

func ngramCounts(toks []string, n int) map[string]int {
	m := make(map[string]int)
	for i := 0; i+n <= len(toks); i++ {
		m[strings.Join(toks[i:i+n], " ")]++
	}
	return m
}

// ROUGEN scores prediction tokens against target tokens with n-grams of order n, as
// rouge-score's _score_ngrams.
func ROUGEN(target, prediction []string, n int) ROUGEScore {
	tg := ngramCounts(target, n)
	pg := ngramCounts(prediction, n)
	inter, tc, pc := 0, 0, 0
	for g, c := range tg {
		inter += min(c, pg[g])
		tc += c
	}
	for _, c := range pg {
		pc += c
	}
	p := float64(inter) / float64(max(pc, 1))
	r := float64(inter) / float64(max(tc, 1))
	return ROUGEScore{Precision: p, Recall: r, FMeasure: fmeasure(p, r)}
}

// LCSLength returns the length of the longest common subsequence of a and b.
func LCSLength(a, b []string) int {
	if len(a) == 0 || len(b) == 0 {
		return 0
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			if a[i-1] == b[j-1] {
				cur[j] = prev[j-1] + 1
			} else {
				cur[j] = max(prev[j], cur[j-1])
			}
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// ROUGEL scores prediction tokens against target tokens by their longest common
// subsequence, as rouge-score's _score_lcs.
func ROUGEL(target, prediction []string) ROUGEScore {
	if len(target) == 0 || len(prediction) == 0 {
		return ROUGEScore{}
	}
	l := float64(LCSLength(target, prediction))
	p := l / float64(len(prediction))
	r := l / float64(len(target))
	return ROUGEScore{Precision: p, Recall: r, FMeasure: fmeasure(p, r)}
}

// ROUGEScorer computes ROUGE types ("rouge1" … "rouge9", "rougeL") as rouge-score's
// RougeScorer does.
type ROUGEScorer struct {
	types   []string
	stemmer Stemmer
}

// ROUGEOption configures a ROUGEScorer.
type ROUGEOption func(*ROUGEScorer)

// WithStemmer stems tokens longer than three characters (rouge-score's use_stemmer).
func WithStemmer(s Stemmer) ROUGEOption { return func(r *ROUGEScorer) { r.stemmer = s } }

// WithPorterStemmer enables the Porter stemmer rouge-score uses for use_stemmer=True.
func WithPorterStemmer() ROUGEOption { return WithStemmer(PorterStemmer{}) }

// NewROUGEScorer returns a scorer for the given ROUGE types; it rejects unknown types.
func NewROUGEScorer(types []string, opts ...ROUGEOption) (*ROUGEScorer, error) {
	for _, t := range types {
		if _, err := rougeOrder(t); err != nil {
			return nil, err
		}
	}
	s := &ROUGEScorer{types: append([]string(nil), types...)}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// rougeOrder returns n for "rougeN" and 0 for "rougeL".
func rougeOrder(t string) (int, error) {
	if t == "rougeL" {
		return 0, nil
	}
	if len(t) == 6 && strings.HasPrefix(t, "rouge") && t[5] >= '1' && t[5] <= '9' {
		return int(t[5] - '0'), nil
	}
	return 0, fmt.Errorf("rouge type %q: %w", t, ErrUnknownMetric)
}

// Score compares prediction with one target.
func (s *ROUGEScorer) Score(target, prediction string) map[string]ROUGEScore {
	tt := ROUGETokenize(target, s.stemmer)
	pt := ROUGETokenize(prediction, s.stemmer)
	out := make(map[string]ROUGEScore, len(s.types))
	for _, t := range s.types {
		n, _ := rougeOrder(t)
		if n == 0 {
			out[t] = ROUGEL(tt, pt)
		} else {
			out[t] = ROUGEN(tt, pt, n)
		}
	}
	return out
}

// ScoreMulti compares prediction with every target and keeps, per ROUGE type, the score
// with the highest F-measure (rouge-score's score_multi; the first wins ties). With no
// targets every score is zero.
func (s *ROUGEScorer) ScoreMulti(targets []string, prediction string) map[string]ROUGEScore {
	best := make(map[string]ROUGEScore, len(s.types))
	for _, t := range s.types {
		best[t] = ROUGEScore{}
	}
	for i, target := range targets {
		sc := s.Score(target, prediction)
		for t, v := range sc {
			if i == 0 || v.FMeasure > best[t].FMeasure {
				best[t] = v
			}
		}
	}
	return best
}
